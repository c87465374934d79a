/**
 * Hostile clients against the real login server (runner, core, store) over the simulator: packets a
 * conforming client never sends, crafted byte by byte and encrypted with the channel's own keys. Issue
 * requirement: every malformed, oversized or out-of-order request gets a typed error, the connection is
 * closed where the spec says (spec/00-conventions.md §4.4, GEN-ERR-4; 01-packets.md WIRE-RECV-*), and
 * nothing is written to the store (06 LOGIN-REQ-3). Also: no user enumeration over the wire, and a
 * property test of random request sequences.
 */

import {
  ApiMisuse,
  decodePacket,
  ErrorCode,
  generateSigningKey,
  isParleyError,
  issueCertificate,
  type LocalIdentity,
  type PacketBody,
  parley,
  Role,
  seededRandom,
  signCertificateRequest,
} from '@parley/wire';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  clientStartLogin,
  clientStartRegistration,
  createServerSetup,
  serverPublicKey,
} from '../../src/accounts/index.js';
import { HOUR } from '../server/fixtures.js';
import {
  certifiedUser,
  network,
  PASSWORD,
  type RawChannel,
  rawChannel,
  spyCore,
  suite,
  T0,
  type World,
  world,
} from './fixtures.js';

const random = seededRandom('e2e hostile');
const key = generateSigningKey(suite, random);
const raw = (p: parley.v1.IPacket): Uint8Array => parley.v1.Packet.encode(p).finish();
const pause = (w: World, ms: number) =>
  w.run(new Promise<void>((resolve) => w.serverTransport.clock.setTimer(ms, resolve)));
/** Long enough for a request to reach the server, be handled, and its answer (or Close) to come back. */
const ROUND_TRIP = 100;

/** What a refused request must leave as it was ([LOGIN-REQ-3]). */
async function snapshot(w: World) {
  const s = w.backing;
  return {
    accounts: await s.countAccounts(),
    certificates: (await Promise.all([1, 2, 3, 4].map((n) => s.getCertificate(n)))).map((c) => c?.subject),
    versions: w.core.versions(),
    carol: await s.getAccount('carol'),
    blob: await s.getContactBlob('carol'),
    supernodes: (await s.listLiveSupernodes(0, T0 + HOUR)).length,
    revocations: (await s.listRevocations(0)).length,
  };
}

const certificateRequest = (ch: RawChannel) => ({
  subjectKey: key.publicKey,
  deviceId: new Uint8Array(16).fill(1),
  proof: signCertificateRequest(suite, key.seed, ch.established.handshakeHash),
});

/** The code decodePacket gives `bytes`: what the server must close with. */
function decodeCode(bytes: Uint8Array): ErrorCode {
  try {
    decodePacket(bytes);
  } catch (e) {
    if (isParleyError(e)) return e.code;
  }
  throw new Error('expected the bytes not to decode');
}

