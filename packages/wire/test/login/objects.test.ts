// The signed objects of spec/06-login-server.md: verification of what
// a login server signs (LOGIN-PUB-*), the network policy (POLICY-*, POLICY-DENY-*), the supernode list
// (LOGIN-LIST-*, LOGIN-SN-2), the revocation list (LOGIN-REVOKE-*), certificate requests (LOGIN-CERT-2,
// LOGIN-CERT-3) and signed prekeys (LOGIN-PREKEY-2).
import Long from 'long';
import { describe, expect, it } from 'vitest';
import { nobleCrypto, nodeCrypto } from '../../src/crypto/index.js';
import { seededRandom } from '../../src/crypto/random.js';
import { ApiMisuse, ErrorCode, ProtocolViolation } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import { type Certificate, issueCertificate, Role } from '../../src/identity/certificate.js';
import { generateSigningKey } from '../../src/identity/keys.js';
import {
  decodeSigned,
  MAX_LIST_PAGE_BYTES,
  MAX_NETWORK_POLICY_BYTES,
  SignatureContext,
  signObject,
  signWithContext,
} from '../../src/identity/signed.js';
import {
  checkPolicyNewer,
  decodeNetworkPolicy,
  derivePlacementKey,
  effectivePolicy,
  isSoftwareDenied,
  MAX_LIST_PAGES,
  MAX_REVOCATIONS_PER_PAGE,
  MAX_SUPERNODE_ENTRIES_PER_PAGE,
  PlacementKeyCache,
  POLICY_BOUNDS,
  POLICY_DEFAULTS,
  type RevokedSerial,
  type SupernodeListEntry,
  signCertificateRequest,
  signNetworkPolicy,
  signRevocationList,
  signSignedPrekey,
  signSupernodeList,
  verifyCertificateRequest,
  verifyLoginSigned,
  verifyNetworkPolicy,
  verifyRevocationListPage,
  verifySignedPrekey,
  verifySupernodeListPage,
} from '../../src/login/index.js';
import { DAY, expectCode, HOUR, makeMember, makeNetwork, NOW } from '../identity/fixtures.js';

const suite = nodeCrypto;
const net = makeNetwork(suite, 'login objects');
const other = makeNetwork(suite, 'another network');
const policy = { trustAnchors: [net.root.publicKey], nowMs: NOW };
const SECOND = 1000;
const C = SignatureContext;

type PolicyProps = parley.v1.NetworkPolicy.$Properties;
/** A policy with numbers for its 64-bit fields (the generated types want Long). */
const props = (p: Record<string, unknown>): PolicyProps => p as unknown as PolicyProps;

/** A NetworkPolicy body signed as-is, without the sender's checks (bodies a receiver must refuse). */
function signRawPolicy(p: Record<string, unknown>): Uint8Array {
  const body = parley.v1.NetworkPolicy.encode(p as never).finish();
  return signObject(suite, net.login, C.SIGNATURE_CONTEXT_NETWORK_POLICY, body);
}

function flipSignatureBit(signed: Uint8Array): Uint8Array {
  const e = decodeSigned(signed);
  const signature = Uint8Array.from(e.signature);
  signature[10]! ^= 0x04;
  return parley.v1.Signed.encode({ ...e, signature }).finish();
}

// ---- LOGIN-PUB ----------------------------------------------------------------------------------------

describe('objects signed by the login server [LOGIN-PUB-1] [LOGIN-PUB-2]', () => {
  const signed = signNetworkPolicy(suite, net.login, props({ version: 3 }));

  it('[LOGIN-PUB-1] [LOGIN-PUB-2] verifies under the login certificate issued by the pinned root, on both suites', () => {
    for (const s of [nodeCrypto, nobleCrypto]) {
      const { body, issuer } = verifyLoginSigned(s, signed, net.loginCert, C.SIGNATURE_CONTEXT_NETWORK_POLICY, policy);
      expect(issuer.role).toBe(Role.ROLE_LOGIN);
      expect([...body]).toEqual([...decodeSigned(signed).body]);
    }
  });

  it('[LOGIN-PUB-2] [ID-CHAIN-4] a login certificate of another network is NETWORK_MISMATCH', () => {
    const theirs = signNetworkPolicy(suite, other.login, props({ version: 3 }));
    expectCode(
      () => verifyLoginSigned(suite, theirs, other.loginCert, C.SIGNATURE_CONTEXT_NETWORK_POLICY, policy),
      ErrorCode.NETWORK_MISMATCH,
    );
    // ours, with their certificate: still the other network
    expectCode(
      () => verifyLoginSigned(suite, signed, other.loginCert, C.SIGNATURE_CONTEXT_NETWORK_POLICY, policy),
      ErrorCode.NETWORK_MISMATCH,
    );
  });

  it('[LOGIN-PUB-2] [ID-CERT-12] an expired login certificate is CERT_EXPIRED', () => {
    const expired = issueCertificate(suite, net.root, {
      ...net.loginFields,
      serial: 2,
      notBefore: NOW - 40 * DAY,
      notAfter: NOW - 10 * DAY,
    });
    expectCode(
      () => verifyLoginSigned(suite, signed, expired, C.SIGNATURE_CONTEXT_NETWORK_POLICY, policy),
      ErrorCode.CERT_EXPIRED,
    );
  });

  it('[LOGIN-PUB-2] [ID-CHAIN-4] a certificate of another role than LOGIN is refused: CHAIN_INVALID from the root, NETWORK_MISMATCH from the login key', () => {
    // A chain of one certificate must be a LOGIN certificate issued by a root (ID-CHAIN-3 step 2.6), so
    // CERT_WRONG_ROLE (step 3) is never reached here: the position check refuses every other role first.
    const userByRoot = issueCertificate(suite, net.root, {
      ...net.loginFields,
      role: Role.ROLE_USER,
      serial: 3,
      notBefore: NOW - HOUR,
      notAfter: NOW + DAY,
    });
    const user = makeMember(net);
    const byUser = signObject(suite, user.key, C.SIGNATURE_CONTEXT_NETWORK_POLICY, decodeSigned(signed).body);
    expectCode(
      () => verifyLoginSigned(suite, signed, userByRoot, C.SIGNATURE_CONTEXT_NETWORK_POLICY, policy),
      ErrorCode.CHAIN_INVALID,
    );
    expectCode(
      () => verifyLoginSigned(suite, byUser, user.cert, C.SIGNATURE_CONTEXT_NETWORK_POLICY, policy),
      ErrorCode.NETWORK_MISMATCH,
    );
  });

  it('[LOGIN-PUB-2] [ID-SIG-7] an object expected in another context is WRONG_CONTEXT', () => {
    expectCode(
      () => verifyLoginSigned(suite, signed, net.loginCert, C.SIGNATURE_CONTEXT_SUPERNODE_LIST, policy),
      ErrorCode.WRONG_CONTEXT,
    );
    const page = signSupernodeList(suite, net.login, {
      epoch: 1,
      issuedAtMs: NOW,
      expiresAtMs: NOW + HOUR,
      entries: [],
    })[0]!;
    expectCode(() => verifyNetworkPolicy(suite, page, net.loginCert, policy), ErrorCode.WRONG_CONTEXT);
    expectCode(() => verifyRevocationListPage(suite, page, net.loginCert, policy), ErrorCode.WRONG_CONTEXT);
  });

  it("[LOGIN-PUB-2] [ID-SIG-8] a body signed by a key other than the login certificate's is CERT_UNKNOWN_ISSUER", () => {
    const stranger = generateSigningKey(suite, net.random);
    const forged = signObject(suite, stranger, C.SIGNATURE_CONTEXT_NETWORK_POLICY, decodeSigned(signed).body);
    expectCode(
      () => verifyLoginSigned(suite, forged, net.loginCert, C.SIGNATURE_CONTEXT_NETWORK_POLICY, policy),
      ErrorCode.CERT_UNKNOWN_ISSUER,
    );
  });

  it('[LOGIN-PUB-2] [ID-SIG-6] a flipped signature bit is BAD_SIGNATURE', () => {
    expectCode(
      () =>
        verifyLoginSigned(suite, flipSignatureBit(signed), net.loginCert, C.SIGNATURE_CONTEXT_NETWORK_POLICY, policy),
      ErrorCode.BAD_SIGNATURE,
    );
  });

  it('[LOGIN-PUB-2] [ID-CHAIN-8] a revoked login certificate is CERT_REVOKED', () => {
    const isRevoked = (_issuer: Uint8Array, serial: number) => serial === 1;
    expectCode(
      () =>
        verifyLoginSigned(suite, signed, net.loginCert, C.SIGNATURE_CONTEXT_NETWORK_POLICY, { ...policy, isRevoked }),
      ErrorCode.CERT_REVOKED,
    );
  });
});

