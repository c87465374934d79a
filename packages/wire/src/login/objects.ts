/**
 * The signed objects a login server publishes and the proofs it checks, shared by the server, its
 * clients, supernodes and the conformance harness: spec/06-login-server.md §8 (NetworkPolicy,
 * POLICY-*), §9.1 and §10 (supernode and revocation list pages, LOGIN-LIST-*, LOGIN-REVOKE-*), §11.1
 * (signed prekeys, LOGIN-PREKEY-*) and §6.1 (certificate requests, LOGIN-CERT-*).
 *
 * Every object is signed by the login server's key, certified by a ROLE_LOGIN certificate under a pinned
 * root (02-identity.md §6); replies carry that certificate, so anyone holding only the root key can
 * verify an object it received from anywhere. Verify first, decode second ([ID-SIG-10]).
 */

import { bytesEqual } from '../codec/bytes.js';
import { checkFields } from '../codec/check.js';
import { asMisuse, decodeBody } from '../codec/object-body.js';
import { encodeMessage, toSafeInteger } from '../codec/proto.js';
import type { MessageRules } from '../codec/rules.js';
import type { CryptoSuite } from '../crypto/suite.js';
import { ApiMisuse, DecodeError, ErrorCode, IdentityError, ProtocolViolation } from '../errors.js';
import { parley } from '../gen/parley.js';
import {
  type Certificate,
  checkFixedLength,
  checkText,
  DEVICE_ID_BYTES,
  MAX_LIFETIME_MS,
  malformed,
  Role,
} from '../identity/certificate.js';
import { type ChainPolicy, verifyChain } from '../identity/chain.js';
import { MAX_SOFTWARE_BYTES } from '../identity/handshake-payload.js';
import { KEY_ID_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, type SigningKey } from '../identity/keys.js';
import {
  CERTIFICATE_REQUEST_MESSAGE_BYTES,
  MAX_LIST_PAGE_BYTES,
  SignatureContext,
  signObject,
  signWithContext,
  verifySigned,
  verifyWithContext,
} from '../identity/signed.js';
import {
  MAX_LIST_PAGES,
  MAX_REVOCATIONS_PER_PAGE,
  MAX_SUPERNODE_ENTRIES_PER_PAGE,
  NETWORK_POLICY_RULES,
  PLACEMENT_KEY_BYTES,
  REVOCATION_LIST_PAGE_RULES,
  REVOKED_CERTIFICATE_RULES,
  SIGNED_PREKEY_RULES,
  SUPERNODE_ENTRY_RULES,
  SUPERNODE_LIST_PAGE_RULES,
} from './messages.js';

const MAX_UINT32 = 0xffff_ffff;
const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

// ---- Verifying what a login server signed -------------------------------------------------------------

/** How a receiver judges an object signed by a login server: its pinned roots and its clock. */
export interface LoginSignedPolicy {
  trustAnchors: Uint8Array[];
  nowMs: number;
  skewMs?: number;
  isRevoked?: ChainPolicy['isRevoked'];
}

/**
 * [LOGIN-PUB-2] Verifies `signed` (an encoded `Signed` under `context`) as made by the key of
 * `loginCertificate`, itself a ROLE_LOGIN certificate issued by a pinned root, and returns the body.
 * Errors: those of the chain of one certificate (02-identity.md ID-CHAIN-3: NETWORK_MISMATCH when a
 * pinned root did not issue it, CHAIN_INVALID when one did but not as ROLE_LOGIN, CERT_EXPIRED, ...;
 * CERT_WRONG_ROLE cannot occur, step 2.6 refuses every other role first) and of ID-SIG-6
 * (WRONG_CONTEXT, CERT_UNKNOWN_ISSUER, BAD_SIGNATURE, limits).
 */
export function verifyLoginSigned(
  suite: CryptoSuite,
  signed: Uint8Array,
  loginCertificate: Uint8Array,
  context: SignatureContext,
  policy: LoginSignedPolicy,
): { body: Uint8Array; issuer: Certificate } {
  const chain = verifyChain(suite, [loginCertificate], { ...policy, acceptedRoles: [Role.ROLE_LOGIN] });
  return { body: verifySigned(suite, signed, context, chain.leaf.subjectKey), issuer: chain.leaf };
}

