/**
 * UDP sockets over node:dgram (src/transport.ts `UdpSocket`; spec/05-network.md "Transport contract",
 * [NET-UDP-1]..[NET-UDP-8]). The family follows the bind address ('udp6' for an IPv6 literal, else
 * 'udp4'; default 0.0.0.0). Datagrams sent before the socket is bound wait in a bounded queue ([NET-UDP-6]).
 * Binding failures close the socket and are reported once through onError; a failed send (EMSGSIZE, no
 * route) is reported through onError and the socket stays open ([NET-UDP-7]).
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIPv6 } from 'node:net';
import { type NetAddress, NetError, type UdpHandlers, type UdpOptions, type UdpSocket } from '../transport.js';
import { AddressCache, isIpLiteral, isPort, netAddress } from './address.js';
import type { Dispatcher } from './dispatch.js';
import { toNetError } from './errors.js';

/** Datagrams kept while binding; more are dropped (UDP is best effort, and binding takes one loop turn). */
const MAX_EARLY_DATAGRAMS = 1024;

export class RealUdpSocket implements UdpSocket {
  local: NetAddress | undefined = undefined;
  private readonly socket: dgram.Socket | undefined;
  private readonly ipv6: boolean;
  private early: { data: Uint8Array; to: NetAddress }[] | undefined = [];
  private closed = false;
  /**
   * The last destination host checked by `transmit` (the caller's string) and the host it is sent to (the
   * same, or IPv4-mapped on a 'udp6' socket): the next datagram to the same host string skips the checks.
   */
  private checkedHost: string | undefined = undefined;
  private sendHost = '';
  /** Sources of received datagrams, one immutable NetAddress each. */
  private readonly sources = new AddressCache();
  /** node:dgram's send callback, one for the socket's life (not one closure per datagram). */
  private readonly afterSend = (e: Error | null): void => {
    if (e) this.sendFailed(toNetError(e, 'EHOSTUNREACH'));
  };

  constructor(
    private readonly d: Dispatcher,
    options: UdpOptions,
    private readonly handlers: UdpHandlers,
    private readonly open: Set<RealUdpSocket>,
  ) {
    open.add(this);
    const address = options.address ?? '0.0.0.0';
    const port = options.port ?? 0;
    this.ipv6 = isIPv6(address);
    if (!isIpLiteral(address) || !isPort(port)) {
      this.fail(new NetError('EADDRNOTAVAIL', `cannot bind ${address} port ${port}`));
      return;
    }
    // node:dgram resolves every destination with `lookup`, by default dns.lookup, which answers even an IP
    // literal a tick later. `transmit` has checked the host it sends to: that one is answered at once, so
    // the datagram goes out within `send`. Anything else (the bind address) takes dns.lookup, as before.
    const lookup = (
      host: string,
      family: unknown,
      done: (e: Error | null, address: string, family: number) => void,
    ) => {
      if (host === this.sendHost) done(null, host, this.ipv6 ? 6 : 4);
      else dns.lookup(host, family as dns.LookupOneOptions, done);
    };
    const socket = dgram.createSocket({ type: this.ipv6 ? 'udp6' : 'udp4', lookup });
    this.socket = socket;
    // Stays attached for the socket's life: an 'error' event without a listener would throw.
    socket.on('error', (e) => this.fail(toNetError(e, this.local ? 'EHOSTUNREACH' : 'EADDRNOTAVAIL')));
    socket.on('listening', () => this.onListening());
    socket.on('message', (msg, rinfo) => {
      if (this.closed) return;
      const from = this.sources.get(rinfo.address, rinfo.port);
      // From the event loop nothing is on the stack: the handler runs now, without a closure.
      if (this.d.idle) {
        this.handlers.onMessage(msg, from);
        return;
      }
      this.d.emit(() => {
        if (!this.closed) this.handlers.onMessage(msg, from);
      });
    });
    try {
      socket.bind({ port, address, exclusive: true });
    } catch (e) {
      this.fail(toNetError(e, 'EADDRNOTAVAIL'));
    }
  }

  send(data: Uint8Array, to: NetAddress): void {
    // As `d.call`, without a closure per datagram.
    const d = this.d;
    d.enter();
    try {
      if (this.closed) return;
      if (this.early !== undefined) {
        if (this.early.length < MAX_EARLY_DATAGRAMS) this.early.push({ data, to });
        return;
      }
      this.transmit(data, to);
    } finally {
      d.leave();
    }
  }

  close(): void {
    this.d.call(() => {
      if (this.closed) return;
      this.closed = true;
      this.release();
    });
  }

  private onListening(): void {
    if (this.closed || !this.socket) return;
    const a = this.socket.address();
    this.local = netAddress(a.address, a.port);
    const early = this.early ?? [];
    this.early = undefined;
    for (const { data, to } of early) this.transmit(data, to);
    const local = this.local!;
    this.d.emit(() => {
      if (!this.closed) this.handlers.onReady?.(local);
    });
  }

  private transmit(data: Uint8Array, to: NetAddress): void {
    const socket = this.socket!;
    const host = to.host;
    const port = to.port;
    if (!isPort(port) || port === 0) {
      this.sendFailed(new NetError('EHOSTUNREACH', `not an IP endpoint: ${host} port ${port}`));
      return;
    }
    if (host !== this.checkedHost && !this.check(host, port)) return;
    try {
      socket.send(data, port, this.sendHost, this.afterSend);
    } catch (e) {
      this.sendFailed(toNetError(e, 'EHOSTUNREACH'));
    }
  }

  /** Checks a destination host; when it can be sent to, it becomes `checkedHost` (and `sendHost`). */
  private check(host: string, port: number): boolean {
    if (!isIpLiteral(host)) {
      this.sendFailed(new NetError('EHOSTUNREACH', `not an IP endpoint: ${host} port ${port}`));
      return false;
    }
    const v6 = isIPv6(host);
    // A 'udp6' socket reaches IPv4 peers through mapped addresses; a 'udp4' socket has no route to IPv6.
    if (!this.ipv6 && v6) {
      this.sendFailed(new NetError('EHOSTUNREACH', `IPv6 ${host} from udp4`));
      return false;
    }
    this.checkedHost = host;
    this.sendHost = this.ipv6 && !v6 ? `::ffff:${host}` : host;
    return true;
  }

  /** One datagram was not sent; the socket stays open. */
  private sendFailed(error: NetError): void {
    if (this.closed) return;
    this.d.emit(() => {
      if (!this.closed) this.handlers.onError?.(error);
    });
  }

  /** The socket failed (binding, or the OS closed it): closed, then onError once. */
  private fail(error: NetError): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    this.d.emit(() => this.handlers.onError?.(error));
  }

  private release(): void {
    this.early = undefined;
    try {
      this.socket?.close();
    } catch {
      // Already closed by Node after a failed bind: nothing left to release.
    }
    this.open.delete(this);
  }
}