// ---- POLICY -------------------------------------------------------------------------------------------

describe('the network policy [POLICY-GEN-1] .. [POLICY-GEN-5]', () => {
  const full = props({
    version: 7,
    issuedAt: NOW,
    protocolVersions: [1, 2],
    deniedSoftware: ['parley-ref/0.3.', 'evil/1.0'],
    userCertLifetimeS: 12 * 3600,
    supernodeCertLifetimeS: 3 * 3600,
    certClockSkewS: 60,
    replicationFactor: 5,
    heartbeatIntervalS: 20,
    election: {
      mode: parley.v1.ElectionMode.ELECTION_MODE_OPEN,
      minUptimeS: 7200,
      minUpstreamKbps: 2000,
      minAttestations: 3,
      targetLoad: 500,
      hysteresisPercent: 10,
      cooldownS: 600,
      maxSharePerVersionPercent: 50,
      maxSharePerPrefixPercent: 20,
      minSupernodes: 5,
    },
    relay: {
      allocationLifetimeS: 300,
      allocationBytes: 2 ** 40,
      allocationBytesPerS: 1_000_000,
      allocationsPerUser: 2,
    },
    directory: {
      presenceLifetimeS: 300,
      offlineLifetimeS: 7 * 86_400,
      offlineMessagesPerRecipient: 500,
      offlineBytesPerRecipient: 1_000_000,
      offlineMessagesPerSender: 50,
    },
    rateLimits: {
      loginFailuresPerWindow: 3,
      loginFailureWindowS: 600,
      loginBackoffBaseMs: 500,
      loginBackoffMaxMs: 60_000,
      addressBucketCapacity: 10,
      addressRefillPerMinute: 30,
      searchPerMinute: 20,
    },
  });

  it('[POLICY-GEN-1] [LOGIN-PUB-2] sign then verify gives every field back, seconds as milliseconds', () => {
    const signed = signNetworkPolicy(suite, net.login, full);
    expect(decodeSigned(signed).context).toBe(C.SIGNATURE_CONTEXT_NETWORK_POLICY);
    expect(verifyNetworkPolicy(suite, signed, net.loginCert, policy)).toStrictEqual({
      version: 7,
      issuedAtMs: NOW,
      protocolVersions: [1, 2],
      deniedSoftware: ['parley-ref/0.3.', 'evil/1.0'],
      userCertLifetimeMs: 12 * HOUR,
      supernodeCertLifetimeMs: 3 * HOUR,
      certClockSkewMs: 60 * SECOND,
      replicationFactor: 5,
      heartbeatIntervalMs: 20 * SECOND,
      election: {
        mode: parley.v1.ElectionMode.ELECTION_MODE_OPEN,
        minUptimeMs: 2 * HOUR,
        minUpstreamKbps: 2000,
        minAttestations: 3,
        targetLoad: 500,
        hysteresisPercent: 10,
        cooldownMs: 600 * SECOND,
        maxSharePerVersionPercent: 50,
        maxSharePerPrefixPercent: 20,
        minSupernodes: 5,
      },
      relay: {
        allocationLifetimeMs: 300 * SECOND,
        allocationBytes: 2 ** 40,
        allocationBytesPerS: 1_000_000,
        allocationsPerUser: 2,
      },
      directory: {
        presenceLifetimeMs: 300 * SECOND,
        offlineLifetimeMs: 7 * DAY,
        offlineMessagesPerRecipient: 500,
        offlineBytesPerRecipient: 1_000_000,
        offlineMessagesPerSender: 50,
      },
      rateLimits: {
        loginFailuresPerWindow: 3,
        loginFailureWindowMs: 600 * SECOND,
        loginBackoffBaseMs: 500,
        loginBackoffMaxMs: 60_000,
        addressBucketCapacity: 10,
        addressRefillPerMinute: 30,
        searchPerMinute: 20,
      },
    });
  });

  it('[POLICY-GEN-3] every zero or absent field takes its default (POLICY_DEFAULTS), nested messages absent or empty alike', () => {
    const expected = { version: 1, issuedAtMs: 0, ...structuredClone(POLICY_DEFAULTS) };
    expect(
      verifyNetworkPolicy(suite, signNetworkPolicy(suite, net.login, props({ version: 1 })), net.loginCert, policy),
    ).toStrictEqual(expected);
    const zeros = signRawPolicy({ version: 1, election: {}, relay: {}, rateLimits: {} });
    expect(verifyNetworkPolicy(suite, zeros, net.loginCert, policy)).toStrictEqual(expected);
    // explicit zero values on the wire (non-canonical, WIRE-ENC-2) mean the default too
    const body = Uint8Array.from([0x08, 0x01, 0x28, 0x00, 0x40, 0x00, 0x52, 0x02, 0x10, 0x00]);
    expect(effectivePolicy(decodeNetworkPolicy(body))).toStrictEqual(expected);
  });

  it('[POLICY-GEN-3] the defaults are those of spec/00-conventions.md §5 and cannot be changed at run time', () => {
    expect(POLICY_DEFAULTS.userCertLifetimeMs).toBe(24 * HOUR);
    expect(POLICY_DEFAULTS.supernodeCertLifetimeMs).toBe(6 * HOUR);
    expect(POLICY_DEFAULTS.certClockSkewMs).toBe(5 * 60 * SECOND);
    expect(POLICY_DEFAULTS.replicationFactor).toBe(3);
    expect(POLICY_DEFAULTS.relay.allocationBytes).toBe(128 * 1024 * 1024);
    expect(Object.isFrozen(POLICY_DEFAULTS.election)).toBe(true);
    expect(Object.isFrozen(POLICY_DEFAULTS.protocolVersions)).toBe(true);
    const e = effectivePolicy(decodeNetworkPolicy(Uint8Array.of(0x08, 0x01)));
    e.protocolVersions.push(9);
    e.election.targetLoad = 1;
    expect(POLICY_DEFAULTS.protocolVersions).toEqual([1]);
    expect(POLICY_DEFAULTS.election.targetLoad).toBe(800);
  });

  const bounds: { name: string; over: Record<string, unknown>; at: Record<string, unknown> }[] = [
    {
      name: 'user_cert_lifetime_s',
      over: { userCertLifetimeS: POLICY_BOUNDS.userCertLifetimeMs / SECOND + 1 },
      at: { userCertLifetimeS: POLICY_BOUNDS.userCertLifetimeMs / SECOND },
    },
    {
      name: 'supernode_cert_lifetime_s',
      over: { supernodeCertLifetimeS: POLICY_BOUNDS.supernodeCertLifetimeMs / SECOND + 1 },
      at: { supernodeCertLifetimeS: POLICY_BOUNDS.supernodeCertLifetimeMs / SECOND },
    },
    {
      name: 'cert_clock_skew_s',
      over: { certClockSkewS: POLICY_BOUNDS.certClockSkewMs / SECOND + 1 },
      at: { certClockSkewS: POLICY_BOUNDS.certClockSkewMs / SECOND },
    },
    {
      name: 'replication_factor',
      over: { replicationFactor: POLICY_BOUNDS.replicationFactor + 1 },
      at: { replicationFactor: POLICY_BOUNDS.replicationFactor },
    },
    {
      name: 'heartbeat_interval_s',
      over: { heartbeatIntervalS: POLICY_BOUNDS.heartbeatIntervalMs / SECOND + 1 },
      at: { heartbeatIntervalS: POLICY_BOUNDS.heartbeatIntervalMs / SECOND },
    },
    { name: 'election.mode', over: { election: { mode: 4 } }, at: { election: { mode: 3 } } },
    {
      name: 'election.max_share_per_version_percent',
      over: { election: { maxSharePerVersionPercent: 101 } },
      at: { election: { maxSharePerVersionPercent: 100 } },
    },
    {
      name: 'election.max_share_per_prefix_percent',
      over: { election: { maxSharePerPrefixPercent: 101 } },
      at: { election: { maxSharePerPrefixPercent: 100 } },
    },
    {
      name: 'rate_limits.login_backoff_base_ms above login_backoff_max_ms',
      over: { rateLimits: { loginBackoffBaseMs: 2001, loginBackoffMaxMs: 2000 } },
      at: { rateLimits: { loginBackoffBaseMs: 2000, loginBackoffMaxMs: 2000 } },
    },
    {
      name: 'rate_limits.login_backoff_base_ms above the default maximum',
      over: { rateLimits: { loginBackoffBaseMs: POLICY_DEFAULTS.rateLimits.loginBackoffMaxMs + 1 } },
      at: { rateLimits: { loginBackoffBaseMs: POLICY_DEFAULTS.rateLimits.loginBackoffMaxMs } },
    },
  ];
  for (const b of bounds) {
    it(`[POLICY-GEN-4] ${b.name}: beyond its bound MALFORMED for a receiver, API_MISUSE for the signer; at the bound accepted`, () => {
      expectCode(
        () => verifyNetworkPolicy(suite, signRawPolicy({ version: 2, ...b.over }), net.loginCert, policy),
        ErrorCode.MALFORMED,
      );
      expectCode(
        () => signNetworkPolicy(suite, net.login, props({ version: 2, ...b.over })),
        ErrorCode.API_MISUSE,
        ApiMisuse,
      );
      const ok = verifyNetworkPolicy(
        suite,
        signNetworkPolicy(suite, net.login, props({ version: 2, ...b.at })),
        net.loginCert,
        policy,
      );
      expect(ok.version).toBe(2);
    });
  }

  it('[POLICY-GEN-4] the bounds are those of ID-CERT-10 and ID-CERT-13', () => {
    expect(POLICY_BOUNDS).toStrictEqual({
      userCertLifetimeMs: 7 * DAY,
      supernodeCertLifetimeMs: DAY,
      certClockSkewMs: HOUR,
      replicationFactor: 16,
      heartbeatIntervalMs: 10 * 60 * SECOND,
      directory: {
        presenceLifetimeMs: 15 * 60 * SECOND,
        offlineLifetimeMs: 90 * DAY,
        offlineMessagesPerRecipient: 100_000,
        offlineBytesPerRecipient: 1024 * 1024 * 1024,
      },
    });
  });

  it('[POLICY-GEN-4] directory parameters beyond their bounds, or more per sender than per recipient, are MALFORMED', () => {
    const cases: Record<string, unknown>[] = [
      { presenceLifetimeS: 15 * 60 + 1 },
      { offlineLifetimeS: 90 * 86_400 + 1 },
      { offlineMessagesPerRecipient: 100_001 },
      { offlineBytesPerRecipient: 1024 * 1024 * 1024 + 1 },
      { offlineMessagesPerRecipient: 10, offlineMessagesPerSender: 11 },
      { offlineMessagesPerSender: 1_001 },
    ];
    for (const directory of cases) {
      const signed = signRawPolicy({ version: 1, directory });
      expect(() => verifyNetworkPolicy(suite, signed, net.loginCert, policy), JSON.stringify(directory)).toThrow(
        expect.objectContaining({ code: ErrorCode.MALFORMED }),
      );
    }
    const edge = signRawPolicy({ version: 1, directory: { presenceLifetimeS: 900, offlineMessagesPerSender: 1_000 } });
    expect(verifyNetworkPolicy(suite, edge, net.loginCert, policy).directory.offlineMessagesPerSender).toBe(1_000);
  });

  it('[POLICY-GEN-2] version 0 is MISSING_FIELD; protocol version 0 or twice and an empty or controlled denied entry are refused', () => {
    const cases: [Record<string, unknown>, ErrorCode][] = [
      [{ issuedAt: NOW }, ErrorCode.MISSING_FIELD],
      [{ version: 1, protocolVersions: [0] }, ErrorCode.MALFORMED],
      [{ version: 1, protocolVersions: [1, 2, 1] }, ErrorCode.MALFORMED],
      [{ version: 1, deniedSoftware: [''] }, ErrorCode.MISSING_FIELD],
      [{ version: 1, deniedSoftware: ['bad\u0007'] }, ErrorCode.MALFORMED],
      [{ version: 1, deniedSoftware: ['x\u202e'] }, ErrorCode.MALFORMED],
      [{ version: 1, protocolVersions: Array.from({ length: 17 }, (_, i) => i + 1) }, ErrorCode.FIELD_LIMIT],
      [{ version: 1, deniedSoftware: Array.from({ length: 65 }, (_, i) => `s${i}/`) }, ErrorCode.FIELD_LIMIT],
      [{ version: 1, deniedSoftware: ['x'.repeat(65)] }, ErrorCode.FIELD_LIMIT],
      [{ version: Long.fromString('9007199254740992', true) }, ErrorCode.INTEGER_RANGE],
    ];
    for (const [p, code] of cases) {
      expectCode(() => verifyNetworkPolicy(suite, signRawPolicy(p), net.loginCert, policy), code);
      expectCode(() => signNetworkPolicy(suite, net.login, props(p)), ErrorCode.API_MISUSE, ApiMisuse);
    }
  });

  it('[POLICY-GEN-1] [ID-SIG-5] a policy body above 8,192 bytes is FIELD_LIMIT, and the signer refuses it', () => {
    const big = {
      version: 1,
      deniedSoftware: Array.from({ length: 64 }, (_, i) => `${i}`.padEnd(64, 'x')),
      protocolVersions: [1],
    };
    const body = parley.v1.NetworkPolicy.encode(big as never).finish();
    expect(body.length).toBeLessThan(MAX_NETWORK_POLICY_BYTES); // 64 x 66 bytes: the limits keep it below
    const padded = Uint8Array.from([...body, ...[0xfa, 0x3e], ...[0xff, 0x21], ...new Uint8Array(4351)]); // unknown field 999
    expect(padded.length).toBeGreaterThan(MAX_NETWORK_POLICY_BYTES);
    const signed = parley.v1.Signed.encode({
      body: padded,
      signature: signWithContext(suite, net.login.seed, C.SIGNATURE_CONTEXT_NETWORK_POLICY, padded),
      signerKeyId: net.login.keyId,
      context: C.SIGNATURE_CONTEXT_NETWORK_POLICY,
    }).finish();
    expectCode(() => verifyNetworkPolicy(suite, signed, net.loginCert, policy), ErrorCode.FIELD_LIMIT);
    expectCode(() => signObject(suite, net.login, C.SIGNATURE_CONTEXT_NETWORK_POLICY, padded), ErrorCode.API_MISUSE);
  });

  it('[POLICY-GEN-1] [WIRE-UTF8-2] the signer refuses a lone surrogate and a fractional or negative number', () => {
    expectCode(
      () => signNetworkPolicy(suite, net.login, props({ version: 1, deniedSoftware: ['a\ud800'] })),
      ErrorCode.API_MISUSE,
    );
    expectCode(() => signNetworkPolicy(suite, net.login, props({ version: 1.5 })), ErrorCode.API_MISUSE);
    expectCode(
      () => signNetworkPolicy(suite, net.login, props({ version: 1, replicationFactor: -1 })),
      ErrorCode.API_MISUSE,
    );
  });

  it('[POLICY-GEN-5] a policy older than the one held is TOO_OLD; the same or a newer one is accepted', () => {
    expectCode(() => checkPolicyNewer(5, 4), ErrorCode.TOO_OLD, ProtocolViolation);
    expectCode(() => checkPolicyNewer(Number.MAX_SAFE_INTEGER, 1), ErrorCode.TOO_OLD);
    expect(() => checkPolicyNewer(5, 5)).not.toThrow();
    expect(() => checkPolicyNewer(5, 6)).not.toThrow();
    expect(() => checkPolicyNewer(0, 1)).not.toThrow();
  });
});

