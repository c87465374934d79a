// Tests of spec/02-identity.md §6 (chains: shape, who issues what, revocation, roles, the order of
// the verification algorithm) and §8 (several trust anchors, removing an anchor).
import { describe, expect, it } from 'vitest';
import { nobleCrypto } from '../../src/crypto/noble.js';
import { nodeCrypto } from '../../src/crypto/node.js';
import { ApiMisuse, ErrorCode, IdentityError, IncompatiblePeer } from '../../src/errors.js';
import {
  createRootKey,
  decodeSigned,
  encodeCertificate,
  generateSigningKey,
  issueCertificate,
  MAX_CHAIN_LENGTH,
  Role,
  SignatureContext,
  signObject,
  verifyChain,
} from '../../src/identity/index.js';
import {
  caught,
  countingVerifies,
  DAY,
  expectCode,
  HOUR,
  makeMember,
  makeNetwork,
  NOW,
  policyFor,
  userCertificate,
} from './fixtures.js';

const suite = nodeCrypto;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('certificate chains (spec/02-identity.md §6)', () => {
  for (const s of [nodeCrypto, nobleCrypto]) {
    it(`[ID-CHAIN-3] verifies [USER, LOGIN], [SUPERNODE, LOGIN] and [LOGIN] (${s.name})`, () => {
      const net = makeNetwork(s, 'chain-ok');
      const alice = makeMember(net);
      const user = verifyChain(s, alice.chain, policyFor(net));
      expect(user.leaf.subject).toBe('alice');
      expect(hex(user.leafKeyId)).toBe(hex(alice.key.keyId));
      expect(user.certificates.map((c) => c.role)).toEqual([Role.ROLE_USER, Role.ROLE_LOGIN]);
      expect(hex(user.trustAnchor)).toBe(hex(net.root.publicKey));
      const sn = makeMember(net, {
        subject: 'sn1.parley.example',
        role: Role.ROLE_SUPERNODE,
        notAfter: NOW + 5 * HOUR,
      });
      expect(verifyChain(s, sn.chain, policyFor(net, { acceptedRoles: [Role.ROLE_SUPERNODE] })).leaf.role).toBe(
        Role.ROLE_SUPERNODE,
      );
      const login = verifyChain(s, [net.loginCert], policyFor(net, { acceptedRoles: [Role.ROLE_LOGIN] }));
      expect(hex(login.leafKeyId)).toBe(hex(net.login.keyId));
    });
  }

  it('[ID-KEY-3] the result names the network fingerprint of the anchor reached', () => {
    const net = makeNetwork(suite, 'fingerprint');
    const alice = makeMember(net);
    expect(hex(verifyChain(suite, alice.chain, policyFor(net)).networkFingerprint)).toBe(
      hex(net.root.networkFingerprint),
    );
  });

  it('[ID-CHAIN-2] a chain of 0 or more than 2 certificates is CHAIN_INVALID', () => {
    const net = makeNetwork(suite, 'chain-2');
    const alice = makeMember(net);
    expect(MAX_CHAIN_LENGTH).toBe(2);
    expectCode(() => verifyChain(suite, [], policyFor(net)), ErrorCode.CHAIN_INVALID, IdentityError);
    expectCode(() => verifyChain(suite, [...alice.chain, net.loginCert], policyFor(net)), ErrorCode.CHAIN_INVALID);
  });

  it('[ID-CHAIN-1] [ID-KEY-2] a chain that carries the root (a self-signed root certificate) is CHAIN_INVALID', () => {
    const net = makeNetwork(suite, 'chain-1');
    const selfSigned = issueCertificate(suite, net.root, { ...net.loginFields, subjectKey: net.root.publicKey });
    expectCode(
      () => verifyChain(suite, [selfSigned], policyFor(net, { acceptedRoles: [Role.ROLE_LOGIN] })),
      ErrorCode.CHAIN_INVALID,
    );
    expectCode(() => verifyChain(suite, [net.loginCert, selfSigned], policyFor(net)), ErrorCode.CHAIN_INVALID);
  });

  it('[ID-KEY-2] a verifier without a trust anchor is API misuse, and anchors must be 32-byte keys', () => {
    const net = makeNetwork(suite, 'key-2');
    const alice = makeMember(net);
    expect(caught(() => verifyChain(suite, alice.chain, policyFor(net, { trustAnchors: [] })))).toBeInstanceOf(
      ApiMisuse,
    );
    expect(
      caught(() => verifyChain(suite, alice.chain, policyFor(net, { trustAnchors: [new Uint8Array(31)] }))),
    ).toBeInstanceOf(ApiMisuse);
    expect(caught(() => verifyChain(suite, alice.chain, policyFor(net, { nowMs: -1 })))).toBeInstanceOf(ApiMisuse);
  });

  it('[ID-CHAIN-4] a chain ending at an unpinned root is NETWORK_MISMATCH (IncompatiblePeer)', () => {
    const net = makeNetwork(suite, 'ours');
    const other = makeNetwork(suite, 'theirs');
    const stranger = makeMember(other);
    expectCode(() => verifyChain(suite, stranger.chain, policyFor(net)), ErrorCode.NETWORK_MISMATCH, IncompatiblePeer);
    // even a LOGIN certificate of another network issued to our own login key
    const crossed = issueCertificate(suite, other.root, { ...net.loginFields });
    expectCode(
      () => verifyChain(suite, [crossed], policyFor(net, { acceptedRoles: [Role.ROLE_LOGIN] })),
      ErrorCode.NETWORK_MISMATCH,
    );
  });

  it('[ID-CHAIN-4] the certificate a root issues must be LOGIN: a USER or SUPERNODE under the root is CHAIN_INVALID', () => {
    const net = makeNetwork(suite, 'chain-4');
    const k = generateSigningKey(suite, net.random);
    for (const role of [Role.ROLE_USER, Role.ROLE_SUPERNODE]) {
      const direct = issueCertificate(suite, net.root, {
        ...net.loginFields,
        subject: 'direct',
        subjectKey: k.publicKey,
        role,
        notBefore: NOW - HOUR,
        notAfter: NOW + HOUR,
      });
      expectCode(
        () => verifyChain(suite, [direct], policyFor(net, { acceptedRoles: [role] })),
        ErrorCode.CHAIN_INVALID,
      );
    }
  });

  it("[ID-CHAIN-5] a certificate not issued by the next certificate's subject is CERT_UNKNOWN_ISSUER", () => {
    const net = makeNetwork(suite, 'chain-5');
    const other = makeNetwork(suite, 'chain-5-other');
    const stranger = makeMember(other);
    // other network's USER certificate, our LOGIN certificate
    expectCode(
      () => verifyChain(suite, [stranger.cert, net.loginCert], policyFor(net)),
      ErrorCode.CERT_UNKNOWN_ISSUER,
      IdentityError,
    );
    // issued by the user key itself
    const alice = makeMember(net);
    const selfIssued = issueCertificate(suite, alice.key, { ...alice.fields, serial: 2 });
    expectCode(() => verifyChain(suite, [selfIssued, net.loginCert], policyFor(net)), ErrorCode.CERT_UNKNOWN_ISSUER);
  });

  it('[ID-CHAIN-6] a LOGIN certificate below the top (issued by a LOGIN key) is CHAIN_INVALID', () => {
    const net = makeNetwork(suite, 'chain-6');
    const k = generateSigningKey(suite, net.random);
    const subLogin = issueCertificate(suite, net.login, { ...net.loginFields, subjectKey: k.publicKey, serial: 9 });
    expectCode(
      () => verifyChain(suite, [subLogin, net.loginCert], policyFor(net, { acceptedRoles: [Role.ROLE_LOGIN] })),
      ErrorCode.CHAIN_INVALID,
    );
  });

  it("[ID-CHAIN-7] a certificate for its issuer's key or for a trust anchor is CHAIN_INVALID", () => {
    const net = makeNetwork(suite, 'chain-7');
    const ofLogin = makeMember(net, { subjectKey: net.login.publicKey });
    expectCode(() => verifyChain(suite, ofLogin.chain, policyFor(net)), ErrorCode.CHAIN_INVALID);
    const ofRoot = makeMember(net, { subjectKey: net.root.publicKey });
    expectCode(() => verifyChain(suite, ofRoot.chain, policyFor(net)), ErrorCode.CHAIN_INVALID);
  });

  it('[ID-CHAIN-8] a revoked serial is CERT_REVOKED; the hook is asked with issuer key id and serial', () => {
    const net = makeNetwork(suite, 'chain-8');
    const alice = makeMember(net, {}, 777);
    const asked: string[] = [];
    const isRevoked = (issuer: Uint8Array, serial: number): boolean => {
      asked.push(`${hex(issuer)}:${serial}`);
      return hex(issuer) === hex(net.login.keyId) && serial === 777;
    };
    expectCode(
      () => verifyChain(suite, alice.chain, policyFor(net, { isRevoked })),
      ErrorCode.CERT_REVOKED,
      IdentityError,
    );
    expect(asked).toEqual([`${hex(net.root.keyId)}:1`, `${hex(net.login.keyId)}:777`]);
    const bob = makeMember(net, { subject: 'bob' }, 778);
    expect(verifyChain(suite, bob.chain, policyFor(net, { isRevoked })).leaf.subject).toBe('bob');
    // a revoked LOGIN certificate takes every chain below it down
    const loginRevoked = (issuer: Uint8Array, serial: number) => hex(issuer) === hex(net.root.keyId) && serial === 1;
    expectCode(
      () => verifyChain(suite, bob.chain, policyFor(net, { isRevoked: loginRevoked })),
      ErrorCode.CERT_REVOKED,
    );
  });

  it('[ID-CHAIN-9] a leaf role the use does not accept is CERT_WRONG_ROLE', () => {
    const net = makeNetwork(suite, 'chain-9');
    const alice = makeMember(net);
    expectCode(
      () => verifyChain(suite, alice.chain, policyFor(net, { acceptedRoles: [Role.ROLE_SUPERNODE] })),
      ErrorCode.CERT_WRONG_ROLE,
      IdentityError,
    );
    expectCode(() => verifyChain(suite, [net.loginCert], policyFor(net)), ErrorCode.CERT_WRONG_ROLE);
  });

  it('[ID-CHAIN-3] a bad signature on the leaf or on the LOGIN certificate is BAD_SIGNATURE', () => {
    const net = makeNetwork(suite, 'chain-sig');
    const alice = makeMember(net);
    for (const at of [0, 1]) {
      const chain = alice.chain.map((c) => new Uint8Array(c));
      const s = decodeSigned(chain[at]!);
      const sigStart = chain[at]!.length - 64 - 34 - 2; // signature, then signer_key_id (34), then context (2)
      expect(Array.from(chain[at]!.subarray(sigStart, sigStart + 64))).toEqual(Array.from(s.signature));
      chain[at]![sigStart + 10]! ^= 1;
      expectCode(() => verifyChain(suite, chain, policyFor(net)), ErrorCode.BAD_SIGNATURE, IdentityError);
    }
  });

  it('[ID-CHAIN-3] a certificate signed under another context is WRONG_CONTEXT', () => {
    const net = makeNetwork(suite, 'chain-ctx');
    const k = generateSigningKey(suite, net.random);
    const asPresence = signObject(
      suite,
      net.login,
      SignatureContext.SIGNATURE_CONTEXT_PRESENCE_RECORD,
      encodeCertificate(userCertificate(net.login, k.publicKey)),
    );
    expectCode(() => verifyChain(suite, [asPresence, net.loginCert], policyFor(net)), ErrorCode.WRONG_CONTEXT);
  });

  it('[ID-CHAIN-3] applies the steps in order, walking from the top certificate to the leaf', () => {
    const net = makeNetwork(suite, 'chain-order');
    const other = makeNetwork(suite, 'chain-order-other');
    const expiredAlice = makeMember(net, { notBefore: NOW - 3 * DAY, notAfter: NOW - 2 * DAY });
    // time (step 2.8) before role (step 3)
    expectCode(
      () => verifyChain(suite, expiredAlice.chain, policyFor(net, { acceptedRoles: [Role.ROLE_SUPERNODE] })),
      ErrorCode.CERT_EXPIRED,
    );
    // the top certificate first: an unpinned top hides a bad leaf
    const badLeaf = new Uint8Array(expiredAlice.cert);
    badLeaf[20]! ^= 0xff;
    expectCode(() => verifyChain(suite, [badLeaf, other.loginCert], policyFor(net)), ErrorCode.NETWORK_MISMATCH);
    // issuer (step 2.2) before signature (step 2.3)
    const stranger = makeMember(other);
    const s = decodeSigned(stranger.cert);
    s.signature[0]! ^= 1;
    expectCode(() => verifyChain(suite, [s, net.loginCert], policyFor(net)), ErrorCode.CERT_UNKNOWN_ISSUER);
    // length (step 1) before anything
    expectCode(() => verifyChain(suite, [badLeaf, badLeaf, badLeaf], policyFor(net)), ErrorCode.CHAIN_INVALID);
    // revocation (2.9) after time (2.8)
    expectCode(
      () => verifyChain(suite, expiredAlice.chain, policyFor(net, { isRevoked: () => true })),
      ErrorCode.CERT_REVOKED, // the LOGIN certificate is checked first and is revoked
    );
    expectCode(
      () =>
        verifyChain(
          suite,
          expiredAlice.chain,
          policyFor(net, { isRevoked: (_i, serial) => serial === expiredAlice.fields.serial }),
        ),
      ErrorCode.CERT_EXPIRED,
    );
  });

  it('[ID-CHAIN-3] verifies each signature exactly once, and none for a chain refused before its signatures', () => {
    const net = makeNetwork(suite, 'chain-count');
    const alice = makeMember(net);
    const c = countingVerifies(suite);
    verifyChain(c, alice.chain, policyFor(net));
    expect(c.verifies).toBe(2);
    c.verifies = 0;
    expectCode(() => verifyChain(c, [alice.cert, alice.cert, alice.cert], policyFor(net)), ErrorCode.CHAIN_INVALID);
    expect(c.verifies).toBe(0);
  });

  it('[ID-CHAIN-3] accepts decoded Signed envelopes as well as encoded ones', () => {
    const net = makeNetwork(suite, 'chain-decoded');
    const alice = makeMember(net);
    expect(verifyChain(suite, alice.chain.map(decodeSigned), policyFor(net)).leaf.subject).toBe('alice');
  });

  it('[ID-ROOT-1] with several pinned anchors, a chain ending at any of them is accepted and names it', () => {
    const net = makeNetwork(suite, 'root-old');
    const newRoot = createRootKey(suite, net.random);
    const newLoginCert = issueCertificate(suite, newRoot, { ...net.loginFields, serial: 2 });
    const alice = makeMember(net);
    const anchors = [net.root.publicKey, newRoot.publicKey];
    const viaOld = verifyChain(suite, alice.chain, policyFor(net, { trustAnchors: anchors }));
    const viaNew = verifyChain(suite, [alice.cert, newLoginCert], policyFor(net, { trustAnchors: anchors }));
    expect(hex(viaOld.networkFingerprint)).toBe(hex(net.root.networkFingerprint));
    expect(hex(viaNew.networkFingerprint)).toBe(hex(newRoot.networkFingerprint));
  });

  it('[ID-ROOT-3] once an anchor is removed, chains ending at it are NETWORK_MISMATCH', () => {
    const net = makeNetwork(suite, 'root-removed');
    const newRoot = createRootKey(suite, net.random);
    const alice = makeMember(net);
    expectCode(
      () => verifyChain(suite, alice.chain, policyFor(net, { trustAnchors: [newRoot.publicKey] })),
      ErrorCode.NETWORK_MISMATCH,
      IncompatiblePeer,
    );
  });
});
