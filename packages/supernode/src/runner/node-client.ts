/**
 * The node's side of a supernode channel (spec/07-supernode.md §3, §5-8): a stream channel on which the
 * node is the initiator, proving its ROLE_USER certificate, and the supernode the responder, proving a
 * ROLE_SUPERNODE certificate — of the key id the node expects when it names one ([SN-ATTACH-8]).
 * `attach` sends Attach and, once attached, keeps the channel alive with one Ping per keep-alive
 * interval, each drawn uniformly within +-20% of it ([SN-KEEP-1]). The other methods send one request
 * and resolve with its reply body; an ErrorReply rejects with the ParleyError of its code
 * (`errorFromReply`), a Close or a failure with ChannelClosedError.
 *
 * What a lookup returns is what the supernode sent: a node verifies it (`verifyPresenceEnvelope` of
 * @parley/wire) before trusting any of it. Nodes, tests and the benchmark use this client.
 */
import { type CloseReason, StreamChannel } from '@parley/channel';
import { errorFromReply } from '@parley/login-server/client';
import type { Clock, NetAddress, Timer, Transport } from '@parley/net';
import {
  bytesEqual,
  type CryptoSuite,
  certifiedPayloadCodec,
  ErrorCode,
  type EstablishedChannel,
  IdentityError,
  type LocalIdentity,
  type Packet,
  type PacketBodies,
  type PacketBody,
  type PeerIdentity,
  ProtocolViolation,
  Role,
  SUPPORTED_PROTOCOL_VERSIONS,
  startInitiator,
} from '@parley/wire';

export interface SupernodeClientOptions {
  readonly transport: Transport;
  readonly suite: CryptoSuite;
  readonly supernode: NetAddress;
  readonly trustAnchors: Uint8Array[];
  /** The node's ROLE_USER chain (leaf first) and seed. */
  readonly identity: LocalIdentity;
  /** [SN-ATTACH-8] The key id the supernode must prove (from the verified list); any supernode when absent. */
  readonly expectKeyId?: Uint8Array;
  readonly software?: string;
  /** Unix ms for judging the supernode's certificate; default the transport's clock. */
  readonly now?: () => number;
  /** Send no keep-alive Pings (tests of SN-KEEP-2). */
  readonly noKeepalive?: boolean;
  readonly onClosed?: (reason: CloseReason) => void;
  /**
   * Requests and notices the supernode sends the node (08: PunchOffer, RelayFrame). Return the reply body
   * of a request (or a promise of it); return undefined to refuse it with UNKNOWN_BODY. Notices
   * (request_id 0) get no answer whatever this returns. Without a handler every request is refused.
   */
  readonly onPacket?: (packet: Packet) => PacketBody | Promise<PacketBody | undefined> | undefined;
}

export type AttachResult =
  | { readonly kind: 'attached'; readonly value: NonNullable<PacketBodies['attachReply']['attached']> }
  | { readonly kind: 'redirect'; readonly value: NonNullable<PacketBodies['attachReply']['redirect']> };

/** [SN-KEEP-1] Pings go out within +-20% of the interval. */
export const KEEPALIVE_JITTER = 0.2;

export class SupernodeClient {
  readonly channel: StreamChannel<PeerIdentity>;
  readonly #o: SupernodeClientOptions;
  readonly #clock: Clock;
  #keepalive: Timer | undefined;
  #pingSequence = 0;
  /** Pings sent (tests). */
  pings = 0;

  private constructor(channel: StreamChannel<PeerIdentity>, o: SupernodeClientOptions) {
    this.channel = channel;
    this.#o = o;
    this.#clock = o.transport.clock;
  }

  /** Opens the channel; resolves once the handshake completed (and the supernode's key id matched). */
  static connect(o: SupernodeClientOptions): Promise<SupernodeClient> {
    const { transport, suite } = o;
    const now = o.now ?? (() => transport.clock.now());
    let client!: SupernodeClient;
    return new Promise((resolve, reject) => {
      const channel = StreamChannel.connect<PeerIdentity>(transport, o.supernode, {
        start: startInitiator({
          suite,
          random: transport.random,
          protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
          payload: certifiedPayloadCodec(suite, {
            identity: o.identity,
            software: o.software ?? 'parley-ref/0.1.0',
            policy: () => ({ trustAnchors: o.trustAnchors, nowMs: now(), acceptedRoles: [Role.ROLE_SUPERNODE] }),
          }),
        }),
        events: {
          onEstablished: (c: EstablishedChannel<PeerIdentity>) => {
            if (o.expectKeyId !== undefined && !bytesEqual(c.peer.keyId, o.expectKeyId)) {
              reject(new IdentityError(ErrorCode.CERT_INVALID, 'the supernode proved another key'));
              channel.close(ErrorCode.NOT_AUTHORIZED, 'not the supernode expected');
              return;
            }
            resolve(client);
          },
          // 07 sends a node no requests; 08's (PunchOffer) and notices (RelayFrame) go to `onPacket`.
          onPacket: (p) => {
            const refuse = () => {
              if (p.requestId !== 0 && !channel.closed) {
                channel.send({
                  requestId: p.requestId,
                  body: { case: 'error', value: { code: ErrorCode.UNKNOWN_BODY, detail: '' } },
                });
              }
            };
            let answer: PacketBody | Promise<PacketBody | undefined> | undefined;
            try {
              answer = o.onPacket?.(p);
            } catch {
              refuse();
              return;
            }
            if (p.requestId === 0) return;
            void Promise.resolve(answer).then((body) => {
              if (body === undefined) refuse();
              else if (!channel.closed) channel.send({ requestId: p.requestId, body });
            }, refuse);
          },
          onClosed: (reason) => {
            client.#keepalive?.cancel();
            reject(reason.error ?? new Error('channel closed during the handshake'));
            o.onClosed?.(reason);
          },
        },
      });
      client = new SupernodeClient(channel, o);
    });
  }

