// The login server's request handling, in process: spec/06-login-server.md. Each test drives
// LoginServerCore.handle with sessions as the channel driver makes them, over an in-memory SQLite store.
import {
  type Certificate,
  decodeCertificate,
  decodePacket,
  decodeSigned,
  ErrorCode,
  encodePacket,
  errorEffect,
  generateSigningKey,
  isParleyError,
  type Packet,
  type PacketBody,
  type PeerIdentity,
  parley,
  Role,
  seededRandom,
  signCertificateRequest,
  signSignedPrekey,
  verifyChain,
  verifyNetworkPolicy,
  verifyRevocationListPage,
  verifySupernodeListPage,
} from '@parley/wire';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  clientFinishLogin,
  clientFinishRegistration,
  clientStartLogin,
  clientStartRegistration,
} from '../../src/accounts/index.js';
import type { LoginServerCore, Session } from '../../src/server/core.js';
import type { BusyError } from '../../src/server/errors.js';
import { HOUR, openCore, session, suite, type TestNetwork, testNetwork } from './fixtures.js';

let net: TestNetwork;
beforeAll(async () => {
  net = await testNetwork();
});

let rid = 0;
async function call(core: LoginServerCore, s: Session, body: PacketBody): Promise<Packet> {
  const action = await core.handle(s, { requestId: ++rid, body });
  if (action.kind !== 'reply') throw new Error(`closed: ${action.code}`);
  return action.packet;
}
async function refusal(p: Promise<unknown>): Promise<{ code: ErrorCode; error: unknown }> {
  try {
    await p;
  } catch (error) {
    if (isParleyError(error)) return { code: error.code, error };
    throw error;
  }
  throw new Error('expected a refusal');
}

const PASSWORD = 'correct horse battery';
const random = seededRandom('core tests');

async function register(core: LoginServerCore, username: string, password = PASSWORD): Promise<void> {
  const s = session();
  const start = clientStartRegistration(password);
  const r1 = await call(core, s, { case: 'registerStart', value: { username, registrationRequest: start.request } });
  if (r1.body.case !== 'registerStartReply') throw new Error(r1.body.case);
  const fin = clientFinishRegistration({
    state: start.state,
    password,
    username: r1.body.value.username,
    response: r1.body.value.registrationResponse,
  });
  await call(core, s, { case: 'registerFinish', value: { registrationRecord: fin.record } });
}

interface LoggedIn {
  session: Session;
  certificate: Uint8Array;
  decoded: Certificate;
  seed: Uint8Array;
}

async function login(core: LoginServerCore, username: string, password = PASSWORD, s = session()): Promise<LoggedIn> {
  const start = clientStartLogin(password);
  const r1 = await call(core, s, { case: 'loginStart', value: { username, startLoginRequest: start.ke1 } });
  if (r1.body.case !== 'loginStartReply') throw new Error(r1.body.case);
  const fin = clientFinishLogin({ state: start.state, password, username, ke2: r1.body.value.loginResponse });
  const key = generateSigningKey(suite, random);
  const ke3 = fin?.ke3 ?? new Uint8Array(64).fill(1); // a client that cannot finish still sends 64 bytes
  const r2 = await call(core, s, {
    case: 'loginFinish',
    value: {
      finishLoginRequest: ke3,
      certificateRequest: {
        subjectKey: key.publicKey,
        deviceId: new Uint8Array(16).fill(username.length),
        proof: signCertificateRequest(suite, key.seed, s.handshakeHash),
      },
    },
  });
  if (r2.body.case !== 'loginFinishReply') throw new Error(r2.body.case);
  const certificate = r2.body.value.certificate;
  return { session: s, certificate, decoded: decodeCertificate(decodeSigned(certificate).body), seed: key.seed };
}

function peerOf(cert: Certificate): PeerIdentity {
  return {
    certificate: cert,
    keyId: suite.sha256(cert.subjectKey),
    networkFingerprint: new Uint8Array(32),
    chain: [cert],
    trustAnchor: net.root.publicKey,
  };
}