describe('the kill switch [POLICY-DENY-1]', () => {
  it('[POLICY-DENY-1] an entry denies exactly its own string', () => {
    expect(isSoftwareDenied(['evil/1.0'], 'evil/1.0')).toBe(true);
    expect(isSoftwareDenied(['evil/1.0'], 'evil/1.0.1')).toBe(false);
    expect(isSoftwareDenied(['evil/1.0'], 'evil/1')).toBe(false);
    expect(isSoftwareDenied(['evil/1.0'], 'Evil/1.0')).toBe(false);
    expect(isSoftwareDenied(['evil/1.0'], ' evil/1.0')).toBe(false);
  });

  it("[POLICY-DENY-1] an entry ending in '.' or '/' is a prefix: 'parley-ref/0.3.' denies 0.3.1, not 0.30", () => {
    const denied = ['parley-ref/0.3.'];
    expect(isSoftwareDenied(denied, 'parley-ref/0.3.1')).toBe(true);
    expect(isSoftwareDenied(denied, 'parley-ref/0.3.12-beta')).toBe(true);
    expect(isSoftwareDenied(denied, 'parley-ref/0.3.')).toBe(true);
    expect(isSoftwareDenied(denied, 'parley-ref/0.30')).toBe(false);
    expect(isSoftwareDenied(denied, 'parley-ref/0.30.1')).toBe(false);
    expect(isSoftwareDenied(denied, 'parley-ref/0.3')).toBe(false);
    expect(isSoftwareDenied(['badclient/'], 'badclient/9.9')).toBe(true);
    expect(isSoftwareDenied(['badclient/'], 'badclient2/1.0')).toBe(false);
  });

  it('[POLICY-DENY-1] other entries are never prefixes; nothing is denied by an empty list or denies the empty string', () => {
    expect(isSoftwareDenied(['parley-ref/0.3'], 'parley-ref/0.3.1')).toBe(false);
    expect(isSoftwareDenied(['parley-ref/0'], 'parley-ref/0.30')).toBe(false);
    expect(isSoftwareDenied([], 'anything')).toBe(false);
    expect(isSoftwareDenied(['a/', 'b.'], '')).toBe(false);
    expect(isSoftwareDenied(['x/1', 'parley-ref/'], 'parley-ref/1.0')).toBe(true);
  });
});

