/**
 * The client side of spec/06-login-server.md: one stream channel to a login server (03-channels.md), on
 * which the login server is the responder and proves a ROLE_LOGIN certificate under the pinned roots
 * ([LOGIN-CHAN-1]); the initiator is anonymous ([ID-HS-11]) or certified (ROLE_USER, ROLE_SUPERNODE).
 * Nodes, supernodes, the CLI, the benchmark and the conformance harness use it.
 *
 *   method                 bodies                                      verified here
 *   register               RegisterStart/Finish 100-103                the name the server echoes [LOGIN-NAME-7]
 *   login                  LoginStart/Finish 104-107                   KE2 (no KE3 when it fails [LOGIN-OPAQUE-23]),
 *                                                                      the certificate chain, key, device id, subject
 *   renew                  RenewCertificate 108-109                    the certificate, as for login
 *   changePassword         ChangePasswordStart/Finish 110-113          (the new record is sealed locally)
 *   getPolicy              GetPolicy 114-115                           signature, fields, version [POLICY-*]
 *   getSupernodeList       GetSupernodeList 116-117                    every page, one epoch [LOGIN-LIST-*]
 *   getRevocationList      GetRevocationList 118-119                   every page, one number [LOGIN-REVOKE-*]
 *   supernodeRegister/-Heartbeat  120-123                              -
 *   uploadPrekeys / fetchPrekeys  124-127                              each bundle: certificate under the login
 *                                                                      key, subject, signed prekey [LOGIN-PREKEY-2]
 *   get/putContactBlob     128-131                                     -
 *
 * Refusals. An ErrorReply rejects the call with the ParleyError of its code's kind (`errorFromReply`:
 * RequestRefused for 800-899, ResourceError for 700-799, ...); a Close from the server, or any other end
 * of the channel, rejects it with ChannelClosedError (its `reason.code` is the server's code). A reply of
 * the wrong body is ProtocolViolation(UNEXPECTED_MESSAGE); an object or certificate that fails
 * verification rejects with the verifier's error (IdentityError, DecodeError, ...).
 *
 * Retries ([WIRE-ERRREPLY-3], [LOGIN-RATE-18], [LOGIN-RATE-19]). BUSY and RATE_LIMITED are waited out on
 * the transport's clock, with its randomness (never the wall clock): `retry_after_ms` plus a uniform draw
 * from [0, `retry_jitter_ms`], or without a hint exponential backoff with full jitter, counted per kind
 * of request until one succeeds. A call makes at most `retry.maxAttempts` attempts (default 3), and gives
 * up at once when a wait would exceed `retry.maxDelayMs` (default 60 s); it then rejects with the last
 * refusal. Whatever happens, a refused kind of request is not sent again on this channel, nor on another
 * given the same `retryState`, before its wait has passed (a later call waits, or rejects at once with
 * BUSY/RATE_LIMITED when the rest of the wait exceeds maxDelayMs). What is retried, and how:
 * - single requests (GetPolicy, the list pages, RenewCertificate, SupernodeRegister/Heartbeat,
 *   UploadPrekeys, FetchPrekeys, Get/PutContactBlob) are sent again unchanged: a refused request changed
 *   nothing on the server ([LOGIN-REQ-3]), so repeating it is safe even where the request is not
 *   idempotent (FetchPrekeys takes one-time prekeys, PutContactBlob is compare-and-set);
 * - two-step exchanges (registration, login, password change) restart from their first step with a fresh
 *   OPAQUE start, whichever step was refused: the server ends an exchange at its finish whatever the
 *   outcome ([LOGIN-FLOW-2]), so a refused finish cannot be repeated. A restarted login costs another
 *   key stretching, and its LoginStart counts as another attempt for the name ([LOGIN-RATE-2]).
 * Nothing else is retried: a timeout or a closed channel may hide a request the server carried out.
 *
 * Time. Certificates and published objects are judged at `now()` (default: the transport's clock), which
 * must read unix milliseconds: the simulator's clock shifted to an epoch, or a wall clock over real
 * sockets (createRealTransport's clock counts from process start).
 */

import { ChannelClosedError, type CloseReason, StreamChannel } from '@parley/channel';
import type { Clock, NetAddress, Random, Transport } from '@parley/net';
import {
  ApiMisuse,
  anonymousPayloadCodec,
  bytesEqual,
  type Certificate,
  type CryptoSuite,
  certifiedPayloadCodec,
  checkEndpoints,
  checkPolicyNewer,
  DEVICE_ID_BYTES,
  DecodeError,
  decodeCertificate,
  decodeSigned,
  type EffectivePolicy,
  ErrorCode,
  type EstablishedChannel,
  IdentityError,
  isParleyError,
  type ListPage,
  type LocalIdentity,
  type LoginSignedPolicy,
  MAX_ENDPOINTS,
  type PacketBodies,
  type PacketBody,
  type PeerIdentity,
  ProtocolViolation,
  RequestRefused,
  ResourceError,
  type RevokedSerial,
  Role,
  SEED_BYTES,
  SignatureContext,
  type SignedPrekeyFields,
  SUPPORTED_PROTOCOL_VERSIONS,
  type SupernodeListEntry,
  signCertificateRequest,
  startInitiator,
  verifyChain,
  verifyNetworkPolicy,
  verifyRevocationListPage,
  verifySigned,
  verifySignedPrekey,
  verifySupernodeListPage,
} from '@parley/wire';
import {
  clientFinishLogin,
  clientFinishRegistration,
  clientStartLogin,
  clientStartRegistration,
  normaliseUsername,
  prepareNewPassword,
} from '../accounts/index.js';
import { BusyError } from '../server/errors.js';
import { errorFromReply, isRetryable, retryDelayMs } from './errors.js';