describe('accounts [LOGIN-OPAQUE] [LOGIN-NAME]', () => {
  it('[LOGIN-OPAQUE-1] registers, then logs in and receives a 24 h user certificate that verifies under the root', async () => {
    const { core, clock } = await openCore(net);
    await register(core, 'Alice');
    const a = await login(core, 'alice');
    expect(a.decoded.subject).toBe('alice');
    expect(a.decoded.role).toBe(Role.ROLE_USER);
    expect(a.decoded.notAfter - a.decoded.notBefore).toBe(24 * HOUR);
    const chain = verifyChain(suite, [a.certificate, net.loginCertificate], {
      trustAnchors: [net.root.publicKey],
      nowMs: clock.now(),
      acceptedRoles: [Role.ROLE_USER],
    });
    expect(chain.leaf.subject).toBe('alice');
  });

  it('[LOGIN-NAME-5] [LOGIN-OPAQUE-12] a taken name is USERNAME_TAKEN and an invalid one USERNAME_INVALID', async () => {
    const { core } = await openCore(net);
    await register(core, 'bob');
    const start = clientStartRegistration(PASSWORD);
    const taken = await refusal(
      call(core, session(), { case: 'registerStart', value: { username: 'BOB', registrationRequest: start.request } }),
    );
    expect(taken.code).toBe(ErrorCode.USERNAME_TAKEN);
    const invalid = await refusal(
      call(core, session(), { case: 'registerStart', value: { username: 'ö', registrationRequest: start.request } }),
    );
    expect(invalid.code).toBe(ErrorCode.USERNAME_INVALID);
    expect(errorEffect(ErrorCode.USERNAME_TAKEN)).toBe('open');
  });

  it('[LOGIN-OPAQUE-21] [LOGIN-RATE-2] a wrong password and an unknown user both end in AUTH_FAILED, and both count as failures', async () => {
    const { core, store } = await openCore(net);
    await register(core, 'carol');
    const wrong = await refusal(login(core, 'carol', 'not the password!'));
    const unknown = await refusal(login(core, 'nobody'));
    expect(wrong.code).toBe(ErrorCode.AUTH_FAILED);
    expect(unknown.code).toBe(ErrorCode.AUTH_FAILED);
    expect((await store.getLoginFailures('carol'))?.count).toBe(1);
    expect((await store.getLoginFailures('nobody'))?.count).toBe(1);
    // nothing was issued: the next serial is still the first
    expect(await store.getCertificate(1)).toBeUndefined();
  });

  it('[LOGIN-RATE-4] [LOGIN-RATE-5] after 5 failures further logins are RATE_LIMITED with a retry hint, known or unknown', async () => {
    const { core, clock } = await openCore(net);
    for (let i = 0; i < 5; i++) await refusal(login(core, 'ghost', 'wrong password!!'));
    const limited = await refusal(login(core, 'ghost', 'wrong password!!'));
    expect(limited.code).toBe(ErrorCode.RATE_LIMITED);
    expect((limited.error as BusyError).retryAfterMs).toBeGreaterThan(0);
    clock.advance((limited.error as BusyError).retryAfterMs);
    expect((await refusal(login(core, 'ghost', 'wrong password!!'))).code).toBe(ErrorCode.AUTH_FAILED);
  });

  it('[LOGIN-FLOW-2] [LOGIN-OPAQUE-13] LoginFinish or RegisterFinish without its start is UNEXPECTED_MESSAGE, which closes', async () => {
    const { core } = await openCore(net);
    const r = await refusal(
      call(core, session(), { case: 'registerFinish', value: { registrationRecord: new Uint8Array(192) } }),
    );
    expect(r.code).toBe(ErrorCode.UNEXPECTED_MESSAGE);
    expect(errorEffect(r.code)).toBe('close');
  });

  it('[LOGIN-CERT-3] [LOGIN-REQ-3] a certificate request whose proof covers another channel is BAD_SIGNATURE; nothing is issued', async () => {
    const { core, store } = await openCore(net);
    await register(core, 'dave');
    const s = session();
    const start = clientStartLogin(PASSWORD);
    const r1 = await call(core, s, { case: 'loginStart', value: { username: 'dave', startLoginRequest: start.ke1 } });
    if (r1.body.case !== 'loginStartReply') throw new Error();
    const fin = clientFinishLogin({
      state: start.state,
      password: PASSWORD,
      username: 'dave',
      ke2: r1.body.value.loginResponse,
    })!;
    const key = generateSigningKey(suite, random);
    const r = await refusal(
      call(core, s, {
        case: 'loginFinish',
        value: {
          finishLoginRequest: fin.ke3,
          certificateRequest: {
            subjectKey: key.publicKey,
            deviceId: new Uint8Array(16),
            proof: signCertificateRequest(suite, key.seed, new Uint8Array(32).fill(9)),
          },
        },
      }),
    );
    expect(r.code).toBe(ErrorCode.BAD_SIGNATURE);
    expect(await store.getCertificate(1)).toBeUndefined();
  });

  it('[LOGIN-OPAQUE-26] [LOGIN-OPAQUE-28] [LOGIN-NAME-8] a password change needs a login on the channel; afterwards only the new password works', async () => {
    const { core } = await openCore(net);
    await register(core, 'erin');
    const anonymous = await refusal(
      call(core, session(), { case: 'changePasswordStart', value: { registrationRequest: new Uint8Array(32) } }),
    );
    expect(anonymous.code).toBe(ErrorCode.NOT_AUTHORIZED);
    const a = await login(core, 'erin');
    const next = 'a brand new passphrase';
    const start = clientStartRegistration(next);
    const r1 = await call(core, a.session, {
      case: 'changePasswordStart',
      value: { registrationRequest: start.request },
    });
    if (r1.body.case !== 'changePasswordStartReply') throw new Error();
    const fin = clientFinishRegistration({
      state: start.state,
      password: next,
      username: 'erin',
      response: r1.body.value.registrationResponse,
    });
    await call(core, a.session, { case: 'changePasswordFinish', value: { registrationRecord: fin.record } });
    expect((await refusal(login(core, 'erin'))).code).toBe(ErrorCode.AUTH_FAILED);
    expect((await login(core, 'erin', next)).decoded.subject).toBe('erin');
  });
});

