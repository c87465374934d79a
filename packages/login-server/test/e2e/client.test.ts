/**
 * The client's own duties (spec/06-login-server.md; 01-packets.md WIRE-ERRREPLY-3), against a scripted
 * login server in the simulator that answers what the real one never would: BUSY and RATE_LIMITED on
 * demand, lists whose epoch changes between pages, names and certificates other than asked for, objects
 * signed by the wrong key, and responders that are not login servers.
 */

import { ChannelClosedError } from '@parley/channel';
import {
  type EffectivePolicy,
  ErrorCode,
  generateSigningKey,
  issueCertificate,
  type PacketBody,
  parley,
  Role,
  type SupernodeListEntryInput,
  seededRandom,
  signNetworkPolicy,
  signSignedPrekey,
  signSupernodeList,
} from '@parley/wire';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BACKOFF_BASE_MS,
  BACKOFF_MAX_MS,
  type LoginClient as Client,
  type LoginClient,
  type RetryEvent,
  RetryState,
  retryDelayMs,
} from '../../src/client/index.js';
import { HOUR, testNetwork } from '../server/fixtures.js';
import { PASSWORD, type ScriptedServer, scriptedServer, suite, T0, type World, world } from './fixtures.js';

/** One-way delay between two simulated hosts (10 ms per access link). */
const ONE_WAY_MS = 20;
const random = seededRandom('e2e client tests');

let w: World;
beforeAll(async () => {
  w = await world({ seed: 'client duties' });
});

const busy = (code: ErrorCode, retryAfterMs: number, retryJitterMs: number): PacketBody => ({
  case: 'error',
  value: { code, detail: '', retryAfterMs, retryJitterMs },
});
const refuse = (code: ErrorCode): PacketBody => ({ case: 'error', value: { code, detail: 'no' } });

function connectTo(s: ScriptedServer, o: Partial<Parameters<typeof Client.connect>[0]> = {}): Promise<LoginClient> {
  return w.connect({ server: s.address, ...o });
}
const gaps = (s: ScriptedServer) => s.received.slice(1).map((r, i) => r.atMs - s.received[i]!.atMs);