  get peer(): PeerIdentity {
    return this.channel.established!.peer;
  }
  get closed(): boolean {
    return this.channel.closed;
  }

  /** [SN-ATTACH-3] Attach (standby or active); once attached, Pings keep the channel alive ([SN-KEEP-1]). */
  async attach(o: { standby?: boolean; listEpoch?: number } = {}): Promise<AttachResult> {
    const r = await this.request(
      { case: 'attach', value: { standby: o.standby ?? false, listEpoch: o.listEpoch ?? 0 } },
      'attachReply',
    );
    if (r.attached !== undefined) {
      if (!this.#o.noKeepalive) this.#startKeepalive(r.attached.keepaliveIntervalMs);
      return { kind: 'attached', value: r.attached };
    }
    if (r.redirect !== undefined) return { kind: 'redirect', value: r.redirect };
    throw new ProtocolViolation(ErrorCode.UNEXPECTED_MESSAGE, 'AttachReply: neither attached nor redirect');
  }

  #startKeepalive(intervalMs: number): void {
    this.#keepalive?.cancel();
    const next = () => {
      const r = this.#o.transport.random.float();
      const delay = Math.round(intervalMs * (1 - KEEPALIVE_JITTER + 2 * KEEPALIVE_JITTER * r));
      this.#keepalive = this.#clock.setTimer(delay, () => {
        if (this.channel.closed) return;
        this.pings++;
        this.channel
          .request({ case: 'ping', value: { sequence: ++this.#pingSequence, data: new Uint8Array(0) } })
          .catch(() => {});
        next();
      });
    };
    next();
  }

  /** Sends `body`; resolves with the reply's value when its body is `expected`. */
  async request<K extends keyof PacketBodies>(body: PacketBody, expected: K): Promise<PacketBodies[K]> {
    const reply = await this.channel.request(body);
    if (reply.body.case === 'error') throw errorFromReply(reply.body.value);
    if (reply.body.case !== expected) {
      throw new ProtocolViolation(ErrorCode.UNEXPECTED_MESSAGE, `expected ${expected}, got ${reply.body.case}`);
    }
    return reply.body.value as PacketBodies[K];
  }

  /** [DIR-PUB-1] Publishes this device's signed record (a PresenceEnvelope). */
  publish(presence: { certificate: Uint8Array; record: Uint8Array }): Promise<PacketBodies['publishPresenceReply']> {
    return this.request({ case: 'publishPresence', value: { presence } }, 'publishPresenceReply');
  }

  /** The records held for `username`, as the supernode sent them: verify them before use. */
  async lookup(username: string): Promise<PacketBodies['lookupPresenceReply']['records']> {
    return (await this.request({ case: 'lookupPresence', value: { username } }, 'lookupPresenceReply')).records;
  }

  /** Stores an offline message (an OfflineEnvelope) for its recipient. */
  store(message: { certificate: Uint8Array; message: Uint8Array }): Promise<PacketBodies['storeMessageReply']> {
    return this.request({ case: 'storeMessage', value: { message } }, 'storeMessageReply');
  }

  /** Fetches this user's offline messages (oldest first; `more` when more are held). */
  fetch(maxMessages = 64): Promise<PacketBodies['fetchMessagesReply']> {
    return this.request({ case: 'fetchMessages', value: { maxMessages, recipient: '' } }, 'fetchMessagesReply');
  }

  /** Acknowledges fetched messages: they are deleted at every responsible supernode. */
  async ack(messages: readonly { sender: string; messageId: Uint8Array }[]): Promise<number> {
    const r = await this.request(
      { case: 'ackMessages', value: { messages: messages.map((m) => ({ ...m })), recipient: '' } },
      'ackMessagesReply',
    );
    return r.deleted;
  }

  close(): void {
    this.#keepalive?.cancel();
    this.channel.close(0, '');
  }
}