describe('no user enumeration over the wire [LOGIN-OPAQUE-19] [LOGIN-OPAQUE-21] [LOGIN-RATE-5]', () => {
  it('[LOGIN-OPAQUE-19] [LOGIN-OPAQUE-21] [LOGIN-RATE-1] [LOGIN-RATE-5] an unknown name and a wrong password get byte-identical packets, up to the same RATE_LIMITED', async () => {
    const w = await world({ seed: 'enumeration' });
    const c = await w.connect();
    await w.run(c.register('carol', PASSWORD));
    c.close();
    const known = await rawChannel(w);
    const unknown = await rawChannel(w);
    const start = clientStartLogin('not the password at all');
    const both = (body: (ch: RawChannel) => PacketBody) =>
      w.run(Promise.all([known.request(body(known)), unknown.request(body(unknown))]));
    const loginStart = (username: string) => ({
      case: 'loginStart' as const,
      value: { username, startLoginRequest: start.ke1 },
    });
    const counts: number[] = [];
    for (let round = 1; round <= 6; round++) {
      const k0 = known.received.length;
      const u0 = unknown.received.length;
      // both at the same simulated instant, so that the failure times and hints are equal too
      const [a, b] = await w.run(
        Promise.all([known.request(loginStart('carol')), unknown.request(loginStart('nobody1'))]),
      );
      const pa = known.received.slice(k0);
      const pb = unknown.received.slice(u0);
      expect(pa).toHaveLength(1);
      expect(pb).toHaveLength(1);
      if (round <= 5) {
        // KE2 from the record or from a fake one: the same body, the same size
        expect(a.body.case).toBe('loginStartReply');
        expect(b.body.case).toBe('loginStartReply');
        expect(pa[0]!.length).toBe(pb[0]!.length);
      } else {
        // [LOGIN-RATE-5] the per-name rule refuses both alike: code, detail, hint, byte for byte
        // [LOGIN-RATE-4] the hint: at most the backoff (1 s after the fifth failure), and no jitter
        expect(a.body).toMatchObject({ case: 'error', value: { code: ErrorCode.RATE_LIMITED, retryJitterMs: 0 } });
        const hint = (a.body.value as { retryAfterMs: number }).retryAfterMs;
        expect(hint).toBeGreaterThan(0);
        expect(hint).toBeLessThanOrEqual(1_000);
        expect(Buffer.from(pa[0]!).equals(Buffer.from(pb[0]!))).toBe(true);
      }
      if (round === 1) {
        // a client that ignores LOGIN-OPAQUE-23 and sends a KE3 anyway: AUTH_FAILED, identical bytes
        const [fa, fb] = await both((ch) => ({
          case: 'loginFinish',
          value: { finishLoginRequest: new Uint8Array(64).fill(7), certificateRequest: certificateRequest(ch) },
        }));
        expect(fa.body).toEqual({ case: 'error', value: { code: ErrorCode.AUTH_FAILED, detail: '' } });
        expect(fb.body).toEqual(fa.body);
        expect(Buffer.from(known.received.at(-1)!).equals(Buffer.from(unknown.received.at(-1)!))).toBe(true);
      }
      counts.push((await w.backing.getLoginFailures('carol'))?.count ?? 0);
      expect(await w.backing.getLoginFailures('nobody1')).toEqual(await w.backing.getLoginFailures('carol'));
    }
    expect(counts).toEqual([1, 2, 3, 4, 5, 5]); // [LOGIN-RATE-2] [LOGIN-RATE-6]
    expect(await w.backing.getCertificate(1)).toBeUndefined();
    expect(known.channel.closed || unknown.channel.closed).toBe(false);
  });
});