describe('refusals and retries [WIRE-ERRREPLY-3] [LOGIN-RATE-18] [LOGIN-RATE-19]', () => {
  it('[WIRE-ERRREPLY-3] [LOGIN-RATE-18] BUSY with a hint: the request comes again after retry_after_ms plus at most retry_jitter_ms', async () => {
    const s = scriptedServer(w.sim, w.net, (_p, n) => (n <= 2 ? busy(ErrorCode.BUSY, 1_500, 500) : 'core'), {
      core: w.core,
    });
    const events: RetryEvent[] = [];
    const c = await connectTo(s, { onRetry: (e) => events.push(e) });
    const policy = (await w.run(c.getPolicy())) as EffectivePolicy;
    expect(policy.version).toBe(w.core.policy.version);
    expect(s.received.map((r) => r.packet.body.case)).toEqual(['getPolicy', 'getPolicy', 'getPolicy']);
    for (const [i, gap] of gaps(s).entries()) {
      // refusal -> client, wait, client -> server: two crossings besides the wait
      expect(gap - 2 * ONE_WAY_MS).toBe(events[i]!.delayMs);
      expect(events[i]!.delayMs).toBeGreaterThanOrEqual(1_500);
      expect(events[i]!.delayMs).toBeLessThanOrEqual(2_000);
    }
    expect(events.map((e) => [e.exchange, e.attempt, e.willRetry])).toEqual([
      ['policy', 1, true],
      ['policy', 2, true],
    ]);
    c.close();
  });

  it('[LOGIN-RATE-19] without a hint: exponential backoff with full jitter; after maxAttempts the last refusal, and no early resend', async () => {
    const s = scriptedServer(w.sim, w.net, () => busy(ErrorCode.RATE_LIMITED, 0, 0));
    const events: RetryEvent[] = [];
    const c = await connectTo(s, { retry: { maxAttempts: 5 }, onRetry: (e) => events.push(e) });
    const refusal = await w.run(c.getPolicy()).catch((e: unknown) => e);
    expect(refusal).toMatchObject({ name: 'BusyError', code: ErrorCode.RATE_LIMITED, retryAfterMs: 0 });
    expect(s.received).toHaveLength(5);
    for (const [i, gap] of gaps(s).entries()) {
      expect(gap - 2 * ONE_WAY_MS).toBe(events[i]!.delayMs);
      expect(events[i]!.delayMs).toBeLessThanOrEqual(BACKOFF_BASE_MS * 2 ** i); // [0, 1 s x 2^(n-1)]
    }
    expect(events.map((e) => e.willRetry)).toEqual([true, true, true, true, false]);
    // [LOGIN-RATE-18] a new call does not send the refused request before the last wait has passed,
    // [LOGIN-RATE-19] and n keeps counting across calls until a success: the sixth wait is up to 2^5 s
    const last = events[4]!;
    const pending = c.getPolicy().catch((e: unknown) => e);
    await w.run(new Promise<void>((r) => w.serverTransport.clock.setTimer(last.delayMs + 500, r)));
    expect(s.received).toHaveLength(6);
    expect(s.received[5]!.atMs).toBe(last.atMs + last.delayMs + ONE_WAY_MS);
    expect(events[5]).toMatchObject({ attempt: 1, willRetry: true });
    expect(events[5]!.delayMs).toBeLessThanOrEqual(BACKOFF_BASE_MS * 2 ** 5);
    c.close(); // the pending call's wait ends with the channel
    expect(await w.run(pending)).toBeInstanceOf(ChannelClosedError);
  });

  it('[LOGIN-RATE-18] a wait beyond retry.maxDelayMs is not sat out: the call rejects at once, and so does the next one, sending nothing', async () => {
    const s = scriptedServer(w.sim, w.net, () => busy(ErrorCode.RATE_LIMITED, 900_000, 0));
    const c = await connectTo(s);
    await expect(w.run(c.getPolicy())).rejects.toMatchObject({ code: ErrorCode.RATE_LIMITED, retryAfterMs: 900_000 });
    const again = await w.run(c.getPolicy()).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: ErrorCode.RATE_LIMITED });
    expect((again as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(900_000);
    expect(s.received).toHaveLength(1);
    c.close();
  });

  it('[LOGIN-RATE-18] a refused request is not repeated on a new channel either, when the channels share a RetryState', async () => {
    const s = scriptedServer(w.sim, w.net, (_p, n) => (n === 1 ? busy(ErrorCode.BUSY, 5_000, 0) : 'core'), {
      core: w.core,
    });
    const retryState = new RetryState();
    const events: RetryEvent[] = [];
    const first = await connectTo(s, { retryState, retry: { maxAttempts: 1 }, onRetry: (e) => events.push(e) });
    await expect(w.run(first.getPolicy())).rejects.toMatchObject({ code: ErrorCode.BUSY, retryAfterMs: 5_000 });
    first.close();
    const second = await connectTo(s, { retryState });
    expect(await w.run(second.getPolicy())).toMatchObject({ version: w.core.policy.version });
    expect(s.received).toHaveLength(2);
    expect(s.received[1]!.atMs).toBeGreaterThanOrEqual(events[0]!.atMs + 5_000 + ONE_WAY_MS);
    second.close();
  });

  it('[WIRE-ERRREPLY-3] [LOGIN-RATE-19] retryDelayMs: within [R, R + J] with a hint, within [0, min(5 min, 2^(n-1) s)] without', () => {
    fc.assert(
      fc.property(
        fc.nat(120_000),
        fc.nat(120_000),
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retryAfterMs, retryJitterMs, n, u) => {
          const d = retryDelayMs({ retryAfterMs, retryJitterMs }, n, { float: () => u });
          expect(Number.isInteger(d)).toBe(true);
          if (retryAfterMs > 0) {
            expect(d).toBeGreaterThanOrEqual(retryAfterMs);
            expect(d).toBeLessThanOrEqual(retryAfterMs + retryJitterMs);
          } else {
            expect(d).toBeGreaterThanOrEqual(0);
            expect(d).toBeLessThanOrEqual(Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (n - 1)));
          }
        },
      ),
    );
    // the draw covers the whole interval, both ends included
    expect(retryDelayMs({ retryAfterMs: 100, retryJitterMs: 10 }, 1, { float: () => 0 })).toBe(100);
    expect(retryDelayMs({ retryAfterMs: 100, retryJitterMs: 10 }, 1, { float: () => 0.999_999 })).toBe(110);
    expect(retryDelayMs({ retryAfterMs: 0, retryJitterMs: 0 }, 3, { float: () => 0.999_999 })).toBe(4_000);
  });

  it('[GEN-ERR-5] what the server would refuse, and close the channel for, is refused locally with ApiMisuse', async () => {
    const s = scriptedServer(w.sim, w.net, () => undefined);
    const c = await connectTo(s);
    const seed = generateSigningKey(suite, random).seed;
    await expect(c.login('alice', PASSWORD, { seed, deviceId: new Uint8Array(15) })).rejects.toMatchObject({
      code: ErrorCode.API_MISUSE,
    });
    await expect(c.renew({ seed: seed.subarray(1), deviceId: new Uint8Array(16) })).rejects.toMatchObject({
      code: ErrorCode.API_MISUSE,
    });
    await expect(c.supernodeRegister([], 10)).rejects.toMatchObject({ code: ErrorCode.API_MISUSE });
    await expect(
      c.supernodeRegister([{ protocol: 1, address: Uint8Array.of(1, 2, 3), port: 1 }], 10),
    ).rejects.toMatchObject({ code: ErrorCode.API_MISUSE });
    await expect(
      c.supernodeRegister([{ protocol: 1, address: Uint8Array.of(1, 2, 3, 4), port: 1 }], 0),
    ).rejects.toMatchObject({ code: ErrorCode.API_MISUSE });
    await expect(c.uploadPrekeys(new Uint8Array(10), [{ id: 1, publicKey: new Uint8Array(31) }])).rejects.toMatchObject(
      {
        code: ErrorCode.API_MISUSE,
      },
    );
    expect(s.received).toEqual([]);
    expect(c.closed).toBe(false);
    c.close();
  });

  it('[WIRE-ERRREPLY-2] [GEN-ERR-2] other refusals are not retried: typed by kind, hints ignored', async () => {
    const answers: (PacketBody | Uint8Array)[] = [
      // a hint with another code: a conforming sender never sets one (encodePacket refuses), so raw bytes
      parley.v1.Packet.encode({
        requestId: 1,
        error: { code: ErrorCode.NOT_FOUND, detail: 'gone', retryAfterMs: 5, retryJitterMs: 5 },
      }).finish(),
      refuse(ErrorCode.RESOURCE_LIMIT),
      refuse(ErrorCode.CERT_EXPIRED),
      refuse(ErrorCode.TOO_OLD),
      { case: 'pong', value: { sequence: 1, data: new Uint8Array(0) } },
    ];
    const s = scriptedServer(w.sim, w.net, (_p, n) => answers[n - 1]);
    const c = await connectTo(s);
    const outcomes = [];
    for (let i = 0; i < answers.length; i++) outcomes.push(await w.run(c.getPolicy()).catch((e: unknown) => e));
    expect(outcomes.map((e) => [(e as Error).name, (e as { code: number }).code])).toEqual([
      ['RequestRefused', ErrorCode.NOT_FOUND],
      ['ResourceError', ErrorCode.RESOURCE_LIMIT],
      ['IdentityError', ErrorCode.CERT_EXPIRED],
      ['ProtocolViolation', ErrorCode.TOO_OLD],
      ['ProtocolViolation', ErrorCode.UNEXPECTED_MESSAGE], // a reply of the wrong body
    ]);
    expect(s.received).toHaveLength(answers.length);
    c.close();
  });

  it('[LOGIN-RATE-18] [LOGIN-FLOW-2] a BUSY at LoginStart restarts the login with a fresh KE1 after the wait', async () => {
    let refused = false;
    const s = scriptedServer(
      w.sim,
      w.net,
      (p) => {
        if (p.body.case === 'loginStart' && !refused) {
          refused = true;
          return busy(ErrorCode.BUSY, 1_000, 0);
        }
        return 'core';
      },
      { core: w.core },
    );
    const c = await connectTo(s);
    await w.run(c.register('restart', PASSWORD));
    const key = generateSigningKey(suite, random);
    const r = await w.run(c.login('restart', PASSWORD, { seed: key.seed, deviceId: new Uint8Array(16).fill(2) }));
    expect(r.username).toBe('restart');
    const starts = s.received.filter((x) => x.packet.body.case === 'loginStart');
    expect(starts).toHaveLength(2);
    const ke1 = (i: number) => (starts[i]!.packet.body as { value: { startLoginRequest: Uint8Array } }).value;
    expect(ke1(1).startLoginRequest).not.toEqual(ke1(0).startLoginRequest);
    expect(starts[1]!.atMs - starts[0]!.atMs).toBe(1_000 + 2 * ONE_WAY_MS);
    c.close();
  });
});

