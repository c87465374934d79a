/**
 * A SupernodeClient as the paths use it (RelayChannel): requests, notices, and the RelayFrame notices the
 * supernode sends on it ([RELAY-DATA-3]: a node accepts frames only from the relay's channel, with its own
 * allocation id; each RelayPath registers for the frames of its channel and checks the id). The node's
 * `onPacket` hands every RelayFrame of the channel to `frame`.
 */
import type { SupernodeClient } from '@parley/supernode';
import type { PacketBodies, PacketBody, RelayFrameBody } from '@parley/wire';
import type { RelayChannel } from './path.js';

export class SupernodeRelayChannel implements RelayChannel {
  readonly client: SupernodeClient;
  readonly #frames = new Set<(frame: RelayFrameBody) => void>();

  constructor(client: SupernodeClient) {
    this.client = client;
  }

  get closed(): boolean {
    return this.client.closed;
  }

  request<K extends keyof PacketBodies>(body: PacketBody, expected: K): Promise<PacketBodies[K]> {
    return this.client.request(body, expected);
  }

  notify(body: PacketBody): void {
    if (!this.client.closed) this.client.channel.send({ requestId: 0, body });
  }

  onRelayFrame(handler: (frame: RelayFrameBody) => void): () => void {
    this.#frames.add(handler);
    return () => this.#frames.delete(handler);
  }

  /** A RelayFrame notice arrived on this channel. */
  frame(frame: RelayFrameBody): void {
    for (const h of this.#frames) h(frame);
  }
}