describe('malformed, oversized and out-of-order requests [GEN-ERR-4] [LOGIN-REQ-1] [LOGIN-REQ-3] [LOGIN-FLOW-2]', () => {
  let w: World;
  let user: LocalIdentity;
  beforeAll(async () => {
    w = await world({ seed: 'hostile' });
    const c = await w.connect();
    await w.run(c.register('carol', PASSWORD));
    c.close();
    // a user certificate of carol's, recorded as issued, for a certified channel
    const validity = { notBefore: T0 - HOUR, notAfter: T0 + 23 * HOUR };
    const issued = await w.backing.issueCertificate(
      {
        role: 'user',
        subject: 'carol',
        subjectKey: key.publicKey,
        deviceId: new Uint8Array(16).fill(1),
        notBeforeMs: validity.notBefore,
        notAfterMs: validity.notAfter,
        issuedAtMs: validity.notBefore,
      },
      (serial) =>
        issueCertificate(suite, w.net.login, {
          subject: 'carol',
          subjectKey: key.publicKey,
          deviceId: new Uint8Array(16).fill(1),
          role: Role.ROLE_USER,
          serial,
          ...validity,
        }),
    );
    user = { chain: [issued.certificate, w.net.loginCertificate], seed: key.seed };
  });

  /** Sends `send(ch)` on a fresh channel and returns how the channel ended; checks the store is unchanged. */
  async function expectClose(send: (ch: RawChannel) => void, code: ErrorCode | undefined, identity?: LocalIdentity) {
    const before = await snapshot(w);
    const ch = await rawChannel(w, identity);
    send(ch);
    await pause(w, ROUND_TRIP);
    expect(ch.channel.closed).toBe(true);
    expect(ch.closed).toHaveLength(1);
    expect(ch.closed[0]).toMatchObject({ local: false, ...(code !== undefined ? { code } : {}) });
    expect(await snapshot(w)).toEqual(before);
    expect(w.log.filter((e) => e.event === 'internal-error')).toEqual([]);
    return ch.closed[0]!;
  }

  it('[WIRE-RECV-1] [WIRE-ENC-3] bytes that do not decode as a packet: Close with the decoder code', async () => {
    for (const bytes of [
      Uint8Array.of(0x08), // request_id without its value
      Uint8Array.of(0x08, 0x01, 0x08, 0x02), // request_id twice
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), // a tag above 32 bits
      raw({ requestId: 1, loginStart: { username: 'carol' } }).subarray(0, 5), // a body cut short
    ]) {
      await expectClose((ch) => ch.sendRaw(bytes), decodeCode(bytes));
    }
  });

  it('[CHAN-TRANSPORT-4] a frame that does not decrypt closes the channel', async () => {
    const reason = await expectClose((ch) => ch.sendFrame(random.randomBytes(48)), undefined);
    expect(reason.code === undefined || reason.code === ErrorCode.DECRYPT_FAILED).toBe(true);
  });

  it('[WIRE-LIMIT-1] [LOGIN-NAME-1] [LOGIN-OPAQUE-2] oversized fields: Close(FIELD_LIMIT)', async () => {
    const ke1 = clientStartLogin(PASSWORD).ke1;
    await expectClose(
      (ch) => ch.sendRaw(raw({ requestId: 1, loginStart: { username: 'a'.repeat(65), startLoginRequest: ke1 } })),
      ErrorCode.FIELD_LIMIT,
    );
    await expectClose(
      (ch) =>
        ch.sendRaw(raw({ requestId: 1, loginStart: { username: 'carol', startLoginRequest: new Uint8Array(513) } })),
      ErrorCode.FIELD_LIMIT,
    );
    await expectClose(
      (ch) => ch.sendRaw(raw({ requestId: 1, registerFinish: { registrationRecord: new Uint8Array(600) } })),
      ErrorCode.FIELD_LIMIT,
    );
  });

  it('[LOGIN-OPAQUE-2] [LOGIN-OPAQUE-6] [LOGIN-OPAQUE-14] OPAQUE fields of the wrong size or with invalid elements: Close(MALFORMED / MISSING_FIELD), no account', async () => {
    const req = clientStartRegistration(PASSWORD).request;
    await expectClose(
      (ch) => ch.fire({ case: 'loginStart', value: { username: 'carol', startLoginRequest: new Uint8Array(95) } }),
      ErrorCode.MALFORMED,
    );
    await expectClose(
      (ch) => ch.fire({ case: 'registerStart', value: { username: 'dora', registrationRequest: new Uint8Array(0) } }),
      ErrorCode.MISSING_FIELD,
    );
    await expectClose(
      (ch) => ch.fire({ case: 'registerStart', value: { username: 'dora', registrationRequest: req.subarray(1) } }),
      ErrorCode.MALFORMED,
    );
    // a registration started properly and finished with a record whose key is the identity element
    await expectClose((ch) => {
      ch.fire({ case: 'registerStart', value: { username: 'dora', registrationRequest: req } });
      ch.fire({ case: 'registerFinish', value: { registrationRecord: new Uint8Array(192) } });
    }, ErrorCode.MALFORMED);
    expect(await w.backing.getAccount('dora')).toBeUndefined();
  });

  it('[LOGIN-FLOW-2] [LOGIN-OPAQUE-13] [LOGIN-OPAQUE-20] [LOGIN-OPAQUE-27] a finish without its start: Close(UNEXPECTED_MESSAGE)', async () => {
    await expectClose(
      (ch) => ch.fire({ case: 'registerFinish', value: { registrationRecord: new Uint8Array(192).fill(1) } }),
      ErrorCode.UNEXPECTED_MESSAGE,
    );
    await expectClose(
      (ch) =>
        ch.fire({
          case: 'loginFinish',
          value: { finishLoginRequest: new Uint8Array(64), certificateRequest: certificateRequest(ch) },
        }),
      ErrorCode.UNEXPECTED_MESSAGE,
    );
    await expectClose(
      (ch) => ch.fire({ case: 'changePasswordFinish', value: { registrationRecord: new Uint8Array(192).fill(1) } }),
      ErrorCode.UNEXPECTED_MESSAGE,
    );
    // [LOGIN-FLOW-1] a finish continues only the exchange begun on its own channel
    const req = clientStartRegistration(PASSWORD).request;
    const other = await rawChannel(w);
    await w.run(other.request({ case: 'registerStart', value: { username: 'erin', registrationRequest: req } }));
    await expectClose(
      (ch) => ch.fire({ case: 'registerFinish', value: { registrationRecord: new Uint8Array(192).fill(1) } }),
      ErrorCode.UNEXPECTED_MESSAGE,
    );
    expect(other.channel.closed).toBe(false);
    // and a finish ends the exchange whatever its outcome: the second one has nothing to finish
    await expectClose((ch) => {
      ch.fire({ case: 'registerStart', value: { username: 'erin', registrationRequest: req } });
      ch.fire({ case: 'registerFinish', value: { registrationRecord: new Uint8Array(10) } });
    }, ErrorCode.MALFORMED);
  });

  it('[LOGIN-REQ-1] a request without request_id: Close(UNEXPECTED_MESSAGE)', async () => {
    await expectClose(
      (ch) => ch.channel.send({ requestId: 0, body: { case: 'getPolicy', value: { knownVersion: 0 } } }),
      ErrorCode.UNEXPECTED_MESSAGE,
    );
    await expectClose(
      (ch) =>
        ch.channel.send({
          requestId: 0,
          body: { case: 'registerStart', value: { username: 'frank', registrationRequest: new Uint8Array(32) } },
        }),
      ErrorCode.UNEXPECTED_MESSAGE,
    );
  });

  it('[LOGIN-AUTH-1] [LOGIN-OPAQUE-26] [WIRE-RECV-3] a request on the wrong kind of channel: ErrorReply(NOT_AUTHORIZED), the channel stays open', async () => {
    const before = await snapshot(w);
    const anonymous = await rawChannel(w);
    const certified = await rawChannel(w, user);
    const needsUser: PacketBody[] = [
      { case: 'renewCertificate', value: { certificateRequest: certificateRequest(anonymous) } },
      { case: 'changePasswordStart', value: { registrationRequest: clientStartRegistration(PASSWORD).request } },
      { case: 'uploadPrekeys', value: { signedPrekey: new Uint8Array(100), oneTimePrekeys: [] } },
      { case: 'fetchPrekeys', value: { username: 'carol' } },
      { case: 'getContactBlob', value: {} },
      { case: 'putContactBlob', value: { expectedVersion: 0, blob: Uint8Array.of(1) } },
      { case: 'supernodeHeartbeat', value: { load: 1 } },
      {
        case: 'supernodeRegister',
        value: { endpoints: [{ protocol: 1, address: Uint8Array.of(30, 0, 0, 5), port: 9 }], capacity: 5 },
      },
    ];
    for (const body of needsUser) {
      const r = await w.run(anonymous.request(body));
      expect([body.case, r.body]).toEqual([
        body.case,
        { case: 'error', value: { code: ErrorCode.NOT_AUTHORIZED, detail: '' } },
      ]);
    }
    // a channel certified as carol is a user channel, but neither a supernode channel nor a login
    for (const body of [
      needsUser[1]!, // [LOGIN-OPAQUE-26] a certificate alone does not allow a password change
      needsUser[6]!,
      needsUser[7]!,
    ]) {
      const r = await w.run(certified.request(body));
      expect(r.body).toEqual({ case: 'error', value: { code: ErrorCode.NOT_AUTHORIZED, detail: '' } });
    }
    expect(anonymous.channel.closed || certified.channel.closed).toBe(false);
    expect((await w.run(anonymous.request({ case: 'getPolicy', value: { knownVersion: 0 } }))).body.case).toBe(
      'policyReply',
    );
    expect(await snapshot(w)).toEqual(before);
  });

  it('[LOGIN-REQ-2] [WIRE-PKT-3] [WIRE-PKT-6] a reply body is discarded as a stray response; an unknown body gets UNKNOWN_BODY; the channel stays open', async () => {
    const calls = spyCore(w.core, w.serverTransport.clock);
    const ch = await rawChannel(w);
    ch.channel.send({
      requestId: 5,
      body: {
        case: 'policyReply',
        value: { unchanged: true, policy: new Uint8Array(0), loginCertificate: new Uint8Array(0) },
      },
    });
    // body number 199: in the login range, but no body this version knows
    ch.sendRaw(Uint8Array.of(0x08, 0x09, 0xba, 0x0c, 0x00));
    await pause(w, ROUND_TRIP);
    expect(calls).toEqual([]);
    expect(ch.channel.closed).toBe(false);
    expect(ch.received.map((p) => decodePacket(p))).toEqual([
      { requestId: 9, body: { case: 'error', value: { code: ErrorCode.UNKNOWN_BODY, detail: '' } } },
    ]);
    expect(ch.channel.stats.responsesDiscarded).toBe(1); // the ErrorReply answers no request of ours
  });
});