// ---- Supernode list ------------------------------------------------------------------------------------

const entry = (i: number, o: Partial<SupernodeListEntry> = {}): SupernodeListEntry => {
  const keyId = o.keyId ?? suite.sha256(Uint8Array.of(i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff));
  return {
    keyId,
    placementKey: derivePlacementKey(suite, net.login, keyId),
    endpoints: [{ protocol: 1, address: Uint8Array.of(198, 51, 100, i & 0xff), port: 4000 + (i % 1000) }],
    software: `parley-ref/0.1.${i % 10}`,
    loadPercent: i % 101,
    hosted: i % 7 === 0,
    notAfterMs: NOW + 6 * HOUR,
    ...o,
  };
};
/** An entry as large as the limits allow: 8 IPv6 endpoints and 64 bytes of software. */
const bigEntry = (i: number): SupernodeListEntry =>
  entry(i, {
    endpoints: Array.from({ length: 8 }, (_, k) => ({
      protocol: 2,
      address: new Uint8Array(16).fill(k + 1),
      port: 65_535,
    })),
    software: 'x'.repeat(64),
    notAfterMs: Number.MAX_SAFE_INTEGER,
  });
const list = (entries: SupernodeListEntry[]) => ({
  epoch: 42,
  issuedAtMs: NOW,
  expiresAtMs: NOW + 10 * 60 * SECOND,
  entries,
});

