/**
 * End-to-end messaging through the supernodes' offline store (spec/09-node.md §3, 10, 07 §7-8): a message
 * to a user is a NodeMessage, encrypted per device of the recipient (chapter 10: a session per device,
 * set up from the device's prekey bundle when there is none), put in one E2eBundle, signed by this
 * device as an OfflineMessage and stored through the home supernode at the recipient's k holders. The
 * recipient fetches on attach (and when told to), verifies each envelope (STORE-MSG-4), decrypts the entry
 * for its own device, drops what it has already processed, acknowledges only what it has safely handled,
 * and answers chat with a delivery receipt.
 *
 * The supernodes see the envelope (sender, recipient, sizes, times) and never the plaintext: the test
 * `plaintext.test.ts` scans every byte every supernode handled for it.
 */
import {
  ApiMisuse,
  bundleKeys,
  type Certificate,
  type CryptoSuite,
  type DeviceMessage,
  decodeE2eBundle,
  decodeSigned,
  type E2eSessions,
  ErrorCode,
  encodeE2eBundle,
  isParleyError,
  type LocalIdentity,
  MAX_E2E_CIPHERTEXT_BYTES,
  type PacketBodies,
  parley,
  type Random,
  RequestRefused,
  type SupernodeObjectTrust,
  signOfflineMessage,
  verifyOfflineEnvelope,
  verifyUserCertificate,
} from '@parley/wire';
import {
  decodeNodeMessage,
  encodeNodeMessage,
  MESSAGE_ID_BYTES,
  type NodeMessage,
  type NodeMessageBody,
} from './node-message.js';

/** A device's prekeys as FetchPrekeys gives them (the login client verifies the signatures). */
export interface FetchedBundle {
  readonly certificateBytes: Uint8Array;
  readonly signedPrekeyBytes: Uint8Array;
  readonly oneTimePrekey?: { readonly id: number; readonly publicKey: Uint8Array } | undefined;
}

/** Where bundles come from: the login server's FetchPrekeys (LoginClient.fetchPrekeys has this shape). */
export interface PrekeySource {
  fetchPrekeys(username: string): Promise<readonly FetchedBundle[]>;
}

/** The home supernode's offline-store requests (SupernodeClient has this shape). */
export interface OfflineStoreChannel {
  store(message: { certificate: Uint8Array; message: Uint8Array }): Promise<PacketBodies['storeMessageReply']>;
  fetch(maxMessages?: number): Promise<PacketBodies['fetchMessagesReply']>;
  ack(messages: readonly { sender: string; messageId: Uint8Array }[]): Promise<number>;
}

/** Message ids already processed, per sender (persisted by the node's store; a Set here by default). */
export interface ProcessedIds {
  has(sender: string, messageId: Uint8Array): boolean;
  add(sender: string, messageId: Uint8Array): void;
}

export interface MessengerOptions {
  readonly suite: CryptoSuite;
  readonly random: Random;
  /** Unix milliseconds. */
  readonly now: () => number;
  readonly username: string;
  /** This device's ROLE_USER chain and seed, and its decoded certificate. */
  readonly identity: LocalIdentity;
  readonly certificate: Certificate;
  readonly sessions: E2eSessions;
  readonly trust: Omit<SupernodeObjectTrust, 'nowMs'>;
  readonly prekeys: PrekeySource;
  readonly home: () => OfflineStoreChannel;
  readonly processed?: ProcessedIds;
  /** How long a stored message lives (default 30 days, the policy's default). */
  readonly lifetimeMs?: number;
}

export interface ReceivedMessage {
  readonly from: string;
  readonly fromDevice: Uint8Array;
  readonly message: NodeMessage;
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const DAY = 86_400_000;

class MemoryProcessed implements ProcessedIds {
  readonly #seen = new Set<string>();
  has(sender: string, id: Uint8Array) {
    return this.#seen.has(`${sender}\u0000${hex(id)}`);
  }
  add(sender: string, id: Uint8Array) {
    this.#seen.add(`${sender}\u0000${hex(id)}`);
  }
}

export class Messenger {
  readonly #o: MessengerOptions;
  readonly #processed: ProcessedIds;

  constructor(o: MessengerOptions) {
    this.#o = o;
    this.#processed = o.processed ?? new MemoryProcessed();
  }

  /** [NODE-MSG-2] Sends chat `text` to every device of `to`; resolves with the message id. */
  async sendText(to: string, text: string): Promise<Uint8Array> {
    return this.send(to, { kind: 'chat', text });
  }

  /** [NODE-MSG-2] Sends a NodeMessage body to every device of `to` through the offline store. */
  async send(to: string, body: NodeMessageBody): Promise<Uint8Array> {
    const o = this.#o;
    const messageId = o.random.randomBytes(MESSAGE_ID_BYTES);
    const now = o.now();
    const plaintext = encodeNodeMessage({ messageId, sentAt: now, body });
    const devices = await this.#devicesOf(to, now);
    if (devices.length === 0) throw new RequestRefused(ErrorCode.NOT_FOUND, `${to} has no device to encrypt for`);
    const entries: DeviceMessage[] = o.sessions.encryptFor(devices, plaintext);
    const ciphertext = encodeE2eBundle(entries);
    // [E2E-BUNDLE-1] the bundle must fit an offline message.
    if (ciphertext.length > MAX_E2E_CIPHERTEXT_BYTES) {
      throw new ApiMisuse(`a bundle of ${ciphertext.length} bytes does not fit an offline message`);
    }
    const message = signOfflineMessage(o.suite, o.identity.seed, {
      messageId,
      sender: o.username,
      senderDeviceId: o.certificate.deviceId,
      recipient: to,
      createdAt: now,
      expiresAt: now + (o.lifetimeMs ?? 30 * DAY),
      ciphertext,
    });
    await o.home().store({ certificate: o.identity.chain[0]!, message });
    return messageId;
  }