describe('failures inside the server [GEN-ERR-5]', () => {
  it('[GEN-ERR-5] a local error inside the server (a store refusing with ApiMisuse) closes that channel as an internal error; the server keeps serving', async () => {
    const w = await world({
      seed: 'misbehaving store',
      wrapStore: (store) =>
        new Proxy(store, {
          get(target, k) {
            if (k === 'getContactBlob') return async () => Promise.reject(new ApiMisuse('a bug in the store'));
            const v = Reflect.get(target, k, target);
            return typeof v === 'function' ? v.bind(target) : v;
          },
        }),
    });
    const device = { seed: key.seed, deviceId: new Uint8Array(16).fill(4) };
    const identity = await certifiedUser(w, 'grace', device.seed, device.deviceId);
    const ch = await rawChannel(w, identity);
    ch.fire({ case: 'getContactBlob', value: {} });
    await pause(w, ROUND_TRIP);
    // ApiMisuse has no wire code (GEN-ERR-5): it must not be sent, and it must not escape the runner
    expect(ch.closed[0]).toMatchObject({ local: false, code: ErrorCode.BUSY });
    expect(w.log.map((e) => e.event)).toContain('internal-error');
    const fresh = await w.connect();
    expect(await w.run(fresh.getPolicy())).toMatchObject({ version: 1 });
    fresh.close();
  });
});