describe('certificates, policy, lists [LOGIN-CERT] [POLICY] [LOGIN-LIST] [LOGIN-REVOKE]', () => {
  it('[LOGIN-CERT-5] [LOGIN-CERT-6] renewal on a user channel: same device, new key allowed, no password', async () => {
    const { core } = await openCore(net);
    await register(core, 'frank');
    const a = await login(core, 'frank');
    const s = session(peerOf(a.decoded));
    const key = generateSigningKey(suite, random);
    const r = await call(core, s, {
      case: 'renewCertificate',
      value: {
        certificateRequest: {
          subjectKey: key.publicKey,
          deviceId: a.decoded.deviceId,
          proof: signCertificateRequest(suite, key.seed, s.handshakeHash),
        },
      },
    });
    if (r.body.case !== 'renewCertificateReply') throw new Error();
    const renewed = decodeCertificate(decodeSigned(r.body.value.certificate).body);
    expect(renewed.subject).toBe('frank');
    expect(renewed.serial).toBeGreaterThan(a.decoded.serial);
    const otherDevice = await refusal(
      call(core, s, {
        case: 'renewCertificate',
        value: {
          certificateRequest: {
            subjectKey: key.publicKey,
            deviceId: new Uint8Array(16).fill(0xee),
            proof: signCertificateRequest(suite, key.seed, s.handshakeHash),
          },
        },
      }),
    );
    expect(otherDevice.code).toBe(ErrorCode.NOT_AUTHORIZED);
  });

  it('[POLICY-GEN-1] [LOGIN-PUB-4] anyone fetches the signed policy; the current version answers unchanged', async () => {
    const { core, clock } = await openCore(net);
    const s = session();
    const r = await call(core, s, { case: 'getPolicy', value: { knownVersion: 0 } });
    if (r.body.case !== 'policyReply') throw new Error();
    const policy = verifyNetworkPolicy(suite, r.body.value.policy, r.body.value.loginCertificate, {
      trustAnchors: [net.root.publicKey],
      nowMs: clock.now(),
    });
    expect(policy.version).toBe(1);
    expect(policy.replicationFactor).toBe(3);
    const again = await call(core, s, { case: 'getPolicy', value: { knownVersion: 1 } });
    if (again.body.case !== 'policyReply') throw new Error();
    expect(again.body.value.unchanged).toBe(true);
    expect(again.body.value.policy).toHaveLength(0);
  });

  it('[POLICY-DENY-2] a deny-listed software version gets no certificate: SOFTWARE_DENIED', async () => {
    const { core } = await openCore(net);
    await register(core, 'gina');
    expect(await core.publishPolicy({ version: 2, issuedAt: 1, deniedSoftware: ['crashy/0.3.'] } as never)).toBe(true);
    expect(core.policy.version).toBe(2);
    const denied = await refusal(login(core, 'gina', PASSWORD, session(null, 'crashy/0.3.7')));
    expect(denied.code).toBe(ErrorCode.SOFTWARE_DENIED);
    expect((await login(core, 'gina', PASSWORD, session(null, 'crashy/0.30.0'))).decoded.subject).toBe('gina');
    expect(await core.publishPolicy({ version: 2, issuedAt: 2 } as never)).toBe(false);
  });

  it('[LOGIN-SN-1] [LOGIN-LIST-5] a supernode registers; the list gets a new epoch with its entry; heartbeats keep it', async () => {
    const { core, clock } = await openCore(net);
    const key = generateSigningKey(suite, random);
    const certificate = await core.issueSupernodeCertificate({
      subject: 'sn1.test',
      subjectKey: key.publicKey,
      deviceId: new Uint8Array(16).fill(1),
    });
    const decoded = decodeCertificate(decodeSigned(certificate).body);
    expect(decoded.role).toBe(Role.ROLE_SUPERNODE);
    expect(decoded.notAfter - decoded.notBefore).toBe(6 * HOUR);
    const s = session(peerOf(decoded), 'parley-ref/0.1.0');
    const before = core.versions().supernodeListEpoch;
    const r = await call(core, s, {
      case: 'supernodeRegister',
      value: { endpoints: [{ protocol: 1, address: Uint8Array.of(192, 0, 2, 10), port: 4000 }], capacity: 800 },
    });
    if (r.body.case !== 'supernodeRegisterReply') throw new Error();
    expect(r.body.value.versions?.supernodeListEpoch).toBe(before + 1);
    const list = await call(core, session(), { case: 'getSupernodeList', value: { knownEpoch: 0, page: 0 } });
    if (list.body.case !== 'supernodeListReply') throw new Error();
    const page = verifySupernodeListPage(suite, list.body.value.page, list.body.value.loginCertificate, {
      trustAnchors: [net.root.publicKey],
      nowMs: clock.now(),
    });
    expect(page.entries).toHaveLength(1);
    expect(page.entries[0]!.endpoints[0]!.port).toBe(4000);
    const hb = await call(core, s, { case: 'supernodeHeartbeat', value: { load: 400 } });
    expect(hb.body.case).toBe('supernodeHeartbeatReply');
    const user = await refusal(call(core, session(), { case: 'supernodeHeartbeat', value: { load: 1 } }));
    expect(user.code).toBe(ErrorCode.NOT_AUTHORIZED);
    // [LOGIN-SN-4] silent for three intervals: out of the list at the next refresh
    clock.advance(4 * core.policy.heartbeatIntervalMs);
    await core.refresh();
    const later = await call(core, session(), { case: 'getSupernodeList', value: { knownEpoch: 0, page: 0 } });
    if (later.body.case !== 'supernodeListReply') throw new Error();
    const empty = verifySupernodeListPage(suite, later.body.value.page, later.body.value.loginCertificate, {
      trustAnchors: [net.root.publicKey],
      nowMs: clock.now(),
    });
    expect(empty.entries).toHaveLength(0);
    expect(empty.version).toBe(before + 2);
  });

  it('[LOGIN-REVOKE-1] revoking a serial publishes the next revocation list, which names it', async () => {
    const { core, clock } = await openCore(net);
    await register(core, 'hank');
    const a = await login(core, 'hank');
    expect(await core.revoke(a.decoded.serial, 'lost device')).toBe('revoked');
    expect(await core.revoke(a.decoded.serial, 'again')).toBe('already');
    const r = await call(core, session(), { case: 'getRevocationList', value: { knownNumber: 0, page: 0 } });
    if (r.body.case !== 'revocationListReply') throw new Error();
    const page = verifyRevocationListPage(suite, r.body.value.page, r.body.value.loginCertificate, {
      trustAnchors: [net.root.publicKey],
      nowMs: clock.now(),
    });
    expect(page.version).toBe(2);
    expect(page.entries.map((e) => e.serial)).toEqual([a.decoded.serial]);
    const renew = await refusal(
      call(core, session(peerOf(a.decoded)), {
        case: 'renewCertificate',
        value: {
          certificateRequest: {
            subjectKey: a.decoded.subjectKey,
            deviceId: a.decoded.deviceId,
            proof: signCertificateRequest(suite, a.seed, new Uint8Array(32)),
          },
        },
      }),
    );
    expect([ErrorCode.CERT_REVOKED, ErrorCode.BAD_SIGNATURE]).toContain(renew.code);
  });
});

