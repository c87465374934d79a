/**
 * The Double Ratchet (spec/10-e2e.md §5-6), after The Double Ratchet Algorithm (Perrin & Marlinspike,
 * 2016) with X25519, HKDF-SHA-256, HMAC-SHA-256 and ChaCha20-Poly1305:
 *
 *   KDF_RK(rk, dh)  = HKDF(ikm = dh, salt = rk, info = "parley/1 ratchet", 64)   -> rk' (32) || ck (32)
 *   KDF_CK(ck)      = mk = HMAC(ck, 0x01), ck' = HMAC(ck, 0x02)
 *   ENCRYPT(mk, p)  = HKDF(ikm = mk, salt = 0 x 32, info = "parley/1 message", 44) -> key (32) || nonce (12);
 *                     ChaCha20-Poly1305(key, nonce, ad = AD || header bytes, p)
 *
 * A RatchetSession is sans-I/O: randomness comes in as a parameter; the state is plain data that
 * `serialize` turns into a RatchetSessionState (for the node's store). `decrypt` is transactional: it works
 * on a copy and commits only when the message authenticated ([E2E-RATCHET-7]).
 */
import { bytesEqual, concatBytes } from '../codec/bytes.js';
import { checkEncoding } from '../codec/check.js';
import { decodeMessage, encodeMessage, fromSafeInteger, toSafeInteger } from '../codec/proto.js';
import type { CryptoSuite, Random } from '../crypto/suite.js';
import { ApiMisuse, DecodeError, DecryptError, ErrorCode } from '../errors.js';
import { parley } from '../gen/parley.js';
import {
  decodeRatchetHeader,
  E2E_KEY_BYTES,
  type E2eMessage,
  encodeRatchetHeader,
  MAX_E2E_PLAINTEXT_BYTES,
  MAX_SKIPPED_KEYS_TOTAL,
  type PrekeyMessage,
  RATCHET_SESSION_STATE_RULES,
  type RatchetMessage,
} from './messages.js';
import {
  associatedData,
  type DeviceIdentity,
  generateX25519,
  type LocalDevice,
  type PrekeySecrets,
  type VerifiedBundle,
  type X25519KeyPair,
  x3dhInitiate,
  x3dhRespond,
} from './x3dh.js';

const utf8 = new TextEncoder();
const RATCHET_INFO = utf8.encode('parley/1 ratchet');
const MESSAGE_INFO = utf8.encode('parley/1 message');
const ZERO_SALT = new Uint8Array(32);
const ONE = Uint8Array.of(0x01);
const TWO = Uint8Array.of(0x02);

/** [E2E-SKIP-1] Message keys a receiver derives ahead within one chain, at most. */
export const MAX_SKIP = 1_000;
/** [E2E-SKIP-2] Skipped keys are dropped this many receiving DH-ratchet steps after they were stored. */
export const SKIPPED_KEY_STEPS = 100;

interface Skipped {
  dh: Uint8Array;
  n: number;
  key: Uint8Array;
  step: number;
}

interface State {
  rootKey: Uint8Array;
  dhSelf: X25519KeyPair;
  dhRemote: Uint8Array | undefined;
  sendChain: Uint8Array | undefined;
  recvChain: Uint8Array | undefined;
  ns: number;
  nr: number;
  pn: number;
  skipped: Skipped[];
  step: number;
  confirmed: boolean;
  /** [E2E-STORE-3] The store keeps it inactive (the peer's start lost a simultaneous start). */
  standby: boolean;
}

const cloneState = (s: State): State => ({ ...s, skipped: s.skipped.slice() });

function kdfRk(suite: CryptoSuite, rk: Uint8Array, dh: Uint8Array): [Uint8Array, Uint8Array] {
  const out = suite.hkdfSha256(dh, rk, RATCHET_INFO, 64);
  return [out.subarray(0, 32), out.subarray(32, 64)];
}
function kdfCk(suite: CryptoSuite, ck: Uint8Array): [Uint8Array, Uint8Array] {
  return [suite.hmacSha256(ck, TWO), suite.hmacSha256(ck, ONE)];
}
/** [E2E-RATCHET-4] The AEAD key and nonce of one message key. */
function messageKeys(suite: CryptoSuite, mk: Uint8Array): [Uint8Array, Uint8Array] {
  const out = suite.hkdfSha256(mk, ZERO_SALT, MESSAGE_INFO, 44);
  return [out.subarray(0, 32), out.subarray(32, 44)];
}

