/**
 * The login server's protocol logic: one request in, one response (or a close) out. Normative text:
 * spec/06-login-server.md (LOGIN-*, POLICY-*). Sans-I/O in the sense of DESIGN §2: sockets, the clock,
 * randomness, crypto and storage come in through `CoreDeps`; the channel driver (@parley/channel) decodes
 * packets and performs the returned action. Each connection has a `Session` holding what this chapter
 * keeps per channel (an OPAQUE exchange in flight, the login that succeeded on it, a registered supernode).
 *
 *   request                      needs                          store calls
 *   RegisterStart/Finish         any channel                    getAccount, createAccount
 *   LoginStart/Finish            any channel                    getLoginFailures, getAccount, issueCertificate
 *   RenewCertificate             ROLE_USER channel              getAccount, isRevoked, issueCertificate
 *   ChangePasswordStart/Finish   LoginFinish on this channel    replaceRegistrationRecord
 *   Get{Policy,SupernodeList,RevocationList}  any channel       (published objects, cached)
 *   SupernodeRegister/Heartbeat  ROLE_SUPERNODE channel         upsertSupernode, supernodeHeartbeat
 *   UploadPrekeys/FetchPrekeys   user channel                   putSignedPrekey, addOneTimePrekeys, takePrekeyBundles
 *   Get/PutContactBlob           user channel                   getContactBlob, putContactBlob
 */
import type { Clock } from '@parley/net';
import {
  ApiMisuse,
  bytesEqual,
  type Certificate,
  type CryptoSuite,
  checkCertificate,
  checkEndpoints,
  DecodeError,
  decodeCertificate,
  decodeNetworkPolicy,
  decodeSigned,
  type EffectivePolicy,
  ErrorCode,
  type EstablishedChannel,
  effectivePolicy,
  encodeCertificate,
  IdentityError,
  IncompatiblePeer,
  isSoftwareDenied,
  MAX_DEVICES_PER_USER,
  type Packet,
  type PacketBody,
  type PeerIdentity,
  PlacementKeyCache,
  ProtocolViolation,
  parley,
  RequestRefused,
  Role,
  SignatureContext,
  type SigningKey,
  type SupernodeListEntryInput,
  signNetworkPolicy,
  signObject,
  signRevocationList,
  signSupernodeList,
  verifyCertificateRequest,
  verifySignedPrekey,
} from '@parley/wire';
import * as opaque from '../accounts/index.js';
import { accountLoginDecision } from '../limits/account-backoff.js';
import { DEFAULT_LIMITS, type LimitsConfig, type LocalLimits, limitsFromPolicy } from '../limits/config.js';
import { addressKey, TokenBucketTable } from '../limits/token-bucket.js';
import type { Published, PublishedKind, Store, SupernodeRecord } from '../store/store.js';
import { BusyError } from './errors.js';
import { AdmissionGate } from './gate.js';

/** [LOGIN-PREKEY-4] One-time prekeys a device may hold on the server. */
export const MAX_ONE_TIME_PREKEYS_HELD = 200;
/** [LOGIN-REVOKE-3] Revocations stay listed this long after their certificate expires (ID-CERT-13's maximum skew). */
export const REVOCATION_GRACE_MS = 3_600_000;
/** [LOGIN-SN-4] A supernode missing this many heartbeat intervals leaves the list. */
export const MISSED_HEARTBEATS = 3;
/** [LOGIN-LIST-1] How long a published supernode list is meant to be used before a refresh. */
export const SUPERNODE_LIST_TTL_MS = 10 * 60_000;

/** What the login server proves itself with and signs with. */
export interface ServerIdentity {
  /** The login key (its seed and public key). */
  loginKey: SigningKey;
  /** The encoded `Signed` ROLE_LOGIN certificate of `loginKey`, issued by a root key. */
  loginCertificate: Uint8Array;
  /** The pinned root public keys (the root seed itself can stay offline). */
  trustAnchors: Uint8Array[];
  /** The OPAQUE server setup (secret; see ../accounts). */
  opaqueSetup: string;
}

export interface CoreDeps {
  store: Store;
  clock: Clock;
  suite: CryptoSuite;
  identity: ServerIdentity;
  /** Local limits (queue sizes, table sizes); the policy sets the rest ([LOGIN-RATE-19]). */
  localLimits?: LocalLimits;
}