/** A SupernodeListPage body signed as-is (pages a receiver must refuse). */
function signRawPage(p: Record<string, unknown>, context = C.SIGNATURE_CONTEXT_SUPERNODE_LIST): Uint8Array {
  const type =
    context === C.SIGNATURE_CONTEXT_SUPERNODE_LIST ? parley.v1.SupernodeListPage : parley.v1.RevocationListPage;
  return signObject(suite, net.login, context, type.encode(p as never).finish());
}

describe('the supernode list [LOGIN-LIST-1] .. [LOGIN-LIST-4] [LOGIN-SN-2]', () => {
  it('[LOGIN-LIST-8] every entry carries the placement key derived from the login key, whatever the signer was given', () => {
    const given = { ...entry(1), placementKey: new Uint8Array(32).fill(7) };
    const [page] = signSupernodeList(suite, net.login, list([given, entry(2)]));
    const decoded = verifySupernodeListPage(suite, page!, net.loginCert, policy);
    for (const e of decoded.entries) {
      const signature = signWithContext(suite, net.login.seed, C.SIGNATURE_CONTEXT_PLACEMENT, e.keyId);
      expect(e.placementKey).toEqual(suite.sha256(signature));
      expect(e.placementKey).toEqual(derivePlacementKey(nobleCrypto, net.login, e.keyId));
    }
    // deterministic and key-specific: another login key places the same supernode elsewhere
    expect(derivePlacementKey(suite, net.login, given.keyId)).toEqual(decoded.entries[0]!.placementKey);
    const other = generateSigningKey(suite, seededRandom('another login key'));
    expect(derivePlacementKey(suite, other, given.keyId)).not.toEqual(decoded.entries[0]!.placementKey);
    expectCode(() => derivePlacementKey(suite, net.login, new Uint8Array(31)), ErrorCode.API_MISUSE);
  });

  it('[LOGIN-LIST-8] a placement-key cache changes no byte of the signed pages and stays within its bound', () => {
    const cache = new PlacementKeyCache(3);
    const entries = [entry(1), entry(2), entry(3)];
    const plain = signSupernodeList(suite, net.login, list(entries));
    expect(signSupernodeList(suite, net.login, list(entries), cache)).toEqual(plain);
    expect(cache.size).toBe(3);
    // again, from the cache: the same bytes
    expect(signSupernodeList(suite, net.login, list(entries), cache)).toEqual(plain);
    // a fourth key id beyond the bound empties the cache first
    signSupernodeList(suite, net.login, list([entry(4)]), cache);
    expect(cache.size).toBe(1);
  });

  it('[LOGIN-LIST-8] a page whose entry has no placement key, or one that is not 32 bytes, is refused', () => {
    const wire = (placementKey: Uint8Array) => ({
      epoch: 1,
      issuedAt: NOW,
      expiresAt: NOW + 1,
      page: 0,
      pageCount: 1,
      entries: [{ keyId: entry(1).keyId, placementKey, notAfter: NOW }],
    });
    const cases: [Uint8Array, ErrorCode][] = [
      [new Uint8Array(0), ErrorCode.MISSING_FIELD],
      [new Uint8Array(31), ErrorCode.MALFORMED],
      [new Uint8Array(33), ErrorCode.FIELD_LIMIT],
    ];
    for (const [key, code] of cases) {
      expectCode(() => verifySupernodeListPage(suite, signRawPage(wire(key)), net.loginCert, policy), code);
    }
    expect(
      verifySupernodeListPage(suite, signRawPage(wire(new Uint8Array(32))), net.loginCert, policy).entries,
    ).toHaveLength(1);
  });

  it('[LOGIN-LIST-1] [LOGIN-LIST-2] an empty list is one page, 0 of 1, with the header', () => {
    const pages = signSupernodeList(suite, net.login, list([]));
    expect(pages).toHaveLength(1);
    expect(verifySupernodeListPage(suite, pages[0]!, net.loginCert, policy)).toStrictEqual({
      version: 42,
      issuedAtMs: NOW,
      expiresAtMs: NOW + 10 * 60 * SECOND,
      page: 0,
      pageCount: 1,
      entries: [],
    });
  });

  it('[LOGIN-LIST-2] [LOGIN-LIST-3] [LOGIN-LIST-4] 501 entries are two pages, 500 and 1, in order, each verified with its page number', () => {
    const entries = Array.from({ length: 501 }, (_, i) => entry(i));
    const pages = signSupernodeList(suite, net.login, list(entries));
    expect(pages).toHaveLength(2);
    const decoded = pages.map((p) => verifySupernodeListPage(suite, p, net.loginCert, policy));
    expect(decoded.map((d) => [d.page, d.pageCount, d.entries.length, d.version])).toEqual([
      [0, 2, MAX_SUPERNODE_ENTRIES_PER_PAGE, 42],
      [1, 2, 1, 42],
    ]);
    expect(decoded.flatMap((d) => d.entries)).toStrictEqual(entries);
  });

  it('[LOGIN-LIST-2] [LOGIN-LIST-3] large entries split by size: every page body at most 60,000 bytes, order kept', () => {
    const entries = Array.from({ length: 700 }, (_, i) => bigEntry(i));
    const pages = signSupernodeList(suite, net.login, list(entries));
    const bodies = pages.map((p) => decodeSigned(p).body.length);
    expect(pages.length).toBeGreaterThan(2);
    for (const n of bodies) expect(n).toBeLessThanOrEqual(MAX_LIST_PAGE_BYTES);
    // pages are filled: adding the next entry would have crossed the limit
    expect(bodies[0]!).toBeGreaterThan(MAX_LIST_PAGE_BYTES - 400);
    const decoded = pages.map((p) => verifySupernodeListPage(suite, p, net.loginCert, policy));
    expect(decoded.map((d) => d.page)).toEqual(pages.map((_, i) => i));
    expect(decoded.every((d) => d.pageCount === pages.length)).toBe(true);
    expect(decoded.flatMap((d) => d.entries)).toStrictEqual(entries);
  });

  it('[LOGIN-LIST-3] a list needing more than 64 pages is refused by the signer (ApiMisuse)', () => {
    // big entries: 324 bytes each on the wire, so 185 fit in 60,000 bytes and 64 pages hold 11,840
    const entries = Array.from({ length: 200 * MAX_LIST_PAGES }, (_, i) => bigEntry(i));
    expectCode(() => signSupernodeList(suite, net.login, list(entries)), ErrorCode.API_MISUSE, ApiMisuse);
    const many = Array.from({ length: MAX_SUPERNODE_ENTRIES_PER_PAGE * MAX_LIST_PAGES + 1 }, (_, i) => entry(i));
    expectCode(() => signSupernodeList(suite, net.login, list(many)), ErrorCode.API_MISUSE, ApiMisuse);
    expect(signSupernodeList(suite, net.login, list(many.slice(1)))).toHaveLength(MAX_LIST_PAGES);
  });

  it('[LOGIN-LIST-3] page numbers: page >= page_count, page_count 0 or above 64 are MALFORMED', () => {
    const header = { epoch: 1, issuedAt: NOW, expiresAt: NOW + HOUR };
    const verify = (p: Record<string, unknown>) =>
      verifySupernodeListPage(suite, signRawPage({ ...header, ...p }), net.loginCert, policy);
    expectCode(() => verify({ page: 2, pageCount: 2 }), ErrorCode.MALFORMED);
    expectCode(() => verify({ page: 5, pageCount: 2 }), ErrorCode.MALFORMED);
    expectCode(() => verify({ page: 0, pageCount: 0 }), ErrorCode.MALFORMED);
    expectCode(() => verify({ page: 0, pageCount: 65 }), ErrorCode.MALFORMED);
    expect(verify({ page: 63, pageCount: 64 }).page).toBe(63);
    expectCode(
      () => verifySupernodeListPage(suite, signRawPage({ pageCount: 1 }), net.loginCert, policy),
      ErrorCode.MISSING_FIELD,
    );
  });

  it('[LOGIN-SN-2] [LOGIN-LIST-4] a bad endpoint is MALFORMED for the receiver and refused by the signer', () => {
    const bad: [string, SupernodeListEntry['endpoints'][number]][] = [
      ['3-byte address', { protocol: 1, address: Uint8Array.of(10, 0, 0), port: 4000 }],
      ['empty address', { protocol: 1, address: new Uint8Array(0), port: 4000 }],
      ['port 0', { protocol: 1, address: Uint8Array.of(10, 0, 0, 1), port: 0 }],
      ['port 65536', { protocol: 1, address: Uint8Array.of(10, 0, 0, 1), port: 65_536 }],
      ['protocol 0', { protocol: 0, address: Uint8Array.of(10, 0, 0, 1), port: 4000 }],
      ['protocol 3', { protocol: 3, address: Uint8Array.of(10, 0, 0, 1), port: 4000 }],
    ];
    for (const [name, endpoint] of bad) {
      const raw = signRawPage({
        epoch: 1,
        pageCount: 1,
        entries: [{ keyId: new Uint8Array(32).fill(1), placementKey: new Uint8Array(32), endpoints: [endpoint] }],
      });
      expect(() => verifySupernodeListPage(suite, raw, net.loginCert, policy), name).toThrow(
        expect.objectContaining({ code: ErrorCode.MALFORMED }),
      );
      expectCode(
        () => signSupernodeList(suite, net.login, list([entry(1, { endpoints: [endpoint] })])),
        ErrorCode.API_MISUSE,
      );
    }
  });

  it('[LOGIN-LIST-4] [LOGIN-LIST-1] entry checks: key id of 32 bytes, load at most 100%, software as in ID-HS-6', () => {
    const page = (e: Record<string, unknown>) =>
      verifySupernodeListPage(
        suite,
        signRawPage({
          epoch: 1,
          pageCount: 1,
          entries: [{ keyId: new Uint8Array(32), placementKey: new Uint8Array(32), ...e }],
        }),
        net.loginCert,
        policy,
      );
    expectCode(() => page({ keyId: new Uint8Array(0) }), ErrorCode.MISSING_FIELD);
    expectCode(() => page({ keyId: new Uint8Array(31) }), ErrorCode.MALFORMED);
    expectCode(() => page({ keyId: new Uint8Array(33) }), ErrorCode.FIELD_LIMIT);
    expectCode(() => page({ loadPercent: 101 }), ErrorCode.MALFORMED);
    expectCode(() => page({ software: 'bad\n' }), ErrorCode.MALFORMED);
    expectCode(() => page({ endpoints: Array.from({ length: 9 }, () => ({})) }), ErrorCode.FIELD_LIMIT);
    expect(page({ loadPercent: 100, software: '' }).entries[0]!.loadPercent).toBe(100);
    // the signer refuses the same
    for (const o of [
      { keyId: new Uint8Array(31) },
      { loadPercent: 101 },
      { software: 'x'.repeat(65) },
      { notAfterMs: 2 ** 53 },
    ]) {
      expectCode(() => signSupernodeList(suite, net.login, list([entry(1, o)])), ErrorCode.API_MISUSE);
    }
    expectCode(() => signSupernodeList(suite, net.login, { ...list([]), epoch: 0 }), ErrorCode.API_MISUSE);
    // [LOGIN-LIST-1] expires_at must come after issued_at
    expectCode(() => signSupernodeList(suite, net.login, { ...list([]), expiresAtMs: NOW }), ErrorCode.API_MISUSE);
  });
});