export interface SessionMeta {
  /** The initiator's X3DH ephemeral public key: identifies the session on both sides ([E2E-STORE-2]). */
  readonly baseKey: Uint8Array;
  readonly initiator: boolean;
  readonly ad: Uint8Array;
  readonly createdAt: number;
}

export class RatchetSession {
  readonly meta: SessionMeta;
  readonly #suite: CryptoSuite;
  #state: State;
  /** The initiator's X3DH header, sent with every message until the session is confirmed ([E2E-X3DH-3]). */
  readonly #pending: Omit<PrekeyMessage, 'message'> | undefined;

  private constructor(suite: CryptoSuite, meta: SessionMeta, state: State, pending?: Omit<PrekeyMessage, 'message'>) {
    this.#suite = suite;
    this.meta = meta;
    this.#state = state;
    this.#pending = pending;
  }

  /**
   * [E2E-X3DH-2] [E2E-RATCHET-1] The initiator: X3DH against a verified bundle, then the first sending
   * chain from a fresh ratchet key against the bundle's signed prekey.
   */
  static initiate(
    suite: CryptoSuite,
    random: Random,
    local: LocalDevice,
    bundle: VerifiedBundle,
    nowMs = 0,
  ): RatchetSession {
    const ephemeral = generateX25519(suite, random);
    const sk = x3dhInitiate(suite, local.identityDh, ephemeral, bundle);
    const ad = associatedData(
      { username: local.username, deviceId: local.deviceId, identityDhKey: local.identityDh.publicKey },
      bundle.peer,
    );
    const dhSelf = generateX25519(suite, random);
    const [rootKey, sendChain] = kdfRk(suite, sk, suite.x25519(dhSelf.privateKey, bundle.signedPrekey));
    const state: State = {
      rootKey: Uint8Array.from(rootKey),
      dhSelf,
      dhRemote: Uint8Array.from(bundle.signedPrekey),
      sendChain: Uint8Array.from(sendChain),
      recvChain: undefined,
      ns: 0,
      nr: 0,
      pn: 0,
      skipped: [],
      step: 0,
      confirmed: false,
      standby: false,
    };
    const pending = {
      senderSignedPrekey: local.signedPrekey,
      ephemeralKey: ephemeral.publicKey,
      signedPrekeyId: bundle.signedPrekeyId,
      oneTimePrekeyId: bundle.oneTimePrekey?.id ?? 0,
    };
    return new RatchetSession(
      suite,
      { baseKey: ephemeral.publicKey, initiator: true, ad, createdAt: nowMs },
      state,
      pending,
    );
  }

