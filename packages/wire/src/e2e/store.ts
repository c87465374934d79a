/**
 * A device's end-to-end sessions with every device it talks to (spec/10-e2e.md §7): at most
 * MAX_SESSIONS_PER_DEVICE per peer device, the active one first. Sending uses the active session;
 * receiving finds the session by what the message names (a PrekeyMessage by its base key, creating the
 * session when new; a RatchetMessage by trying the sessions, newest first).
 *
 * Which session is active ([E2E-STORE-3]): the one that most recently decrypted a message or was most
 * recently created — except when two devices initiate at the same moment: a device that receives a
 * PrekeyMessage while its active session is one it initiated and that is still unconfirmed keeps its own
 * when its (user name, device id) sorts lower than the peer's, and puts the new one on standby (it
 * decrypts but does not become active); the higher device takes the new one, so both end on the session
 * of the lower device. Standby ends after STANDBY_WINDOW_MS, so that a start of the lower device that the
 * peer cannot use (its prekey gone) does not lock the pair out.
 */
import { bytesEqual } from '../codec/bytes.js';
import type { CryptoSuite, Random } from '../crypto/suite.js';
import { DecodeError, DecryptError, ErrorCode } from '../errors.js';
import type { Certificate } from '../identity/certificate.js';
import type { DeviceMessage, E2eMessage, PrekeyMessage, RatchetMessage } from './messages.js';
import { RatchetSession } from './ratchet.js';
import { type LocalDevice, type PrekeySecrets, senderIdentity, type VerifiedBundle } from './x3dh.js';

/** [E2E-STORE-1] Sessions kept per peer device. */
export const MAX_SESSIONS_PER_DEVICE = 4;
/**
 * [E2E-STORE-3] How long a session stays on standby: one that decrypts a message this long after it was
 * created becomes eligible to be the active one again (the device's own start then evidently failed).
 */
export const STANDBY_WINDOW_MS = 3_600_000;

export interface PeerDevice {
  readonly username: string;
  readonly deviceId: Uint8Array;
}

/** The device's one-time prekeys as the store uses them: read, then deleted once a session is kept. */
export interface PrekeyStore extends PrekeySecrets {
  /** [E2E-X3DH-6] Deletes one-time prekey `id` (its private key must not be used again). */
  deleteOneTimePrekey(id: number): void;
}

/**
 * A PrekeyStore in memory: the private halves of a device's signed prekeys (by id) and one-time prekeys
 * (deleted once used, [E2E-X3DH-6]). Tests, benchmarks and devices that keep their keys elsewhere copy
 * them in; the node's persistent store implements PrekeyStore itself.
 */
export class MemoryPrekeyStore implements PrekeyStore {
  readonly signed = new Map<number, Uint8Array>();
  readonly oneTime = new Map<number, Uint8Array>();
  signedPrekey(id: number): Uint8Array | undefined {
    return this.signed.get(id);
  }
  oneTimePrekey(id: number): Uint8Array | undefined {
    return this.oneTime.get(id);
  }
  deleteOneTimePrekey(id: number): void {
    this.oneTime.delete(id);
  }
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const peerKey = (p: PeerDevice) => `${p.username}\u0000${hex(p.deviceId)}`;

/** Byte-order comparison of (user name as UTF-8, device id). */
export function compareDevices(a: PeerDevice, b: PeerDevice): number {
  const ua = Buffer.from(a.username, 'utf8');
  const ub = Buffer.from(b.username, 'utf8');
  const c = Buffer.compare(ua, ub);
  return c !== 0 ? c : Buffer.compare(Buffer.from(a.deviceId), Buffer.from(b.deviceId));
}

export class E2eSessions {
  readonly #suite: CryptoSuite;
  readonly #random: Random;
  readonly #local: LocalDevice;
  readonly #prekeys: PrekeyStore;
  /** Per peer device: the peer and its sessions, the active one first. */
  readonly #sessions = new Map<string, { peer: PeerDevice; list: RatchetSession[] }>();

  constructor(suite: CryptoSuite, random: Random, local: LocalDevice, prekeys: PrekeyStore) {
    this.#suite = suite;
    this.#random = random;
    this.#local = local;
    this.#prekeys = prekeys;
  }

