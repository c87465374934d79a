/**
 * Consumes the checked-in spec/vectors/*.json as an implementer in another language would: parse each
 * case, feed its inputs to the decoders, verifiers, handshake and datagram channel, and compare with
 * the expected outputs; invalid cases must fail with the named code. Nothing here calls the generator.
 * Wherever the spec defines bytes from primitives (key ids, signatures, the Noise transcript, Split(),
 * datagram keys and datagrams, the replay window, framing) the expected bytes are also recomputed on
 * node:crypto by ./independent.ts, so a wrong vector cannot pass because the generator and the
 * implementation share a bug.
 */
import { describe, expect, it } from 'vitest';
import { nobleCrypto, nodeCrypto } from '../../src/crypto/index.js';
import type { CryptoSuite, Random } from '../../src/crypto/suite.js';
import { DatagramChannel, deriveDatagramKeys } from '../../src/datagram/index.js';
import { errorCodeName, ParleyError } from '../../src/errors.js';
import { encodeFrame, FrameDecoder } from '../../src/framing/stream.js';
import { parley } from '../../src/gen/parley.js';
import { decodeCertificate, issueCertificate, Role } from '../../src/identity/certificate.js';
import { verifyChain } from '../../src/identity/chain.js';
import { type PeerIdentity, verifyHandshakePayload } from '../../src/identity/handshake-payload.js';
import { keyId } from '../../src/identity/keys.js';
import { decodeSigned, signedMessage, signObject, signWithContext, verifySigned } from '../../src/identity/signed.js';
import {
  type ChannelState,
  certifiedPayloadCodec,
  handleMessage,
  keyPairFromPrivateKey,
  type Step,
  startInitiator,
  startResponder,
} from '../../src/noise/index.js';
import { decodePacket, encodePacket, type Packet } from '../../src/packet/index.js';
import {
  aeadOpen,
  aeadSeal,
  concat,
  ed25519Public,
  ed25519Sign,
  ed25519Verify,
  hkdf,
  independentXX,
  loadVector,
  noiseNonce,
  sha256,
  tohex,
  unhex,
  utf8,
  x25519Public,
} from './independent.js';

const suites: [string, CryptoSuite][] = [
  ['nodeCrypto', nodeCrypto],
  ['nobleCrypto', nobleCrypto],
];

/** The code name a call fails with, or 'ok'. Only ParleyErrors count; anything else is a bug. */
function codeOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof ParleyError) return errorCodeName(e.code);
    throw e;
  }
}

const roleOf = (name: string): Role => {
  const r = Role[name as keyof typeof Role];
  if (typeof r !== 'number') throw new Error(`unknown role ${name}`);
  return r;
};

// biome-ignore lint/suspicious/noExplicitAny: untyped JSON
type J = any;

function policyFrom(p: J) {
  const revoked: { issuerKeyId: string; serial: number }[] = p.revoked ?? [];
  return {
    trustAnchors: (p.trustAnchors as string[]).map(unhex),
    nowMs: p.nowMs as number,
    skewMs: p.skewMs as number,
    acceptedRoles: (p.acceptedRoles as string[]).map(roleOf),
    isRevoked: (issuer: Uint8Array, serial: number) =>
      revoked.some((r) => r.issuerKeyId === tohex(issuer) && r.serial === serial),
  };
}

/** A vector's packet JSON as the implementation's Packet. */
function packetFrom(p: J): Packet {
  switch (p.body) {
    case 'close':
    case 'error':
      return { requestId: p.requestId, body: { case: p.body, value: { code: p.code, detail: p.detail } } };
    case 'ping':
    case 'pong':
      return { requestId: p.requestId, body: { case: p.body, value: { sequence: p.sequence, data: unhex(p.data) } } };
    default:
      throw new Error(`unknown body ${p.body}`);
  }
}

function packetTo(p: Packet): J {
  const b = p.body;
  if (b.case === 'close' || b.case === 'error') {
    return { requestId: p.requestId, body: b.case, code: b.value.code, detail: b.value.detail };
  }
  if (b.case === 'ping' || b.case === 'pong') {
    return { requestId: p.requestId, body: b.case, sequence: b.value.sequence, data: tohex(b.value.data) };
  }
  throw new Error(`no vectors yet for body ${b.case}`);
}

// ---------------------------------------------------------------------------------------------------