  /**
   * [E2E-X3DH-4] The responder: X3DH from a PrekeyMessage whose sender identity the caller verified
   * (senderIdentity), then the first message decrypted. Throws NOT_FOUND when the signed or one-time prekey
   * it names is not held ([E2E-X3DH-6]), and the errors of decrypt. The caller deletes the one-time prekey
   * (`oneTimePrekeyId`) once it has kept the session.
   */
  static respond(
    suite: CryptoSuite,
    random: Random,
    local: LocalDevice,
    secrets: PrekeySecrets,
    sender: DeviceIdentity,
    message: PrekeyMessage,
    nowMs = 0,
  ): { session: RatchetSession; plaintext: Uint8Array; oneTimePrekeyId: number } {
    const spk = secrets.signedPrekey(message.signedPrekeyId);
    if (spk === undefined) throw new DecryptError(ErrorCode.NOT_FOUND, `no signed prekey ${message.signedPrekeyId}`);
    let otk: Uint8Array | undefined;
    if (message.oneTimePrekeyId !== 0) {
      otk = secrets.oneTimePrekey(message.oneTimePrekeyId);
      if (otk === undefined)
        throw new DecryptError(ErrorCode.NOT_FOUND, `no one-time prekey ${message.oneTimePrekeyId}`);
    }
    if (message.message === null || message.message === undefined) {
      throw new DecodeError(ErrorCode.MISSING_FIELD, 'PrekeyMessage.message');
    }
    const sk = x3dhRespond(
      suite,
      { identityDh: local.identityDh, signedPrekey: spk, oneTimePrekey: otk },
      sender.identityDhKey,
      message.ephemeralKey,
    );
    const ad = associatedData(sender, {
      username: local.username,
      deviceId: local.deviceId,
      identityDhKey: local.identityDh.publicKey,
    });
    const state: State = {
      rootKey: sk,
      dhSelf: { privateKey: Uint8Array.from(spk), publicKey: suite.x25519PublicKey(spk) },
      dhRemote: undefined,
      sendChain: undefined,
      recvChain: undefined,
      ns: 0,
      nr: 0,
      pn: 0,
      skipped: [],
      step: 0,
      confirmed: false,
      standby: false,
    };
    const session = new RatchetSession(
      suite,
      {
        baseKey: Uint8Array.from(message.ephemeralKey),
        initiator: false,
        ad,
        createdAt: nowMs,
      },
      state,
    );
    const plaintext = session.decrypt(message.message as RatchetMessage, random);
    return { session, plaintext, oneTimePrekeyId: message.oneTimePrekeyId };
  }

  /** Whether a message has been received on the session (an initiator stops sending its X3DH header). */
  get confirmed(): boolean {
    return this.#state.confirmed;
  }
  /**
   * [E2E-STORE-3] Whether the session store keeps this session inactive even when it decrypts: the peer
   * started it while this device's own, lower-sorting start was unconfirmed. Part of the stored state.
   */
  get standby(): boolean {
    return this.#state.standby;
  }
  set standby(value: boolean) {
    this.#state.standby = value;
  }
  /** Skipped message keys held (tests). */
  get skippedKeys(): number {
    return this.#state.skipped.length;
  }