  /**
   * [E2E-X3DH-1] The recipient's devices to encrypt for: those with a session, and a new session from a
   * verified bundle for every device FetchPrekeys names that has none.
   */
  async #devicesOf(to: string, now: number): Promise<{ username: string; deviceId: Uint8Array }[]> {
    const o = this.#o;
    const bundles = await o.prekeys.fetchPrekeys(to);
    const out: { username: string; deviceId: Uint8Array }[] = [];
    for (const b of bundles) {
      let cert: Certificate;
      try {
        cert = verifyUserCertificate(o.suite, b.certificateBytes, { ...o.trust, nowMs: now }).leaf;
      } catch (e) {
        if (isParleyError(e)) continue; // a device whose certificate does not verify gets nothing
        throw e;
      }
      if (cert.subject !== to) continue;
      const peer = { username: to, deviceId: cert.deviceId };
      if (!o.sessions.has(peer)) {
        try {
          o.sessions.initiate(bundleKeys(o.suite, cert, b.signedPrekeyBytes, b.oneTimePrekey), now);
        } catch (e) {
          if (isParleyError(e)) continue;
          throw e;
        }
      }
      out.push(peer);
    }
    return out;
  }

  /**
   * [NODE-MSG-5] Fetches this user's stored messages until none is left: each verified, decrypted and
   * recorded before it is acknowledged; one that fails verification or decryption is acknowledged too (it
   * can never succeed) and not delivered. Chat is answered with one receipt per sender.
   */
  async fetchAll(maxRounds = 16): Promise<ReceivedMessage[]> {
    const o = this.#o;
    const received: ReceivedMessage[] = [];
    for (let round = 0; round < maxRounds; round++) {
      const reply = await o.home().fetch(64);
      const acks: { sender: string; messageId: Uint8Array }[] = [];
      for (const m of reply.messages) {
        const r = this.#open(m);
        if (r.ack !== undefined) acks.push(r.ack);
        if (r.message !== undefined) received.push(r.message);
      }
      if (acks.length > 0) await o.home().ack(acks);
      if (!reply.more || reply.messages.length === 0) break;
    }
    await this.#sendReceipts(received);
    return received;
  }

  #open(envelope: { certificate: Uint8Array; message: Uint8Array }): {
    ack?: { sender: string; messageId: Uint8Array };
    message?: ReceivedMessage;
  } {
    const o = this.#o;
    let v: ReturnType<typeof verifyOfflineEnvelope>;
    try {
      v = verifyOfflineEnvelope(o.suite, envelope, { ...o.trust, nowMs: o.now() });
    } catch (e) {
      if (isParleyError(e)) return {}; // [STORE-MSG-9] not verifiable: nothing to acknowledge by
      throw e;
    }
    const ack = { sender: v.sender, messageId: v.messageId };
    // [NODE-MSG-5] processed already (a holder that missed the acknowledgement): acknowledge again only.
    if (this.#processed.has(v.sender, v.messageId)) return { ack };
    let message: NodeMessage | undefined;
    try {
      const sender = verifyUserCertificate(o.suite, envelope.certificate, { ...o.trust, nowMs: o.now() }).leaf;
      const ciphertext = messageCiphertext(envelope.message);
      const entry = decodeE2eBundle(ciphertext).find((d) => hex(d.recipientDeviceId) === hex(o.certificate.deviceId));
      if (entry !== undefined) {
        message = decodeNodeMessage(o.sessions.decrypt(sender, entry.message, o.now()));
      }
    } catch (e) {
      if (!isParleyError(e)) throw e;
    }
    this.#processed.add(v.sender, v.messageId);
    if (message === undefined) return { ack };
    return { ack, message: { from: v.sender, fromDevice: v.senderDeviceId, message } };
  }

  /** [NODE-MSG-6] One receipt per sender, naming the chat messages received from it. */
  async #sendReceipts(received: readonly ReceivedMessage[]): Promise<void> {
    const bySender = new Map<string, Uint8Array[]>();
    for (const r of received) {
      if (r.message.body.kind !== 'chat') continue;
      const ids = bySender.get(r.from) ?? [];
      ids.push(r.message.messageId);
      bySender.set(r.from, ids);
    }
    for (const [sender, ids] of bySender) {
      for (let i = 0; i < ids.length; i += 64) {
        try {
          await this.send(sender, { kind: 'receipt', messageIds: ids.slice(i, i + 64) });
        } catch (e) {
          if (!isParleyError(e)) throw e; // a receipt that cannot go is not an error of the fetch
        }
      }
    }
  }
}

/** The ciphertext of a verified offline message's Signed body (verifyOfflineEnvelope checked it). */
function messageCiphertext(signedMessage: Uint8Array): Uint8Array {
  return parley.v1.OfflineMessage.decode(decodeSigned(signedMessage).body).ciphertext;
}
