/**
 * The login server and its client end to end, over the deterministic simulator: LoginServer (the
 * runner) on one host, LoginClient on others, speaking stream channels over simulated TCP. Requirement
 * ids from spec/06-login-server.md (LOGIN-*, POLICY-*).
 */

import { ChannelClosedError } from '@parley/channel';
import {
  decodeCertificate,
  decodeSigned,
  ErrorCode,
  generateSigningKey,
  keyId,
  Role,
  type SigningKey,
  seededRandom,
  signSignedPrekey,
} from '@parley/wire';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Device, LoginClient } from '../../src/client/index.js';
import { PASSWORD, spyCore, suite, type World, world } from './fixtures.js';

const random = seededRandom('e2e sim devices');
function device(id: number): Device & { key: SigningKey } {
  const key = generateSigningKey(suite, random);
  return { key, seed: key.seed, deviceId: new Uint8Array(16).fill(id) };
}

let w: World;
beforeAll(async () => {
  w = await world();
});

describe('accounts over the wire [LOGIN-OPAQUE] [LOGIN-CERT]', () => {
  it('[LOGIN-CHAN-1] [LOGIN-CHAN-2] [LOGIN-OPAQUE-1] [LOGIN-CERT-1] [LOGIN-CERT-5] [LOGIN-CERT-6] [LOGIN-OPAQUE-28] [LOGIN-OPAQUE-30] register, log in, renew on a certified channel, change the password', async () => {
    const calls = spyCore(w.core, w.serverTransport.clock);
    const c = await w.connect();
    // [LOGIN-CHAN-1] the responder proved a ROLE_LOGIN certificate under the pinned root
    expect(c.server.certificate.role).toBe(Role.ROLE_LOGIN);
    expect(await w.run(c.register('Alice', PASSWORD))).toBe('alice');
    expect(await w.backing.countAccounts()).toBe(1);

    const phone = device(1);
    const a = await w.run(c.login('ALICE', PASSWORD, phone));
    expect(a.username).toBe('alice');
    expect(a.leaf.role).toBe(Role.ROLE_USER);
    expect(a.leaf.subjectKey).toEqual(phone.key.publicKey);
    expect(a.leaf.deviceId).toEqual(phone.deviceId);
    expect(a.chain).toEqual([a.certificate, a.loginCertificate]);
    expect(a.exportKey).toHaveLength(64);
    expect((await w.backing.getCertificate(a.leaf.serial))?.subject).toBe('alice');
    expect(c.loggedInAs).toBe('alice');

    // [LOGIN-CERT-5] a channel certified with that certificate renews it without a password;
    // [LOGIN-CERT-6] same device id, a new key
    const user = await w.connect({ identity: { chain: a.chain, seed: phone.seed } });
    const rotated = { seed: device(1).seed, deviceId: phone.deviceId };
    const r = await w.run(user.renew(rotated));
    expect(r.username).toBe('alice');
    expect(r.leaf.serial).toBeGreaterThan(a.leaf.serial);
    expect(r.leaf.subjectKey).toEqual(suite.ed25519PublicKey(rotated.seed));
    expect(r.leaf.deviceId).toEqual(phone.deviceId);

    // [LOGIN-OPAQUE-26] [LOGIN-OPAQUE-28] the password changes on the channel that logged in
    const next = 'a brand new passphrase';
    const changed = await w.run(c.changePassword(next));
    expect(changed.exportKey).not.toEqual(a.exportKey);

    // [LOGIN-OPAQUE-23] [LOGIN-OPAQUE-24] the old password fails locally: no LoginFinish is sent
    const c2 = await w.connect();
    const before = calls.length;
    await expect(w.run(c2.login('alice', PASSWORD, phone))).rejects.toMatchObject({
      name: 'RequestRefused',
      code: ErrorCode.AUTH_FAILED,
    });
    expect(calls.slice(before).map((x) => x.packet.body.case)).toEqual(['loginStart']);
    // the new one works, and its export key is the one the change produced ([LOGIN-OPAQUE-25])
    const again = await w.run(c2.login('alice', next, phone));
    expect(again.exportKey).toEqual(changed.exportKey);

    // [LOGIN-OPAQUE-30] a certificate issued before the change is not renewed
    await expect(w.run(user.renew(rotated))).rejects.toMatchObject({
      name: 'RequestRefused',
      code: ErrorCode.NOT_AUTHORIZED,
    });
    expect(user.closed).toBe(false);
    for (const x of [c, c2, user]) x.close();
  });

  it('[LOGIN-NAME-5] [LOGIN-NAME-7] [LOGIN-OPAQUE-9] [LOGIN-OPAQUE-12] names and passwords: checked locally, taken names refused by the server', async () => {
    const c = await w.connect();
    // invalid names and weak passwords never leave the client
    await expect(c.register('ö-name', PASSWORD)).rejects.toMatchObject({ code: ErrorCode.USERNAME_INVALID });
    await expect(c.register('bobby', 'short')).rejects.toMatchObject({ code: ErrorCode.API_MISUSE });
    await expect(c.fetchPrekeys('x')).rejects.toMatchObject({ code: ErrorCode.USERNAME_INVALID });
    // a reserved name is USERNAME_TAKEN, as a registered one ([LOGIN-NAME-6]); the channel stays open
    await expect(w.run(c.register('Admin', PASSWORD))).rejects.toMatchObject({
      name: 'RequestRefused',
      code: ErrorCode.USERNAME_TAKEN,
    });
    expect(c.closed).toBe(false);
    expect(await w.run(c.getPolicy())).toMatchObject({ version: 1 });
    // a password change needs a login on this channel ([LOGIN-OPAQUE-26])
    await expect(c.changePassword('another long passphrase')).rejects.toMatchObject({ code: ErrorCode.API_MISUSE });
    c.close();
  });
});