/** The software string of the client's handshake payload unless given. */
export const DEFAULT_CLIENT_SOFTWARE = 'parley-ref/0.1.0';
/** Attempts per call, the first included, unless `retry.maxAttempts` says otherwise. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** The longest wait a call sits out before it rejects instead (`busy-retry-max`, 06 §7.6). */
export const DEFAULT_MAX_RETRY_DELAY_MS = 60_000;
/** [LOGIN-LIST-6] How often a list fetch starts again because the epoch changed, before it gives up. */
export const MAX_LIST_RESTARTS = 8;

/** A device's certified key (its Ed25519 seed) and its 16-byte device id (02-identity.md). */
export interface Device {
  readonly seed: Uint8Array;
  readonly deviceId: Uint8Array;
}

export interface RetryOptions {
  /** Attempts per call, the first included (>= 1). */
  readonly maxAttempts: number;
  /** A wait longer than this is not sat out: the call rejects with the refusal. */
  readonly maxDelayMs?: number;
}

/** The kinds of request whose refusals are waited out separately ([LOGIN-RATE-18]). */
export type Exchange =
  | 'register'
  | 'login'
  | 'renew'
  | 'changePassword'
  | 'policy'
  | 'supernodeList'
  | 'revocationList'
  | 'supernodeRegister'
  | 'supernodeHeartbeat'
  | 'uploadPrekeys'
  | 'fetchPrekeys'
  | 'contactBlob';

/**
 * What a client remembers of refusals: when each kind of request may be sent again ([LOGIN-RATE-18])
 * and how many consecutive refusals it has had ([LOGIN-RATE-19]). Each LoginClient has its own unless
 * given one: pass the same RetryState to every channel opened to one server (on one transport, whose
 * clock the times are on), so that a refused request is not repeated on a new channel either.
 */
export class RetryState {
  readonly notBefore = new Map<Exchange, { at: number; error: BusyError }>();
  readonly refusals = new Map<Exchange, number>();
}

/** Reported for each BUSY or RATE_LIMITED refusal (logs, metrics, tests). */
export interface RetryEvent {
  readonly exchange: Exchange;
  readonly error: BusyError;
  /** The attempt of this call that was refused (1 for the first). */
  readonly attempt: number;
  /** The wait drawn before the next attempt. */
  readonly delayMs: number;
  /** The transport clock when the refusal arrived. */
  readonly atMs: number;
  /** False when the call gives up (attempts exhausted, or the wait above maxDelayMs). */
  readonly willRetry: boolean;
}

export interface LoginClientOptions {
  readonly transport: Transport;
  readonly server: NetAddress;
  readonly suite: CryptoSuite;
  /** The network's pinned root keys: the server must prove a ROLE_LOGIN certificate under one. */
  readonly trustAnchors: Uint8Array[];
  /** A certified channel (ROLE_USER or ROLE_SUPERNODE chain and seed); anonymous when absent ([ID-HS-11]). */
  readonly identity?: LocalIdentity;
  readonly software?: string;
  /** Randomness for the handshake and the retry jitter; default the transport's. */
  readonly random?: Random;
  readonly retry?: RetryOptions;
  /** Shared with other channels to the same server; default a new one ([LOGIN-RATE-18]). */
  readonly retryState?: RetryState;
  /** Unix milliseconds for judging certificates and objects; default the transport's clock. */
  readonly now?: () => number;
  /** [CHAN-HS-8] default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** `request-timeout` of each request; default 30 s. */
  readonly requestTimeoutMs?: number;
  readonly onRetry?: (event: RetryEvent) => void;
  /** The channel closed (the server's Close, the network, or `close()`). */
  readonly onClosed?: (reason: CloseReason) => void;
}

/** A certificate issued to this client, verified ([LOGIN-CERT-*]). */
export interface ReceivedCertificate {
  /** The normalised user name, the certificate's subject. */
  readonly username: string;
  /** The encoded `Signed` ROLE_USER certificate. */
  readonly certificate: Uint8Array;
  /** The issuer's encoded `Signed` ROLE_LOGIN certificate. */
  readonly loginCertificate: Uint8Array;
  /** [certificate, loginCertificate]: the chain to present on channels (LocalIdentity.chain). */
  readonly chain: Uint8Array[];
  /** The certificate, decoded. */
  readonly leaf: Certificate;
}

export interface LoginResult extends ReceivedCertificate {
  /** SECRET, the client's alone ([LOGIN-OPAQUE-25]); the same at every login until the password changes. */
  readonly exportKey: Uint8Array;
}