describe('prekeys and contact blobs [LOGIN-PREKEY] [LOGIN-CONTACT]', () => {
  it('[LOGIN-PREKEY-1] [LOGIN-PREKEY-3] uploaded prekeys are fetched with each one-time prekey handed out once', async () => {
    const { core } = await openCore(net);
    await register(core, 'ivan');
    await register(core, 'judy');
    const ivan = await login(core, 'ivan');
    const judy = await login(core, 'judy');
    const signedPrekey = signSignedPrekey(suite, ivan.seed, {
      id: 1,
      publicKey: new Uint8Array(32).fill(1),
      identityDhKey: new Uint8Array(32).fill(2),
      deviceId: ivan.decoded.deviceId,
      createdAtMs: 1,
    });
    const up = await call(core, ivan.session, {
      case: 'uploadPrekeys',
      value: {
        signedPrekey,
        oneTimePrekeys: [1, 2].map((id) => ({ id, publicKey: new Uint8Array(32).fill(10 + id) })),
      },
    });
    if (up.body.case !== 'uploadPrekeysReply') throw new Error();
    expect(up.body.value.oneTimePrekeysHeld).toBe(2);
    const seen = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const r = await call(core, judy.session, { case: 'fetchPrekeys', value: { username: 'ivan' } });
      if (r.body.case !== 'fetchPrekeysReply') throw new Error();
      expect(r.body.value.bundles).toHaveLength(1);
      const otk = r.body.value.bundles[0]!.oneTimePrekey;
      if (i < 2) {
        expect(otk).toBeDefined();
        expect(seen.has(otk!.id)).toBe(false);
        seen.add(otk!.id);
      } else expect(otk).toBeUndefined();
    }
    const anonymous = await refusal(call(core, session(), { case: 'fetchPrekeys', value: { username: 'ivan' } }));
    expect(anonymous.code).toBe(ErrorCode.NOT_AUTHORIZED);
    // A signed prekey signed by another key is refused, and nothing is written.
    const forged = signSignedPrekey(suite, judy.seed, {
      id: 2,
      publicKey: new Uint8Array(32),
      identityDhKey: new Uint8Array(32),
      deviceId: ivan.decoded.deviceId,
      createdAtMs: 1,
    });
    const bad = await refusal(
      call(core, ivan.session, { case: 'uploadPrekeys', value: { signedPrekey: forged, oneTimePrekeys: [] } }),
    );
    expect(bad.code).toBe(ErrorCode.CERT_UNKNOWN_ISSUER); // [ID-SIG-8] signed by a key other than the device's
  });

  it('[LOGIN-PREKEY-5] searches (FetchPrekeys) are limited per account, whatever the address: RATE_LIMITED with the wait', async () => {
    const { core, clock } = await openCore(net);
    await register(core, 'quinn');
    const q = await login(core, 'quinn');
    const perMinute = core.policy.rateLimits.searchPerMinute;
    // each request from another address, so only the account's bucket can refuse
    const fetch = (i: number) =>
      call(
        core,
        { ...q.session, remoteAddress: `198.51.100.${i % 250}` },
        {
          case: 'fetchPrekeys',
          value: { username: 'nobody' },
        },
      );
    for (let i = 0; i < perMinute; i++) expect((await refusal(fetch(i))).code).toBe(ErrorCode.NOT_FOUND);
    const limited = await refusal(fetch(perMinute));
    expect(limited.code).toBe(ErrorCode.RATE_LIMITED);
    const wait = (limited.error as { retryAfterMs: number }).retryAfterMs;
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(Math.ceil(60_000 / perMinute));
    clock.advance(wait);
    expect((await refusal(fetch(perMinute + 1))).code).toBe(ErrorCode.NOT_FOUND);
  });

  it('[LOGIN-CONTACT-3] the contact blob is compare-and-set by version', async () => {
    const { core } = await openCore(net);
    await register(core, 'kate');
    const k = await login(core, 'kate');
    const put = (expectedVersion: number, blob: number) =>
      call(core, k.session, { case: 'putContactBlob', value: { expectedVersion, blob: Uint8Array.of(blob) } });
    const r1 = await put(0, 1);
    if (r1.body.case !== 'putContactBlobReply') throw new Error();
    expect(r1.body.value.version).toBe(1);
    expect((await refusal(put(0, 2))).code).toBe(ErrorCode.CONFLICT);
    await put(1, 3);
    const got = await call(core, k.session, { case: 'getContactBlob', value: {} });
    if (got.body.case !== 'contactBlobReply') throw new Error();
    expect(got.body.value.version).toBe(2);
    expect(Array.from(got.body.value.blob)).toEqual([3]);
  });
});

