// Tests of spec/02-identity.md §6.4 ([ID-CHAIN-10]): remembering verified certificates skips only
// the signature and decoding steps; every other check still runs on every use.
import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../../src/codec/proto.js';
import { nodeCrypto } from '../../src/crypto/node.js';
import { ErrorCode } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import {
  buildHandshakePayload,
  decodeSigned,
  Role,
  VerifiedCertificateCache,
  verifyChain,
  verifyHandshakePayload,
} from '../../src/identity/index.js';
import { countingVerifies, DAY, expectCode, makeMember, makeNetwork, NOW, policyFor } from './fixtures.js';

const staticKey = nodeCrypto.x25519PublicKey(new Uint8Array(32).fill(0x61));
const opts = { protocolVersions: [1], software: 'parley-ref/0.0.0' };

describe('verified-certificate memo (spec/02-identity.md §6.4)', () => {
  it('[ID-CHAIN-10] a returning peer costs one verification (the binding); a new peer of the network two', () => {
    const net = makeNetwork(nodeCrypto, 'cache');
    const alice = makeMember(net);
    const bob = makeMember(net, { subject: 'bob' }, 1001);
    const cache = new VerifiedCertificateCache();
    const c = countingVerifies(nodeCrypto);
    const policy = { ...policyFor(net), cache };
    const pa = buildHandshakePayload(nodeCrypto, alice.local, staticKey, opts);
    verifyHandshakePayload(c, pa, staticKey, policy);
    expect(c.verifies).toBe(3);
    c.verifies = 0;
    expect(verifyHandshakePayload(c, pa, staticKey, policy).peer.certificate.subject).toBe('alice');
    expect(c.verifies).toBe(1);
    c.verifies = 0;
    verifyHandshakePayload(c, buildHandshakePayload(nodeCrypto, bob.local, staticKey, opts), staticKey, policy);
    expect(c.verifies).toBe(2);
    expect(cache.size).toBe(3);
  });

  it('[ID-CHAIN-10] time, revocation and accepted roles are still checked on a memo hit', () => {
    const net = makeNetwork(nodeCrypto, 'cache-checks');
    const alice = makeMember(net);
    const cache = new VerifiedCertificateCache();
    verifyChain(nodeCrypto, alice.chain, policyFor(net, { cache }));
    expectCode(
      () => verifyChain(nodeCrypto, alice.chain, policyFor(net, { cache, nowMs: NOW + 2 * DAY })),
      ErrorCode.CERT_EXPIRED,
    );
    expectCode(
      () => verifyChain(nodeCrypto, alice.chain, policyFor(net, { cache, isRevoked: () => true })),
      ErrorCode.CERT_REVOKED,
    );
    expectCode(
      () => verifyChain(nodeCrypto, alice.chain, policyFor(net, { cache, acceptedRoles: [Role.ROLE_SUPERNODE] })),
      ErrorCode.CERT_WRONG_ROLE,
    );
    expectCode(
      () => verifyChain(nodeCrypto, alice.chain, policyFor(makeNetwork(nodeCrypto, 'cache-other'), { cache })),
      ErrorCode.NETWORK_MISMATCH,
    );
  });

  it('[ID-CHAIN-10] a different body under a remembered signature is a miss, and fails BAD_SIGNATURE', () => {
    const net = makeNetwork(nodeCrypto, 'cache-body');
    const alice = makeMember(net);
    const cache = new VerifiedCertificateCache();
    verifyChain(nodeCrypto, alice.chain, policyFor(net, { cache }));
    const s = decodeSigned(alice.cert);
    const body = new Uint8Array(s.body);
    body[body.length - 1]! ^= 1;
    const tampered = encodeMessage(parley.v1.Signed, { ...s, body });
    expectCode(
      () => verifyChain(nodeCrypto, [tampered, net.loginCert], policyFor(net, { cache })),
      ErrorCode.BAD_SIGNATURE,
    );
  });

  it('[ID-CHAIN-10] an entry is used only under the same issuer key', () => {
    const net = makeNetwork(nodeCrypto, 'cache-issuer');
    const alice = makeMember(net);
    const cache = new VerifiedCertificateCache();
    const s = decodeSigned(alice.cert);
    const cert = verifyChain(nodeCrypto, alice.chain, policyFor(net, { cache })).leaf;
    expect(cache.get(s, net.login.publicKey)).toBe(cert);
    expect(cache.get(s, net.root.publicKey)).toBeUndefined();
  });

  it('[ID-CHAIN-10] holds at most its capacity, dropping the oldest entry', () => {
    const net = makeNetwork(nodeCrypto, 'cache-capacity');
    const cache = new VerifiedCertificateCache(2);
    const members = [0, 1, 2].map((i) => makeMember(net, { subject: `u${i}` }, 2000 + i));
    for (const m of members) verifyChain(nodeCrypto, m.chain, policyFor(net, { cache }));
    expect(cache.size).toBe(2);
    expect(cache.get(decodeSigned(members[0]!.cert), net.login.publicKey)).toBeUndefined();
    expect(cache.get(decodeSigned(members[2]!.cert), net.login.publicKey)?.subject).toBe('u2');
    cache.clear();
    expect(cache.size).toBe(0);
  });
});