  /** Whether a session with `peer` exists (else the sender needs its prekey bundle). */
  has(peer: PeerDevice): boolean {
    return (this.#sessions.get(peerKey(peer))?.list.length ?? 0) > 0;
  }
  /** The sessions with `peer`, active first (tests, storage). */
  sessions(peer: PeerDevice): readonly RatchetSession[] {
    return this.#sessions.get(peerKey(peer))?.list ?? [];
  }
  /** Every peer device this device has a session with (to persist them all). */
  peers(): PeerDevice[] {
    return [...this.#sessions.values()].map((e) => e.peer);
  }

  /**
   * [E2E-STORE-4] The sessions with `peer` as storage bytes (one RatchetSessionState each), the active one
   * first: what a device writes after every encrypt (before it sends) and every decrypt.
   */
  save(peer: PeerDevice): Uint8Array[] {
    return this.sessions(peer).map((s) => s.serialize());
  }

  /**
   * Puts back the sessions with `peer` that `save` gave, the active one first, in place of those held.
   * DecodeError when one is not a valid state; nothing changes then.
   */
  load(peer: PeerDevice, states: readonly Uint8Array[]): void {
    const list = states.slice(0, MAX_SESSIONS_PER_DEVICE).map((b) => RatchetSession.deserialize(this.#suite, b));
    const k = peerKey(peer);
    if (list.length === 0) this.#sessions.delete(k);
    else this.#sessions.set(k, { peer: { username: peer.username, deviceId: Uint8Array.from(peer.deviceId) }, list });
  }

  /** [E2E-X3DH-1] A new session from a verified bundle; it becomes the active one. */
  initiate(bundle: VerifiedBundle, nowMs = 0): RatchetSession {
    const s = RatchetSession.initiate(this.#suite, this.#random, this.#local, bundle, nowMs);
    this.#put(bundle.peer, s, true);
    return s;
  }

  /**
   * [E2E-RATCHET-3] Encrypts `plaintext` for each device with its active session; NOT_FOUND when a device has
   * none (initiate one from its bundle first).
   */
  encryptFor(devices: readonly PeerDevice[], plaintext: Uint8Array): DeviceMessage[] {
    return devices.map((d) => {
      const s = this.sessions(d)[0];
      if (s === undefined) throw new DecryptError(ErrorCode.NOT_FOUND, `no session with ${d.username}`);
      return { recipientDeviceId: d.deviceId, message: s.encrypt(plaintext, this.#random) };
    });
  }

  /**
   * [E2E-MSG-2] Decrypts a message from the device whose certificate the carrier verified (the offline
   * envelope's, or the peer session's). Nothing changes when it fails.
   */
  decrypt(sender: Certificate, message: E2eMessage, nowMs = 0): Uint8Array {
    const peer = { username: sender.subject, deviceId: sender.deviceId };
    const list = this.sessions(peer);
    if (message.prekey !== null && message.prekey !== undefined) {
      const p = message.prekey as PrekeyMessage;
      if (p.message === null || p.message === undefined)
        throw new DecodeError(ErrorCode.MISSING_FIELD, 'PrekeyMessage.message');
      // [E2E-STORE-2] a repeated X3DH header: the session it created already.
      const known = list.find((s) => !s.meta.initiator && bytesEqual(s.meta.baseKey, p.ephemeralKey));
      if (known !== undefined) return this.#decryptOn(peer, known, p.message as RatchetMessage, nowMs);
      const identity = senderIdentity(this.#suite, sender, p.senderSignedPrekey);
      const r = RatchetSession.respond(this.#suite, this.#random, this.#local, this.#prekeys, identity, p, nowMs);
      const active = list[0];
      const keepOwn =
        active?.meta.initiator === true &&
        !active.confirmed &&
        compareDevices({ username: this.#local.username, deviceId: this.#local.deviceId }, peer) < 0;
      this.#put(peer, r.session, !keepOwn);
      if (r.oneTimePrekeyId !== 0) this.#prekeys.deleteOneTimePrekey(r.oneTimePrekeyId);
      return r.plaintext;
    }
    if (message.ratchet === null || message.ratchet === undefined)
      throw new DecodeError(ErrorCode.MISSING_FIELD, 'E2eMessage');
    let failure: unknown = new DecryptError(ErrorCode.DECRYPT_FAILED, 'no session');
    for (const s of list) {
      try {
        return this.#decryptOn(peer, s, message.ratchet as RatchetMessage, nowMs);
      } catch (e) {
        failure = e;
      }
    }
    throw failure;
  }

  #decryptOn(peer: PeerDevice, s: RatchetSession, m: RatchetMessage, nowMs: number): Uint8Array {
    const plaintext = s.decrypt(m, this.#random);
    const list = this.#sessions.get(peerKey(peer))!.list;
    // [E2E-STORE-3] the session that decrypted last becomes active, unless it lost a simultaneous start
    // less than STANDBY_WINDOW_MS ago (later, the device's own start has evidently not reached the peer).
    if (s.standby && nowMs - s.meta.createdAt >= STANDBY_WINDOW_MS) s.standby = false;
    const i = list.indexOf(s);
    if (i > 0 && !s.standby) {
      list.splice(i, 1);
      list.unshift(s);
    }
    return plaintext;
  }

  #put(peer: PeerDevice, s: RatchetSession, active: boolean): void {
    const k = peerKey(peer);
    const entry = this.#sessions.get(k) ?? {
      peer: { username: peer.username, deviceId: Uint8Array.from(peer.deviceId) },
      list: [],
    };
    const list = entry.list;
    if (active) list.unshift(s);
    else {
      // Sessions a peer started while this device's own, lower-sorting start was unconfirmed.
      list.splice(1, 0, s);
      s.standby = true;
    }
    // [E2E-STORE-1] the least recently active sessions go first.
    if (list.length > MAX_SESSIONS_PER_DEVICE) list.length = MAX_SESSIONS_PER_DEVICE;
    this.#sessions.set(k, entry);
  }
}