/** A list assembled from every page of one version, each page verified ([LOGIN-LIST-6], [LOGIN-REVOKE-4]). */
export interface VerifiedList<E> {
  /** The supernode list's epoch or the revocation list's number. */
  readonly version: number;
  readonly issuedAtMs: number;
  /** Supernode list: when to fetch a newer one ([LOGIN-LIST-7]); 0 for the revocation list. */
  readonly expiresAtMs: number;
  readonly entries: E[];
  /** The signed pages exactly as received, to pass on unchanged ([LOGIN-PUB-1]). */
  readonly pages: Uint8Array[];
  /** The login certificate of each page's reply. */
  readonly loginCertificates: Uint8Array[];
}

/** One device's prekeys, verified ([LOGIN-PREKEY-2], [LOGIN-PREKEY-3]). */
export interface PrekeyBundle {
  /** The device's ROLE_USER certificate (signed by the login key of this channel), decoded and encoded. */
  readonly certificate: Certificate;
  readonly certificateBytes: Uint8Array;
  readonly signedPrekey: SignedPrekeyFields;
  readonly signedPrekeyBytes: Uint8Array;
  readonly oneTimePrekey?: { readonly id: number; readonly publicKey: Uint8Array };
}

/** The current versions of the published objects ([LOGIN-SN-3]). */
export interface StateVersions {
  readonly policyVersion: number;
  readonly supernodeListEpoch: number;
  readonly revocationListNumber: number;
}

export interface Endpoint {
  /** TRANSPORT_PROTOCOL_UDP (1) or TRANSPORT_PROTOCOL_TCP (2). */
  readonly protocol: number;
  /** 4 (IPv4) or 16 (IPv6) bytes, network order. */
  readonly address: Uint8Array;
  readonly port: number;
}

type ListReply = { unchanged: boolean; page: Uint8Array; loginCertificate: Uint8Array };

const copy = (b: Uint8Array): Uint8Array => Uint8Array.from(b);

export class LoginClient {
  readonly #channel: StreamChannel<PeerIdentity>;
  readonly #suite: CryptoSuite;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #trustAnchors: Uint8Array[];
  readonly #now: () => number;
  readonly #maxAttempts: number;
  readonly #maxDelayMs: number;
  readonly #requestTimeoutMs: number | undefined;
  readonly #onRetry: ((event: RetryEvent) => void) | undefined;
  /** The subject of this channel's own certificate, when certified. */
  readonly #ownSubject: string | undefined;
  /** The name a LoginFinish succeeded for on this channel. */
  #loggedIn: string | undefined;
  /** [LOGIN-RATE-18] No request of the kind before `at`. */
  readonly #notBefore: Map<Exchange, { at: number; error: BusyError }>;
  /** [LOGIN-RATE-19] Consecutive refusals of each kind since it last succeeded. */
  readonly #refusals: Map<Exchange, number>;
  /** Waits in progress; released at once when the channel closes. */
  readonly #sleepers = new Set<() => void>();

  private constructor(channel: StreamChannel<PeerIdentity>, o: LoginClientOptions, ownSubject: string | undefined) {
    this.#channel = channel;
    this.#suite = o.suite;
    this.#clock = o.transport.clock;
    this.#random = o.random ?? o.transport.random;
    this.#trustAnchors = o.trustAnchors;
    const clock = this.#clock;
    this.#now = o.now ?? (() => clock.now());
    this.#maxAttempts = o.retry?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.#maxDelayMs = o.retry?.maxDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
    this.#requestTimeoutMs = o.requestTimeoutMs;
    this.#onRetry = o.onRetry;
    const state = o.retryState ?? new RetryState();
    this.#notBefore = state.notBefore;
    this.#refusals = state.refusals;
    this.#ownSubject = ownSubject;
  }

  /**
   * Connects to the login server at `o.server` and runs the handshake. Resolves once the channel is
   * established, the server having proved a ROLE_LOGIN certificate under `o.trustAnchors`
   * ([LOGIN-CHAN-1]); rejects with the handshake's ParleyError (NETWORK_MISMATCH, CERT_WRONG_ROLE,
   * TIMEOUT, ...), or with ChannelClosedError when the connection failed or closed first.
   */
  static connect(o: LoginClientOptions): Promise<LoginClient> {
    if (!(Number.isInteger(o.retry?.maxAttempts ?? 1) && (o.retry?.maxAttempts ?? 1) >= 1)) {
      return Promise.reject(new ApiMisuse('retry.maxAttempts must be an integer >= 1'));
    }
    if (o.trustAnchors.length === 0) return Promise.reject(new ApiMisuse('at least one trust anchor is needed'));
    const clock = o.transport.clock;
    const now = o.now ?? (() => clock.now());
    const software = o.software ?? DEFAULT_CLIENT_SOFTWARE;
    // [LOGIN-CHAN-1] the responder must prove ROLE_LOGIN under a pinned root, and nothing else.
    const policy = () => ({ trustAnchors: o.trustAnchors, nowMs: Math.floor(now()), acceptedRoles: [Role.ROLE_LOGIN] });
    const payload =
      o.identity === undefined
        ? anonymousPayloadCodec(o.suite, { software, policy })
        : certifiedPayloadCodec(o.suite, { identity: o.identity, software, policy });
    let start: ReturnType<typeof startInitiator<PeerIdentity>>;
    let ownSubject: string | undefined;
    try {
      const leaf = o.identity?.chain[0];
      ownSubject = leaf === undefined ? undefined : decodeCertificate(decodeSigned(leaf).body).subject;
      start = startInitiator({
        suite: o.suite,
        random: o.random ?? o.transport.random,
        protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
        payload,
      });
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<LoginClient>((resolve, reject) => {
      let client: LoginClient | undefined;
      const channel = StreamChannel.connect<PeerIdentity>(o.transport, o.server, {
        start,
        ...(o.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: o.handshakeTimeoutMs } : {}),
        ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
        events: {
          onEstablished: () => resolve(client!),
          // The login server sends no requests or notices of its own; anything else is discarded.
          onPacket: () => {},
          onClosed: (reason) => {
            if (channel.established === undefined) {
              reject(isParleyError(reason.error) ? reason.error : new ChannelClosedError(reason));
            }
            if (client !== undefined) client.#wake();
            o.onClosed?.(reason);
          },
        },
      });
      client = new LoginClient(channel, o, ownSubject);
    });
  }