describe("the client checks the server's answers [LOGIN-CHAN-1] [LOGIN-NAME-7] [LOGIN-PUB-2] [LOGIN-LIST-6]", () => {
  it('[LOGIN-CHAN-1] a responder without a ROLE_LOGIN certificate under the pinned root is refused in the handshake', async () => {
    // a user certificate of this network
    const key = generateSigningKey(suite, random);
    const userCert = issueCertificate(suite, w.net.login, {
      subject: 'mallory',
      subjectKey: key.publicKey,
      deviceId: new Uint8Array(16),
      role: Role.ROLE_USER,
      serial: 9_001,
      notBefore: T0 - HOUR,
      notAfter: T0 + HOUR,
    });
    const impostor = scriptedServer(w.sim, w.net, () => undefined, {
      identity: { chain: [userCert, w.net.loginCertificate], seed: key.seed },
    });
    await expect(connectTo(impostor)).rejects.toMatchObject({ code: ErrorCode.CERT_WRONG_ROLE });
    // a login server of another network
    const other = await testNetwork('another network');
    const stranger = scriptedServer(w.sim, other, () => undefined);
    await expect(connectTo(stranger)).rejects.toMatchObject({
      name: 'IncompatiblePeer',
      code: ErrorCode.NETWORK_MISMATCH,
    });
    expect(impostor.received).toEqual([]);
    expect(stranger.received).toEqual([]);
    // nothing listening: the connection fails, reported as a closed channel
    await expect(w.connect({ server: { host: '30.0.9.9', port: 1 }, handshakeTimeoutMs: 5_000 })).rejects.toSatisfy(
      (e: unknown) => e instanceof ChannelClosedError || (e as { code?: number }).code === ErrorCode.TIMEOUT,
    );
  });

  it('[LOGIN-NAME-7] [LOGIN-OPAQUE-16] a RegisterStartReply naming another name abandons the registration: no RegisterFinish', async () => {
    const s = scriptedServer(w.sim, w.net, (p) =>
      p.body.case === 'registerStart'
        ? { case: 'registerStartReply', value: { registrationResponse: new Uint8Array(64), username: 'mallory' } }
        : undefined,
    );
    const c = await connectTo(s);
    await expect(w.run(c.register('Alice', PASSWORD))).rejects.toMatchObject({
      name: 'ProtocolViolation',
      code: ErrorCode.UNEXPECTED_MESSAGE,
    });
    expect(s.received.map((r) => r.packet.body.case)).toEqual(['registerStart']);
    c.close();
  });

  it('[LOGIN-CERT-1] a certificate for another key than requested is refused (IdentityError)', async () => {
    const stranger = generateSigningKey(suite, random);
    const s = scriptedServer(w.sim, w.net, () => 'core', { core: w.core });
    // Tamper with what the core issues: same subject, device and serial, another key.
    const handle = w.core.handle.bind(w.core);
    const original = w.core.handle;
    w.core.handle = async (session, packet) => {
      const action = await handle(session, packet);
      if (action.kind === 'reply' && action.packet.body.case === 'loginFinishReply') {
        const v = action.packet.body.value;
        const forged = issueCertificate(suite, w.net.login, {
          subject: v.username,
          subjectKey: stranger.publicKey,
          deviceId: new Uint8Array(16).fill(3),
          role: Role.ROLE_USER,
          serial: 9_002,
          notBefore: T0,
          notAfter: T0 + HOUR,
        });
        return {
          ...action,
          packet: { ...action.packet, body: { ...action.packet.body, value: { ...v, certificate: forged } } },
        };
      }
      return action;
    };
    try {
      const c = await connectTo(s);
      await w.run(c.register('forgery', PASSWORD));
      const key = generateSigningKey(suite, random);
      await expect(
        w.run(c.login('forgery', PASSWORD, { seed: key.seed, deviceId: new Uint8Array(16).fill(3) })),
      ).rejects.toMatchObject({ name: 'IdentityError', code: ErrorCode.CERT_INVALID });
      expect(c.loggedInAs).toBeUndefined();
      c.close();
    } finally {
      w.core.handle = original;
    }
  });

  it('[LOGIN-PUB-2] [LOGIN-PUB-5] [POLICY-GEN-5] a policy signed by another key, without its certificate, or older than the one held is refused', async () => {
    const wrongKey = generateSigningKey(suite, random);
    const answers: PacketBody[] = [
      {
        case: 'policyReply',
        value: {
          unchanged: false,
          policy: signNetworkPolicy(suite, wrongKey, { version: 7, issuedAt: T0 } as never),
          loginCertificate: w.net.loginCertificate,
        },
      },
      {
        case: 'policyReply',
        value: {
          unchanged: false,
          policy: signNetworkPolicy(suite, w.net.login, { version: 7, issuedAt: T0 } as never),
          loginCertificate: new Uint8Array(0),
        },
      },
      {
        case: 'policyReply',
        value: {
          unchanged: false,
          policy: signNetworkPolicy(suite, w.net.login, { version: 3, issuedAt: T0 } as never),
          loginCertificate: w.net.loginCertificate,
        },
      },
      {
        case: 'policyReply',
        value: { unchanged: true, policy: new Uint8Array(0), loginCertificate: new Uint8Array(0) },
      },
    ];
    const s = scriptedServer(w.sim, w.net, (_p, n) => answers[n - 1]);
    const c = await connectTo(s);
    await expect(w.run(c.getPolicy(5))).rejects.toMatchObject({ code: ErrorCode.CERT_UNKNOWN_ISSUER });
    await expect(w.run(c.getPolicy(5))).rejects.toMatchObject({ code: ErrorCode.MISSING_FIELD });
    await expect(w.run(c.getPolicy(5))).rejects.toMatchObject({ code: ErrorCode.TOO_OLD });
    // [LOGIN-PUB-4] "unchanged" to an asker that holds nothing
    await expect(w.run(c.getPolicy())).rejects.toMatchObject({ code: ErrorCode.UNEXPECTED_MESSAGE });
    c.close();
  });

  it('[LOGIN-LIST-6] [LOGIN-LIST-2] the epoch changes between pages: the client discards what it assembled and fetches the new epoch', async () => {
    const entries = (n: number, port: number): SupernodeListEntryInput[] =>
      Array.from({ length: n }, (_, i) => ({
        keyId: suite.sha256(Uint8Array.of(port, i & 255, i >> 8)),
        endpoints: [{ protocol: 1, address: Uint8Array.of(30, 1, i >> 8, i & 255), port }],
        software: 'parley-ref/0.1.0',
        loadPercent: i % 101,
        hosted: false,
        notAfterMs: T0 + 6 * HOUR,
      }));
    const list = (epoch: number, port: number) =>
      signSupernodeList(suite, w.net.login, {
        epoch,
        issuedAtMs: T0,
        expiresAtMs: T0 + 600_000,
        entries: entries(620, port),
      });
    const epoch5 = list(5, 5000);
    const epoch6 = list(6, 6000);
    expect(epoch5).toHaveLength(2);
    let served = 0;
    const s = scriptedServer(w.sim, w.net, (p) => {
      if (p.body.case !== 'getSupernodeList') return undefined;
      const page = p.body.value.page;
      // page 0 of epoch 5, then the server moves on: every later answer is of epoch 6
      const pages = served++ === 0 ? epoch5 : epoch6;
      return {
        case: 'supernodeListReply',
        value: { unchanged: false, page: pages[page]!, loginCertificate: w.net.loginCertificate },
      };
    });
    const c = await connectTo(s);
    const got = await w.run(c.getSupernodeList());
    if (got === 'unchanged') throw new Error('expected a list');
    expect(got.version).toBe(6);
    expect(got.entries).toHaveLength(620);
    expect(new Set(got.entries.map((e) => e.endpoints[0]!.port))).toEqual(new Set([6000]));
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    expect(got.pages.map(hex)).toEqual(epoch6.map(hex));
    expect(s.received.map((r) => (r.packet.body as { value: { page: number } }).value.page)).toEqual([0, 1, 0, 1]);
    c.close();
  });

  it('[LOGIN-LIST-7] [LOGIN-PUB-8] a supernode list of a lower epoch than the one held is refused: TOO_OLD', async () => {
    const pages = signSupernodeList(suite, w.net.login, {
      epoch: 4,
      issuedAtMs: T0,
      expiresAtMs: T0 + 600_000,
      entries: [],
    });
    const s = scriptedServer(w.sim, w.net, (p) =>
      p.body.case === 'getSupernodeList'
        ? {
            case: 'supernodeListReply',
            value: { unchanged: false, page: pages[0]!, loginCertificate: w.net.loginCertificate },
          }
        : undefined,
    );
    const c = await connectTo(s);
    await expect(w.run(c.getSupernodeList(5))).rejects.toMatchObject({ code: ErrorCode.TOO_OLD });
    const same = await w.run(c.getSupernodeList(3));
    if (same === 'unchanged') throw new Error('expected a list');
    expect(same.version).toBe(4);
    c.close();
  });

  it('[LOGIN-PREKEY-2] a prekey bundle for another user, or signed by another key, is refused', async () => {
    const ivanKey = generateSigningKey(suite, random);
    const cert = (subject: string) =>
      issueCertificate(suite, w.net.login, {
        subject,
        subjectKey: ivanKey.publicKey,
        deviceId: new Uint8Array(16).fill(6),
        role: Role.ROLE_USER,
        serial: 9_003,
        notBefore: T0,
        notAfter: T0 + HOUR,
      });
    const spk = (seed: Uint8Array) =>
      signSignedPrekey(suite, seed, {
        id: 1,
        publicKey: new Uint8Array(32).fill(1),
        identityDhKey: new Uint8Array(32).fill(2),
        deviceId: new Uint8Array(16).fill(6),
        createdAtMs: T0,
      });
    const bundle = (certificate: Uint8Array, signedPrekey: Uint8Array): PacketBody => ({
      case: 'fetchPrekeysReply',
      value: { bundles: [{ certificate, signedPrekey, oneTimePrekey: { id: 4, publicKey: new Uint8Array(32) } }] },
    });
    const answers = [
      bundle(cert('ivan'), spk(ivanKey.seed)),
      bundle(cert('eve'), spk(ivanKey.seed)),
      bundle(cert('ivan'), spk(generateSigningKey(suite, random).seed)),
    ];
    const s = scriptedServer(w.sim, w.net, (_p, n) => answers[n - 1]);
    const c = await connectTo(s);
    const ok = await w.run(c.fetchPrekeys('ivan'));
    expect(ok[0]!.certificate.subject).toBe('ivan');
    expect(ok[0]!.oneTimePrekey?.id).toBe(4);
    await expect(w.run(c.fetchPrekeys('ivan'))).rejects.toMatchObject({ code: ErrorCode.CERT_INVALID });
    await expect(w.run(c.fetchPrekeys('ivan'))).rejects.toMatchObject({ code: ErrorCode.CERT_UNKNOWN_ISSUER });
    c.close();
  });
});