describe('certificates.json', () => {
  const v = loadVector('certificates');
  const keys = v.keys as Record<string, { seed: string; publicKey: string; keyId: string }>;

  it('[ID-KEY-1] [ID-KEY-3] [ID-KEY-6] public keys derive from the seeds, key ids are SHA-256 of the public key', () => {
    for (const [name, k] of Object.entries(keys)) {
      expect(tohex(ed25519Public(unhex(k.seed))), name).toBe(k.publicKey);
      expect(tohex(sha256(unhex(k.publicKey))), name).toBe(k.keyId);
      expect(tohex(keyId(nodeCrypto, unhex(k.publicKey))), name).toBe(k.keyId);
    }
    expect(v.networkFingerprint).toBe(keys.root!.keyId);
  });

  it('[ID-SIG-1] [ID-SIG-2] [ID-SIG-4] [ID-KEY-5] each certificate signature covers "parley/v1 certificate" 00 body', () => {
    for (const c of v.certificates) {
      const issuer = keys[c.issuer]!;
      const message = concat(utf8('parley/v1 certificate'), Uint8Array.of(0), unhex(c.body));
      expect(tohex(message), c.name).toBe(c.signedMessage);
      expect(ed25519Verify(unhex(issuer.publicKey), message, unhex(c.signature)), c.name).toBe(true);
      expect(tohex(ed25519Sign(unhex(issuer.seed), message)), c.name).toBe(c.signature);
      // The envelope, read with the generated protobuf code
      const env = parley.v1.Signed.decode(unhex(c.signed));
      expect(tohex(env.body)).toBe(c.body);
      expect(tohex(env.signature)).toBe(c.signature);
      expect(tohex(env.signerKeyId)).toBe(issuer.keyId);
      expect(env.context).toBe(1);
      expect(c.signerKeyId).toBe(issuer.keyId);
    }
  });

  it('[ID-CERT-1] [ID-CERT-3] [ID-CERT-11] [ID-CERT-14] every field of every certificate decodes as listed', () => {
    for (const c of v.certificates) {
      const cert = decodeCertificate(unhex(c.body));
      const f = c.fields;
      expect(
        {
          version: cert.version,
          subject: cert.subject,
          subjectKey: tohex(cert.subjectKey),
          deviceId: tohex(cert.deviceId),
          role: Role[cert.role],
          roleNumber: cert.role,
          serial: cert.serial,
          notBefore: cert.notBefore,
          notAfter: cert.notAfter,
          issuerKeyId: tohex(cert.issuerKeyId),
        },
        c.name,
      ).toEqual(f);
      expect(f.issuerKeyId).toBe(keys[c.issuer]!.keyId);
      // [ID-CERT-2] canonical: the generated protobuf encoder writes the decoded fields back to the same bytes
      const m = parley.v1.Certificate.decode(unhex(c.body));
      expect(tohex(parley.v1.Certificate.encode(m).finish()), c.name).toBe(c.body);
      expect(c.subjectKeyId).toBe(tohex(sha256(unhex(f.subjectKey))));
    }
  });

  for (const [suiteName, suite] of suites) {
    it(`[ID-CERT-2] issuance from the listed fields gives the same Signed bytes (${suiteName})`, () => {
      for (const c of v.certificates) {
        const f = c.fields;
        const signed = issueCertificate(suite, unhex(keys[c.issuer]!.seed), {
          subject: f.subject,
          subjectKey: unhex(f.subjectKey),
          deviceId: unhex(f.deviceId),
          role: f.roleNumber,
          serial: f.serial,
          notBefore: f.notBefore,
          notAfter: f.notAfter,
        });
        expect(tohex(signed), c.name).toBe(c.signed);
      }
    });
  }

  const ids = (c: J) => (c.requirements as string[]).map((r) => `[${r}]`).join(' ');
  for (const c of v.chainCases as J[]) {
    it(`${ids(c)} chain ${c.name}: ${c.expected.error ?? 'valid'}`, () => {
      for (const [, suite] of suites) {
        const chain = (c.chain as string[]).map(unhex);
        let result: ReturnType<typeof verifyChain> | undefined;
        const code = codeOf(() => {
          result = verifyChain(suite, chain, policyFrom(c.policy));
        });
        if (c.expected.error !== undefined) {
          expect(code).toBe(c.expected.error);
        } else {
          expect(code).toBe('ok');
          expect(c.expected.result).toBe('valid');
          expect(result!.leaf.subject).toBe(c.expected.leafSubject);
          expect(Role[result!.leaf.role]).toBe(c.expected.leafRole);
          expect(result!.leaf.serial).toBe(c.expected.leafSerial);
          expect(tohex(result!.leafKeyId)).toBe(c.expected.leafKeyId);
          expect(tohex(result!.networkFingerprint)).toBe(c.expected.networkFingerprint);
          // independently: the fingerprint is the key id of one of the pinned anchors
          expect((c.policy.trustAnchors as string[]).map((a) => tohex(sha256(unhex(a))))).toContain(
            c.expected.networkFingerprint,
          );
        }
      }
    });
  }

  it('[ID-CERT-12] the time boundary cases sit exactly on the bounds of the user certificate', () => {
    const user = v.certificates.find((c: J) => c.name === 'user').fields;
    for (const c of (v.chainCases as J[]).filter((x) => x.name.startsWith('time-'))) {
      const { nowMs, skewMs } = c.policy;
      const valid = user.notBefore - skewMs <= nowMs && nowMs < user.notAfter + skewMs;
      const expected = valid ? 'valid' : nowMs < user.notBefore - skewMs ? 'CERT_NOT_YET_VALID' : 'CERT_EXPIRED';
      expect(c.expected.error ?? c.expected.result, c.name).toBe(expected);
    }
  });
});