  /** The channel (for raw requests: the conformance harness and tests). */
  get channel(): StreamChannel<PeerIdentity> {
    return this.#channel;
  }
  get established(): EstablishedChannel<PeerIdentity> {
    return this.#channel.established!;
  }
  /** The login server's verified identity (its ROLE_LOGIN certificate). */
  get server(): PeerIdentity {
    return this.established.peer;
  }
  get closed(): boolean {
    return this.#channel.closed;
  }
  get closeReason(): CloseReason | undefined {
    return this.#channel.closeReason;
  }
  /** The name a login succeeded for on this channel, if any. */
  get loggedInAs(): string | undefined {
    return this.#loggedIn;
  }

  /** Closes the channel (orderly Close). */
  close(): void {
    this.#channel.close(ErrorCode.ERROR_CODE_UNSPECIFIED);
  }

  // ---- Accounts ----------------------------------------------------------------------------------------

  /**
   * Registers `username` with `password` and resolves with the normalised name. The name is checked
   * locally first (RequestRefused(USERNAME_INVALID), [LOGIN-NAME-7]) and so is the password (ApiMisuse,
   * [LOGIN-OPAQUE-9]); a RegisterStartReply naming another name abandons the registration without
   * RegisterFinish (ProtocolViolation, [LOGIN-NAME-7]). The server refuses a taken name with
   * USERNAME_TAKEN.
   */
  register(username: string, password: string): Promise<string> {
    let name: string;
    try {
      name = normaliseUsername(username);
      prepareNewPassword(password);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#retrying('register', async () => {
      const start = clientStartRegistration(password);
      // [LOGIN-NAME-1] the name as typed; the server normalises it.
      const r1 = await this.#request(
        { case: 'registerStart', value: { username, registrationRequest: start.request } },
        'registerStartReply',
      );
      if (r1.username !== name) throw nameMismatch('RegisterStartReply', r1.username, name);
      // [LOGIN-OPAQUE-16] the record is sealed to the name the server will store it under.
      const fin = clientFinishRegistration({
        state: start.state,
        password,
        username: name,
        response: r1.registrationResponse,
      });
      const r2 = await this.#request(
        { case: 'registerFinish', value: { registrationRecord: fin.record } },
        'registerFinishReply',
      );
      if (r2.username !== name) throw nameMismatch('RegisterFinishReply', r2.username, name);
      return name;
    });
  }

  /**
   * Logs in and obtains a ROLE_USER certificate for `device` (its key and device id), bound to this
   * channel by the request's proof ([LOGIN-CERT-3]). When KE2 does not verify (a wrong password or an
   * unknown name alike) no LoginFinish is sent ([LOGIN-OPAQUE-23]) and the call rejects with
   * RequestRefused(AUTH_FAILED), as a refusal by the server would ([LOGIN-OPAQUE-24]). The certificate
   * must chain to a pinned root and certify the requested key, device id and name (IdentityError).
   */
  login(username: string, password: string, device: Device): Promise<LoginResult> {
    let name: string;
    let subjectKey: Uint8Array;
    try {
      name = normaliseUsername(username);
      subjectKey = this.#deviceKey(device);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#retrying('login', async () => {
      const start = clientStartLogin(password);
      const r1 = await this.#request(
        { case: 'loginStart', value: { username, startLoginRequest: start.ke1 } },
        'loginStartReply',
      );
      const fin = clientFinishLogin({ state: start.state, password, username: name, ke2: r1.loginResponse });
      if (fin === undefined) throw new RequestRefused(ErrorCode.AUTH_FAILED, 'the user name or the password is wrong');
      const r2 = await this.#request(
        {
          case: 'loginFinish',
          value: { finishLoginRequest: fin.ke3, certificateRequest: this.#certificateRequest(device, subjectKey) },
        },
        'loginFinishReply',
      );
      const issued = this.#checkIssued(r2, name, subjectKey, device.deviceId);
      this.#loggedIn = name;
      return { ...issued, exportKey: fin.exportKey };
    });
  }

  /**
   * Renews the certificate of this channel's ROLE_USER identity for `device` (same device id, the key may
   * be new; [LOGIN-CERT-5], [LOGIN-CERT-6]), without a password. The server refuses it on another kind
   * of channel with NOT_AUTHORIZED.
   */
  renew(device: Device): Promise<ReceivedCertificate> {
    let subjectKey: Uint8Array;
    try {
      subjectKey = this.#deviceKey(device);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#retrying('renew', async () => {
      const r = await this.#request(
        { case: 'renewCertificate', value: { certificateRequest: this.#certificateRequest(device, subjectKey) } },
        'renewCertificateReply',
      );
      return this.#checkIssued(r, this.#ownSubject, subjectKey, device.deviceId);
    });
  }

  /**
   * Changes the password of the account logged in on this channel ([LOGIN-OPAQUE-26]; ApiMisuse before a
   * login) and resolves with the new export key ([LOGIN-OPAQUE-25]). The new password must satisfy
   * [LOGIN-OPAQUE-9] (ApiMisuse). The server refuses with CONFLICT when the password changed since this
   * channel's login ([LOGIN-OPAQUE-29]).
   */
  changePassword(newPassword: string): Promise<{ exportKey: Uint8Array }> {
    const name = this.#loggedIn;
    if (name === undefined) return Promise.reject(new ApiMisuse('log in on this channel first (LOGIN-OPAQUE-26)'));
    try {
      prepareNewPassword(newPassword);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#retrying('changePassword', async () => {
      const start = clientStartRegistration(newPassword);
      const r1 = await this.#request(
        { case: 'changePasswordStart', value: { registrationRequest: start.request } },
        'changePasswordStartReply',
      );
      const fin = clientFinishRegistration({
        state: start.state,
        password: newPassword,
        username: name,
        response: r1.registrationResponse,
      });
      await this.#request(
        { case: 'changePasswordFinish', value: { registrationRecord: fin.record } },
        'changePasswordFinishReply',
      );
      return { exportKey: fin.exportKey };
    });
  }

  // ---- Published objects -------------------------------------------------------------------------------

  /**
   * The network policy, verified ([LOGIN-PUB-2], [POLICY-GEN-1..4]), or 'unchanged' when `knownVersion` (the
   * version held) is current ([LOGIN-PUB-4]). A policy older than `knownVersion` is refused with
   * TOO_OLD ([POLICY-GEN-5]).
   */
  getPolicy(knownVersion = 0): Promise<EffectivePolicy | 'unchanged'> {
    return this.#retrying('policy', async () => {
      const r = await this.#request({ case: 'getPolicy', value: { knownVersion } }, 'policyReply');
      if (r.unchanged) {
        if (knownVersion === 0) throw unchangedForNone('PolicyReply');
        return 'unchanged';
      }
      requireObject(r.policy, r.loginCertificate, 'PolicyReply');
      const policy = verifyNetworkPolicy(this.#suite, r.policy, r.loginCertificate, this.#objectPolicy());
      checkPolicyNewer(knownVersion, policy.version);
      return policy;
    });
  }

  /**
   * The supernode list: every page of one epoch, each verified ([LOGIN-LIST-1..4]), started again when
   * a page of another epoch arrives ([LOGIN-LIST-6]); 'unchanged' when `knownEpoch` is current. An epoch
   * below `knownEpoch` is refused with TOO_OLD ([LOGIN-LIST-7]).
   */
  getSupernodeList(knownEpoch = 0): Promise<VerifiedList<SupernodeListEntry> | 'unchanged'> {
    return this.#fetchList(
      'supernodeList',
      knownEpoch,
      (page) => ({ case: 'getSupernodeList', value: { knownEpoch, page } }),
      'supernodeListReply',
      (r) => verifySupernodeListPage(this.#suite, r.page, r.loginCertificate, this.#objectPolicy()),
    );
  }

  /** The revocation list, assembled and verified as the supernode list is ([LOGIN-REVOKE-2], [LOGIN-REVOKE-4]). */
  getRevocationList(knownNumber = 0): Promise<VerifiedList<RevokedSerial> | 'unchanged'> {
    return this.#fetchList(
      'revocationList',
      knownNumber,
      (page) => ({ case: 'getRevocationList', value: { knownNumber, page } }),
      'revocationListReply',
      (r) => verifyRevocationListPage(this.#suite, r.page, r.loginCertificate, this.#objectPolicy()),
    );
  }

  // ---- Supernodes ----------------------------------------------------------------------------------------

  /** [LOGIN-SN-1] Registers this supernode channel's supernode at `endpoints` (1 to 8) with `capacity`. */
  async supernodeRegister(
    endpoints: readonly Endpoint[],
    capacity: number,
  ): Promise<{ heartbeatIntervalMs: number; versions: StateVersions }> {
    // What the server would refuse, and close the channel for ([LOGIN-SN-1], [LOGIN-SN-2]): ApiMisuse here.
    if (endpoints.length === 0 || endpoints.length > MAX_ENDPOINTS) {
      throw new ApiMisuse(`1 to ${MAX_ENDPOINTS} endpoints, not ${endpoints.length}`);
    }
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new ApiMisuse('capacity must be a positive integer');
    try {
      checkEndpoints(endpoints, 'endpoints');
    } catch (e) {
      throw new ApiMisuse(`a receiver would refuse the endpoints: ${(e as Error).message}`);
    }
    const r = await this.#retrying('supernodeRegister', () =>
      this.#request(
        {
          case: 'supernodeRegister',
          value: {
            endpoints: endpoints.map((e) => ({ protocol: e.protocol, address: e.address, port: e.port })),
            capacity,
          },
        },
        'supernodeRegisterReply',
      ),
    );
    return { heartbeatIntervalMs: r.heartbeatIntervalMs, versions: versionsOf(r.versions) };
  }

  /** [LOGIN-SN-1] [LOGIN-SN-3] Reports the current load; resolves with the current versions. */
  async supernodeHeartbeat(load: number): Promise<StateVersions> {
    const r = await this.#retrying('supernodeHeartbeat', () =>
      this.#request({ case: 'supernodeHeartbeat', value: { load } }, 'supernodeHeartbeatReply'),
    );
    return versionsOf(r.versions);
  }

  // ---- Prekeys and the contact blob ---------------------------------------------------------------------

  /**
   * [LOGIN-PREKEY-1] Replaces this device's signed prekey (signed with `signSignedPrekey` by the device's
   * certified key) and adds one-time prekeys; resolves with how many the server holds ([LOGIN-PREKEY-4]).
   */
  async uploadPrekeys(
    signedPrekey: Uint8Array,
    oneTimePrekeys: readonly { readonly id: number; readonly publicKey: Uint8Array }[],
  ): Promise<number> {
    if (oneTimePrekeys.some((k) => k.publicKey.length !== 32)) {
      throw new ApiMisuse('one-time prekeys are 32-byte X25519 public keys'); // the server would close (MALFORMED)
    }
    const r = await this.#retrying('uploadPrekeys', () =>
      this.#request(
        {
          case: 'uploadPrekeys',
          value: { signedPrekey, oneTimePrekeys: oneTimePrekeys.map((k) => ({ id: k.id, publicKey: k.publicKey })) },
        },
        'uploadPrekeysReply',
      ),
    );
    return r.oneTimePrekeysHeld;
  }

  /**
   * [LOGIN-PREKEY-3] One bundle per device of `username`, each verified: its certificate signed by the
   * login key this channel's server proved, ROLE_USER, for that name; its signed prekey signed by the
   * certified key for its device id ([LOGIN-PREKEY-2]); a one-time prekey of 32 bytes. Validity in time
   * and revocation of the certificate are the caller's to judge (chapter 10). NOT_FOUND without prekeys.
   */
  async fetchPrekeys(username: string): Promise<PrekeyBundle[]> {
    const name = normaliseUsername(username);
    const r = await this.#retrying('fetchPrekeys', () =>
      this.#request({ case: 'fetchPrekeys', value: { username: name } }, 'fetchPrekeysReply'),
    );
    const loginKey = this.server.certificate.subjectKey;
    return r.bundles.map((b) => {
      const certificateBytes = copy(b.certificate);
      const certificate = decodeCertificate(
        verifySigned(this.#suite, certificateBytes, SignatureContext.SIGNATURE_CONTEXT_CERTIFICATE, loginKey),
      );
      if (certificate.role !== Role.ROLE_USER) {
        throw new IdentityError(ErrorCode.CERT_WRONG_ROLE, `prekey bundle certificate of role ${certificate.role}`);
      }
      if (certificate.subject !== name) {
        throw new IdentityError(ErrorCode.CERT_INVALID, 'prekey bundle certificate for another user');
      }
      const signedPrekeyBytes = copy(b.signedPrekey);
      const signedPrekey = verifySignedPrekey(this.#suite, signedPrekeyBytes, certificate);
      const otk = b.oneTimePrekey;
      if (otk !== undefined && otk !== null && otk.publicKey.length !== 32) {
        throw new DecodeError(ErrorCode.MALFORMED, 'OneTimePrekey.public_key');
      }
      return {
        certificate,
        certificateBytes,
        signedPrekey,
        signedPrekeyBytes,
        ...(otk !== undefined && otk !== null ? { oneTimePrekey: { id: otk.id, publicKey: copy(otk.publicKey) } } : {}),
      };
    });
  }

  /** The account's contact-list blob and its version (0 and empty when none is stored; [LOGIN-CONTACT-1]). */
  async getContactBlob(): Promise<{ version: number; blob: Uint8Array }> {
    const r = await this.#retrying('contactBlob', () =>
      this.#request({ case: 'getContactBlob', value: {} }, 'contactBlobReply'),
    );
    return { version: r.version, blob: copy(r.blob) };
  }

  /**
   * [LOGIN-CONTACT-3] Writes the blob when the stored version is `expectedVersion` and resolves with the
   * new version; RequestRefused(CONFLICT) otherwise (fetch, merge, write again).
   */
  async putContactBlob(expectedVersion: number, blob: Uint8Array): Promise<number> {
    const r = await this.#retrying('contactBlob', () =>
      this.#request({ case: 'putContactBlob', value: { expectedVersion, blob } }, 'putContactBlobReply'),
    );
    return r.version;
  }

  // ---- Internals -------------------------------------------------------------------------------------------

  /** One request and its reply body; an ErrorReply as its error, another body as UNEXPECTED_MESSAGE. */
  async #request<K extends keyof PacketBodies>(body: PacketBody, expected: K): Promise<PacketBodies[K]> {
    const response = await this.#channel.request(body, this.#requestTimeoutMs);
    if (response.body.case === 'error') throw errorFromReply(response.body.value);
    if (response.body.case !== expected) {
      throw new ProtocolViolation(ErrorCode.UNEXPECTED_MESSAGE, `${response.body.case} in answer to ${body.case}`);
    }
    return response.body.value as PacketBodies[K];
  }

  /** Runs `attempt`, waiting out BUSY and RATE_LIMITED as the module comment says. */
  async #retrying<T>(exchange: Exchange, attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      await this.#waitTurn(exchange);
      try {
        const result = await attempt();
        this.#refusals.delete(exchange); // [LOGIN-RATE-19] n counts from 1 again after a success
        return result;
      } catch (error) {
        if (!isRetryable(error)) throw error;
        const consecutive = (this.#refusals.get(exchange) ?? 0) + 1;
        this.#refusals.set(exchange, consecutive);
        const atMs = this.#clock.now();
        const delayMs = retryDelayMs(error, consecutive, this.#random);
        // [WIRE-ERRREPLY-3] [LOGIN-RATE-18] not again before the wait, whether or not this call retries.
        this.#notBefore.set(exchange, { at: atMs + delayMs, error });
        const willRetry = n < this.#maxAttempts && delayMs <= this.#maxDelayMs;
        this.#onRetry?.({ exchange, error, attempt: n, delayMs, atMs, willRetry });
        if (!willRetry) throw error;
      }
    }
  }

  /** Sits out the wait of the last refusal of `exchange`, or rejects when it is longer than maxDelayMs. */
  async #waitTurn(exchange: Exchange): Promise<void> {
    const pending = this.#notBefore.get(exchange);
    if (pending === undefined) return;
    const wait = pending.at - this.#clock.now();
    if (wait <= 0) {
      this.#notBefore.delete(exchange);
      return;
    }
    if (wait > this.#maxDelayMs) throw new BusyError(pending.error.code, Math.ceil(wait), 0);
    await new Promise<void>((resolve) => {
      const wake = () => {
        this.#sleepers.delete(wake);
        timer.cancel();
        resolve();
      };
      const timer = this.#clock.setTimer(wait, wake);
      this.#sleepers.add(wake);
      if (this.#channel.closed) wake();
    });
    if (this.#notBefore.get(exchange) === pending) this.#notBefore.delete(exchange);
  }

  #wake(): void {
    for (const wake of [...this.#sleepers]) wake();
  }

  /** The public key of `device`; ApiMisuse for what the server would refuse (and close the channel for). */
  #deviceKey(device: Device): Uint8Array {
    if (device.seed.length !== SEED_BYTES) throw new ApiMisuse(`device seed must be ${SEED_BYTES} bytes`);
    if (device.deviceId.length !== DEVICE_ID_BYTES) {
      throw new ApiMisuse(`device id must be ${DEVICE_ID_BYTES} bytes`);
    }
    return this.#suite.ed25519PublicKey(device.seed);
  }

  #certificateRequest(device: Device, subjectKey: Uint8Array) {
    const established = this.#channel.established;
    if (established === undefined) throw new ApiMisuse('the channel is not established');
    // [LOGIN-CERT-3] the proof signs this channel's handshake hash with the key to be certified.
    return {
      subjectKey,
      deviceId: device.deviceId,
      proof: signCertificateRequest(this.#suite, device.seed, established.handshakeHash),
    };
  }

  /**
   * [LOGIN-CERT-1] A CertificateReply: the chain [certificate, login certificate] must verify under the
   * pinned roots as ROLE_USER, certify `subjectKey` and `deviceId`, and name `name` (when known).
   */
  #checkIssued(
    r: { certificate: Uint8Array; loginCertificate: Uint8Array; username: string },
    name: string | undefined,
    subjectKey: Uint8Array,
    deviceId: Uint8Array,
  ): ReceivedCertificate {
    const certificate = copy(r.certificate);
    const loginCertificate = copy(r.loginCertificate);
    const chain = [certificate, loginCertificate];
    const { leaf } = verifyChain(this.#suite, chain, {
      trustAnchors: this.#trustAnchors,
      nowMs: Math.floor(this.#now()),
      acceptedRoles: [Role.ROLE_USER],
    });
    if (!bytesEqual(leaf.subjectKey, subjectKey)) {
      throw new IdentityError(ErrorCode.CERT_INVALID, 'the certificate certifies another key');
    }
    if (!bytesEqual(leaf.deviceId, deviceId)) {
      throw new IdentityError(ErrorCode.CERT_INVALID, 'the certificate names another device id');
    }
    if ((name !== undefined && leaf.subject !== name) || r.username !== leaf.subject) {
      throw new IdentityError(ErrorCode.CERT_INVALID, 'the certificate names another user');
    }
    return { username: leaf.subject, certificate, loginCertificate, chain: [certificate, loginCertificate], leaf };
  }

  #objectPolicy(): LoginSignedPolicy {
    return { trustAnchors: this.#trustAnchors, nowMs: Math.floor(this.#now()) };
  }

  /** [LOGIN-LIST-6] Every page of one version, verified; started again when the version changes. */
  async #fetchList<E, K extends 'supernodeListReply' | 'revocationListReply'>(
    exchange: Exchange,
    known: number,
    body: (page: number) => PacketBody,
    expected: K,
    verify: (r: ListReply) => ListPage<E>,
  ): Promise<VerifiedList<E> | 'unchanged'> {
    const fetch = (page: number) =>
      this.#retrying(exchange, () => this.#request(body(page), expected) as Promise<ListReply>);
    const what = expected === 'supernodeListReply' ? 'SupernodeListReply' : 'RevocationListReply';
    for (let round = 0; round <= MAX_LIST_RESTARTS; round++) {
      const r0 = await fetch(0);
      if (r0.unchanged) {
        if (known === 0) throw unchangedForNone(what);
        return 'unchanged';
      }
      requireObject(r0.page, r0.loginCertificate, what);
      const first = verify(r0);
      if (first.page !== 0) throw new DecodeError(ErrorCode.MALFORMED, `${what}: page ${first.page} for page 0`);
      // [LOGIN-PUB-8] [LOGIN-LIST-7] never back to an older version than the one held.
      if (first.version < known) {
        throw new ProtocolViolation(ErrorCode.TOO_OLD, `${what}: version ${first.version} below ${known}`);
      }
      const pages = [copy(r0.page)];
      const certificates = [copy(r0.loginCertificate)];
      const entries = [...first.entries];
      let complete = true;
      for (let i = 1; i < first.pageCount && complete; i++) {
        let r: ListReply;
        try {
          r = await fetch(i);
        } catch (e) {
          // [LOGIN-PUB-7] the version changed to one with fewer pages: start again.
          if (isParleyError(e, ErrorCode.NOT_FOUND)) {
            complete = false;
            break;
          }
          throw e;
        }
        if (r.unchanged) throw new ProtocolViolation(ErrorCode.UNEXPECTED_MESSAGE, `${what}: unchanged for page ${i}`);
        requireObject(r.page, r.loginCertificate, what);
        const p = verify(r);
        if (p.version !== first.version) {
          complete = false; // [LOGIN-LIST-6] another epoch: discard what was assembled and start again
          break;
        }
        if (
          p.page !== i ||
          p.pageCount !== first.pageCount ||
          p.issuedAtMs !== first.issuedAtMs ||
          p.expiresAtMs !== first.expiresAtMs
        ) {
          throw new DecodeError(
            ErrorCode.MALFORMED,
            `${what}: page ${p.page} does not continue version ${first.version}`,
          );
        }
        pages.push(copy(r.page));
        certificates.push(copy(r.loginCertificate));
        entries.push(...p.entries);
      }
      if (complete) {
        return {
          version: first.version,
          issuedAtMs: first.issuedAtMs,
          expiresAtMs: first.expiresAtMs,
          entries,
          pages,
          loginCertificates: certificates,
        };
      }
    }
    throw new ResourceError(ErrorCode.RESOURCE_LIMIT, `the list changed ${MAX_LIST_RESTARTS + 1} times while fetched`);
  }
}

