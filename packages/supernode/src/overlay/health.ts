/**
 * Liveness of the other supernodes as this one sees it (spec/07-supernode.md §9, DIR-HAND-5..6): up or
 * down per peer key id, with the time it was last heard from. The runner feeds it (a supernode channel
 * that completes its handshake or answers marks the peer up; one that fails, times out or closes marks it
 * down); forwarding reads it to skip responsible supernodes known down (`SupernodeView.forwardTargets`).
 *
 * A peer never heard of is up: a supernode that has just started tries every responsible supernode once
 * instead of treating the whole list as down. The table is pure state; time comes from the caller.
 */
import { keyHex } from './key-id.js';

export interface PeerState {
  readonly up: boolean;
  /** When the peer last answered (unix ms), or undefined when it never has. */
  readonly lastSeenMs: number | undefined;
  /** When the peer entered its current state. */
  readonly sinceMs: number;
}

export class PeerHealth {
  readonly #peers = new Map<string, PeerState>();
  #down = 0;

  /**
   * Records that `keyId` answered at `nowMs`. Returns true when it was known down: a recovery, after
   * which this supernode re-sends it the records they are both responsible for (DIR-HAND-6).
   */
  markUp(keyId: Uint8Array | string, nowMs: number): boolean {
    const key = typeof keyId === 'string' ? keyId : keyHex(keyId);
    const was = this.#peers.get(key);
    const recovered = was !== undefined && !was.up;
    if (recovered) this.#down--;
    this.#peers.set(key, { up: true, lastSeenMs: nowMs, sinceMs: was?.up ? was.sinceMs : nowMs });
    return recovered;
  }

  /** Records that `keyId` failed at `nowMs` (a channel that could not be opened, timed out or closed). */
  markDown(keyId: Uint8Array | string, nowMs: number): void {
    const key = typeof keyId === 'string' ? keyId : keyHex(keyId);
    const was = this.#peers.get(key);
    if (was !== undefined && !was.up) return;
    this.#down++;
    this.#peers.set(key, { up: false, lastSeenMs: was?.lastSeenMs, sinceMs: nowMs });
  }

  /** False only for a peer known down; a peer never heard of is up. */
  isUp(keyId: Uint8Array | string): boolean {
    const s = this.#peers.get(typeof keyId === 'string' ? keyId : keyHex(keyId));
    return s === undefined || s.up;
  }

  state(keyId: Uint8Array | string): PeerState | undefined {
    return this.#peers.get(typeof keyId === 'string' ? keyId : keyHex(keyId));
  }

  /** Forgets peers that `keep` rejects (those a new list no longer names); the number forgotten. */
  prune(keep: (keyHex: string) => boolean): number {
    let n = 0;
    for (const [key, s] of this.#peers) {
      if (keep(key)) continue;
      if (!s.up) this.#down--;
      this.#peers.delete(key);
      n++;
    }
    return n;
  }

  /** Peers known down. */
  get downCount(): number {
    return this.#down;
  }

  get size(): number {
    return this.#peers.size;
  }
}
