/**
 * What a supernode knows of its network, as last verified from the login server (spec/07-supernode.md
 * §4, SN-LOGIN-*): the supernode list (epoch, entries), the network policy (replication factor k, clock
 * skew) and the revocation list. `LoginLink` (runner/login-link.ts) replaces each when the login server
 * reports a newer version; everything else reads it here. Nothing in it is trusted unless it was verified
 * by LoginClient (signature under the login key, chained to a pinned root).
 */
import {
  type CryptoSuite,
  DEFAULT_REPLICATION_FACTOR,
  decodeCertificate,
  decodeSigned,
  type EffectivePolicy,
  keyId,
  type RevokedSerial,
  type SupernodeListEntry,
} from '@parley/wire';

export interface ListSnapshot {
  readonly epoch: number;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  readonly entries: readonly SupernodeListEntry[];
}

export type StateListener = (what: 'list' | 'policy' | 'revocations') => void;

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export class NetworkState {
  #list: ListSnapshot = { epoch: 0, issuedAtMs: 0, expiresAtMs: 0, entries: [] };
  #byKey = new Map<string, SupernodeListEntry>();
  #policy: EffectivePolicy | undefined;
  #revocationNumber = 0;
  #loginCertificates: readonly Uint8Array[] = [];
  /** Every serial of the revocation list held (user certificates are issued by a login key). */
  #revokedSerials = new Set<number>();
  /** Revoked serials, by the hex key id of the login key that revoked them ([ID-CHAIN-8]). */
  #revoked = new Map<string, Set<number>>();
  readonly #listeners = new Set<StateListener>();

  constructor(readonly suite: CryptoSuite) {}

  get list(): ListSnapshot {
    return this.#list;
  }
  get epoch(): number {
    return this.#list.epoch;
  }
  get policy(): EffectivePolicy | undefined {
    return this.#policy;
  }
  get revocationNumber(): number {
    return this.#revocationNumber;
  }
  /**
   * The encoded ROLE_LOGIN certificates whose keys issue user certificates (from the login server's
   * replies): what records and messages are verified under (07 DIR-REC-4, STORE-MSG-4).
   */
  get loginCertificates(): readonly Uint8Array[] {
    return this.#loginCertificates;
  }
  setLoginCertificates(certificates: readonly Uint8Array[]): void {
    const seen = new Set<string>();
    this.#loginCertificates = certificates.filter((c) => {
      const h = hexOf(c);
      if (seen.has(h)) return false;
      seen.add(h);
      return true;
    });
  }

  /** The replication factor k of the policy held (default 3 before one is, or when it says 0). */
  get replicationFactor(): number {
    return this.#policy?.replicationFactor || DEFAULT_REPLICATION_FACTOR;
  }
  /** The key ids of the list's entries, in list order. */
  get keyIds(): Uint8Array[] {
    return this.#list.entries.map((e) => e.keyId);
  }

  entry(id: Uint8Array): SupernodeListEntry | undefined {
    return this.#byKey.get(hexOf(id));
  }
  has(id: Uint8Array): boolean {
    return this.#byKey.has(hexOf(id));
  }

  onChange(listener: StateListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Replaces the list (a newer epoch only; an older or equal one is ignored and false returned). */
  setList(list: ListSnapshot): boolean {
    // 06 [LOGIN-LIST-7] never a list of a lower (or the same) epoch in place of the one held.
    if (list.epoch <= this.#list.epoch) return false;
    this.#list = list;
    this.#byKey = new Map(list.entries.map((e) => [hexOf(e.keyId), e]));
    this.#emit('list');
    return true;
  }

  setPolicy(policy: EffectivePolicy): void {
    if (this.#policy !== undefined && policy.version <= this.#policy.version) return;
    this.#policy = policy;
    this.#emit('policy');
  }

  /**
   * Replaces the revocation list: `number`, its entries, and the encoded login certificates of its pages
   * (the serials are the ones their login key issued).
   */
  setRevocations(number: number, entries: readonly RevokedSerial[], loginCertificates: readonly Uint8Array[]): void {
    if (number <= this.#revocationNumber) return;
    const issuers = new Set<string>();
    for (const c of loginCertificates) {
      issuers.add(hexOf(keyId(this.suite, decodeCertificate(decodeSigned(c).body).subjectKey)));
    }
    const revoked = new Map<string, Set<number>>();
    for (const issuer of issuers) revoked.set(issuer, new Set(entries.map((e) => e.serial)));
    this.#revoked = revoked;
    this.#revokedSerials = new Set(entries.map((e) => e.serial));
    this.#revocationNumber = number;
    this.#emit('revocations');
  }

  /** [ID-CHAIN-8] The revocation hook of every chain this supernode verifies. */
  readonly isRevoked = (issuerKeyId: Uint8Array, serial: number): boolean =>
    this.#revoked.get(hexOf(issuerKeyId))?.has(serial) ?? false;

  /** The revocation hook of records and messages: a user certificate serial on the list held. */
  readonly isRevokedSerial = (serial: number): boolean => this.#revokedSerials.has(serial);

  #emit(what: 'list' | 'policy' | 'revocations'): void {
    for (const l of [...this.#listeners]) l(what);
  }
}