function nameMismatch(what: string, got: string, expected: string): ProtocolViolation {
  // [LOGIN-NAME-7] abandoned: the server would store the record under a name the user did not ask for.
  return new ProtocolViolation(
    ErrorCode.UNEXPECTED_MESSAGE,
    `${what} names ${JSON.stringify(got)}, not ${JSON.stringify(expected)}`,
  );
}

function unchangedForNone(what: string): ProtocolViolation {
  // [LOGIN-PUB-4] an asker that holds nothing (version 0) always gets the object.
  return new ProtocolViolation(ErrorCode.UNEXPECTED_MESSAGE, `${what}: unchanged, but no version is held`);
}

/** [LOGIN-PUB-5] A reply that carries an object carries it and its login certificate. */
function requireObject(object: Uint8Array, loginCertificate: Uint8Array, what: string): void {
  if (object.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, `${what}: no object`);
  if (loginCertificate.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, `${what}.login_certificate`);
}

function versionsOf(
  v:
    | { policyVersion?: number | null; supernodeListEpoch?: number | null; revocationListNumber?: number | null }
    | null
    | undefined,
): StateVersions {
  return {
    policyVersion: Number(v?.policyVersion ?? 0),
    supernodeListEpoch: Number(v?.supernodeListEpoch ?? 0),
    revocationListNumber: Number(v?.revocationListNumber ?? 0),
  };
}