// ---- A property: random sequences of valid and mutated requests from anonymous clients ----------------

const NAMES = ['alice', 'Bob', 'carol', 'root', 'ab', 'ö-name', 'x'.repeat(70)];

type Command =
  /** A RegisterStart as a client sends it, then at once a RegisterFinish with `record`. */
  | { kind: 'registration'; name: number; record: 'valid' | 'identity' | 'short' | 'random' }
  | { kind: 'registerStart'; name: number; request: 'valid' | 'short' | 'empty' | 'random' }
  | { kind: 'registerFinish'; record: 'valid' | 'identity' | 'short' | 'random' }
  | { kind: 'loginStart'; name: number; ke1: 'valid' | 'short' | 'empty' | 'random' }
  | { kind: 'loginFinish'; ke3: 'junk' | 'short'; proof: 'valid' | 'missing' | 'other-channel' }
  | {
      kind: 'other';
      body:
        | 'getPolicy'
        | 'getSupernodeList'
        | 'renew'
        | 'changePasswordStart'
        | 'changePasswordFinish'
        | 'fetchPrekeys'
        | 'putContactBlob'
        | 'heartbeat';
    };

interface Sent {
  command: Command;
  /** 0: no request_id; else the request's. */
  requestId: 0 | 1;
  /** A byte mutation of the encoded packet. */
  mutation?: { at: number; op: 'flip' | 'truncate' | 'append'; value: number } | undefined;
}

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    kind: fc.constant('registration' as const),
    name: fc.nat(NAMES.length - 1),
    record: fc.constantFrom('valid', 'valid', 'identity', 'short', 'random'),
  }),
  fc.record({
    kind: fc.constant('registerStart' as const),
    name: fc.nat(NAMES.length - 1),
    request: fc.constantFrom('valid', 'valid', 'short', 'empty', 'random'),
  }),
  fc.record({
    kind: fc.constant('registerFinish' as const),
    record: fc.constantFrom('valid', 'valid', 'identity', 'short', 'random'),
  }),
  fc.record({
    kind: fc.constant('loginStart' as const),
    name: fc.nat(NAMES.length - 1),
    ke1: fc.constantFrom('valid', 'valid', 'short', 'empty', 'random'),
  }),
  fc.record({
    kind: fc.constant('loginFinish' as const),
    ke3: fc.constantFrom('junk', 'short'),
    proof: fc.constantFrom('valid', 'missing', 'other-channel'),
  }),
  fc.record({
    kind: fc.constant('other' as const),
    body: fc.constantFrom(
      'getPolicy',
      'getSupernodeList',
      'renew',
      'changePasswordStart',
      'changePasswordFinish',
      'fetchPrekeys',
      'putContactBlob',
      'heartbeat',
    ),
  }),
);