/** Per-channel state (spec/06-login-server.md §3.1, LOGIN-FLOW-*). */
export interface Session {
  readonly peer: PeerIdentity | null;
  readonly software: string;
  readonly handshakeHash: Uint8Array;
  /** The source address as the socket reports it, for the per-address limits. */
  readonly remoteAddress: string;
  registration?: { username: string };
  login?: { username: string; state: Uint8Array };
  /** The login that succeeded on this channel and the certificate it issued. */
  loggedIn?: { username: string; certificate: Uint8Array; decoded: Certificate; passwordChangedAtMs?: number };
  changePassword?: { username: string };
}

export type CoreAction = { kind: 'reply'; packet: Packet } | { kind: 'close'; code: ErrorCode; detail: string };

const reply = (requestId: number, body: PacketBody): CoreAction => ({ kind: 'reply', packet: { requestId, body } });
const refused = (code: ErrorCode, detail: string) => new RequestRefused(code, detail);

export class LoginServerCore {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #suite: CryptoSuite;
  readonly #id: ServerIdentity;
  readonly #localLimits: LocalLimits;
  #policy!: EffectivePolicy;
  #limits!: LimitsConfig;
  #addresses!: TokenBucketTable;
  /** [LOGIN-PREKEY-5] FetchPrekeys per account: the policy's search rate. */
  #searches!: TokenBucketTable;
  readonly gate: AdmissionGate;
  readonly #published = new Map<PublishedKind, Published>();
  readonly #loginCertificate: Certificate;

  private constructor(deps: CoreDeps) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#suite = deps.suite;
    this.#id = deps.identity;
    this.#localLimits = deps.localLimits ?? DEFAULT_LIMITS;
    this.gate = new AdmissionGate(this.#localLimits.admission, deps.clock);
    this.#loginCertificate = decodeCertificate(decodeSigned(deps.identity.loginCertificate).body);
  }

  /**
   * Opens the core over `deps.store`: publishes version 1 of the policy, supernode list and revocation
   * list when the store has none ([LOGIN-PUB-3]), then loads what is published.
   */
  static async open(deps: CoreDeps): Promise<LoginServerCore> {
    const core = new LoginServerCore(deps);
    const now = deps.clock.now();
    if ((await deps.store.getPublished('policy')) === undefined) {
      await core.publishPolicy({ version: 1, issuedAt: now } as never);
    }
    if ((await deps.store.getPublished('supernode-list')) === undefined) await core.#publishSupernodeList(now, 1);
    if ((await deps.store.getPublished('revocation-list')) === undefined) await core.#publishRevocations(now, 1);
    await core.refresh();
    return core;
  }