// ---- Revocation list -----------------------------------------------------------------------------------

describe('the revocation list [LOGIN-REVOKE-2]', () => {
  const revList = (entries: RevokedSerial[], number = 9) => ({ number, issuedAtMs: NOW, entries });

  it('[LOGIN-REVOKE-2] an empty list is one page', () => {
    const pages = signRevocationList(suite, net.login, revList([]));
    expect(pages).toHaveLength(1);
    expect(verifyRevocationListPage(suite, pages[0]!, net.loginCert, policy)).toStrictEqual({
      version: 9,
      issuedAtMs: NOW,
      expiresAtMs: 0,
      page: 0,
      pageCount: 1,
      entries: [],
    });
  });

  it('[LOGIN-REVOKE-2] [LOGIN-LIST-3] 3,001 entries are two pages of 3,000 and 1, in order', () => {
    const entries = Array.from({ length: MAX_REVOCATIONS_PER_PAGE + 1 }, (_, i) => ({
      serial: 1000 + i,
      notAfterMs: NOW + i,
    }));
    const pages = signRevocationList(suite, net.login, revList(entries));
    const decoded = pages.map((p) => verifyRevocationListPage(suite, p, net.loginCert, policy));
    expect(decoded.map((d) => [d.page, d.pageCount, d.entries.length])).toEqual([
      [0, 2, MAX_REVOCATIONS_PER_PAGE],
      [1, 2, 1],
    ]);
    expect(decoded.flatMap((d) => d.entries)).toStrictEqual(entries);
  });

  it('[LOGIN-REVOKE-2] [LOGIN-LIST-3] 3,000 entries of the widest serials split by size, no page above 60,000 bytes', () => {
    const entries = Array.from({ length: MAX_REVOCATIONS_PER_PAGE }, (_, i) => ({
      serial: Number.MAX_SAFE_INTEGER - i,
      notAfterMs: Number.MAX_SAFE_INTEGER - i,
    }));
    const pages = signRevocationList(suite, net.login, revList(entries));
    expect(pages).toHaveLength(2);
    for (const p of pages) expect(decodeSigned(p).body.length).toBeLessThanOrEqual(MAX_LIST_PAGE_BYTES);
    const decoded = pages.map((p) => verifyRevocationListPage(suite, p, net.loginCert, policy));
    expect(decoded.flatMap((d) => d.entries)).toStrictEqual(entries);
  });

  it('[LOGIN-REVOKE-2] [LOGIN-LIST-3] more than 64 pages is refused by the signer', () => {
    const entries = Array.from({ length: MAX_REVOCATIONS_PER_PAGE * MAX_LIST_PAGES + 1 }, (_, i) => ({
      serial: i + 1,
      notAfterMs: NOW,
    }));
    expectCode(() => signRevocationList(suite, net.login, revList(entries)), ErrorCode.API_MISUSE, ApiMisuse);
  });

  it('[LOGIN-REVOKE-2] number 0 and serial 0 are MISSING_FIELD, bad page numbers MALFORMED; the signer refuses them', () => {
    const R = C.SIGNATURE_CONTEXT_REVOCATION_LIST;
    const verify = (p: Record<string, unknown>) =>
      verifyRevocationListPage(suite, signRawPage(p, R), net.loginCert, policy);
    expectCode(() => verify({ pageCount: 1 }), ErrorCode.MISSING_FIELD);
    expectCode(() => verify({ number: 1, pageCount: 1, entries: [{ notAfter: NOW }] }), ErrorCode.MISSING_FIELD);
    expectCode(() => verify({ number: 1, page: 1, pageCount: 1 }), ErrorCode.MALFORMED);
    expectCode(() => verify({ number: 1, pageCount: 65 }), ErrorCode.MALFORMED);
    expectCode(
      () => verify({ number: 1, pageCount: 1, entries: Array.from({ length: 3001 }, () => ({ serial: 1 })) }),
      ErrorCode.FIELD_LIMIT,
    );
    expectCode(() => signRevocationList(suite, net.login, revList([], 0)), ErrorCode.API_MISUSE);
    expectCode(
      () => signRevocationList(suite, net.login, revList([{ serial: 0, notAfterMs: NOW }])),
      ErrorCode.API_MISUSE,
    );
    expectCode(
      () => signRevocationList(suite, net.login, revList([{ serial: 2 ** 53, notAfterMs: NOW }])),
      ErrorCode.API_MISUSE,
    );
  });

  it('[LOGIN-REVOKE-2] [LOGIN-PUB-2] a revocation page is verified like every published object', () => {
    const page = signRevocationList(suite, net.login, revList([{ serial: 5, notAfterMs: NOW }]))[0]!;
    expectCode(
      () => verifyRevocationListPage(suite, flipSignatureBit(page), net.loginCert, policy),
      ErrorCode.BAD_SIGNATURE,
    );
    expectCode(() => verifyRevocationListPage(suite, page, other.loginCert, policy), ErrorCode.NETWORK_MISMATCH);
    expectCode(() => verifySupernodeListPage(suite, page, net.loginCert, policy), ErrorCode.WRONG_CONTEXT);
  });
});