  /**
   * [E2E-RATCHET-3] Encrypts `plaintext` (at most 16,368 bytes) with the next message key of the sending
   * chain: a PrekeyMessage while an initiator's session is unconfirmed, a RatchetMessage otherwise.
   */
  encrypt(plaintext: Uint8Array, random: Random): E2eMessage {
    if (plaintext.length > MAX_E2E_PLAINTEXT_BYTES) throw new ApiMisuse(`plaintext of ${plaintext.length} bytes`);
    const s = this.#state;
    if (s.sendChain === undefined) {
      // The responder has no sending chain until it has received; it makes one now ([E2E-RATCHET-2]).
      if (s.dhRemote === undefined) throw new ApiMisuse('a responder session encrypts after its first receive');
      s.dhSelf = generateX25519(this.#suite, random);
      const [rk, ck] = kdfRk(this.#suite, s.rootKey, this.#suite.x25519(s.dhSelf.privateKey, s.dhRemote));
      s.rootKey = Uint8Array.from(rk);
      s.sendChain = Uint8Array.from(ck);
    }
    if (s.ns === 0xffff_ffff) throw new ApiMisuse('sending chain exhausted');
    const [next, mk] = kdfCk(this.#suite, s.sendChain);
    s.sendChain = next;
    const header = encodeRatchetHeader({ dh: s.dhSelf.publicKey, pn: s.pn, n: s.ns });
    s.ns++;
    const [key, nonce] = messageKeys(this.#suite, mk);
    const ciphertext = this.#suite.aeadSeal(key, nonce, concatBytes([this.meta.ad, header]), plaintext);
    const ratchet: RatchetMessage = parley.v1.RatchetMessage.create({ header, ciphertext });
    if (this.meta.initiator && !s.confirmed && this.#pending !== undefined) {
      return parley.v1.E2eMessage.create({
        prekey: parley.v1.PrekeyMessage.create({ ...this.#pending, message: ratchet }),
      });
    }
    return parley.v1.E2eMessage.create({ ratchet });
  }

  /**
   * [E2E-RATCHET-5] Decrypts a ratchet message: a skipped key when one matches, else a DH-ratchet step when
   * the header names a new ratchet key, then the chain forward to its number. Any failure — a malformed
   * header (DecodeError), too many keys to skip (RESOURCE_LIMIT), authentication (DECRYPT_FAILED), a key
   * used already (DECRYPT_FAILED) — leaves the session exactly as it was ([E2E-RATCHET-7]).
   */
  decrypt(message: RatchetMessage, random: Random): Uint8Array {
    const suite = this.#suite;
    const header = decodeRatchetHeader(message.header);
    const ad = concatBytes([this.meta.ad, message.header]);
    const s = cloneState(this.#state);
    // A skipped key of this (ratchet key, number)?
    const i = s.skipped.findIndex((k) => k.n === header.n && bytesEqual(k.dh, header.dh));
    if (i >= 0) {
      const [key, nonce] = messageKeys(suite, s.skipped[i]!.key);
      const plaintext = suite.aeadOpen(key, nonce, ad, message.ciphertext);
      s.skipped.splice(i, 1); // [E2E-RATCHET-8] a key is used once
      s.confirmed = true;
      this.#state = s;
      return plaintext;
    }
    if (s.dhRemote === undefined || !bytesEqual(header.dh, s.dhRemote)) {
      // [E2E-RATCHET-2] a new ratchet key: finish the current receiving chain, then step.
      skipTo(suite, s, header.pn);
      s.pn = s.ns;
      s.ns = 0;
      s.nr = 0;
      s.dhRemote = Uint8Array.from(header.dh);
      s.step++;
      const [rk1, recv] = kdfRk(suite, s.rootKey, suite.x25519(s.dhSelf.privateKey, s.dhRemote));
      s.recvChain = Uint8Array.from(recv);
      s.dhSelf = generateX25519(suite, random);
      const [rk2, send] = kdfRk(suite, rk1, suite.x25519(s.dhSelf.privateKey, s.dhRemote));
      s.rootKey = Uint8Array.from(rk2);
      s.sendChain = Uint8Array.from(send);
      // [E2E-SKIP-2] keys stored more than SKIPPED_KEY_STEPS steps ago are dropped.
      s.skipped = s.skipped.filter((k) => s.step - k.step < SKIPPED_KEY_STEPS);
    }
    if (header.n < s.nr) throw new DecryptError(ErrorCode.DECRYPT_FAILED, 'a message key used or dropped already');
    skipTo(suite, s, header.n);
    const [next, mk] = kdfCk(suite, s.recvChain!);
    s.recvChain = next;
    s.nr++;
    const [key, nonce] = messageKeys(suite, mk);
    const plaintext = suite.aeadOpen(key, nonce, ad, message.ciphertext);
    s.confirmed = true;
    this.#state = s;
    return plaintext;
  }

  /** The session as a RatchetSessionState (local storage; never sent). */
  serialize(): Uint8Array {
    const s = this.#state;
    const empty = new Uint8Array(0);
    return encodeMessage(parley.v1.RatchetSessionState, {
      version: 1,
      rootKey: s.rootKey,
      dhSelfPrivate: s.dhSelf.privateKey,
      dhRemote: s.dhRemote ?? empty,
      sendChainKey: s.sendChain ?? empty,
      recvChainKey: s.recvChain ?? empty,
      ns: s.ns,
      nr: s.nr,
      pn: s.pn,
      ad: this.meta.ad,
      skipped: s.skipped.map((k) => ({ dh: k.dh, n: k.n, key: k.key, step: k.step })),
      step: s.step,
      baseKey: this.meta.baseKey,
      initiator: this.meta.initiator,
      confirmed: s.confirmed,
      pending: this.#pending === undefined ? null : parley.v1.PrekeyMessage.create(this.#pending),
      createdAt: fromSafeInteger(this.meta.createdAt),
      standby: s.standby,
    } as unknown as parley.v1.RatchetSessionState);
  }

  /** A session from `serialize`'s bytes; DecodeError when they are not a valid state. */
  static deserialize(suite: CryptoSuite, bytes: Uint8Array): RatchetSession {
    checkEncoding(bytes, RATCHET_SESSION_STATE_RULES);
    const p = decodeMessage<parley.v1.RatchetSessionState>(
      parley.v1.RatchetSessionState as never,
      bytes,
      'RatchetSessionState',
    );
    if (p.version !== 1) throw new DecodeError(ErrorCode.MALFORMED, 'RatchetSessionState.version');
    const key = (b: Uint8Array, what: string): Uint8Array => {
      if (b.length !== E2E_KEY_BYTES) throw new DecodeError(ErrorCode.MALFORMED, `RatchetSessionState.${what}`);
      return Uint8Array.from(b);
    };
    const optional = (b: Uint8Array, what: string) => (b.length === 0 ? undefined : key(b, what));
    const dhPrivate = key(p.dhSelfPrivate, 'dh_self_private');
    const state: State = {
      rootKey: key(p.rootKey, 'root_key'),
      dhSelf: { privateKey: dhPrivate, publicKey: suite.x25519PublicKey(dhPrivate) },
      dhRemote: optional(p.dhRemote, 'dh_remote'),
      sendChain: optional(p.sendChainKey, 'send_chain_key'),
      recvChain: optional(p.recvChainKey, 'recv_chain_key'),
      ns: p.ns,
      nr: p.nr,
      pn: p.pn,
      skipped: (p.skipped as parley.v1.SkippedMessageKey[]).map((k) => ({
        dh: key(k.dh, 'skipped.dh'),
        n: k.n,
        key: key(k.key, 'skipped.key'),
        step: k.step,
      })),
      step: p.step,
      confirmed: p.confirmed,
      standby: p.standby,
    };
    const meta: SessionMeta = {
      baseKey: key(p.baseKey, 'base_key'),
      initiator: p.initiator,
      ad: Uint8Array.from(p.ad),
      createdAt: toSafeInteger(p.createdAt, 'RatchetSessionState.created_at'),
    };
    const pp = p.pending as PrekeyMessage | null | undefined;
    const pending =
      pp === null || pp === undefined
        ? undefined
        : {
            senderSignedPrekey: Uint8Array.from(pp.senderSignedPrekey),
            ephemeralKey: Uint8Array.from(pp.ephemeralKey),
            signedPrekeyId: pp.signedPrekeyId,
            oneTimePrekeyId: pp.oneTimePrekeyId,
          };
    if (meta.initiator && !state.confirmed && pending === undefined) {
      throw new DecodeError(ErrorCode.MISSING_FIELD, 'RatchetSessionState.pending: an unconfirmed initiator');
    }
    return new RatchetSession(suite, meta, state, pending);
  }
}

/**
 * [E2E-SKIP-1] Stores the message keys of the receiving chain up to (not including) `until`: refused with
 * RESOURCE_LIMIT when that is more than MAX_SKIP ahead; the oldest stored keys give way beyond
 * MAX_SKIPPED_KEYS_TOTAL ([E2E-SKIP-3]).
 */
function skipTo(suite: CryptoSuite, s: State, until: number): void {
  if (s.recvChain === undefined) return;
  if (until - s.nr > MAX_SKIP) {
    throw new DecryptError(ErrorCode.RESOURCE_LIMIT, `${until - s.nr} message keys to skip (at most ${MAX_SKIP})`);
  }
  while (s.nr < until) {
    const [next, mk] = kdfCk(suite, s.recvChain);
    s.recvChain = next;
    s.skipped.push({ dh: s.dhRemote!, n: s.nr, key: Uint8Array.from(mk), step: s.step });
    s.nr++;
  }
  if (s.skipped.length > MAX_SKIPPED_KEYS_TOTAL) s.skipped.splice(0, s.skipped.length - MAX_SKIPPED_KEYS_TOTAL);
}