describe('published objects [LOGIN-PUB] [POLICY] [LOGIN-LIST] [LOGIN-REVOKE]', () => {
  it('[LOGIN-PUB-2] [LOGIN-PUB-4] [LOGIN-PUB-6] [POLICY-GEN-1] [POLICY-GEN-5] an anonymous client fetches and verifies the policy; unchanged when current', async () => {
    const c = await w.connect();
    const p = await w.run(c.getPolicy());
    if (p === 'unchanged') throw new Error('expected a policy');
    expect(p.version).toBe(w.core.policy.version);
    expect(await w.run(c.getPolicy(p.version))).toBe('unchanged');
    const next = p.version + 1;
    expect(
      await w.core.publishPolicy({
        version: next,
        issuedAt: w.serverTransport.clock.now(),
        deniedSoftware: ['crashy/0.3.'],
      } as never),
    ).toBe(true);
    const p2 = await w.run(c.getPolicy(p.version));
    if (p2 === 'unchanged') throw new Error('expected the new policy');
    expect(p2.version).toBe(next);
    expect(p2.deniedSoftware).toEqual(['crashy/0.3.']);
    c.close();
  });

  it('[POLICY-DENY-2] [POLICY-DENY-4] a denied client is refused SOFTWARE_DENIED and keeps presenting its own software string', async () => {
    const calls = spyCore(w.core, w.serverTransport.clock);
    const first = await w.connect({ software: 'crashy/0.3.9' });
    await w.run(first.register('denied.user', PASSWORD));
    const version = w.core.policy.version + 1;
    await w.core.publishPolicy({
      version,
      issuedAt: w.serverTransport.clock.now(),
      deniedSoftware: ['crashy/0.3.'],
    } as never);
    await expect(w.run(first.login('denied.user', PASSWORD, device(7)))).rejects.toMatchObject({
      reason: { code: ErrorCode.SOFTWARE_DENIED },
    });
    // SOFTWARE_DENIED closes the channel; a new one from the same client presents the same string.
    const again = await w.connect({ software: 'crashy/0.3.9' });
    await expect(w.run(again.login('denied.user', PASSWORD, device(7)))).rejects.toMatchObject({
      reason: { code: ErrorCode.SOFTWARE_DENIED },
    });
    const softwares = new Set(calls.map((c) => c.session.software));
    expect(softwares).toEqual(new Set(['crashy/0.3.9']));
    again.close();
  });

  it('[LOGIN-SN-1] [LOGIN-SN-3] [LOGIN-SN-4] [LOGIN-LIST-5] [LOGIN-LIST-6] [LOGIN-AUTH-1] a supernode registers and appears in the verified list; silent, it leaves', async () => {
    const key = device(9);
    const certificate = await w.core.issueSupernodeCertificate({
      subject: 'sn1.test',
      subjectKey: key.key.publicKey,
      deviceId: key.deviceId,
    });
    const sn = await w.connect({ identity: { chain: [certificate, w.net.loginCertificate], seed: key.seed } });
    const epoch = w.core.versions().supernodeListEpoch;
    const reg = await w.run(
      sn.supernodeRegister([{ protocol: 1, address: Uint8Array.of(30, 0, 0, 99), port: 4000 }], 800),
    );
    expect(reg.heartbeatIntervalMs).toBe(w.core.policy.heartbeatIntervalMs);
    expect(reg.versions.supernodeListEpoch).toBe(epoch + 1);
    expect(reg.versions.policyVersion).toBe(w.core.policy.version);

    const anyone = await w.connect();
    const list = await w.run(anyone.getSupernodeList());
    if (list === 'unchanged') throw new Error('expected a list');
    expect(list.version).toBe(epoch + 1);
    expect(list.pages).toHaveLength(1);
    expect(list.entries).toHaveLength(1);
    expect(list.entries[0]!.keyId).toEqual(keyId(suite, key.key.publicKey));
    expect(list.entries[0]!.endpoints[0]!.port).toBe(4000);
    expect(await w.run(anyone.getSupernodeList(list.version))).toBe('unchanged');

    const hb = await w.run(sn.supernodeHeartbeat(400));
    expect(hb.supernodeListEpoch).toBe(epoch + 1); // a load change is not a new epoch
    // [LOGIN-AUTH-1] on an anonymous channel: NOT_AUTHORIZED, and the channel stays open
    await expect(w.run(anyone.supernodeHeartbeat(1))).rejects.toMatchObject({
      name: 'RequestRefused',
      code: ErrorCode.NOT_AUTHORIZED,
    });
    await expect(
      w.run(anyone.supernodeRegister([{ protocol: 1, address: Uint8Array.of(30, 0, 0, 98), port: 1 }], 1)),
    ).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
    expect(anyone.closed).toBe(false);

    // [LOGIN-SN-4] silent for more than three intervals: gone from the next epoch (the runner refreshes)
    sn.close();
    await w.run(
      new Promise<void>((resolve) =>
        w.serverTransport.clock.setTimer(4 * w.core.policy.heartbeatIntervalMs + 10_000, resolve),
      ),
    );
    const later = await w.run(anyone.getSupernodeList(list.version));
    if (later === 'unchanged') throw new Error('expected a new epoch');
    expect(later.version).toBeGreaterThan(list.version);
    expect(later.entries).toHaveLength(0);
    anyone.close();
  });

  it('[LOGIN-REVOKE-1] [LOGIN-REVOKE-2] [LOGIN-REVOKE-4] a revocation reaches clients as a verified list naming the serial', async () => {
    const c = await w.connect();
    const r1 = await w.run(c.getRevocationList());
    if (r1 === 'unchanged') throw new Error('expected a list');
    const key = device(8);
    const certificate = await w.core.issueSupernodeCertificate({
      subject: 'sn2.test',
      subjectKey: key.key.publicKey,
      deviceId: key.deviceId,
    });
    const sn = await w.connect({ identity: { chain: [certificate, w.net.loginCertificate], seed: key.seed } });
    const decodedSerial = decodeCertificate(decodeSigned(certificate).body).serial;
    expect(await w.core.revoke(decodedSerial, 'test')).toBe('revoked');
    const r2 = await w.run(c.getRevocationList(r1.version));
    if (r2 === 'unchanged') throw new Error('expected a new list');
    expect(r2.version).toBe(r1.version + 1);
    expect(r2.entries.map((e) => e.serial)).toContain(decodedSerial);
    expect(await w.run(c.getRevocationList(r2.version))).toBe('unchanged');
    // [LOGIN-CERT-5] [LOGIN-SN-1] the revoked supernode's channel is refused (CERT_REVOKED), not closed
    await expect(
      w.run(sn.supernodeRegister([{ protocol: 2, address: Uint8Array.of(30, 0, 0, 97), port: 4001 }], 10)),
    ).rejects.toMatchObject({ name: 'IdentityError', code: ErrorCode.CERT_REVOKED });
    c.close();
    sn.close();
  });
});