// ---- Certificate requests ------------------------------------------------------------------------------

describe('certificate requests [LOGIN-CERT-2] [LOGIN-CERT-3]', () => {
  const key = generateSigningKey(suite, net.random);
  const h = suite.sha256(Uint8Array.of(1, 2, 3));
  const deviceId = new Uint8Array(16).fill(0x5a);
  const request = { subjectKey: key.publicKey, deviceId, proof: signCertificateRequest(suite, key.seed, h) };

  it('[LOGIN-CERT-3] a proof over the channel handshake hash verifies, on both suites, and names the key and device', () => {
    for (const s of [nodeCrypto, nobleCrypto]) {
      const r = verifyCertificateRequest(s, request, h);
      expect([...r.subjectKey]).toEqual([...key.publicKey]);
      expect([...r.deviceId]).toEqual([...deviceId]);
    }
    // the proof is an Ed25519 signature over "parley/v1 certificate-request" 00 h
    const message = Uint8Array.from([...new TextEncoder().encode('parley/v1 certificate-request'), 0, ...h]);
    expect(suite.ed25519Verify(key.publicKey, message, request.proof)).toBe(true);
  });

  it('[LOGIN-CERT-3] a proof made for another channel (another handshake hash) is BAD_SIGNATURE', () => {
    expectCode(() => verifyCertificateRequest(suite, request, suite.sha256(Uint8Array.of(9))), ErrorCode.BAD_SIGNATURE);
    const byOther = { ...request, proof: signCertificateRequest(suite, generateSigningKey(suite, net.random).seed, h) };
    expectCode(() => verifyCertificateRequest(suite, byOther, h), ErrorCode.BAD_SIGNATURE);
    // the same bytes signed under another context (the static-key binding) do not pass
    const binding = signWithContext(suite, key.seed, C.SIGNATURE_CONTEXT_STATIC_KEY_BINDING, h);
    expectCode(() => verifyCertificateRequest(suite, { ...request, proof: binding }, h), ErrorCode.BAD_SIGNATURE);
  });

  it('[LOGIN-CERT-2] a missing request or field is MISSING_FIELD, a short one MALFORMED, a long one FIELD_LIMIT', () => {
    const cases: [Partial<typeof request> | undefined, ErrorCode][] = [
      [undefined, ErrorCode.MISSING_FIELD],
      [{ subjectKey: new Uint8Array(0) }, ErrorCode.MISSING_FIELD],
      [{ deviceId: new Uint8Array(0) }, ErrorCode.MISSING_FIELD],
      [{ proof: new Uint8Array(0) }, ErrorCode.MISSING_FIELD],
      [{ subjectKey: key.publicKey.subarray(0, 31) }, ErrorCode.MALFORMED],
      [{ deviceId: deviceId.subarray(0, 15) }, ErrorCode.MALFORMED],
      [{ proof: request.proof.subarray(0, 63) }, ErrorCode.MALFORMED],
      [{ proof: Uint8Array.from([...request.proof, 0]) }, ErrorCode.FIELD_LIMIT],
    ];
    for (const [o, code] of cases) {
      expectCode(() => verifyCertificateRequest(suite, o === undefined ? undefined : { ...request, ...o }, h), code);
    }
  });

  it('[LOGIN-CERT-3] the signer refuses a handshake hash that is not 32 bytes', () => {
    expectCode(() => signCertificateRequest(suite, key.seed, new Uint8Array(31)), ErrorCode.API_MISUSE, ApiMisuse);
  });
});