  get policy(): EffectivePolicy {
    return this.#policy;
  }
  /** The pinned roots initiators' chains must end at. */
  get trustAnchors(): Uint8Array[] {
    return this.#id.trustAnchors;
  }
  /** [LOGIN-CHAN-1] What the server proves on its channels: its ROLE_LOGIN chain and login key. */
  identityForChannels(): { chain: Uint8Array[]; seed: Uint8Array } {
    return { chain: [this.#id.loginCertificate], seed: this.#id.loginKey.seed };
  }
  get limits(): LimitsConfig {
    return this.#limits;
  }

  /**
   * Reloads the published objects from the store (other server processes may have published newer ones)
   * and rebuilds the supernode list when the live set changed. The runner calls it every few seconds.
   */
  async refresh(): Promise<void> {
    for (const kind of ['policy', 'supernode-list', 'revocation-list'] as const) {
      const p = await this.#store.getPublished(kind);
      if (p !== undefined) this.#published.set(kind, p);
    }
    const policy = this.#published.get('policy')!;
    const signed = decodeSigned(policy.pages[0]!);
    const effective = effectivePolicy(decodeNetworkPolicy(signed.body));
    if (this.#policy === undefined || effective.version !== this.#policy.version) {
      this.#policy = effective;
      this.#limits = limitsFromPolicy(
        {
          loginFailuresPerWindow: effective.rateLimits.loginFailuresPerWindow,
          loginFailureWindowS: effective.rateLimits.loginFailureWindowMs / 1000,
          loginBackoffBaseMs: effective.rateLimits.loginBackoffBaseMs,
          loginBackoffMaxMs: effective.rateLimits.loginBackoffMaxMs,
          addressBucketCapacity: effective.rateLimits.addressBucketCapacity,
          addressRefillPerMinute: effective.rateLimits.addressRefillPerMinute,
        },
        this.#localLimits,
      );
      this.#addresses = new TokenBucketTable(this.#limits.address);
      const searches = effective.rateLimits.searchPerMinute;
      this.#searches = new TokenBucketTable({
        capacity: searches,
        refillPerMinute: searches,
        maxKeys: this.#limits.address.maxKeys,
      });
    }
    await this.#maybeRebuildSupernodeList();
  }

  /** Versions clients and supernodes follow ([LOGIN-SN-3]). */
  versions(): { policyVersion: number; supernodeListEpoch: number; revocationListNumber: number } {
    return {
      policyVersion: this.#published.get('policy')?.version ?? 0,
      supernodeListEpoch: this.#published.get('supernode-list')?.version ?? 0,
      revocationListNumber: this.#published.get('revocation-list')?.version ?? 0,
    };
  }

  /** A new session for an established channel. */
  session(channel: EstablishedChannel<PeerIdentity | null>, remoteAddress: string): Session {
    return { peer: channel.peer, software: channel.peerSoftware, handshakeHash: channel.handshakeHash, remoteAddress };
  }

  /**
   * Handles one request packet. A refusal the spec answers with ErrorReply comes back as a thrown
   * ParleyError (the driver applies rejectionAction, GEN-ERR-4); BUSY and RATE_LIMITED as BusyError with
   * the retry hint. Nothing is written to the store unless the request succeeds ([LOGIN-REQ-3]).
   */
  async handle(session: Session, packet: Packet): Promise<CoreAction> {
    const id = packet.requestId;
    const b = packet.body;
    // [LOGIN-REQ-1] Every request of this chapter expects a response.
    if (id === 0) throw new ProtocolViolation(ErrorCode.UNEXPECTED_MESSAGE, `${b.case} without request_id`);
    switch (b.case) {
      case 'registerStart':
        return reply(id, { case: 'registerStartReply', value: await this.#registerStart(session, b.value) });
      case 'registerFinish':
        return reply(id, { case: 'registerFinishReply', value: await this.#registerFinish(session, b.value) });
      case 'loginStart':
        return reply(id, { case: 'loginStartReply', value: await this.#loginStart(session, b.value) });
      case 'loginFinish':
        return reply(id, { case: 'loginFinishReply', value: await this.#loginFinish(session, b.value) });
      case 'renewCertificate':
        return reply(id, { case: 'renewCertificateReply', value: await this.#renew(session, b.value) });
      case 'changePasswordStart':
        return reply(id, { case: 'changePasswordStartReply', value: await this.#changeStart(session, b.value) });
      case 'changePasswordFinish':
        return reply(id, { case: 'changePasswordFinishReply', value: await this.#changeFinish(session, b.value) });
      case 'getPolicy':
        return reply(id, { case: 'policyReply', value: this.#getPublished('policy', b.value.knownVersion, 0) });
      case 'getSupernodeList':
        return reply(id, {
          case: 'supernodeListReply',
          value: this.#getPublished('supernode-list', b.value.knownEpoch, b.value.page),
        });
      case 'getRevocationList':
        return reply(id, {
          case: 'revocationListReply',
          value: this.#getPublished('revocation-list', b.value.knownNumber, b.value.page),
        });
      case 'supernodeRegister':
        return reply(id, { case: 'supernodeRegisterReply', value: await this.#supernodeRegister(session, b.value) });
      case 'supernodeHeartbeat':
        return reply(id, { case: 'supernodeHeartbeatReply', value: await this.#heartbeat(session, b.value) });
      case 'uploadPrekeys':
        return reply(id, { case: 'uploadPrekeysReply', value: await this.#uploadPrekeys(session, b.value) });
      case 'fetchPrekeys':
        return reply(id, { case: 'fetchPrekeysReply', value: await this.#fetchPrekeys(session, b.value) });
      case 'getContactBlob': {
        const user = await this.#user(session);
        const blob = await this.#store.getContactBlob(user.username);
        return reply(id, {
          case: 'contactBlobReply',
          value: { version: blob?.version ?? 0, blob: blob?.blob ?? new Uint8Array(0) },
        });
      }
      case 'putContactBlob': {
        const user = await this.#user(session);
        const r = await this.#store.putContactBlob(
          user.username,
          b.value.expectedVersion,
          b.value.blob,
          this.#clock.now(),
        );
        // [LOGIN-CONTACT-3] compare-and-set: a stale expected_version is CONFLICT, nothing written.
        if (!r.ok) throw refused(ErrorCode.CONFLICT, `current version ${r.current}`);
        return reply(id, { case: 'putContactBlobReply', value: { version: r.version } });
      }
      default:
        // [LOGIN-REQ-2] A response body, or a body of another chapter, is not a request to a login server.
        throw new ProtocolViolation(ErrorCode.UNEXPECTED_MESSAGE, `${b.case} is not a login-server request`);
    }
  }

  // ---- Limits --------------------------------------------------------------------------------------------

  /** [LOGIN-RATE-8] One token of the source address's bucket, or RATE_LIMITED with the wait. */
  #takeAddress(session: Session): void {
    let key: string;
    try {
      key = addressKey(session.remoteAddress, this.#localLimits.address);
    } catch {
      key = session.remoteAddress; // a transport without IP addresses (tests): one bucket per address string
    }
    const r = this.#addresses.take(key, this.#clock.now());
    if (!r.ok) throw new BusyError(ErrorCode.RATE_LIMITED, r.retryAfterMs, 0); // [LOGIN-RATE-8] no jitter
  }

  // ---- Accounts ------------------------------------------------------------------------------------------

  async #registerStart(s: Session, m: { username: string; registrationRequest: Uint8Array }) {
    // [LOGIN-NAME-5] USERNAME_INVALID; [LOGIN-NAME-6] a reserved name is USERNAME_TAKEN
    const username = opaque.registrableUsername(m.username);
    this.#takeAddress(s);
    return this.gate.run(async () => {
      // [LOGIN-OPAQUE-*] registration necessarily reveals that a name is taken.
      if ((await this.#store.getAccount(username)) !== undefined) throw refused(ErrorCode.USERNAME_TAKEN, username);
      const registrationResponse = opaque.registrationResponse(this.#id.opaqueSetup, username, m.registrationRequest);
      s.registration = { username };
      return { registrationResponse, username };
    });
  }

  async #registerFinish(s: Session, m: { registrationRecord: Uint8Array }) {
    const pending = s.registration;
    // [LOGIN-FLOW-2] RegisterFinish only after RegisterStart on the same channel.
    if (pending === undefined)
      throw new ProtocolViolation(ErrorCode.UNEXPECTED_MESSAGE, 'RegisterFinish before RegisterStart');
    s.registration = undefined;
    opaque.checkRegistrationRecord(m.registrationRecord);
    const r = await this.#store.createAccount({
      username: pending.username,
      registrationRecord: m.registrationRecord,
      atMs: this.#clock.now(),
    });
    if (r === 'exists') throw refused(ErrorCode.USERNAME_TAKEN, pending.username);
    return { username: pending.username };
  }

  async #loginStart(s: Session, m: { username: string; startLoginRequest: Uint8Array }) {
    const username = opaque.normaliseUsername(m.username);
    this.#takeAddress(s);
    const now = this.#clock.now();
    // [LOGIN-RATE-5] the per-name backoff is applied before the account is looked up, to every name.
    const decision = accountLoginDecision(await this.#store.getLoginFailures(username), now, this.#limits.account);
    if (!decision.allowed) {
      throw new BusyError(ErrorCode.RATE_LIMITED, decision.retryAfterMs, 0); // [LOGIN-RATE-4] no jitter
    }
    return this.gate.run(async () => {
      // [LOGIN-RATE-2] KE2 lets the client test its password offline, so a guesser never needs LoginFinish:
      // the attempt counts as a failure now, before the reply, and a successful LoginFinish clears it.
      await this.#store.recordLoginFailure(username, now, this.#limits.account.windowMs);
      const account = await this.#store.getAccount(username);
      // [LOGIN-OPAQUE-*] an unknown or disabled name gets a fake KE2, indistinguishable from a real one.
      const record = account !== undefined && !account.disabled ? account.registrationRecord : undefined;
      const { ke2, state } = opaque.startLogin(this.#id.opaqueSetup, username, record, m.startLoginRequest);
      s.login = { username, state };
      return { loginResponse: ke2 };
    });
  }

  async #loginFinish(
    s: Session,
    m: {
      finishLoginRequest: Uint8Array;
      certificateRequest?: { subjectKey: Uint8Array; deviceId: Uint8Array; proof: Uint8Array };
    },
  ) {
    const pending = s.login;
    if (pending === undefined)
      throw new ProtocolViolation(ErrorCode.UNEXPECTED_MESSAGE, 'LoginFinish before LoginStart');
    s.login = undefined;
    // [LOGIN-CERT-2] [LOGIN-CERT-3] the request is checked before anything is decided on the password.
    const request = verifyCertificateRequest(this.#suite, m.certificateRequest, s.handshakeHash);
    this.#checkSoftware(s);
    const sessionKey = await this.gate.run(() => opaque.finishLogin(pending.state, m.finishLoginRequest));
    // The attempt was counted at LoginStart ([LOGIN-RATE-2]); a failure here adds nothing.
    if (sessionKey === undefined) throw refused(ErrorCode.AUTH_FAILED, 'login failed');
    const account = await this.#store.getAccount(pending.username);
    if (account === undefined || account.disabled) throw refused(ErrorCode.AUTH_FAILED, 'login failed');
    await this.#store.clearLoginFailures(pending.username); // [LOGIN-RATE-3]
    const issued = await this.#issue('user', pending.username, request.subjectKey, request.deviceId);
    s.loggedIn = {
      username: pending.username,
      certificate: issued,
      decoded: decodeCertificate(decodeSigned(issued).body),
      passwordChangedAtMs: account.passwordChangedAtMs,
    };
    return { certificate: issued, loginCertificate: this.#id.loginCertificate, username: pending.username };
  }

  async #renew(
    s: Session,
    m: { certificateRequest?: { subjectKey: Uint8Array; deviceId: Uint8Array; proof: Uint8Array } },
  ) {
    // [LOGIN-CERT-5] renewal on a channel authenticated with a valid ROLE_USER certificate, no password.
    const cert = s.peer?.certificate;
    if (cert === undefined || cert.role !== Role.ROLE_USER)
      throw refused(ErrorCode.NOT_AUTHORIZED, 'not a user channel');
    this.#takeAddress(s); // [LOGIN-RATE-8] RenewCertificate is charged to the source's bucket too
    const request = verifyCertificateRequest(this.#suite, m.certificateRequest, s.handshakeHash);
    // [LOGIN-CERT-6] the device keeps its device id; its key may change.
    if (!bytesEqual(request.deviceId, cert.deviceId)) throw refused(ErrorCode.NOT_AUTHORIZED, 'another device id');
    this.#checkSoftware(s);
    if (await this.#store.isRevoked(cert.serial))
      throw new IdentityError(ErrorCode.CERT_REVOKED, `serial ${cert.serial}`);
    const account = await this.#store.getAccount(cert.subject);
    if (account === undefined || account.disabled) throw refused(ErrorCode.NOT_AUTHORIZED, 'account disabled');
    // [LOGIN-OPAQUE-30] a certificate issued before the last password change is not renewed.
    if (cert.notBefore < account.passwordChangedAtMs) throw refused(ErrorCode.NOT_AUTHORIZED, 'password changed');
    const issued = await this.gate.run(() => this.#issue('user', cert.subject, request.subjectKey, request.deviceId));
    return { certificate: issued, loginCertificate: this.#id.loginCertificate, username: cert.subject };
  }

  async #changeStart(s: Session, m: { registrationRequest: Uint8Array }) {
    // [LOGIN-OPAQUE-*] only on a channel where LoginFinish succeeded.
    if (s.loggedIn === undefined) throw refused(ErrorCode.NOT_AUTHORIZED, 'log in on this channel first');
    const username = s.loggedIn.username;
    return this.gate.run(() => {
      const registrationResponse = opaque.registrationResponse(this.#id.opaqueSetup, username, m.registrationRequest);
      s.changePassword = { username };
      return { registrationResponse };
    });
  }

  async #changeFinish(s: Session, m: { registrationRecord: Uint8Array }) {
    const pending = s.changePassword;
    if (pending === undefined) {
      throw new ProtocolViolation(ErrorCode.UNEXPECTED_MESSAGE, 'ChangePasswordFinish before ChangePasswordStart');
    }
    s.changePassword = undefined;
    opaque.checkRegistrationRecord(m.registrationRecord);
    // [LOGIN-OPAQUE-29] the record must be the one this channel's login was checked against.
    const account = await this.#store.getAccount(pending.username);
    if (account === undefined) throw refused(ErrorCode.NOT_FOUND, 'account gone');
    if (account.passwordChangedAtMs !== s.loggedIn?.passwordChangedAtMs) {
      throw refused(ErrorCode.CONFLICT, 'the password changed since this login');
    }
    if (!(await this.#store.replaceRegistrationRecord(pending.username, m.registrationRecord, this.#clock.now()))) {
      throw refused(ErrorCode.NOT_FOUND, 'account gone');
    }
    return {};
  }

  /** [POLICY-DENY-2] No certificate for deny-listed software. */
  #checkSoftware(s: Session): void {
    if (isSoftwareDenied(this.#policy.deniedSoftware, s.software)) {
      throw new IncompatiblePeer(ErrorCode.SOFTWARE_DENIED, s.software);
    }
  }

  /**
   * The user a request acts for ([LOGIN-AUTH-1]): the login on this channel, else the channel's ROLE_USER
   * certificate, which this server issued (the store keeps its encoding, which prekey bundles carry).
   */
  async #user(s: Session): Promise<{ username: string; certificate: Uint8Array; decoded: Certificate }> {
    if (s.loggedIn !== undefined) return s.loggedIn;
    const peer = s.peer;
    if (peer !== null && peer.certificate.role === Role.ROLE_USER) {
      const issued = await this.#store.getCertificate(peer.certificate.serial);
      if (issued !== undefined && bytesEqual(issued.subjectKey, peer.certificate.subjectKey)) {
        return { username: peer.certificate.subject, certificate: issued.certificate, decoded: peer.certificate };
      }
    }
    throw refused(ErrorCode.NOT_AUTHORIZED, 'not a user channel');
  }

  // ---- Certificates --------------------------------------------------------------------------------------

  /** [LOGIN-CERT-1] Issues and records a certificate; the serial comes from the store. */
  async #issue(
    role: 'user' | 'supernode',
    subject: string,
    subjectKey: Uint8Array,
    deviceId: Uint8Array,
    lifetimeMs?: number,
  ): Promise<Uint8Array> {
    const now = this.#clock.now();
    const lifetime =
      lifetimeMs ?? (role === 'user' ? this.#policy.userCertLifetimeMs : this.#policy.supernodeCertLifetimeMs);
    // [LOGIN-CERT-4] never beyond the issuer's own certificate.
    const notAfter = Math.min(now + lifetime, this.#loginCertificate.notAfter);
    // [ID-CERT-14] never sign a certificate a verifier would refuse (ApiMisuse for the caller).
    try {
      checkCertificate({
        version: 1,
        subject,
        subjectKey,
        deviceId,
        role: role === 'user' ? Role.ROLE_USER : Role.ROLE_SUPERNODE,
        serial: 1,
        notBefore: now,
        notAfter,
        issuerKeyId: this.#id.loginKey.keyId,
      });
    } catch (e) {
      throw new ApiMisuse(`certificate fields: ${(e as Error).message}`);
    }
    const issued = await this.#store.issueCertificate(
      { role, subject, subjectKey, deviceId, notBeforeMs: now, notAfterMs: notAfter, issuedAtMs: now },
      (serial) =>
        signObject(
          this.#suite,
          this.#id.loginKey,
          SignatureContext.SIGNATURE_CONTEXT_CERTIFICATE,
          encodeCertificate({
            version: 1,
            subject,
            subjectKey,
            deviceId,
            role: role === 'user' ? Role.ROLE_USER : Role.ROLE_SUPERNODE,
            serial,
            notBefore: now,
            notAfter,
            issuerKeyId: this.#id.loginKey.keyId,
          }),
        ),
    );
    return issued.certificate;
  }

  /**
   * [LOGIN-CERT-7] Issues a supernode certificate (operators for hosted supernodes through the CLI; the
   * election's ratification, chapter 12). The caller has decided that the subject may serve.
   */
  issueSupernodeCertificate(o: {
    subject: string;
    subjectKey: Uint8Array;
    deviceId: Uint8Array;
    lifetimeMs?: number;
  }): Promise<Uint8Array> {
    return this.#issue('supernode', o.subject, o.subjectKey, o.deviceId, o.lifetimeMs);
  }

  /** [LOGIN-REVOKE-1] Revokes a serial and publishes the next revocation list. */
  async revoke(serial: number, reason: string): Promise<'revoked' | 'already' | 'unknown'> {
    const r = await this.#store.revoke(serial, reason, this.#clock.now());
    if (r === 'revoked') {
      const current = (await this.#store.getPublished('revocation-list'))?.version ?? 0;
      await this.#publishRevocations(this.#clock.now(), current + 1);
      await this.refresh();
    }
    return r;
  }

  // ---- Published objects -----------------------------------------------------------------------------------

  /** [POLICY-GEN-5] Signs and publishes a new policy version (greater than the current one). */
  async publishPolicy(fields: Parameters<typeof signNetworkPolicy>[2]): Promise<boolean> {
    const signed = signNetworkPolicy(this.#suite, this.#id.loginKey, fields);
    const version = Number(fields.version);
    const ok = await this.#store.publish('policy', { version, pages: [signed], publishedAtMs: this.#clock.now() });
    if (ok && this.#policy !== undefined) await this.refresh();
    return ok;
  }

  async #publishRevocations(now: number, number: number): Promise<void> {
    // [LOGIN-REVOKE-3] an entry stays until its certificate's not_after plus the largest skew (1 h).
    const entries = (await this.#store.listRevocations(now - REVOCATION_GRACE_MS)).map((r) => ({
      serial: r.serial,
      notAfterMs: r.notAfterMs,
    }));
    const pages = signRevocationList(this.#suite, this.#id.loginKey, { number, issuedAtMs: now, entries });
    await this.#store.publish('revocation-list', { version: number, pages, publishedAtMs: now });
  }

  #liveSince(now: number): number {
    const interval = this.#policy?.heartbeatIntervalMs ?? 30_000;
    return now - MISSED_HEARTBEATS * interval;
  }

  async #publishSupernodeList(now: number, epoch: number, records?: SupernodeRecord[]): Promise<void> {
    const live = records ?? (await this.#store.listLiveSupernodes(this.#liveSince(now), now));
    const entries: SupernodeListEntryInput[] = live.map((r) => entryOf(r));
    const pages = signSupernodeList(
      this.#suite,
      this.#id.loginKey,
      { epoch, issuedAtMs: now, expiresAtMs: now + SUPERNODE_LIST_TTL_MS, entries },
      this.#placementKeys,
    );
    await this.#store.publish('supernode-list', { version: epoch, pages, publishedAtMs: now });
  }

  /** Placement keys derived for earlier epochs (one signature per supernode, not one per entry per epoch). */
  readonly #placementKeys = new PlacementKeyCache();
  #lastListKey = '';
  #listSeen = false;
  /** [LOGIN-LIST-5] A new epoch when the set of live supernodes changes (not on every heartbeat). */
  async #maybeRebuildSupernodeList(): Promise<void> {
    const now = this.#clock.now();
    const live = await this.#store.listLiveSupernodes(this.#liveSince(now), now);
    const key = live.map((r) => Buffer.from(r.entry).toString('hex')).join(',');
    if (key === this.#lastListKey) return;
    const current = this.#published.get('supernode-list');
    const first = !this.#listSeen;
    this.#listSeen = true;
    this.#lastListKey = key;
    // At start, an empty live set needs no new epoch: the published list is at most stale by expiry.
    if (first && live.length === 0 && current !== undefined) return;
    await this.#publishSupernodeList(now, (current?.version ?? 0) + 1, live);
    const p = await this.#store.getPublished('supernode-list');
    if (p !== undefined) this.#published.set('supernode-list', p);
  }

  #getPublished(kind: PublishedKind, known: number, page: number) {
    const p = this.#published.get(kind)!;
    // [LOGIN-PUB-4] the asker holds the current version: nothing to send.
    if (known === p.version && known !== 0) {
      return {
        unchanged: true,
        page: new Uint8Array(0),
        policy: new Uint8Array(0),
        loginCertificate: new Uint8Array(0),
      };
    }
    const bytes = p.pages[page];
    if (bytes === undefined) throw refused(ErrorCode.NOT_FOUND, `page ${page} of ${p.pages.length}`);
    return { unchanged: false, page: bytes, policy: bytes, loginCertificate: this.#id.loginCertificate };
  }

  // ---- Supernodes ----------------------------------------------------------------------------------------

  #supernode(s: Session): PeerIdentity {
    const peer = s.peer;
    if (peer === null || peer.certificate.role !== Role.ROLE_SUPERNODE) {
      throw refused(ErrorCode.NOT_AUTHORIZED, 'not a supernode channel');
    }
    return peer;
  }

  async #supernodeRegister(
    s: Session,
    m: { endpoints: readonly { protocol: number; address: Uint8Array; port: number }[]; capacity: number },
  ) {
    const peer = this.#supernode(s);
    this.#checkSoftware(s);
    if (m.endpoints.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'SupernodeRegister.endpoints');
    checkEndpoints(m.endpoints, 'SupernodeRegister.endpoints'); // [LOGIN-SN-2]
    if (m.capacity === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'SupernodeRegister.capacity');
    if (await this.#store.isRevoked(peer.certificate.serial)) {
      throw new IdentityError(ErrorCode.CERT_REVOKED, `serial ${peer.certificate.serial}`);
    }
    const now = this.#clock.now();
    const cert = peer.certificate;
    const issued = await this.#store.getCertificate(cert.serial);
    if (issued === undefined || !bytesEqual(issued.subjectKey, cert.subjectKey)) {
      throw refused(ErrorCode.NOT_AUTHORIZED, 'certificate not issued here');
    }
    const record: SupernodeRecord = {
      keyId: peer.keyId,
      certificate: issued.certificate,
      serial: cert.serial,
      notAfterMs: cert.notAfter,
      entry: encodeEntry({
        keyId: peer.keyId,
        endpoints: m.endpoints.map((e) => ({ protocol: e.protocol, address: e.address, port: e.port })),
        software: s.software,
        loadPercent: 0,
        hosted: false,
        notAfterMs: cert.notAfter,
      }),
      software: s.software,
      registeredAtMs: now,
      lastHeartbeatAtMs: now,
      load: 0,
      capacity: m.capacity,
    };
    await this.#store.upsertSupernode(record);
    await this.#maybeRebuildSupernodeList();
    return { heartbeatIntervalMs: this.#policy.heartbeatIntervalMs, versions: this.versions() };
  }

  async #heartbeat(s: Session, m: { load: number }) {
    const peer = this.#supernode(s);
    // [LOGIN-SN-3] the reply names the versions, so a supernode sees a new policy within one interval.
    if (!(await this.#store.supernodeHeartbeat(peer.keyId, m.load, this.#clock.now()))) {
      throw refused(ErrorCode.NOT_FOUND, 'register first');
    }
    return { versions: this.versions() };
  }

  // ---- Prekeys -------------------------------------------------------------------------------------------

  async #uploadPrekeys(
    s: Session,
    m: { signedPrekey: Uint8Array; oneTimePrekeys: readonly { id: number; publicKey: Uint8Array }[] },
  ) {
    const user = await this.#user(s);
    // [LOGIN-PREKEY-2] signed by the device's certified key, naming its device id.
    verifySignedPrekey(this.#suite, m.signedPrekey, user.decoded);
    for (const k of m.oneTimePrekeys) {
      if (k.publicKey.length !== 32) throw new DecodeError(ErrorCode.MALFORMED, 'OneTimePrekey.public_key');
    }
    const now = this.#clock.now();
    await this.#store.putSignedPrekey(user.username, user.decoded.deviceId, user.certificate, m.signedPrekey, now);
    const held = await this.#store.addOneTimePrekeys(
      user.username,
      user.decoded.deviceId,
      m.oneTimePrekeys.map((k) => ({ id: k.id, publicKey: Uint8Array.from(k.publicKey) })),
      MAX_ONE_TIME_PREKEYS_HELD,
    );
    return { oneTimePrekeysHeld: held ?? 0 };
  }

  async #fetchPrekeys(s: Session, m: { username: string }) {
    const user = await this.#user(s);
    // [LOGIN-PREKEY-5] a search is a FetchPrekeys: at most `search_per_minute` per account, whatever address.
    const r = this.#searches.take(user.username, this.#clock.now());
    if (!r.ok) throw new BusyError(ErrorCode.RATE_LIMITED, r.retryAfterMs, 0);
    const username = opaque.normaliseUsername(m.username);
    this.#takeAddress(s);
    const devices = await this.#store.takePrekeyBundles(username, MAX_DEVICES_PER_USER);
    if (devices.length === 0) throw refused(ErrorCode.NOT_FOUND, 'no prekeys');
    return {
      bundles: devices.map((d) => ({
        certificate: d.certificate,
        signedPrekey: d.signedPrekey,
        oneTimePrekey:
          d.oneTimePrekey === undefined ? undefined : { id: d.oneTimePrekey.id, publicKey: d.oneTimePrekey.publicKey },
      })),
    };
  }
}

/** The supernode-list entry of a registration, with the load it reported last. */
function entryOf(r: SupernodeRecord): SupernodeListEntryInput {
  const e = decodeEntry(r.entry);
  return { ...e, loadPercent: r.capacity > 0 ? Math.min(100, Math.floor((r.load * 100) / r.capacity)) : 0 };
}

/** The stored entry is login.proto's own SupernodeEntry encoding (the store keeps it opaque). */
const encodeEntry = (e: SupernodeListEntryInput): Uint8Array =>
  parley.v1.SupernodeEntry.encode({
    keyId: e.keyId,
    endpoints: e.endpoints,
    software: e.software,
    loadPercent: e.loadPercent,
    hosted: e.hosted,
    notAfter: e.notAfterMs,
  } as unknown as parley.v1.SupernodeEntry.$Properties).finish();
function decodeEntry(b: Uint8Array): SupernodeListEntryInput {
  const m = parley.v1.SupernodeEntry.decode(b);
  return {
    keyId: Uint8Array.from(m.keyId),
    endpoints: m.endpoints.map((x) => ({
      protocol: x.protocol ?? 0,
      address: Uint8Array.from(x.address ?? []),
      port: x.port ?? 0,
    })),
    software: m.software,
    loadPercent: m.loadPercent,
    hosted: m.hosted,
    notAfterMs: Number(m.notAfter),
  };
}