// ---------------------------------------------------------------------------------------------------

describe('signed-objects.json', () => {
  const v = loadVector('signed-objects');

  it('[ID-SIG-2] [ID-SIG-3] every registry context: prefix, signed message, signature', () => {
    expect((v.contexts as J[]).map((c) => c.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const c of v.contexts) {
      expect(c.prefix).toBe(tohex(concat(utf8(c.name), Uint8Array.of(0))));
      expect(c.signedMessage).toBe(c.prefix + c.body);
      expect(tohex(ed25519Sign(unhex(v.signer.seed), unhex(c.signedMessage))), c.name).toBe(c.signature);
      expect(ed25519Verify(unhex(v.signer.publicKey), unhex(c.signedMessage), unhex(c.signature))).toBe(true);
      for (const [, suite] of suites) {
        expect(tohex(signedMessage(c.number, unhex(c.body)))).toBe(c.signedMessage);
        if (c.signed === null) {
          expect(tohex(signWithContext(suite, unhex(v.signer.seed), c.number, unhex(c.body)))).toBe(c.signature);
        } else {
          expect(tohex(signObject(suite, unhex(v.signer.seed), c.number, unhex(c.body)))).toBe(c.signed);
          const env = decodeSigned(unhex(c.signed));
          expect(tohex(env.signature)).toBe(c.signature);
          expect(env.context).toBe(c.number);
        }
      }
    }
  });

  it('[ID-HS-3] the static-key binding is a bare signature over the Noise static public key', () => {
    const binding = (v.contexts as J[]).find((c) => c.name === 'parley/v1 static-key-binding');
    expect(binding.body).toBe(v.noiseStaticKey.publicKey);
    expect(tohex(x25519Public(unhex(v.noiseStaticKey.privateKey)))).toBe(v.noiseStaticKey.publicKey);
    expect(binding.signed).toBeNull();
  });

  for (const c of v.verifications as J[]) {
    const ids = (c.requirements as string[]).map((r) => `[${r}]`).join(' ');
    it(`${ids} verify ${c.name}: ${c.expected.error ?? 'valid'}`, () => {
      for (const [, suite] of suites) {
        let body: Uint8Array | undefined;
        const code = codeOf(() => {
          body = verifySigned(suite, unhex(c.signed), c.context, unhex(c.publicKey));
        });
        expect(code).toBe(c.expected.error ?? 'ok');
        if (c.expected.body !== undefined) expect(tohex(body!)).toBe(c.expected.body);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------------

describe('packets.json', () => {
  const v = loadVector('packets');
  const ids = (c: J) => (c.requirements as string[]).map((r) => `[${r}]`).join(' ');

  for (const c of v.valid as J[]) {
    it(`${ids(c)} [WIRE-ENC-1] valid ${c.name}: decodes to its value, which encodes canonically to the same bytes`, () => {
      expect(packetTo(decodePacket(unhex(c.encoding)))).toEqual(c.packet);
      // the generated protobuf code reads the same value
      const m = parley.v1.Packet.decode(unhex(c.encoding));
      expect(m.requestId).toBe(c.packet.requestId);
      const body = m[c.packet.body as 'close' | 'ping' | 'pong' | 'error'] as J;
      if (c.packet.data !== undefined)
        expect([body.sequence, tohex(body.data)]).toEqual([c.packet.sequence, c.packet.data]);
      else expect([body.code, body.detail]).toEqual([c.packet.code, c.packet.detail]);
      expect(tohex(encodePacket(packetFrom(c.packet)))).toBe(c.encoding);
    });
  }
  for (const c of v.accepted as J[]) {
    it(`${ids(c)} accepted ${c.name}: decodes to the listed value`, () => {
      const p = decodePacket(unhex(c.input), { channel: c.channel });
      expect(packetTo(p)).toEqual(c.packet);
      expect(tohex(encodePacket(packetFrom(c.packet)))).toBe(c.canonical);
    });
  }
  for (const c of v.invalid as J[]) {
    it(`${ids(c)} invalid ${c.name}: ${c.expected.error}`, () => {
      let requestId: number | undefined;
      const code = codeOf(() => decodePacket(unhex(c.input), { channel: c.channel }));
      try {
        decodePacket(unhex(c.input), { channel: c.channel });
      } catch (e) {
        requestId = (e as { requestId?: number }).requestId;
      }
      expect(code).toBe(c.expected.error);
      if (c.expected.requestId !== undefined) expect(requestId).toBe(c.expected.requestId);
    });
  }
});

// ---------------------------------------------------------------------------------------------------

/** The frames of a whole stream, read by the simplest parser the spec allows (CHAN-FRAME-1..5). */
function referenceFrames(stream: Uint8Array, end: boolean): { frames: Uint8Array[]; error?: string } {
  const frames: Uint8Array[] = [];
  let at = 0;
  while (at + 2 <= stream.length) {
    const length = (stream[at]! << 8) | stream[at + 1]!;
    if (length === 0) return { frames, error: 'MALFORMED' };
    if (at + 2 + length > stream.length) break;
    frames.push(stream.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return at < stream.length && end ? { frames, error: 'TRUNCATED' } : { frames };
}

function segments(list: (string | { repeat: string; times: number })[]): Uint8Array {
  return concat(
    ...list.map((s) => {
      if (typeof s === 'string') return unhex(s);
      const unit = unhex(s.repeat);
      const out = new Uint8Array(unit.length * s.times);
      for (let i = 0; i < s.times; i++) out.set(unit, i * unit.length);
      return out;
    }),
  );
}

function frameDesc(f: Uint8Array): J {
  return f.length <= 64 ? { length: f.length, hex: tohex(f) } : { length: f.length, sha256: tohex(sha256(f)) };
}

describe('framing.json', () => {
  const v = loadVector('framing');
  for (const c of v.decode as J[]) {
    const ids = (c.requirements as string[]).map((r) => `[${r}]`).join(' ');
    it(`${ids} decode ${c.name}: ${c.expected.error ?? `${c.expected.frames.length} frame(s)`}`, () => {
      const stream = segments(c.stream);
      // independent reference
      const ref = referenceFrames(stream, c.end);
      expect(ref.frames.map(frameDesc)).toEqual(c.expected.frames);
      expect(ref.error).toBe(c.expected.error);
      // the implementation, with the listed reads, and one byte per read
      for (const cuts of [
        c.reads as number[],
        Array.from({ length: Math.max(0, stream.length - 1) }, (_, i) => i + 1),
      ]) {
        if (cuts.length > 1000 && stream.length > 1000) continue; // byte-per-read on 64 KiB: covered by the listed reads
        const decoder = new FrameDecoder();
        const frames: J[] = [];
        const bounds = [0, ...cuts, stream.length];
        const code = codeOf(() => {
          for (let i = 0; i + 1 < bounds.length; i++) {
            for (const f of decoder.push(stream.subarray(bounds[i], bounds[i + 1]))) frames.push(frameDesc(f));
          }
          if (cuts === c.reads && c.expected.bufferedBeforeEnd !== undefined) {
            expect(decoder.buffered).toBe(c.expected.bufferedBeforeEnd);
          }
          if (c.end) decoder.end();
        });
        expect(code).toBe(c.expected.error ?? 'ok');
        // With other cuts the frames delivered before an error may be fewer: the reference FrameDecoder
        // throws from push() and drops the frames it completed earlier in the same read.
        if (cuts === c.reads) expect(frames).toEqual(c.expected.frames);
        else expect(frames).toEqual(c.expected.frames.slice(0, frames.length));
      }
    });
  }
  it('[CHAN-FRAME-1] [CHAN-FRAME-2] [CHAN-FRAME-3] frame headers: 2-byte big-endian length of 1..65,535', () => {
    for (const c of v.encode as J[]) {
      const code = codeOf(() => encodeFrame(new Uint8Array(c.messageLength)));
      if (c.expected.error !== undefined) {
        expect(code).toBe(c.expected.error);
      } else {
        expect(c.expected.header).toBe(c.messageLength.toString(16).padStart(4, '0'));
        expect(tohex(encodeFrame(new Uint8Array(c.messageLength)).subarray(0, 2))).toBe(c.expected.header);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------

function fixed(...values: Uint8Array[]): Random {
  const queue = values.map((x) => new Uint8Array(x));
  return {
    randomBytes(n: number) {
      const next = queue.shift();
      if (!next || next.length !== n) throw new Error('unexpected randomness request');
      return next;
    },
  };
}

function closedCode(step: Step<PeerIdentity>): string | undefined {
  for (const a of step.actions) if (a.kind === 'Closed') return errorCodeName(a.error.code);
  return undefined;
}

function sent(step: Step<PeerIdentity>): Uint8Array {
  const m = step.actions.find((a) => a.kind === 'Send');
  if (m?.kind !== 'Send') throw new Error('nothing sent');
  return m.message;
}

describe('handshake-xx.json', () => {
  const v = loadVector('handshake-xx');
  const I = v.initiator;
  const R = v.responder;

  const start = (
    suite: CryptoSuite,
    o: { iPolicy?: J; rPolicy?: J; iVersions?: number[]; rVersions?: number[] } = {},
  ) => {
    const side = (s: J, policy: J, versions: number[], initiator: boolean) => {
      const config = {
        suite,
        random: fixed(unhex(s.ephemeralKey.privateKey)),
        staticKey: keyPairFromPrivateKey(suite, unhex(s.staticKey.privateKey)),
        protocolVersions: versions,
        payload: certifiedPayloadCodec(suite, {
          identity: { chain: (s.chain as string[]).map(unhex), seed: unhex(s.identityKey.seed) },
          policy: policyFrom(policy),
          software: s.software,
        }),
      };
      return initiator ? startInitiator(config) : startResponder(config);
    };
    return {
      i: side(I, o.iPolicy ?? I.policy, o.iVersions ?? I.protocolVersions, true),
      r: side(R, o.rPolicy ?? R.policy, o.rVersions ?? R.protocolVersions, false),
    };
  };

  it('[CHAN-NOISE-1] [CHAN-NOISE-2] [CHAN-NOISE-3] [CHAN-NOISE-7] the transcript recomputed from the keys and payloads', () => {
    expect(v.protocolName).toBe('Noise_XX_25519_ChaChaPoly_SHA256');
    expect(v.prologue.hex).toBe(tohex(utf8('parley/1 stream')));
    for (const s of [I, R]) {
      expect(tohex(x25519Public(unhex(s.staticKey.privateKey)))).toBe(s.staticKey.publicKey);
      expect(tohex(x25519Public(unhex(s.ephemeralKey.privateKey)))).toBe(s.ephemeralKey.publicKey);
    }
    const x = independentXX({
      protocolName: v.protocolName,
      prologue: unhex(v.prologue.hex),
      initiatorStatic: unhex(I.staticKey.privateKey),
      initiatorEphemeral: unhex(I.ephemeralKey.privateKey),
      responderStatic: unhex(R.staticKey.privateKey),
      responderEphemeral: unhex(R.ephemeralKey.privateKey),
      payload2: unhex(R.payload),
      payload3: unhex(I.payload),
    });
    expect(x.messages.map(tohex)).toEqual((v.messages as J[]).map((m) => m.message));
    expect(tohex(x.h)).toBe(v.result.handshakeHash);
    expect(tohex(x.ck)).toBe(v.result.chainingKey);
    expect({ c1: tohex(x.k1), c2: tohex(x.k2) }).toEqual(v.result.splitKeys);
  });

  it('[CHAN-HS-1] [CHAN-HS-2] [CHAN-HS-3] [ID-HS-3] the payloads: message 1 empty, chains and static-key bindings', () => {
    expect(v.messages[0].payload).toBe('');
    expect(v.messages[0].message).toBe(I.ephemeralKey.publicKey);
    expect(v.messages[1].payload).toBe(R.payload);
    expect(v.messages[2].payload).toBe(I.payload);
    for (const s of [I, R]) {
      const p = parley.v1.HandshakePayload.decode(unhex(s.payload));
      expect(p.certificates.map((c) => tohex(parley.v1.Signed.encode(c).finish()))).toEqual(s.chain);
      expect(p.protocolVersions).toEqual(s.protocolVersions);
      expect(p.software).toBe(s.software);
      const binding = concat(utf8('parley/v1 static-key-binding'), Uint8Array.of(0), unhex(s.staticKey.publicKey));
      expect(ed25519Verify(unhex(s.identityKey.publicKey), binding, p.staticKeySignature)).toBe(true);
      expect(tohex(ed25519Sign(unhex(s.identityKey.seed), binding))).toBe(tohex(p.staticKeySignature));
    }
  });

  it('[CHAN-DGRAM-1] the datagram keys: HKDF(ikm = ck, salt = h, "parley/1 datagram keys", 64)', () => {
    const okm = hkdf(unhex(v.result.chainingKey), unhex(v.result.handshakeHash), utf8('parley/1 datagram keys'), 64);
    expect(v.result.datagramKeys.initiatorToResponder).toBe(tohex(okm.subarray(0, 32)));
    expect(v.result.datagramKeys.responderToInitiator).toBe(tohex(okm.subarray(32)));
  });

  it('[CHAN-TRANSPORT-1] [CHAN-TRANSPORT-3] [CHAN-FRAME-1] [WIRE-PKT-1] transport messages under c1 and c2 with their nonces', () => {
    const next = { c1: 0, c2: 0 };
    for (const t of v.transport as J[]) {
      expect(t.nonce).toBe(next[t.cipherState as 'c1' | 'c2']++);
      expect(t.cipherState).toBe(t.direction === 'initiator->responder' ? 'c1' : 'c2');
      const key = unhex(v.result.splitKeys[t.cipherState]);
      expect(tohex(aeadSeal(key, noiseNonce(BigInt(t.nonce)), new Uint8Array(0), unhex(t.plaintext)))).toBe(
        t.ciphertext,
      );
      expect(tohex(encodePacket(packetFrom(t.packet)))).toBe(t.plaintext);
      const len = t.ciphertext.length / 2;
      expect(t.frame).toBe(len.toString(16).padStart(4, '0') + t.ciphertext);
    }
  });

  for (const [suiteName, suite] of suites) {
    it(`[CHAN-HS-4] [CHAN-VER-2] [ID-HS-7] the reference channel run with these keys gives these bytes (${suiteName})`, () => {
      const { i, r } = start(suite);
      expect(tohex(sent(i))).toBe(v.messages[0].message);
      const r2 = handleMessage(r.state, unhex(v.messages[0].message));
      expect(tohex(sent(r2))).toBe(v.messages[1].message);
      const i2 = handleMessage(i.state, unhex(v.messages[1].message));
      expect(tohex(sent(i2))).toBe(v.messages[2].message);
      const r3 = handleMessage(r2.state, unhex(v.messages[2].message));
      if (i2.state.kind !== 'Established' || r3.state.kind !== 'Established') throw new Error('not established');
      const ci = i2.state.channel;
      const cr = r3.state.channel;
      expect(tohex(ci.handshakeHash)).toBe(v.result.handshakeHash);
      expect(ci.protocolVersion).toBe(v.result.protocolVersion);
      expect(tohex(ci.datagram.sendKey)).toBe(v.result.datagramKeys.initiatorToResponder);
      expect(tohex(cr.datagram.sendKey)).toBe(v.result.datagramKeys.responderToInitiator);
      const seen = (c: typeof ci) => ({
        subject: c.peer.certificate.subject,
        role: Role[c.peer.certificate.role],
        keyId: tohex(c.peer.keyId),
        networkFingerprint: tohex(c.peer.networkFingerprint),
        software: c.peerSoftware,
      });
      expect(seen(ci)).toEqual(v.result.initiatorSees);
      expect(seen(cr)).toEqual(v.result.responderSees);
      expect(
        tohex(
          deriveDatagramKeys(suite, unhex(v.result.chainingKey), unhex(v.result.handshakeHash)).initiatorToResponder,
        ),
      ).toBe(v.result.datagramKeys.initiatorToResponder);
      for (const t of v.transport as J[]) {
        const [from, to] = t.direction === 'initiator->responder' ? [ci, cr] : [cr, ci];
        expect(tohex(from.transport.encrypt(unhex(t.plaintext)))).toBe(t.ciphertext);
        expect(packetTo(decodePacket(to.transport.decrypt(unhex(t.ciphertext))))).toEqual(t.packet);
      }
      // Each payload verifies on its own against the static key that Noise authenticated [ID-HS-4]
      const peer = verifyHandshakePayload(suite, unhex(R.payload), unhex(R.staticKey.publicKey), policyFrom(I.policy));
      expect(tohex(peer.peer.keyId)).toBe(v.result.initiatorSees.keyId);
      expect(
        codeOf(() =>
          verifyHandshakePayload(suite, unhex(R.payload), unhex(I.staticKey.publicKey), policyFrom(I.policy)),
        ),
      ).toBe('BINDING_INVALID');
    });
  }

  for (const c of v.payloadCases as J[]) {
    const ids = (c.requirements as string[]).map((r) => `[${r}]`).join(' ');
    it(`${ids} payload ${c.name}: ${c.expected.error ?? 'valid'}`, () => {
      expect(c.payload.length / 2).toBe(c.length);
      for (const [, suite] of suites) {
        let r: ReturnType<typeof verifyHandshakePayload> | undefined;
        const code = codeOf(() => {
          r = verifyHandshakePayload(suite, unhex(c.payload), unhex(R.staticKey.publicKey), policyFrom(I.policy));
        });
        expect(code).toBe(c.expected.error ?? 'ok');
        if (c.expected.result === 'valid') {
          expect(tohex(r!.peer.keyId)).toBe(c.expected.keyId);
          expect(r!.protocolVersions).toEqual(c.expected.protocolVersions);
          expect(r!.software).toBe(c.expected.software);
        }
      }
    });
  }

  for (const f of v.failures as J[]) {
    const ids = (f.requirements as string[]).map((r) => `[${r}]`).join(' ');
    it(`${ids} failing handshake ${f.name}: ${f.expected.side} closes with ${f.expected.error}`, () => {
      for (const [, suite] of suites) {
        const { i, r } = start(suite, {
          iPolicy: f.initiatorPolicy,
          rPolicy: f.responderPolicy,
          iVersions: f.initiatorVersions,
          rVersions: f.responderVersions,
        });
        // Deliver the listed messages alternately, responder first; the last one must close its receiver.
        const states: { initiator: ChannelState<PeerIdentity>; responder: ChannelState<PeerIdentity> } = {
          initiator: i.state,
          responder: r.state,
        };
        let closed: { side: string; afterMessage: number; error: string } | undefined;
        (f.delivered as string[]).forEach((m, k) => {
          const side = k % 2 === 0 ? 'responder' : 'initiator';
          const step = handleMessage(states[side], unhex(m));
          states[side] = step.state;
          const code = closedCode(step);
          if (code !== undefined) closed = { side, afterMessage: k + 1, error: code };
        });
        expect(closed).toEqual(f.expected);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------------

describe('datagram.json', () => {
  const v = loadVector('datagram');
  const hs = loadVector('handshake-xx');

  it('[CHAN-DGRAM-1] the keys are those of handshake-xx.json, derived from its ck and h', () => {
    const d = v.keyDerivation;
    expect(d.chainingKey).toBe(hs.result.chainingKey);
    expect(d.handshakeHash).toBe(hs.result.handshakeHash);
    const okm = hkdf(unhex(d.chainingKey), unhex(d.handshakeHash), utf8(d.info), 64);
    expect(tohex(okm)).toBe(d.initiatorToResponder + d.responderToInitiator);
  });

  it('[CHAN-DGRAM-3] [CHAN-DGRAM-5] [CHAN-DGRAM-6] [CHAN-DGRAM-7] sealed datagrams: header, nonce, AEAD', () => {
    for (const s of v.seal as J[]) {
      const header = new Uint8Array(13);
      const view = new DataView(header.buffer);
      header[0] = 1;
      view.setUint32(1, s.receiverIndex);
      view.setBigUint64(5, BigInt(s.counter));
      expect(tohex(header)).toBe(s.header);
      expect(tohex(noiseNonce(BigInt(s.counter)))).toBe(s.nonce);
      const sealed = aeadSeal(unhex(s.key), unhex(s.nonce), header, unhex(s.plaintext));
      expect(s.header + tohex(sealed)).toBe(s.datagram);
      expect(s.length).toBe(s.datagram.length / 2);
      expect(s.length).toBeLessThanOrEqual(1200);
      for (const [, suite] of suites) {
        const ch = new DatagramChannel(suite, {
          sendKey: unhex(s.key),
          receiveKey: unhex(s.key),
          localIndex: s.receiverIndex,
          remoteIndex: s.receiverIndex,
          initialSendCounter: BigInt(s.counter),
        });
        expect(tohex(ch.seal(unhex(s.plaintext)))).toBe(s.datagram);
        expect(tohex(ch.open(unhex(s.datagram)))).toBe(s.plaintext);
      }
    }
  });

  const receiver = (suite: CryptoSuite) =>
    new DatagramChannel(suite, {
      sendKey: new Uint8Array(32),
      receiveKey: unhex(v.receiver.receiveKey),
      localIndex: v.receiver.localIndex,
      remoteIndex: 0,
    });

  for (const c of v.open as J[]) {
    const ids = (c.requirements as string[]).map((r) => `[${r}]`).join(' ');
    it(`${ids} [CHAN-DGRAM-8] open ${c.name}: ${c.expected.error ?? 'accepted'}`, () => {
      for (const [, suite] of suites) {
        let plaintext: Uint8Array | undefined;
        const code = codeOf(() => {
          plaintext = receiver(suite).open(unhex(c.datagram));
        });
        expect(code).toBe(c.expected.error ?? 'ok');
        if (c.expected.plaintext !== undefined) expect(tohex(plaintext!)).toBe(c.expected.plaintext);
      }
    });
  }

  it('[CHAN-REPLAY-1] [CHAN-REPLAY-2] [CHAN-REPLAY-3] the replay window decides every step of the sequence', () => {
    // Independent model of CHAN-REPLAY: a set of accepted counters and the highest.
    const accepted = new Set<bigint>();
    let highest = -1n;
    const key = unhex(v.receiver.receiveKey);
    for (const s of v.replay as J[]) {
      const d = unhex(s.datagram);
      const counter = new DataView(d.buffer).getBigUint64(5);
      expect(counter.toString()).toBe(s.counter);
      expect(new DataView(d.buffer).getUint32(1)).toBe(v.receiver.localIndex);
      let decision: string;
      if (highest >= 0n && counter <= highest - 2048n) decision = 'TOO_OLD';
      else if (accepted.has(counter)) decision = 'REPLAYED';
      else if (aeadOpen(key, noiseNonce(counter), d.subarray(0, 13), d.subarray(13)) === undefined)
        decision = 'DECRYPT_FAILED';
      else {
        decision = 'ACCEPTED';
        accepted.add(counter);
        if (counter > highest) highest = counter;
      }
      if (decision === 'ACCEPTED') {
        expect(tohex(aeadOpen(key, noiseNonce(counter), d.subarray(0, 13), d.subarray(13))!)).toBe(s.plaintext);
      }
      expect(decision, `step ${s.step}`).toBe(s.expected);
      expect(highest.toString(), `step ${s.step}`).toBe(s.highestAfter);
    }
    // every decision appears
    expect(new Set((v.replay as J[]).map((s) => s.expected))).toEqual(
      new Set(['ACCEPTED', 'REPLAYED', 'TOO_OLD', 'DECRYPT_FAILED']),
    );
  });

  for (const [suiteName, suite] of suites) {
    it(`[CHAN-REPLAY-2] [CHAN-REPLAY-3] the reference receiver makes the same decisions (${suiteName})`, () => {
      const rx = receiver(suite);
      for (const s of v.replay as J[]) {
        const code = codeOf(() => rx.open(unhex(s.datagram)));
        expect(code === 'ok' ? 'ACCEPTED' : code, `step ${s.step}`).toBe(s.expected);
        expect(rx.highestReceived.toString(), `step ${s.step}`).toBe(s.highestAfter);
      }
    });
  }
});