/** The encoded size of one element of a repeated message field numbered below 16: tag, length, value. */
function elementBytes(length: number): number {
  let n = 1;
  for (let v = length; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return 1 + n + length;
}

function checkVersions(versions: readonly number[], what: string): void {
  for (let i = 0; i < versions.length; i++) {
    const v = versions[i]!;
    if (v < 1 || v > MAX_UINT32) throw malformed(`${what}: ${v}`);
    if (versions.indexOf(v) !== i) throw malformed(`${what}: ${v} twice`);
  }
}

// ---- NetworkPolicy ----------------------------------------------------------------------------------------

export const ElectionMode = parley.v1.ElectionMode;
export type ElectionMode = parley.v1.ElectionMode;

/** Every parameter of a NetworkPolicy with its defaults applied ([POLICY-GEN-3]); times in ms. */
export interface EffectivePolicy {
  version: number;
  issuedAtMs: number;
  protocolVersions: number[];
  deniedSoftware: string[];
  userCertLifetimeMs: number;
  supernodeCertLifetimeMs: number;
  certClockSkewMs: number;
  replicationFactor: number;
  heartbeatIntervalMs: number;
  election: {
    mode: ElectionMode;
    minUptimeMs: number;
    minUpstreamKbps: number;
    minAttestations: number;
    targetLoad: number;
    hysteresisPercent: number;
    cooldownMs: number;
    maxSharePerVersionPercent: number;
    maxSharePerPrefixPercent: number;
    minSupernodes: number;
  };
  relay: {
    allocationLifetimeMs: number;
    allocationBytes: number;
    allocationBytesPerS: number;
    allocationsPerUser: number;
  };
  directory: {
    presenceLifetimeMs: number;
    offlineLifetimeMs: number;
    offlineMessagesPerRecipient: number;
    offlineBytesPerRecipient: number;
    offlineMessagesPerSender: number;
  };
  rateLimits: {
    loginFailuresPerWindow: number;
    loginFailureWindowMs: number;
    loginBackoffBaseMs: number;
    loginBackoffMaxMs: number;
    addressBucketCapacity: number;
    addressRefillPerMinute: number;
    searchPerMinute: number;
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** [POLICY-GEN-3] The defaults a policy field takes when it is 0 or absent (spec/00-conventions.md §5). */
export const POLICY_DEFAULTS: Readonly<Omit<EffectivePolicy, 'version' | 'issuedAtMs'>> = deepFreeze({
  protocolVersions: [1],
  deniedSoftware: [],
  userCertLifetimeMs: 24 * HOUR,
  supernodeCertLifetimeMs: 6 * HOUR,
  certClockSkewMs: 5 * 60 * SECOND,
  replicationFactor: 3,
  heartbeatIntervalMs: 30 * SECOND,
  election: {
    mode: parley.v1.ElectionMode.ELECTION_MODE_HYBRID,
    minUptimeMs: 4 * HOUR,
    minUpstreamKbps: 1_000,
    minAttestations: 2,
    targetLoad: 800,
    hysteresisPercent: 25,
    cooldownMs: HOUR,
    maxSharePerVersionPercent: 34,
    maxSharePerPrefixPercent: 10,
    minSupernodes: 3,
  },
  relay: {
    allocationLifetimeMs: 10 * 60 * SECOND,
    allocationBytes: 128 * 1024 * 1024,
    allocationBytesPerS: 2 * 1024 * 1024,
    allocationsPerUser: 4,
  },
  directory: {
    presenceLifetimeMs: 10 * 60 * SECOND,
    offlineLifetimeMs: 30 * DAY,
    offlineMessagesPerRecipient: 1_000,
    offlineBytesPerRecipient: 10 * 1024 * 1024,
    offlineMessagesPerSender: 100,
  },
  rateLimits: {
    loginFailuresPerWindow: 5,
    loginFailureWindowMs: 15 * 60 * SECOND,
    loginBackoffBaseMs: 1_000,
    loginBackoffMaxMs: 15 * 60 * SECOND,
    addressBucketCapacity: 20,
    addressRefillPerMinute: 30, // `address-refill` of 06 §6.6 (LOGIN-RATE-8)
    searchPerMinute: 30,
  },
} as Omit<EffectivePolicy, 'version' | 'issuedAtMs'>);

/** [POLICY-GEN-4] Bounds a policy may not exceed. */
export const POLICY_BOUNDS = Object.freeze({
  userCertLifetimeMs: MAX_LIFETIME_MS[Role.ROLE_USER],
  supernodeCertLifetimeMs: MAX_LIFETIME_MS[Role.ROLE_SUPERNODE],
  certClockSkewMs: HOUR,
  replicationFactor: 16,
  heartbeatIntervalMs: 10 * 60 * SECOND,
  directory: Object.freeze({
    presenceLifetimeMs: 15 * 60 * SECOND,
    offlineLifetimeMs: 90 * DAY,
    offlineMessagesPerRecipient: 100_000,
    offlineBytesPerRecipient: 1024 * 1024 * 1024,
  }),
});

const or = (v: number, d: number): number => (v === 0 ? d : v);

/**
 * Encodes and signs a policy with the login server's key. `policy` uses the wire's field names; absent
 * or zero fields mean the default ([POLICY-GEN-3]). Throws ApiMisuse for a policy a receiver would refuse.
 */
export function signNetworkPolicy(
  suite: CryptoSuite,
  loginKey: SigningKey,
  policy: parley.v1.NetworkPolicy.$Properties,
): Uint8Array {
  // [WIRE-INT-1] [WIRE-UTF8-2] [WIRE-LIMIT-1] before encoding: protobufjs would truncate a fraction or
  // write a lone surrogate as invalid UTF-8
  checkFields(policy, NETWORK_POLICY_RULES);
  const body = encodeMessage(parley.v1.NetworkPolicy, parley.v1.NetworkPolicy.create(policy));
  asMisuse('policy', () => effectivePolicy(decodeNetworkPolicy(body)));
  return signObject(suite, loginKey, SignatureContext.SIGNATURE_CONTEXT_NETWORK_POLICY, body);
}

/** Decodes a verified NetworkPolicy body ([POLICY-GEN-1]) with its field checks ([POLICY-GEN-2], [POLICY-GEN-4]). */
export function decodeNetworkPolicy(body: Uint8Array): parley.v1.NetworkPolicy {
  const p = decodeBody(parley.v1.NetworkPolicy, NETWORK_POLICY_RULES, body);
  if (toSafeInteger(p.version, 'NetworkPolicy.version') === 0) {
    throw new DecodeError(ErrorCode.MISSING_FIELD, 'NetworkPolicy.version');
  }
  toSafeInteger(p.issuedAt, 'NetworkPolicy.issued_at');
  checkVersions(p.protocolVersions, 'NetworkPolicy.protocol_versions');
  for (const s of p.deniedSoftware) {
    checkText(s, 'NetworkPolicy.denied_software', 1, MAX_SOFTWARE_BYTES, malformed);
  }
  return p;
}

/** [POLICY-GEN-3] [POLICY-GEN-4] The policy with its defaults applied; values beyond the bounds are MALFORMED. */
export function effectivePolicy(p: parley.v1.NetworkPolicy): EffectivePolicy {
  const d = POLICY_DEFAULTS;
  const e = p.election ?? {};
  const r = p.relay ?? {};
  const l = p.rateLimits ?? {};
  const dir = p.directory ?? {};
  const n = (x: number | null | undefined): number => x ?? 0;
  const out: EffectivePolicy = {
    version: toSafeInteger(p.version, 'NetworkPolicy.version'),
    issuedAtMs: toSafeInteger(p.issuedAt, 'NetworkPolicy.issued_at'),
    protocolVersions: p.protocolVersions.length > 0 ? [...p.protocolVersions] : [...d.protocolVersions],
    deniedSoftware: [...p.deniedSoftware],
    userCertLifetimeMs: or(p.userCertLifetimeS, 0) * SECOND || d.userCertLifetimeMs,
    supernodeCertLifetimeMs: or(p.supernodeCertLifetimeS, 0) * SECOND || d.supernodeCertLifetimeMs,
    certClockSkewMs: or(p.certClockSkewS, 0) * SECOND || d.certClockSkewMs,
    replicationFactor: or(p.replicationFactor, d.replicationFactor),
    heartbeatIntervalMs: or(p.heartbeatIntervalS, 0) * SECOND || d.heartbeatIntervalMs,
    election: {
      mode: e.mode || d.election.mode,
      minUptimeMs: n(e.minUptimeS) * SECOND || d.election.minUptimeMs,
      minUpstreamKbps: or(n(e.minUpstreamKbps), d.election.minUpstreamKbps),
      minAttestations: or(n(e.minAttestations), d.election.minAttestations),
      targetLoad: or(n(e.targetLoad), d.election.targetLoad),
      hysteresisPercent: or(n(e.hysteresisPercent), d.election.hysteresisPercent),
      cooldownMs: n(e.cooldownS) * SECOND || d.election.cooldownMs,
      maxSharePerVersionPercent: or(n(e.maxSharePerVersionPercent), d.election.maxSharePerVersionPercent),
      maxSharePerPrefixPercent: or(n(e.maxSharePerPrefixPercent), d.election.maxSharePerPrefixPercent),
      minSupernodes: or(n(e.minSupernodes), d.election.minSupernodes),
    },
    relay: {
      allocationLifetimeMs: n(r.allocationLifetimeS) * SECOND || d.relay.allocationLifetimeMs,
      allocationBytes: toSafeInteger(r.allocationBytes, 'RelayPolicy.allocation_bytes') || d.relay.allocationBytes,
      allocationBytesPerS: or(n(r.allocationBytesPerS), d.relay.allocationBytesPerS),
      allocationsPerUser: or(n(r.allocationsPerUser), d.relay.allocationsPerUser),
    },
    directory: {
      presenceLifetimeMs: n(dir.presenceLifetimeS) * SECOND || d.directory.presenceLifetimeMs,
      offlineLifetimeMs: n(dir.offlineLifetimeS) * SECOND || d.directory.offlineLifetimeMs,
      offlineMessagesPerRecipient: or(n(dir.offlineMessagesPerRecipient), d.directory.offlineMessagesPerRecipient),
      offlineBytesPerRecipient: or(n(dir.offlineBytesPerRecipient), d.directory.offlineBytesPerRecipient),
      offlineMessagesPerSender: or(n(dir.offlineMessagesPerSender), d.directory.offlineMessagesPerSender),
    },
    rateLimits: {
      loginFailuresPerWindow: or(n(l.loginFailuresPerWindow), d.rateLimits.loginFailuresPerWindow),
      loginFailureWindowMs: n(l.loginFailureWindowS) * SECOND || d.rateLimits.loginFailureWindowMs,
      loginBackoffBaseMs: or(n(l.loginBackoffBaseMs), d.rateLimits.loginBackoffBaseMs),
      loginBackoffMaxMs: or(n(l.loginBackoffMaxMs), d.rateLimits.loginBackoffMaxMs),
      addressBucketCapacity: or(n(l.addressBucketCapacity), d.rateLimits.addressBucketCapacity),
      addressRefillPerMinute: or(n(l.addressRefillPerMinute), d.rateLimits.addressRefillPerMinute),
      searchPerMinute: or(n(l.searchPerMinute), d.rateLimits.searchPerMinute),
    },
  };
  // [POLICY-GEN-4] the bounds no policy may exceed
  const b = POLICY_BOUNDS;
  if (out.userCertLifetimeMs > b.userCertLifetimeMs) throw malformed('NetworkPolicy.user_cert_lifetime_s');
  if (out.supernodeCertLifetimeMs > b.supernodeCertLifetimeMs) {
    throw malformed('NetworkPolicy.supernode_cert_lifetime_s');
  }
  if (out.certClockSkewMs > b.certClockSkewMs) throw malformed('NetworkPolicy.cert_clock_skew_s');
  if (out.replicationFactor > b.replicationFactor) throw malformed('NetworkPolicy.replication_factor');
  if (out.heartbeatIntervalMs > b.heartbeatIntervalMs) throw malformed('NetworkPolicy.heartbeat_interval_s');
  if (out.election.mode > parley.v1.ElectionMode.ELECTION_MODE_HYBRID) throw malformed('ElectionPolicy.mode');
  if (out.election.maxSharePerVersionPercent > 100 || out.election.maxSharePerPrefixPercent > 100) {
    throw malformed('ElectionPolicy: a share above 100%');
  }
  const dp = out.directory;
  if (dp.presenceLifetimeMs > b.directory.presenceLifetimeMs) throw malformed('DirectoryPolicy.presence_lifetime_s');
  if (dp.offlineLifetimeMs > b.directory.offlineLifetimeMs) throw malformed('DirectoryPolicy.offline_lifetime_s');
  if (dp.offlineMessagesPerRecipient > b.directory.offlineMessagesPerRecipient) {
    throw malformed('DirectoryPolicy.offline_messages_per_recipient');
  }
  if (dp.offlineBytesPerRecipient > b.directory.offlineBytesPerRecipient) {
    throw malformed('DirectoryPolicy.offline_bytes_per_recipient');
  }
  if (dp.offlineMessagesPerSender > dp.offlineMessagesPerRecipient) {
    throw malformed('DirectoryPolicy: messages per sender above messages per recipient');
  }
  if (out.rateLimits.loginBackoffBaseMs > out.rateLimits.loginBackoffMaxMs) {
    throw malformed('RateLimitPolicy: backoff base above its maximum');
  }
  return out;
}

/** [POLICY-GEN-1] Verifies a signed policy and returns it with its defaults applied. */
export function verifyNetworkPolicy(
  suite: CryptoSuite,
  signed: Uint8Array,
  loginCertificate: Uint8Array,
  policy: LoginSignedPolicy,
): EffectivePolicy {
  const { body } = verifyLoginSigned(
    suite,
    signed,
    loginCertificate,
    SignatureContext.SIGNATURE_CONTEXT_NETWORK_POLICY,
    policy,
  );
  return effectivePolicy(decodeNetworkPolicy(body));
}

/**
 * [POLICY-DENY-1] True when `software` is deny-listed: an entry equal to it, or an entry ending in `/`
 * or `.` that is a prefix of it (`parley-ref/0.3.` denies every 0.3.x release, not 0.30).
 */
export function isSoftwareDenied(deniedSoftware: readonly string[], software: string): boolean {
  for (const entry of deniedSoftware) {
    if (software === entry) return true;
    if ((entry.endsWith('/') || entry.endsWith('.')) && software.startsWith(entry)) return true;
  }
  return false;
}

/** [POLICY-GEN-5] A receiver refuses a policy older than the one it holds. */
export function checkPolicyNewer(held: number, received: number): void {
  if (received < held) throw new ProtocolViolation(ErrorCode.TOO_OLD, `policy ${received} older than ${held}`);
}

// ---- Paged lists: the supernode list and the revocation list -------------------------------------------

export interface SupernodeListEntry {
  keyId: Uint8Array;
  /**
   * [LOGIN-LIST-8] Where the supernode stands in every name's rendezvous order (07 SN-PLACE-1): derived by
   * the login server from its key and `keyId` (`derivePlacementKey`), so the supernode cannot choose it.
   */
  placementKey: Uint8Array;
  endpoints: { protocol: number; address: Uint8Array; port: number }[];
  software: string;
  loadPercent: number;
  hosted: boolean;
  notAfterMs: number;
}

export interface ListPage<E> {
  /** The supernode list's epoch or the revocation list's number. */
  version: number;
  issuedAtMs: number;
  /** Supernode list only: the time after which a client should refresh it. */
  expiresAtMs: number;
  page: number;
  pageCount: number;
  entries: E[];
}

function checkPageNumbers(page: number, pageCount: number, what: string): void {
  // [LOGIN-LIST-3] 1..64 pages, the page number below the count
  if (pageCount < 1 || pageCount > MAX_LIST_PAGES || page >= pageCount) {
    throw malformed(`${what}: page ${page} of ${pageCount}`);
  }
}

/** A supernode-list entry as a login server lists it: the placement key is derived when the list is signed. */
export type SupernodeListEntryInput = Omit<SupernodeListEntry, 'placementKey'>;

/**
 * [LOGIN-LIST-8] The placement key of the supernode whose key id is `keyId`: SHA-256 of the login key's
 * Ed25519 signature over `keyId` under `SIGNATURE_CONTEXT_PLACEMENT`. Ed25519 signatures are deterministic,
 * so every login-server process holding the login key derives the same key, epoch after epoch, with no
 * state; nobody without the login key can predict it, so a supernode cannot grind a key id that places it
 * where it wants (07 §13).
 */
export function derivePlacementKey(suite: CryptoSuite, loginKey: SigningKey, keyId: Uint8Array): Uint8Array {
  checkFixedLength(keyId, KEY_ID_BYTES, 'placement: key id', (what) => new ApiMisuse(what));
  return suite.sha256(signWithContext(suite, loginKey.seed, SignatureContext.SIGNATURE_CONTEXT_PLACEMENT, keyId));
}

function entryProps(e: SupernodeListEntry): parley.v1.SupernodeEntry.$Properties {
  return {
    keyId: e.keyId,
    placementKey: e.placementKey,
    endpoints: e.endpoints.map((x) => ({ protocol: x.protocol, address: x.address, port: x.port })),
    software: e.software,
    loadPercent: e.loadPercent,
    hosted: e.hosted,
    notAfter: e.notAfterMs,
  } as unknown as parley.v1.SupernodeEntry.$Properties;
}

/**
 * Pages a list ([LOGIN-LIST-2]) and signs every page: each page is checked against the rules before it
 * is encoded and decoded with the receiver's checks after (ApiMisuse for what a receiver would refuse),
 * so a login server never publishes a page its clients cannot use.
 */
function signPages<E>(
  suite: CryptoSuite,
  loginKey: SigningKey,
  list: {
    context: SignatureContext;
    type: { encode(m: never): { finish(): Uint8Array } };
    rules: MessageRules;
    entryType: { encode(m: never): { finish(): Uint8Array } };
    entryRules: MessageRules;
    perPage: number;
    entries: readonly E[];
    header: (page: number, pageCount: number) => Record<string, unknown>;
    entry: (e: E) => unknown;
    decode: (body: Uint8Array) => unknown;
  },
): Uint8Array[] {
  const what = list.rules.name;
  const props = list.entries.map((e, i) => {
    const p = list.entry(e);
    checkFields(p as object, list.entryRules, `${what}.entries[${i}]`);
    return p;
  });
  // [LOGIN-LIST-2] [LOGIN-LIST-3] the widest header: page numbers below 128 are one-byte varints
  const widest = list.header(MAX_LIST_PAGES - 1, MAX_LIST_PAGES);
  checkFields(widest, list.rules);
  const headerBytes = encodeMessage(list.type as never, widest as never).length;
  const sizes = props.map((p) => elementBytes(encodeMessage(list.entryType as never, p as never).length));
  const groups = groupPages(sizes, list.perPage, headerBytes);
  return groups.map(([from, to], i) => {
    const body = encodeMessage(
      list.type as never,
      { ...list.header(i, groups.length), entries: props.slice(from, to) } as never,
    );
    asMisuse(`${what} ${i}`, () => list.decode(body));
    return signObject(suite, loginKey, list.context, body);
  });
}

/**
 * [LOGIN-LIST-2] Splits entries (given by their encoded sizes, tag and length included) into pages, in
 * order: a new page when one holds `perPage` entries or its body would exceed MAX_LIST_PAGE_BYTES; at
 * least one page. Linear: a page's size is its header plus the sizes of its entries, exactly, since the
 * encoding of a repeated field is the concatenation of its elements. Returns [from, to) index ranges.
 * More than MAX_LIST_PAGES pages is ApiMisuse: the server must not publish a list that large.
 */
function groupPages(sizes: readonly number[], perPage: number, headerBytes: number): [number, number][] {
  const pages: [number, number][] = [];
  let from = 0;
  let bytes = headerBytes;
  for (let i = 0; i < sizes.length; i++) {
    const n = sizes[i]!;
    if (i - from >= perPage || (i > from && bytes + n > MAX_LIST_PAGE_BYTES)) {
      pages.push([from, i]);
      from = i;
      bytes = headerBytes;
    }
    bytes += n;
  }
  pages.push([from, sizes.length]);
  if (pages.length > MAX_LIST_PAGES) throw new ApiMisuse(`list needs ${pages.length} pages, limit ${MAX_LIST_PAGES}`);
  return pages;
}

/**
 * Placement keys already derived, by key id: a login server signs a new list epoch whenever the
 * set of live supernodes changes, and one Ed25519 signature per entry per epoch adds up with thousands of
 * entries. A cache belongs to one login key. `signSupernodeList` keeps it below `maxEntries`.
 */
export class PlacementKeyCache {
  readonly #keys = new Map<string, Uint8Array>();
  constructor(readonly maxEntries = 100_000) {}
  get size(): number {
    return this.#keys.size;
  }
  /** The placement key of `keyId`, derived once ([LOGIN-LIST-8]: the derivation is deterministic). */
  get(suite: CryptoSuite, loginKey: SigningKey, keyId: Uint8Array): Uint8Array {
    let k = '';
    for (const b of keyId) k += String.fromCharCode(b); // a Map key; wire runs without Buffer (browsers)
    let p = this.#keys.get(k);
    if (p === undefined) {
      p = derivePlacementKey(suite, loginKey, keyId);
      if (this.#keys.size >= this.maxEntries) this.#keys.clear();
      this.#keys.set(k, p);
    }
    return p;
  }
}

/**
 * Encodes and signs every page of the supernode list of `epoch` ([LOGIN-LIST-1], [LOGIN-LIST-2]); the
 * placement keys come from `placementKeys` when given (a cache for this login key).
 */
export function signSupernodeList(
  suite: CryptoSuite,
  loginKey: SigningKey,
  list: { epoch: number; issuedAtMs: number; expiresAtMs: number; entries: readonly SupernodeListEntryInput[] },
  placementKeys?: PlacementKeyCache,
): Uint8Array[] {
  // [LOGIN-LIST-8] every entry's placement key comes from the login key, whatever the caller holds
  const entries = list.entries.map(
    (e): SupernodeListEntry => ({
      ...e,
      placementKey:
        placementKeys !== undefined
          ? placementKeys.get(suite, loginKey, e.keyId)
          : derivePlacementKey(suite, loginKey, e.keyId),
    }),
  );
  // [LOGIN-LIST-1] a list is meant to be used for a while after it is signed
  if (!(list.expiresAtMs > list.issuedAtMs)) throw new ApiMisuse('SupernodeListPage: expires_at not after issued_at');
  return signPages(suite, loginKey, {
    context: SignatureContext.SIGNATURE_CONTEXT_SUPERNODE_LIST,
    type: parley.v1.SupernodeListPage,
    rules: SUPERNODE_LIST_PAGE_RULES,
    entryType: parley.v1.SupernodeEntry,
    entryRules: SUPERNODE_ENTRY_RULES,
    perPage: MAX_SUPERNODE_ENTRIES_PER_PAGE,
    entries,
    header: (page, pageCount) => ({
      epoch: list.epoch,
      issuedAt: list.issuedAtMs,
      expiresAt: list.expiresAtMs,
      page,
      pageCount,
    }),
    entry: entryProps,
    decode: decodeSupernodeListPage,
  });
}

function checkEndpoint(x: parley.v1.Endpoint.$Properties, what: string): void {
  const address = x.address ?? new Uint8Array(0);
  if (address.length !== 4 && address.length !== 16) throw malformed(`${what}.address: ${address.length} bytes`);
  if (!x.port || x.port > 65_535) throw malformed(`${what}.port: ${x.port}`);
  if (
    x.protocol !== parley.v1.TransportProtocol.TRANSPORT_PROTOCOL_UDP &&
    x.protocol !== parley.v1.TransportProtocol.TRANSPORT_PROTOCOL_TCP
  ) {
    throw malformed(`${what}.protocol: ${x.protocol}`);
  }
}

/** [LOGIN-SN-2] An endpoint a supernode registers or a list names: UDP or TCP, 4 or 16 address bytes, port 1..65535. */
export function checkEndpoints(endpoints: readonly parley.v1.Endpoint.$Properties[], what: string): void {
  for (let i = 0; i < endpoints.length; i++) checkEndpoint(endpoints[i]!, `${what}[${i}]`);
}

/** Verifies one page of the supernode list and decodes it ([LOGIN-LIST-1] .. [LOGIN-LIST-4]). */
export function verifySupernodeListPage(
  suite: CryptoSuite,
  signed: Uint8Array,
  loginCertificate: Uint8Array,
  policy: LoginSignedPolicy,
): ListPage<SupernodeListEntry> {
  const { body } = verifyLoginSigned(
    suite,
    signed,
    loginCertificate,
    SignatureContext.SIGNATURE_CONTEXT_SUPERNODE_LIST,
    policy,
  );
  return decodeSupernodeListPage(body);
}

/**
 * Decodes a verified SupernodeListPage body with its checks ([LOGIN-LIST-1] epoch, [LOGIN-LIST-3] page
 * numbers, [LOGIN-LIST-4] entries, [LOGIN-SN-2] endpoints). Call it only on a body whose signature held.
 */
export function decodeSupernodeListPage(body: Uint8Array): ListPage<SupernodeListEntry> {
  const p = decodeBody(parley.v1.SupernodeListPage, SUPERNODE_LIST_PAGE_RULES, body);
  const version = toSafeInteger(p.epoch, 'SupernodeListPage.epoch');
  if (version === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'SupernodeListPage.epoch');
  checkPageNumbers(p.page, p.pageCount, 'SupernodeListPage');
  const entries = p.entries.map((e, i) => {
    checkFixedLength(e.keyId ?? new Uint8Array(0), KEY_ID_BYTES, `SupernodeEntry[${i}].key_id`, malformed);
    checkFixedLength(
      e.placementKey ?? new Uint8Array(0),
      PLACEMENT_KEY_BYTES,
      `SupernodeEntry[${i}].placement_key`,
      malformed,
    );
    checkEndpoints(e.endpoints ?? [], `SupernodeEntry[${i}].endpoints`);
    checkText(e.software ?? '', `SupernodeEntry[${i}].software`, 0, MAX_SOFTWARE_BYTES, malformed);
    if ((e.loadPercent ?? 0) > 100) throw malformed(`SupernodeEntry[${i}].load_percent`);
    return {
      keyId: Uint8Array.from(e.keyId!),
      placementKey: Uint8Array.from(e.placementKey!),
      endpoints: (e.endpoints ?? []).map((x) => ({
        protocol: x.protocol ?? 0,
        address: Uint8Array.from(x.address ?? []),
        port: x.port ?? 0,
      })),
      software: e.software ?? '',
      loadPercent: e.loadPercent ?? 0,
      hosted: e.hosted ?? false,
      notAfterMs: toSafeInteger(e.notAfter, `SupernodeEntry[${i}].not_after`),
    };
  });
  return {
    version,
    issuedAtMs: toSafeInteger(p.issuedAt, 'SupernodeListPage.issued_at'),
    expiresAtMs: toSafeInteger(p.expiresAt, 'SupernodeListPage.expires_at'),
    page: p.page,
    pageCount: p.pageCount,
    entries,
  };
}

export interface RevokedSerial {
  serial: number;
  notAfterMs: number;
}

/** Encodes and signs every page of revocation list `number` ([LOGIN-REVOKE-2]). */
export function signRevocationList(
  suite: CryptoSuite,
  loginKey: SigningKey,
  list: { number: number; issuedAtMs: number; entries: readonly RevokedSerial[] },
): Uint8Array[] {
  return signPages(suite, loginKey, {
    context: SignatureContext.SIGNATURE_CONTEXT_REVOCATION_LIST,
    type: parley.v1.RevocationListPage,
    rules: REVOCATION_LIST_PAGE_RULES,
    entryType: parley.v1.RevokedCertificate,
    entryRules: REVOKED_CERTIFICATE_RULES,
    perPage: MAX_REVOCATIONS_PER_PAGE,
    entries: list.entries,
    header: (page, pageCount) => ({ number: list.number, issuedAt: list.issuedAtMs, page, pageCount }),
    entry: (e) => ({ serial: e.serial, notAfter: e.notAfterMs }),
    decode: decodeRevocationListPage,
  });
}

/** Verifies one page of the revocation list and decodes it ([LOGIN-REVOKE-2]). */
export function verifyRevocationListPage(
  suite: CryptoSuite,
  signed: Uint8Array,
  loginCertificate: Uint8Array,
  policy: LoginSignedPolicy,
): ListPage<RevokedSerial> {
  const { body } = verifyLoginSigned(
    suite,
    signed,
    loginCertificate,
    SignatureContext.SIGNATURE_CONTEXT_REVOCATION_LIST,
    policy,
  );
  return decodeRevocationListPage(body);
}

/** Decodes a verified RevocationListPage body with its checks ([LOGIN-REVOKE-2]). */
export function decodeRevocationListPage(body: Uint8Array): ListPage<RevokedSerial> {
  const p = decodeBody(parley.v1.RevocationListPage, REVOCATION_LIST_PAGE_RULES, body);
  const version = toSafeInteger(p.number, 'RevocationListPage.number');
  if (version === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'RevocationListPage.number');
  checkPageNumbers(p.page, p.pageCount, 'RevocationListPage');
  return {
    version,
    issuedAtMs: toSafeInteger(p.issuedAt, 'RevocationListPage.issued_at'),
    expiresAtMs: 0,
    page: p.page,
    pageCount: p.pageCount,
    entries: p.entries.map((e, i) => {
      const serial = toSafeInteger(e.serial, `RevokedCertificate[${i}].serial`);
      if (serial === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, `RevokedCertificate[${i}].serial`);
      return { serial, notAfterMs: toSafeInteger(e.notAfter, `RevokedCertificate[${i}].not_after`) };
    }),
  };
}

// ---- Certificate requests ----------------------------------------------------------------------------

/**
 * [LOGIN-CERT-3] The proof of a certificate request: the subject key's signature over the channel's
 * handshake hash under "parley/v1 certificate-request", binding the request to this channel.
 */
export function signCertificateRequest(suite: CryptoSuite, seed: Uint8Array, handshakeHash: Uint8Array): Uint8Array {
  if (handshakeHash.length !== CERTIFICATE_REQUEST_MESSAGE_BYTES)
    throw new ApiMisuse('handshake hash must be 32 bytes');
  return signWithContext(suite, seed, SignatureContext.SIGNATURE_CONTEXT_CERTIFICATE_REQUEST, handshakeHash);
}

/**
 * [LOGIN-CERT-2] [LOGIN-CERT-3] Checks a certificate request received on a channel with `handshakeHash`:
 * lengths (MISSING_FIELD, MALFORMED), then the proof (BAD_SIGNATURE). Returns the key and device id.
 */
export function verifyCertificateRequest(
  suite: CryptoSuite,
  request: { subjectKey: Uint8Array; deviceId: Uint8Array; proof: Uint8Array } | undefined,
  handshakeHash: Uint8Array,
): { subjectKey: Uint8Array; deviceId: Uint8Array } {
  if (request === undefined) throw new DecodeError(ErrorCode.MISSING_FIELD, 'certificate_request');
  const need = (v: Uint8Array, n: number, what: string) => {
    if (v.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, what);
    checkFixedLength(v, n, what, malformed);
  };
  need(request.subjectKey, PUBLIC_KEY_BYTES, 'CertificateRequest.subject_key');
  need(request.deviceId, DEVICE_ID_BYTES, 'CertificateRequest.device_id');
  need(request.proof, SIGNATURE_BYTES, 'CertificateRequest.proof');
  if (
    !verifyWithContext(
      suite,
      request.subjectKey,
      SignatureContext.SIGNATURE_CONTEXT_CERTIFICATE_REQUEST,
      handshakeHash,
      request.proof,
    )
  ) {
    throw new IdentityError(ErrorCode.BAD_SIGNATURE, 'certificate request proof');
  }
  return { subjectKey: Uint8Array.from(request.subjectKey), deviceId: Uint8Array.from(request.deviceId) };
}

// ---- Signed prekeys ----------------------------------------------------------------------------------

export interface SignedPrekeyFields {
  id: number;
  publicKey: Uint8Array;
  identityDhKey: Uint8Array;
  deviceId: Uint8Array;
  createdAtMs: number;
}

/** Signs a device's signed prekey with its certified key ([LOGIN-PREKEY-2]). */
export function signSignedPrekey(suite: CryptoSuite, seed: Uint8Array, fields: SignedPrekeyFields): Uint8Array {
  const props = {
    id: fields.id,
    publicKey: fields.publicKey,
    identityDhKey: fields.identityDhKey,
    deviceId: fields.deviceId,
    createdAt: fields.createdAtMs,
  } as unknown as parley.v1.SignedPrekey.$Properties;
  checkFields(props, SIGNED_PREKEY_RULES);
  const body = encodeMessage(parley.v1.SignedPrekey, props);
  asMisuse('signed prekey', () => decodeSignedPrekey(body));
  return signObject(suite, seed, SignatureContext.SIGNATURE_CONTEXT_PREKEY_BUNDLE, body);
}

/** The fields of a SignedPrekey body and their lengths ([LOGIN-PREKEY-2]); the device check needs the certificate. */
function decodeSignedPrekey(body: Uint8Array): SignedPrekeyFields {
  const p = decodeBody(parley.v1.SignedPrekey, SIGNED_PREKEY_RULES, body);
  checkFixedLength(p.publicKey, PUBLIC_KEY_BYTES, 'SignedPrekey.public_key', malformed);
  checkFixedLength(p.identityDhKey, PUBLIC_KEY_BYTES, 'SignedPrekey.identity_dh_key', malformed);
  checkFixedLength(p.deviceId, DEVICE_ID_BYTES, 'SignedPrekey.device_id', malformed);
  return {
    id: p.id,
    publicKey: Uint8Array.from(p.publicKey),
    identityDhKey: Uint8Array.from(p.identityDhKey),
    deviceId: Uint8Array.from(p.deviceId),
    createdAtMs: toSafeInteger(p.createdAt, 'SignedPrekey.created_at'),
  };
}

/**
 * [LOGIN-PREKEY-2] Verifies a signed prekey against the certificate of the device that uploads or
 * published it: signed by its subject key, naming its device id.
 */
export function verifySignedPrekey(
  suite: CryptoSuite,
  signed: Uint8Array,
  certificate: Certificate,
): SignedPrekeyFields {
  const body = verifySigned(suite, signed, SignatureContext.SIGNATURE_CONTEXT_PREKEY_BUNDLE, certificate.subjectKey);
  const fields = decodeSignedPrekey(body);
  if (!bytesEqual(fields.deviceId, certificate.deviceId)) {
    throw malformed('SignedPrekey.device_id: not the signer device');
  }
  return fields;
}