describe('request rules [LOGIN-REQ] [LOGIN-AUTH] [LOGIN-FLOW] [LOGIN-PUB]', () => {
  it('[LOGIN-REQ-1] a request without request_id is UNEXPECTED_MESSAGE; [LOGIN-REQ-2] so is a reply body', async () => {
    const { core } = await openCore(net);
    const noId = await refusal(
      core.handle(session(), { requestId: 0, body: { case: 'getPolicy', value: { knownVersion: 0 } } }),
    );
    expect(noId.code).toBe(ErrorCode.UNEXPECTED_MESSAGE);
    const replyBody = await refusal(call(core, session(), { case: 'putContactBlobReply', value: { version: 1 } }));
    expect(replyBody.code).toBe(ErrorCode.UNEXPECTED_MESSAGE);
    expect(errorEffect(ErrorCode.UNEXPECTED_MESSAGE)).toBe('close');
  });

  it('[LOGIN-AUTH-1] [LOGIN-PUB-6] user and supernode requests are NOT_AUTHORIZED on an anonymous channel; published objects are not', async () => {
    const { core } = await openCore(net);
    const s = session();
    const needs: PacketBody[] = [
      { case: 'uploadPrekeys', value: { signedPrekey: new Uint8Array(100), oneTimePrekeys: [] } },
      { case: 'fetchPrekeys', value: { username: 'someone' } },
      { case: 'getContactBlob', value: {} },
      { case: 'putContactBlob', value: { expectedVersion: 0, blob: Uint8Array.of(1) } },
      { case: 'supernodeRegister', value: { endpoints: [], capacity: 1 } },
      { case: 'supernodeHeartbeat', value: { load: 1 } },
      { case: 'changePasswordStart', value: { registrationRequest: new Uint8Array(32) } },
    ];
    for (const body of needs)
      expect((await refusal(call(core, s, body))).code, body.case).toBe(ErrorCode.NOT_AUTHORIZED);
    for (const body of [
      { case: 'getPolicy', value: { knownVersion: 0 } },
      { case: 'getSupernodeList', value: { knownEpoch: 0, page: 0 } },
      { case: 'getRevocationList', value: { knownNumber: 0, page: 0 } },
    ] as PacketBody[]) {
      expect((await call(core, s, body)).body.case).toMatch(/Reply$/);
    }
  });

  it('[LOGIN-FLOW-1] [LOGIN-OPAQUE-20] a LoginFinish continues only the login begun on its own channel', async () => {
    const { core } = await openCore(net);
    await register(core, 'lena');
    const a = session();
    const start = clientStartLogin(PASSWORD);
    const r1 = await call(core, a, { case: 'loginStart', value: { username: 'lena', startLoginRequest: start.ke1 } });
    if (r1.body.case !== 'loginStartReply') throw new Error();
    const fin = clientFinishLogin({
      state: start.state,
      password: PASSWORD,
      username: 'lena',
      ke2: r1.body.value.loginResponse,
    })!;
    const b = session();
    const key = generateSigningKey(suite, random);
    const other = await refusal(
      call(core, b, {
        case: 'loginFinish',
        value: {
          finishLoginRequest: fin.ke3,
          certificateRequest: {
            subjectKey: key.publicKey,
            deviceId: new Uint8Array(16),
            proof: signCertificateRequest(suite, key.seed, b.handshakeHash),
          },
        },
      }),
    );
    expect(other.code).toBe(ErrorCode.UNEXPECTED_MESSAGE);
  });

  it('[LOGIN-PUB-3] [LOGIN-PUB-8] a server with an empty store publishes version 1 of every object', async () => {
    const { core, store } = await openCore(net);
    expect(core.versions()).toEqual({ policyVersion: 1, supernodeListEpoch: 1, revocationListNumber: 1 });
    for (const kind of ['policy', 'supernode-list', 'revocation-list'] as const) {
      expect((await store.getPublished(kind))?.version).toBe(1);
    }
  });

  it('[LOGIN-PUB-7] a page at or beyond the page count is NOT_FOUND', async () => {
    const { core } = await openCore(net);
    const r = await refusal(call(core, session(), { case: 'getSupernodeList', value: { knownEpoch: 0, page: 1 } }));
    expect(r.code).toBe(ErrorCode.NOT_FOUND);
  });

  it('[LOGIN-SN-3] heartbeat replies carry the current versions, so a supernode sees a new policy at its next heartbeat', async () => {
    const { core } = await openCore(net);
    const key = generateSigningKey(suite, random);
    const cert = decodeCertificate(
      decodeSigned(
        await core.issueSupernodeCertificate({
          subject: 'sn.test',
          subjectKey: key.publicKey,
          deviceId: new Uint8Array(16),
        }),
      ).body,
    );
    const s = session(peerOf(cert));
    await call(core, s, {
      case: 'supernodeRegister',
      value: { endpoints: [{ protocol: 2, address: Uint8Array.of(192, 0, 2, 7), port: 443 }], capacity: 10 },
    });
    await core.publishPolicy({ version: 7, issuedAt: 1 } as never);
    const hb = await call(core, s, { case: 'supernodeHeartbeat', value: { load: 3 } });
    if (hb.body.case !== 'supernodeHeartbeatReply') throw new Error();
    expect(hb.body.value.versions?.policyVersion).toBe(7);
  });
});