describe('prekeys and contact blobs [LOGIN-PREKEY] [LOGIN-CONTACT]', () => {
  it('[LOGIN-PREKEY-1] [LOGIN-PREKEY-2] [LOGIN-PREKEY-3] [LOGIN-CONTACT-3] [LOGIN-AUTH-1] prekeys go from one user to another; the contact blob is compare-and-set', async () => {
    const reg = await w.connect();
    await w.run(reg.register('ivan', PASSWORD));
    await w.run(reg.register('judy', PASSWORD));
    reg.close();
    const ivanDevice = device(3);
    const judyDevice = device(4);
    const ivan = await w.connect();
    const judy = await w.connect();
    const ivanCert = await w.run(ivan.login('ivan', PASSWORD, ivanDevice));
    await w.run(judy.login('judy', PASSWORD, judyDevice));

    const signed = signSignedPrekey(suite, ivanDevice.seed, {
      id: 1,
      publicKey: new Uint8Array(32).fill(1),
      identityDhKey: new Uint8Array(32).fill(2),
      deviceId: ivanDevice.deviceId,
      createdAtMs: w.serverTransport.clock.now(),
    });
    const held = await w.run(
      ivan.uploadPrekeys(
        signed,
        [1, 2].map((id) => ({ id, publicKey: new Uint8Array(32).fill(10 + id) })),
      ),
    );
    expect(held).toBe(2);

    const handedOut: (number | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const bundles = await w.run(judy.fetchPrekeys('Ivan'));
      expect(bundles).toHaveLength(1);
      const b = bundles[0]!;
      expect(b.certificate.subject).toBe('ivan');
      expect(b.certificateBytes).toEqual(ivanCert.certificate);
      expect(b.signedPrekey.id).toBe(1);
      expect(b.signedPrekey.deviceId).toEqual(ivanDevice.deviceId);
      handedOut.push(b.oneTimePrekey?.id);
    }
    expect(handedOut).toEqual([1, 2, undefined]); // each one-time prekey once ([LOGIN-PREKEY-3])
    await expect(w.run(judy.fetchPrekeys('nobody1'))).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });

    // [LOGIN-AUTH-1] an anonymous channel may do neither
    const anonymous = await w.connect();
    await expect(w.run(anonymous.fetchPrekeys('ivan'))).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
    await expect(w.run(anonymous.getContactBlob())).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
    await expect(w.run(anonymous.uploadPrekeys(signed, []))).rejects.toMatchObject({
      code: ErrorCode.NOT_AUTHORIZED,
    });

    // [LOGIN-CONTACT-3] compare-and-set on the login channel ...
    expect(await w.run(ivan.getContactBlob())).toEqual({ version: 0, blob: new Uint8Array(0) });
    expect(await w.run(ivan.putContactBlob(0, Uint8Array.of(1, 2, 3)))).toBe(1);
    await expect(w.run(ivan.putContactBlob(0, Uint8Array.of(9)))).rejects.toMatchObject({
      name: 'RequestRefused',
      code: ErrorCode.CONFLICT,
    });
    // ... and on a channel certified with the issued certificate (a user channel too)
    const certified = await w.connect({ identity: { chain: ivanCert.chain, seed: ivanDevice.seed } });
    expect(await w.run(certified.getContactBlob())).toEqual({ version: 1, blob: Uint8Array.of(1, 2, 3) });
    expect(await w.run(certified.putContactBlob(1, Uint8Array.of(4)))).toBe(2);
    expect((await w.run(ivan.getContactBlob())).blob).toEqual(Uint8Array.of(4));
    for (const x of [ivan, judy, anonymous, certified]) x.close();
  });

  it('[WIRE-CLOSE-1] close() ends the channel; later calls reject with ChannelClosedError', async () => {
    const c: LoginClient = await w.connect();
    c.close();
    await expect(c.getPolicy()).rejects.toBeInstanceOf(ChannelClosedError);
    expect(c.closeReason).toMatchObject({ local: true, code: 0 });
  });
});
