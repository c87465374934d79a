/**
 * Per-channel state of a supernode (spec/07-supernode.md §3): who the initiator proved to be in the
 * handshake (a node with a ROLE_USER certificate, or another supernode with ROLE_SUPERNODE), where its
 * channel comes from, and its attachment. The runner makes one per established channel.
 */
import type { NetAddress } from '@parley/net';
import { type ErrorCode, type Packet, type PacketBody, type PeerIdentity, Role } from '@parley/wire';
import type { Attachable, AttachMode } from './attachments.js';

export type PeerKind = 'node' | 'supernode';

export interface Session extends Attachable {
  /** A number unique within the process, for logs. */
  readonly id: number;
  readonly kind: PeerKind;
  /** The verified identity of the initiator. */
  readonly peer: PeerIdentity;
  /** The certificate's subject: a normalised user name (nodes), a supernode's name (supernodes). */
  readonly username: string;
  readonly deviceId: Uint8Array;
  /** The address and port the channel comes from, as this side's socket sees it ([SN-ATTACH-4]). */
  readonly observed: NetAddress;
  attachment: AttachMode | undefined;
  /** Closes the channel with `code` (sending Close where it can). */
  close(code: ErrorCode, detail: string): void;
  /**
   * Sends a request to the peer on this channel (08: PunchOffer to an attached node) and resolves with
   * its response (an ErrorReply included); rejects on timeout or when the channel closes.
   */
  request(body: PacketBody, timeoutMs?: number): Promise<Packet>;
  /** Sends a notice (request_id 0) on this channel (08: RelayFrame); false when the write buffer is full. */
  notify(body: PacketBody): boolean;
}

/** How a session reaches its channel. */
export interface SessionChannel {
  close(code: ErrorCode, detail: string): void;
  request(body: PacketBody, timeoutMs?: number): Promise<Packet>;
  notify(body: PacketBody): boolean;
}

let sessions = 0;

/** A session for a channel whose initiator proved `peer` (ROLE_USER or ROLE_SUPERNODE). */
export function newSession(peer: PeerIdentity, observed: NetAddress, channel: SessionChannel): Session {
  return {
    id: ++sessions,
    kind: peer.certificate.role === Role.ROLE_SUPERNODE ? 'supernode' : 'node',
    peer,
    username: peer.certificate.subject,
    deviceId: peer.certificate.deviceId,
    observed,
    attachment: undefined,
    close: (code, detail) => channel.close(code, detail),
    request: (body, timeoutMs) => channel.request(body, timeoutMs),
    notify: (body) => channel.notify(body),
  };
}

/** A channel that is not there (core tests): closing does nothing, requests fail, notices are dropped. */
export const NO_CHANNEL: SessionChannel = {
  close: () => {},
  request: () => Promise.reject(new Error('no channel')),
  notify: () => false,
};