describe('issuing rules [LOGIN-CERT] [LOGIN-RATE-7] [LOGIN-OPAQUE-29] [LOGIN-OPAQUE-30] [LOGIN-PREKEY-4]', () => {
  it('[LOGIN-CERT-1] serials increase from 1, the subject is the normalised name, lifetimes come from the policy', async () => {
    const { core } = await openCore(net);
    await register(core, 'Mike.Smith');
    const a = await login(core, 'mike.smith');
    const b = await login(core, 'mike.smith');
    expect(a.decoded.subject).toBe('mike.smith');
    expect(a.decoded.serial).toBe(1);
    expect(b.decoded.serial).toBe(2);
    expect(decodeSigned(a.certificate).signerKeyId).toEqual(net.login.keyId);
    await core.publishPolicy({ version: 2, issuedAt: 1, userCertLifetimeS: 3600 } as never);
    const c = await login(core, 'mike.smith');
    expect(c.decoded.notAfter - c.decoded.notBefore).toBe(HOUR);
  });

  it('[LOGIN-CERT-4] no certificate outlives the login certificate', async () => {
    const { core, clock } = await openCore(net);
    await register(core, 'nina');
    const loginCert = decodeCertificate(decodeSigned(net.loginCertificate).body);
    clock.advance(loginCert.notAfter - clock.now() - HOUR); // one hour left on the login certificate
    const a = await login(core, 'nina');
    expect(a.decoded.notAfter).toBe(loginCert.notAfter);
  });

  it('[LOGIN-RATE-7] the per-name backoff does not apply to RenewCertificate', async () => {
    const { core } = await openCore(net);
    await register(core, 'oscar');
    const a = await login(core, 'oscar');
    for (let i = 0; i < 6; i++) await refusal(login(core, 'oscar', 'not my password!'));
    expect((await refusal(login(core, 'oscar'))).code).toBe(ErrorCode.RATE_LIMITED);
    const s = session(peerOf(a.decoded));
    const r = await call(core, s, {
      case: 'renewCertificate',
      value: {
        certificateRequest: {
          subjectKey: a.decoded.subjectKey,
          deviceId: a.decoded.deviceId,
          proof: signCertificateRequest(suite, a.seed, s.handshakeHash),
        },
      },
    });
    expect(r.body.case).toBe('renewCertificateReply');
  });

  it('[LOGIN-OPAQUE-29] [LOGIN-OPAQUE-30] a change finished after another channel changed the password is CONFLICT; older certificates are not renewed', async () => {
    const { core, clock } = await openCore(net);
    await register(core, 'pia');
    const first = await login(core, 'pia');
    const second = await login(core, 'pia');
    const change = async (s: Session, password: string) => {
      const start = clientStartRegistration(password);
      const r1 = await call(core, s, { case: 'changePasswordStart', value: { registrationRequest: start.request } });
      if (r1.body.case !== 'changePasswordStartReply') throw new Error();
      const fin = clientFinishRegistration({
        state: start.state,
        password,
        username: 'pia',
        response: r1.body.value.registrationResponse,
      });
      return call(core, s, { case: 'changePasswordFinish', value: { registrationRecord: fin.record } });
    };
    clock.advance(1000);
    await change(first.session, 'first new password');
    expect((await refusal(change(second.session, 'second new password'))).code).toBe(ErrorCode.CONFLICT);
    const s = session(peerOf(first.decoded));
    const renew = await refusal(
      call(core, s, {
        case: 'renewCertificate',
        value: {
          certificateRequest: {
            subjectKey: first.decoded.subjectKey,
            deviceId: first.decoded.deviceId,
            proof: signCertificateRequest(suite, first.seed, s.handshakeHash),
          },
        },
      }),
    );
    expect(renew.code).toBe(ErrorCode.NOT_AUTHORIZED);
  });

  it('[LOGIN-PREKEY-4] a device holds at most 200 one-time prekeys', async () => {
    const { core } = await openCore(net);
    await register(core, 'quinn');
    const q = await login(core, 'quinn');
    const signedPrekey = signSignedPrekey(suite, q.seed, {
      id: 1,
      publicKey: new Uint8Array(32).fill(1),
      identityDhKey: new Uint8Array(32).fill(2),
      deviceId: q.decoded.deviceId,
      createdAtMs: 1,
    });
    let held = 0;
    for (let round = 0; round < 3; round++) {
      const r = await call(core, q.session, {
        case: 'uploadPrekeys',
        value: {
          signedPrekey,
          oneTimePrekeys: Array.from({ length: 100 }, (_, i) => ({
            id: round * 100 + i + 1,
            publicKey: new Uint8Array(32).fill(i),
          })),
        },
      });
      if (r.body.case !== 'uploadPrekeysReply') throw new Error();
      held = r.body.value.oneTimePrekeysHeld;
    }
    expect(held).toBe(200);
  });
});