const mutationArb = fc.record({
  at: fc.nat(400),
  op: fc.constantFrom<'flip' | 'truncate' | 'append'>('flip', 'truncate', 'append'),
  value: fc.integer({ min: 1, max: 255 }),
});
const sentArb: fc.Arbitrary<Sent> = fc.record({
  command: commandArb,
  requestId: fc.constantFrom<0 | 1>(1, 1, 1, 1, 1, 1, 1, 0),
  // a quarter of the packets are mutated after encoding
  mutation: fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: mutationArb, weight: 1 }),
});

describe('a property of the whole server [LOGIN-REQ-3] [LOGIN-OPAQUE-14] [GEN-ERR-4]', () => {
  // Material built once, outside the runs: no key stretching inside the property.
  let registrationRequest: Uint8Array;
  let ke1: Uint8Array;
  let element: Uint8Array;
  beforeAll(async () => {
    await network(); // OPAQUE ready
    registrationRequest = clientStartRegistration(PASSWORD).request;
    ke1 = clientStartLogin(PASSWORD).ke1;
    element = serverPublicKey(createServerSetup());
  });
  // a record whose client public key is a valid element (an OPAQUE public key is one): accepted as a record
  const validRecord = (tail: Uint8Array) => {
    const r = new Uint8Array(192);
    r.set(element, 0);
    r.set(tail.subarray(0, 160), 32);
    return r;
  };
  const bytes = (n: number) => random.randomBytes(n);

  function body(c: Exclude<Command, { kind: 'registration' }>, ch: RawChannel): parley.v1.IPacket {
    switch (c.kind) {
      case 'registerStart': {
        const request = {
          valid: registrationRequest,
          short: registrationRequest.subarray(2),
          empty: new Uint8Array(0),
          random: bytes(32),
        }[c.request];
        return { registerStart: { username: NAMES[c.name]!, registrationRequest: request } };
      }
      case 'registerFinish': {
        const record = {
          valid: validRecord(bytes(160)),
          identity: new Uint8Array(192),
          short: bytes(191),
          random: bytes(192),
        }[c.record];
        return { registerFinish: { registrationRecord: record } };
      }
      case 'loginStart': {
        const k = { valid: ke1, short: ke1.subarray(1), empty: new Uint8Array(0), random: bytes(96) }[c.ke1];
        return { loginStart: { username: NAMES[c.name]!, startLoginRequest: k } };
      }
      case 'loginFinish': {
        const proofOver = c.proof === 'other-channel' ? new Uint8Array(32).fill(3) : ch.established.handshakeHash;
        return {
          loginFinish: {
            finishLoginRequest: c.ke3 === 'junk' ? bytes(64) : bytes(63),
            ...(c.proof === 'missing'
              ? {}
              : {
                  certificateRequest: {
                    subjectKey: key.publicKey,
                    deviceId: new Uint8Array(16).fill(2),
                    proof: signCertificateRequest(suite, key.seed, proofOver),
                  },
                }),
          },
        };
      }
      case 'other':
        switch (c.body) {
          case 'getPolicy':
            return { getPolicy: {} };
          case 'getSupernodeList':
            return { getSupernodeList: { page: 3 } };
          case 'renew':
            return {
              renewCertificate: {
                certificateRequest: {
                  subjectKey: key.publicKey,
                  deviceId: new Uint8Array(16).fill(2),
                  proof: signCertificateRequest(suite, key.seed, ch.established.handshakeHash),
                },
              },
            };
          case 'changePasswordStart':
            return { changePasswordStart: { registrationRequest } };
          case 'changePasswordFinish':
            return { changePasswordFinish: { registrationRecord: validRecord(bytes(160)) } };
          case 'fetchPrekeys':
            return { fetchPrekeys: { username: 'carol' } };
          case 'putContactBlob':
            return { putContactBlob: { blob: bytes(8) } };
          case 'heartbeat':
            return { supernodeHeartbeat: { load: 3 } };
        }
    }
  }

  function mutate(b: Uint8Array, m: NonNullable<Sent['mutation']>): Uint8Array {
    const at = m.at % (b.length + 1);
    if (m.op === 'truncate') return b.subarray(0, at);
    if (m.op === 'append') return Uint8Array.of(...b, m.value);
    const out = Uint8Array.from(b);
    if (at < out.length) out[at]! ^= m.value;
    return out;
  }

  it('[LOGIN-REQ-3] [LOGIN-OPAQUE-14] random valid and mutated requests: no crash, no account without a completed RegisterFinish, and a fresh client is served', async () => {
    // What the runs covered, so that the property cannot pass vacuously.
    const seen = { accounts: 0, closes: 0, replies: 0, refusals: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(sentArb, { minLength: 1, maxLength: 12 }), async (script) => {
        const w = await world({ seed: 'property' });
        const calls = spyCore(w.core, w.serverTransport.clock);
        let ch = await rawChannel(w);
        let requestId = 0;
        for (const s of script) {
          if (ch.channel.closed) {
            seen.closes++;
            ch = await rawChannel(w);
          }
          const c = s.command;
          const steps: Exclude<Command, { kind: 'registration' }>[] =
            c.kind === 'registration'
              ? [
                  { kind: 'registerStart', name: c.name, request: 'valid' },
                  { kind: 'registerFinish', record: c.record },
                ]
              : [c];
          for (const [i, step] of steps.entries()) {
            const packet = raw({ requestId: s.requestId === 0 ? 0 : ++requestId, ...body(step, ch) });
            // a mutation applies to the last packet of a step
            ch.sendRaw(s.mutation !== undefined && i === steps.length - 1 ? mutate(packet, s.mutation) : packet);
          }
          await pause(w, ROUND_TRIP);
        }
        await pause(w, ROUND_TRIP);
        // never a crash: every failure was a typed refusal or close, never the runner's internal-error path
        expect(w.log.filter((e) => e.event === 'internal-error')).toEqual([]);
        // every account in the store is one whose RegisterFinish was answered with RegisterFinishReply
        const completed = new Set(
          calls.flatMap((c) => (c.reply?.body.case === 'registerFinishReply' ? [c.reply.body.value.username] : [])),
        );
        expect(await w.backing.countAccounts()).toBe(completed.size);
        seen.accounts += completed.size;
        seen.replies += calls.filter((c) => c.outcome === 'reply').length;
        seen.refusals += calls.filter((c) => typeof c.outcome === 'object').length;
        for (const name of completed) expect(await w.backing.getAccount(name)).toBeDefined();
        // no KE3 ever verified: nothing was issued
        expect(await w.backing.getCertificate(1)).toBeUndefined();
        // and the server still serves a fresh client
        const fresh = await w.connect();
        expect(await w.run(fresh.getPolicy())).toMatchObject({ version: 1 });
        fresh.close();
        w.server.close();
      }),
      { numRuns: 40 },
    );
    expect(seen.accounts).toBeGreaterThan(0);
    expect(seen.closes).toBeGreaterThan(0);
    expect(seen.replies).toBeGreaterThan(0);
    expect(seen.refusals).toBeGreaterThan(0);
  });
});
