// Tests of spec/02-identity.md §7: the handshake identity payload — round trip on both suites, the
// binding to the Noise static key, every field limit, the order of verification, and robustness
// (truncated, garbage and mutated payloads only ever end in a ParleyError).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mutatedArbitrary } from '../../fuzz/arbitraries.js';
import { encodeMessage } from '../../src/codec/proto.js';
import { nobleCrypto } from '../../src/crypto/noble.js';
import { nodeCrypto } from '../../src/crypto/node.js';
import { ApiMisuse, DecodeError, ErrorCode, IdentityError, IncompatiblePeer, ParleyError } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import {
  buildHandshakePayload,
  checkLocalIdentity,
  decodeSigned,
  MAX_HANDSHAKE_PAYLOAD_BYTES,
  MAX_PROTOCOL_VERSIONS,
  Role,
  SignatureContext,
  signWithContext,
  verifyHandshakePayload,
} from '../../src/identity/index.js';
import { caught, countingVerifies, DAY, expectCode, makeMember, makeNetwork, NOW, policyFor } from './fixtures.js';

const suite = nodeCrypto;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const opts = { protocolVersions: [1], software: 'parley-ref/0.0.0' };
const staticKey = nodeCrypto.x25519PublicKey(new Uint8Array(32).fill(0x51));
const otherStaticKey = nodeCrypto.x25519PublicKey(new Uint8Array(32).fill(0x52));

const net = makeNetwork(suite, 'handshake');
const alice = makeMember(net);
const policy = policyFor(net);

/** A payload encoded directly (no builder checks) from alice's valid parts with some fields replaced. */
function rawPayload(fields: Partial<parley.v1.HandshakePayload.$Properties>): Uint8Array {
  return encodeMessage(parley.v1.HandshakePayload, {
    certificates: alice.chain.map(decodeSigned),
    staticKeySignature: signWithContext(
      suite,
      alice.key.seed,
      SignatureContext.SIGNATURE_CONTEXT_STATIC_KEY_BINDING,
      staticKey,
    ),
    protocolVersions: [1],
    software: 'x',
    ...fields,
  });
}