describe('login details [LOGIN-OPAQUE-17] [LOGIN-OPAQUE-18] [LOGIN-OPAQUE-22] [LOGIN-NAME-1]', () => {
  it('[LOGIN-OPAQUE-17] LoginStart normalises first: an invalid name is USERNAME_INVALID and counts nothing', async () => {
    const { core, store } = await openCore(net);
    const start = clientStartLogin(PASSWORD);
    const r = await refusal(
      call(core, session(), { case: 'loginStart', value: { username: 'no spaces', startLoginRequest: start.ke1 } }),
    );
    expect(r.code).toBe(ErrorCode.USERNAME_INVALID);
    expect(await store.getLoginFailures('no spaces')).toBeUndefined();
  });

  it('[LOGIN-OPAQUE-18] a second LoginStart on a channel replaces the first: only its KE3 completes', async () => {
    const { core } = await openCore(net);
    await register(core, 'rita');
    const s = session();
    const first = clientStartLogin(PASSWORD);
    const r1 = await call(core, s, { case: 'loginStart', value: { username: 'rita', startLoginRequest: first.ke1 } });
    const second = clientStartLogin(PASSWORD);
    const r2 = await call(core, s, { case: 'loginStart', value: { username: 'rita', startLoginRequest: second.ke1 } });
    if (r1.body.case !== 'loginStartReply' || r2.body.case !== 'loginStartReply') throw new Error();
    const fin1 = clientFinishLogin({
      state: first.state,
      password: PASSWORD,
      username: 'rita',
      ke2: r1.body.value.loginResponse,
    })!;
    const key = generateSigningKey(suite, random);
    const request = {
      subjectKey: key.publicKey,
      deviceId: new Uint8Array(16),
      proof: signCertificateRequest(suite, key.seed, s.handshakeHash),
    };
    const stale = await refusal(
      call(core, s, { case: 'loginFinish', value: { finishLoginRequest: fin1.ke3, certificateRequest: request } }),
    );
    expect(stale.code).toBe(ErrorCode.AUTH_FAILED);
    // The finish ended the login in flight: the second exchange is gone too (LOGIN-FLOW-2).
    const fin2 = clientFinishLogin({
      state: second.state,
      password: PASSWORD,
      username: 'rita',
      ke2: r2.body.value.loginResponse,
    })!;
    const gone = await refusal(
      call(core, s, { case: 'loginFinish', value: { finishLoginRequest: fin2.ke3, certificateRequest: request } }),
    );
    expect(gone.code).toBe(ErrorCode.UNEXPECTED_MESSAGE);
  });

  it('[LOGIN-OPAQUE-22] [LOGIN-RATE-3] a successful login clears the failure counters', async () => {
    const { core, store } = await openCore(net);
    await register(core, 'sam');
    await refusal(login(core, 'sam', 'a wrong password'));
    await refusal(login(core, 'sam', 'a wrong password'));
    expect((await store.getLoginFailures('sam'))?.count).toBe(2);
    await login(core, 'sam');
    expect((await store.getLoginFailures('sam'))?.count ?? 0).toBe(0);
  });

  it('[LOGIN-NAME-1] a name longer than 64 bytes does not decode: FIELD_LIMIT', () => {
    const bytes = encodePacket({
      requestId: 1,
      body: { case: 'registerStart', value: { username: 'a'.repeat(64), registrationRequest: new Uint8Array(32) } },
    });
    // one byte more, encoded without the sender-side checks, as a hostile client would
    const raw = parley.v1.Packet.encode({
      requestId: 1,
      registerStart: { username: 'a'.repeat(65), registrationRequest: new Uint8Array(32) },
    }).finish();
    expect(decodePacket(bytes).body.case).toBe('registerStart');
    let code: ErrorCode | undefined;
    try {
      decodePacket(raw);
    } catch (e) {
      code = (e as { code: ErrorCode }).code;
    }
    expect(code).toBe(ErrorCode.FIELD_LIMIT);
  });
});