// ---- Signed prekeys ------------------------------------------------------------------------------------

describe('signed prekeys [LOGIN-PREKEY-2]', () => {
  const member = makeMember(net);
  const cert: Certificate = { ...member.fields, version: 1, issuerKeyId: net.login.keyId };
  const fields = {
    id: 7,
    publicKey: suite.x25519PublicKey(new Uint8Array(32).fill(3)),
    identityDhKey: suite.x25519PublicKey(new Uint8Array(32).fill(4)),
    deviceId: member.fields.deviceId,
    createdAtMs: NOW,
  };

  it('[LOGIN-PREKEY-2] a prekey signed by the device certified key, naming its device, verifies', () => {
    const signed = signSignedPrekey(suite, member.key.seed, fields);
    expect(decodeSigned(signed).context).toBe(C.SIGNATURE_CONTEXT_PREKEY_BUNDLE);
    for (const s of [nodeCrypto, nobleCrypto]) expect(verifySignedPrekey(s, signed, cert)).toStrictEqual(fields);
  });

  it("[LOGIN-PREKEY-2] a device id other than the certificate's is MALFORMED", () => {
    const signed = signSignedPrekey(suite, member.key.seed, { ...fields, deviceId: new Uint8Array(16).fill(0xee) });
    expectCode(() => verifySignedPrekey(suite, signed, cert), ErrorCode.MALFORMED);
  });

  it('[LOGIN-PREKEY-2] [ID-SIG-6] signed by another key: BAD_SIGNATURE when the envelope names the device key, CERT_UNKNOWN_ISSUER when it names the other', () => {
    const stranger = generateSigningKey(suite, net.random);
    const genuine = decodeSigned(signSignedPrekey(suite, member.key.seed, fields));
    const signature = signWithContext(suite, stranger.seed, C.SIGNATURE_CONTEXT_PREKEY_BUNDLE, genuine.body);
    const forged = parley.v1.Signed.encode({ ...genuine, signature }).finish();
    expectCode(() => verifySignedPrekey(suite, forged, cert), ErrorCode.BAD_SIGNATURE);
    expectCode(
      () => verifySignedPrekey(suite, signSignedPrekey(suite, stranger.seed, fields), cert),
      ErrorCode.CERT_UNKNOWN_ISSUER,
    );
  });

  it('[LOGIN-PREKEY-2] keys of the wrong length are refused by the receiver (MALFORMED, MISSING_FIELD) and the signer', () => {
    const raw = (p: Record<string, unknown>) =>
      signObject(
        suite,
        member.key,
        C.SIGNATURE_CONTEXT_PREKEY_BUNDLE,
        parley.v1.SignedPrekey.encode(p as never).finish(),
      );
    const base = { id: 1, publicKey: fields.publicKey, identityDhKey: fields.identityDhKey, deviceId: fields.deviceId };
    expectCode(
      () => verifySignedPrekey(suite, raw({ ...base, publicKey: new Uint8Array(31) }), cert),
      ErrorCode.MALFORMED,
    );
    expectCode(
      () => verifySignedPrekey(suite, raw({ ...base, identityDhKey: undefined }), cert),
      ErrorCode.MISSING_FIELD,
    );
    expectCode(
      () => verifySignedPrekey(suite, raw({ ...base, deviceId: new Uint8Array(17) }), cert),
      ErrorCode.FIELD_LIMIT,
    );
    for (const o of [
      { publicKey: new Uint8Array(31) },
      { deviceId: new Uint8Array(0) },
      { identityDhKey: new Uint8Array(33) },
    ]) {
      expectCode(() => signSignedPrekey(suite, member.key.seed, { ...fields, ...o }), ErrorCode.API_MISUSE, ApiMisuse);
    }
  });
});