describe('handshake identity payload (spec/02-identity.md §7)', () => {
  for (const [a, b] of [
    [nodeCrypto, nobleCrypto],
    [nobleCrypto, nodeCrypto],
  ] as const) {
    it(`[ID-HS-2] [ID-HS-7] a payload built with ${a.name} verifies with ${b.name}, and the peer is who its chain says`, () => {
      const n = makeNetwork(a, 'hs-cross');
      const m = makeMember(n);
      const payload = buildHandshakePayload(a, m.local, staticKey, {
        protocolVersions: [1, 2],
        software: 'parley-ref/0.0.0',
      });
      const r = verifyHandshakePayload(b, payload, staticKey, policyFor(n));
      expect(r.peer.certificate.subject).toBe('alice');
      expect(r.peer.certificate.role).toBe(Role.ROLE_USER);
      expect(hex(r.peer.keyId)).toBe(hex(m.key.keyId));
      expect(hex(r.peer.networkFingerprint)).toBe(hex(n.root.networkFingerprint));
      expect(r.peer.chain.length).toBe(2);
      expect(r.protocolVersions).toEqual([1, 2]);
      expect(r.software).toBe('parley-ref/0.0.0');
    });
  }

  it('[ID-CERT-2] [ID-HS-3] both suites build byte-identical payloads', () => {
    const a = buildHandshakePayload(nodeCrypto, alice.local, staticKey, opts);
    const b = buildHandshakePayload(nobleCrypto, alice.local, staticKey, opts);
    expect(hex(a)).toBe(hex(b));
  });

  it('[ID-HS-3] the binding is the leaf key\'s signature over "parley/v1 static-key-binding" || 0x00 || static key', () => {
    const payload = parley.v1.HandshakePayload.decode(buildHandshakePayload(suite, alice.local, staticKey, opts));
    const message = new Uint8Array([...new TextEncoder().encode('parley/v1 static-key-binding'), 0, ...staticKey]);
    expect(payload.staticKeySignature.length).toBe(64);
    expect(suite.ed25519Verify(alice.key.publicKey, message, payload.staticKeySignature)).toBe(true);
  });

  it('[ID-HS-4] a binding over a different static key is BINDING_INVALID', () => {
    const payload = buildHandshakePayload(suite, alice.local, otherStaticKey, opts);
    expectCode(
      () => verifyHandshakePayload(suite, payload, staticKey, policy),
      ErrorCode.BINDING_INVALID,
      IdentityError,
    );
  });

  it("[ID-HS-4] a binding by a key other than the leaf's is BINDING_INVALID", () => {
    const bob = makeMember(net, { subject: 'bob' }, 1001);
    const stolen = rawPayload({
      staticKeySignature: signWithContext(
        suite,
        bob.key.seed,
        SignatureContext.SIGNATURE_CONTEXT_STATIC_KEY_BINDING,
        staticKey,
      ),
    });
    expectCode(() => verifyHandshakePayload(suite, stolen, staticKey, policy), ErrorCode.BINDING_INVALID);
  });

  it('[ID-HS-4] [ID-SIG-9] a signature over the static key under another context is BINDING_INVALID', () => {
    const wrongContext = rawPayload({
      staticKeySignature: signWithContext(
        suite,
        alice.key.seed,
        SignatureContext.SIGNATURE_CONTEXT_CERTIFICATE,
        staticKey,
      ),
    });
    expectCode(() => verifyHandshakePayload(suite, wrongContext, staticKey, policy), ErrorCode.BINDING_INVALID);
    const bare = rawPayload({ staticKeySignature: suite.ed25519Sign(alice.key.seed, staticKey) });
    expectCode(() => verifyHandshakePayload(suite, bare, staticKey, policy), ErrorCode.BINDING_INVALID);
  });

  it('[ID-HS-1] a payload above 2,048 bytes is FIELD_LIMIT, before any decoding', () => {
    expect(MAX_HANDSHAKE_PAYLOAD_BYTES).toBe(2048);
    const big = new Uint8Array(2049);
    expectCode(() => verifyHandshakePayload(suite, big, staticKey, policy), ErrorCode.FIELD_LIMIT, DecodeError);
  });

  it('[ID-HS-1] [ID-HS-2] more than 2 certificates is FIELD_LIMIT; none is CHAIN_INVALID', () => {
    const three = rawPayload({ certificates: [...alice.chain, net.loginCert].map(decodeSigned) });
    expectCode(() => verifyHandshakePayload(suite, three, staticKey, policy), ErrorCode.FIELD_LIMIT, DecodeError);
    const none = rawPayload({ certificates: [] });
    expectCode(() => verifyHandshakePayload(suite, none, staticKey, policy), ErrorCode.CHAIN_INVALID, IdentityError);
  });

  it('[ID-HS-1] a nested certificate envelope is held to its limits (ID-SIG-5)', () => {
    const [leaf, login] = alice.chain.map(decodeSigned);
    const shortSig = rawPayload({ certificates: [{ ...leaf!, signature: new Uint8Array(65) }, login!] });
    expectCode(() => verifyHandshakePayload(suite, shortSig, staticKey, policy), ErrorCode.FIELD_LIMIT, DecodeError);
  });

  it('[ID-HS-2] the chain is verified: expired, wrong role, foreign network', () => {
    const expired = makeMember(net, { notBefore: NOW - 2 * DAY, notAfter: NOW - DAY }, 1002);
    const p = buildHandshakePayload(suite, expired.local, staticKey, opts);
    expectCode(() => verifyHandshakePayload(suite, p, staticKey, policy), ErrorCode.CERT_EXPIRED);
    const good = buildHandshakePayload(suite, alice.local, staticKey, opts);
    expectCode(
      () => verifyHandshakePayload(suite, good, staticKey, { ...policy, acceptedRoles: [Role.ROLE_SUPERNODE] }),
      ErrorCode.CERT_WRONG_ROLE,
    );
    const other = makeNetwork(suite, 'handshake-other');
    expectCode(
      () => verifyHandshakePayload(suite, good, staticKey, policyFor(other)),
      ErrorCode.NETWORK_MISMATCH,
      IncompatiblePeer,
    );
  });

  it('[ID-HS-3] static_key_signature: absent MISSING_FIELD, longer FIELD_LIMIT, shorter MALFORMED', () => {
    for (const [sig, code] of [
      [new Uint8Array(0), ErrorCode.MISSING_FIELD],
      [new Uint8Array(63), ErrorCode.MALFORMED],
      [new Uint8Array(65), ErrorCode.FIELD_LIMIT],
    ] as const) {
      expectCode(
        () => verifyHandshakePayload(suite, rawPayload({ staticKeySignature: sig }), staticKey, policy),
        code,
        DecodeError,
      );
    }
  });

  it('[ID-HS-5] protocol_versions: none MISSING_FIELD; more than 16 FIELD_LIMIT; 0 or a duplicate MALFORMED', () => {
    expect(MAX_PROTOCOL_VERSIONS).toBe(16);
    const many = Array.from({ length: 17 }, (_, i) => i + 1);
    for (const [versions, code] of [
      [[], ErrorCode.MISSING_FIELD],
      [[0], ErrorCode.MALFORMED],
      [[1, 2, 1], ErrorCode.MALFORMED],
      [many, ErrorCode.FIELD_LIMIT],
    ] as const) {
      expectCode(
        () => verifyHandshakePayload(suite, rawPayload({ protocolVersions: [...versions] }), staticKey, policy),
        code,
        DecodeError,
      );
    }
    const edge = rawPayload({ protocolVersions: [...many.slice(0, 16).reverse(), 0xffff_ffff].slice(1) });
    expect(verifyHandshakePayload(suite, edge, staticKey, policy).protocolVersions).toContain(0xffff_ffff);
  });

  it('[ID-HS-6] software: 0..64 bytes pass; 65 bytes FIELD_LIMIT; a control character or invalid UTF-8 MALFORMED', () => {
    for (const software of ['', 'é'.repeat(32), 'parley-ref/1.2.3 (linux; x64)']) {
      expect(verifyHandshakePayload(suite, rawPayload({ software }), staticKey, policy).software).toBe(software);
    }
    for (const [software, code] of [
      ['x'.repeat(65), ErrorCode.FIELD_LIMIT],
      ['evil\u001b[2J', ErrorCode.MALFORMED],
      ['a\u202eb', ErrorCode.MALFORMED],
    ] as const) {
      expectCode(() => verifyHandshakePayload(suite, rawPayload({ software }), staticKey, policy), code, DecodeError);
    }
    const p = new Uint8Array(rawPayload({ software: 'zz' }));
    p[p.length - 2] = 0xff;
    expectCode(() => verifyHandshakePayload(suite, p, staticKey, policy), ErrorCode.MALFORMED, DecodeError);
  });

  it('[ID-HS-7] applies the steps in order: field limits before the chain, the chain before the binding', () => {
    const other = makeNetwork(suite, 'hs-order');
    // limits before chain: bad versions with a foreign chain
    const p1 = rawPayload({ protocolVersions: [], certificates: makeMember(other).chain.map(decodeSigned) });
    expectCode(() => verifyHandshakePayload(suite, p1, staticKey, policy), ErrorCode.MISSING_FIELD);
    // chain before binding: foreign chain with a binding over another key
    const p2 = buildHandshakePayload(suite, makeMember(other).local, otherStaticKey, opts);
    expectCode(() => verifyHandshakePayload(suite, p2, staticKey, policy), ErrorCode.NETWORK_MISMATCH);
    // signature length before versions before software
    const p3 = rawPayload({ staticKeySignature: new Uint8Array(1), protocolVersions: [], software: '\u0000' });
    expectCode(() => verifyHandshakePayload(suite, p3, staticKey, policy), ErrorCode.MALFORMED);
    const p4 = rawPayload({ protocolVersions: [], software: '\u0000' });
    expectCode(() => verifyHandshakePayload(suite, p4, staticKey, policy), ErrorCode.MISSING_FIELD);
  });

  it('[ID-HS-7] verifies exactly three signatures for a good payload, none for one refused by its limits', () => {
    const c = countingVerifies(suite);
    verifyHandshakePayload(c, buildHandshakePayload(suite, alice.local, staticKey, opts), staticKey, policy);
    expect(c.verifies).toBe(3);
    c.verifies = 0;
    expectCode(
      () => verifyHandshakePayload(c, rawPayload({ protocolVersions: [0] }), staticKey, policy),
      ErrorCode.MALFORMED,
    );
    expect(c.verifies).toBe(0);
  });

  it('[ID-HS-7] the result owns its bytes: overwriting the payload afterwards changes nothing', () => {
    const payload = new Uint8Array(buildHandshakePayload(suite, alice.local, staticKey, opts));
    const r = verifyHandshakePayload(suite, payload, staticKey, policy);
    payload.fill(0);
    expect(hex(r.peer.certificate.subjectKey)).toBe(hex(alice.key.publicKey));
    expect(hex(r.peer.certificate.issuerKeyId)).toBe(hex(net.login.keyId));
    expect(r.peer.chain[1]!.subject).toBe('login.parley.example');
  });

  it('[ID-HS-10] [ID-HS-7] every strict prefix of a payload is a DecodeError', () => {
    const payload = buildHandshakePayload(suite, alice.local, staticKey, { protocolVersions: [1, 2, 3], software: '' });
    for (let n = 0; n < payload.length; n++) {
      expect(caught(() => verifyHandshakePayload(suite, payload.subarray(0, n), staticKey, policy))).toBeInstanceOf(
        DecodeError,
      );
    }
  });

  it('[ID-HS-10] property: garbage payloads only ever give a ParleyError, never a TypeError or RangeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2100 }), (bytes) => {
        expect(caught(() => verifyHandshakePayload(suite, bytes, staticKey, policy))).toBeInstanceOf(ParleyError);
      }),
    );
  });

  it('[ID-HS-10] property: mutated valid payloads give a verified identity or a ParleyError', () => {
    const payload = buildHandshakePayload(suite, alice.local, staticKey, opts);
    fc.assert(
      fc.property(mutatedArbitrary(fc.constant(payload)), (bytes) => {
        try {
          const r = verifyHandshakePayload(suite, bytes, staticKey, policy);
          // Whatever survives a mutation is still alice's certified identity.
          expect(hex(r.peer.keyId)).toBe(hex(alice.key.keyId));
        } catch (e) {
          expect(e).toBeInstanceOf(ParleyError);
        }
      }),
    );
  });

  describe('[ID-HS-8] the sender refuses to build a payload that breaks the rules (API_MISUSE)', () => {
    const cases: Array<[string, () => unknown]> = [
      [
        '17 protocol versions',
        () =>
          buildHandshakePayload(suite, alice.local, staticKey, {
            ...opts,
            protocolVersions: Array.from({ length: 17 }, (_, i) => i + 1),
          }),
      ],
      [
        'no protocol version',
        () => buildHandshakePayload(suite, alice.local, staticKey, { ...opts, protocolVersions: [] }),
      ],
      ['version 0', () => buildHandshakePayload(suite, alice.local, staticKey, { ...opts, protocolVersions: [0] })],
      [
        'version 2^32',
        () => buildHandshakePayload(suite, alice.local, staticKey, { ...opts, protocolVersions: [2 ** 32] }),
      ],
      [
        'a duplicate version',
        () => buildHandshakePayload(suite, alice.local, staticKey, { ...opts, protocolVersions: [1, 1] }),
      ],
      [
        'a control character in software',
        () => buildHandshakePayload(suite, alice.local, staticKey, { ...opts, software: 'a\nb' }),
      ],
      [
        '65-byte software',
        () => buildHandshakePayload(suite, alice.local, staticKey, { ...opts, software: 'x'.repeat(65) }),
      ],
      ['a 31-byte static key', () => buildHandshakePayload(suite, alice.local, new Uint8Array(31), opts)],
      ['an empty chain', () => buildHandshakePayload(suite, { ...alice.local, chain: [] }, staticKey, opts)],
      [
        'a 3-certificate chain',
        () => buildHandshakePayload(suite, { ...alice.local, chain: [...alice.chain, net.loginCert] }, staticKey, opts),
      ],
      [
        'a chain entry that is not a Signed',
        () => buildHandshakePayload(suite, { ...alice.local, chain: [new Uint8Array([0x0a, 0x09])] }, staticKey, opts),
      ],
      [
        'a 16-byte seed',
        () => buildHandshakePayload(suite, { ...alice.local, seed: new Uint8Array(16) }, staticKey, opts),
      ],
    ];
    for (const [what, f] of cases) {
      it(`[ID-HS-8] refuses ${what}`, () => {
        expect(caught(f)).toBeInstanceOf(ApiMisuse);
      });
    }
    it("[ID-HS-8] checkLocalIdentity refuses a seed that is not the leaf's key", () => {
      expect(() => checkLocalIdentity(suite, alice.local)).not.toThrow();
      const bob = makeMember(net, { subject: 'bob' }, 1003);
      expect(caught(() => checkLocalIdentity(suite, { chain: alice.chain, seed: bob.key.seed }))).toBeInstanceOf(
        ApiMisuse,
      );
    });
    it('[ID-HS-4] verifying against a remote static key that is not 32 bytes is API misuse', () => {
      const p = buildHandshakePayload(suite, alice.local, staticKey, opts);
      expect(caught(() => verifyHandshakePayload(suite, p, new Uint8Array(33), policy))).toBeInstanceOf(ApiMisuse);
    });
  });

  it('[ID-HS-3] building twice with the same key gives the same bytes (the binding is deterministic)', () => {
    const a = buildHandshakePayload(suite, alice.local, staticKey, opts);
    const b = buildHandshakePayload(suite, alice.local, otherStaticKey, opts);
    const c = buildHandshakePayload(suite, alice.local, staticKey, opts);
    expect(hex(a)).toBe(hex(c));
    expect(hex(a)).not.toBe(hex(b));
    expect(verifyHandshakePayload(suite, b, otherStaticKey, policy).peer.certificate.subject).toBe('alice');
  });
});