describe('revocation retention [LOGIN-REVOKE-3]', () => {
  it('[LOGIN-REVOKE-3] an entry stays listed until its certificate expired an hour ago, then leaves', async () => {
    const { core, clock } = await openCore(net);
    await register(core, 'tara');
    await register(core, 'uma');
    const a = await login(core, 'tara');
    await core.revoke(a.decoded.serial, 'stolen');
    const listed = async (): Promise<number[]> => {
      const r = await call(core, session(), { case: 'getRevocationList', value: { knownNumber: 0, page: 0 } });
      if (r.body.case !== 'revocationListReply') throw new Error();
      return verifyRevocationListPage(suite, r.body.value.page, r.body.value.loginCertificate, {
        trustAnchors: [net.root.publicKey],
        nowMs: clock.now(),
      }).entries.map((e) => e.serial);
    };
    clock.advance(a.decoded.notAfter - clock.now() + 30 * 60_000); // expired half an hour ago
    const b = await login(core, 'uma');
    await core.revoke(b.decoded.serial, 'another');
    expect(await listed()).toEqual([a.decoded.serial, b.decoded.serial]);
    clock.advance(HOUR); // an hour and a half past the first one's not_after
    const c = await login(core, 'uma');
    await core.revoke(c.decoded.serial, 'a third');
    expect(await listed()).toEqual([b.decoded.serial, c.decoded.serial]);
  });
});