describe('the binding signature memo', () => {
  it('[ID-HS-3] a seed array overwritten in place signs with the new seed, never the remembered one', () => {
    const net = makeNetwork(nodeCrypto, 'binding memo');
    const a = makeMember(net, {}, 501);
    const b = makeMember(net, {}, 502);
    const staticKey = new Uint8Array(32).fill(9);
    const seed = a.local.seed.slice();
    const first = buildHandshakePayload(nodeCrypto, { chain: a.chain, seed }, staticKey, {
      protocolVersions: [1],
      software: '',
    });
    seed.set(b.local.seed); // the caller reuses its array for another identity
    const second = buildHandshakePayload(nodeCrypto, { chain: b.chain, seed }, staticKey, {
      protocolVersions: [1],
      software: '',
    });
    expect(
      verifyHandshakePayload(nodeCrypto, first, staticKey, {
        ...policyFor(net),
        nowMs: NOW,
        acceptedRoles: [Role.ROLE_USER],
      }).peer.certificate.serial,
    ).toBe(501);
    expect(
      verifyHandshakePayload(nodeCrypto, second, staticKey, {
        ...policyFor(net),
        nowMs: NOW,
        acceptedRoles: [Role.ROLE_USER],
      }).peer.certificate.serial,
    ).toBe(502);
  });
});
