/**
 * The optional packet trace (DESIGN.md §9; spec/05-network.md): every datagram and stream segment the
 * simulator moves, with its fate. Off by default and then free (the simulator only tests one field);
 * tests and the conformance harness switch it on to explain a failure as a readable timeline, and
 * compare digests to prove that a seed replays identically.
 *
 * net knows nothing of Parley packets, so the timeline takes a decoder as a parameter.
 */
import { formatAddress, type NetAddress } from '../transport.js';

export type TraceEventKind = 'sent' | 'delivered' | 'dropped';

export type DropReason =
  | 'loss' // the link lost it (random loss)
  | 'filtered' // a NAT or firewall dropped it (no mapping, filtering, blocked protocol)
  | 'mtu' // larger than a link's MTU
  | 'partition' // the two hosts are in partitioned groups at that time
  | 'crashed' // the sender or receiver host is down
  | 'no-listener' // no socket bound there (UDP), or nothing to answer for (stream segment to a closed host)
  | 'no-route' // no host or box has that address
  | 'hairpin'; // sent to the own NAT's public address with hairpinning off

/** Stream segments (message-level TCP); datagrams have none. */
export type SegmentKind = 'syn' | 'syn-ack' | 'data' | 'fin' | 'rst';

export interface TraceRecord {
  /** Virtual time, ms. */
  readonly time: number;
  readonly protocol: 'udp' | 'tcp';
  readonly event: TraceEventKind;
  readonly reason?: DropReason;
  /** As the receiver sees it (after NAT translation) for `delivered`; as sent for `sent`/`dropped`. */
  readonly source: NetAddress;
  readonly destination: NetAddress;
  /** Payload bytes. */
  readonly size: number;
  readonly segment?: SegmentKind;
  /** The payload (kept by reference: senders must not modify sent bytes, transport.ts). */
  readonly data?: Uint8Array;
}

export interface PacketTraceOptions {
  /** Keep at most this many records (the oldest are discarded); default unlimited. */
  readonly maxRecords?: number;
  /** Keep payload references for the decoder; default true. */
  readonly keepData?: boolean;
}

export class PacketTrace {
  readonly records: TraceRecord[] = [];
  private readonly maxRecords: number;
  private readonly keepData: boolean;
  /** Digest state, updated per record so it also covers records dropped by `maxRecords`. */
  private h1 = 0x811c9dc5;
  private h2 = 0x01000193;
  private count = 0;

  constructor(options: PacketTraceOptions = {}) {
    this.maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY;
    this.keepData = options.keepData ?? true;
  }

  /** Number of records ever made (including any discarded by `maxRecords`). */
  get total(): number {
    return this.count;
  }

  record(
    time: number,
    protocol: 'udp' | 'tcp',
    event: TraceEventKind,
    source: NetAddress,
    destination: NetAddress,
    data: Uint8Array | undefined,
    size: number,
    reason?: DropReason,
    segment?: SegmentKind,
  ): void {
    const rec: TraceRecord = {
      time,
      protocol,
      event,
      source,
      destination,
      size,
      ...(reason !== undefined ? { reason } : {}),
      ...(segment !== undefined ? { segment } : {}),
      ...(this.keepData && data !== undefined ? { data } : {}),
    };
    this.count++;
    this.mix(line(rec));
    if (data !== undefined) this.mixBytes(data);
    this.records.push(rec);
    if (this.records.length > this.maxRecords) this.records.shift();
  }

  /** A stable hex digest of every record (time, protocol, event, reason, addresses, size, segment, payload). */
  digest(): string {
    const hex = (x: number) => (x >>> 0).toString(16).padStart(8, '0');
    return `${hex(this.h1)}${hex(this.h2)}-${this.count}`;
  }

  /**
   * One line per record: `time  proto  event[reason]  source -> destination  size  [segment]  decoded`.
   * `decoder` names a payload (e.g. a Parley packet type); its exceptions are shown, not thrown, so a
   * malformed packet still appears in the timeline.
   */
  timeline(decoder?: (bytes: Uint8Array) => string): string {
    const out: string[] = [];
    for (const r of this.records) {
      let text = line(r);
      if (decoder !== undefined && r.data !== undefined && r.data.length > 0) {
        let decoded: string;
        try {
          decoded = decoder(r.data);
        } catch (e) {
          decoded = `<undecodable: ${e instanceof Error ? e.message : String(e)}>`;
        }
        text += `  ${decoded}`;
      }
      out.push(text);
    }
    return out.join('\n');
  }

  clear(): void {
    this.records.length = 0;
  }

  private mix(text: string): void {
    let a = this.h1;
    let b = this.h2;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
    }
    this.h1 = a;
    this.h2 = b;
  }

  private mixBytes(data: Uint8Array): void {
    let a = this.h1;
    let b = this.h2;
    for (let i = 0; i < data.length; i++) {
      const c = data[i]!;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
    }
    this.h1 = a;
    this.h2 = b;
  }
}

function line(r: TraceRecord): string {
  const event = r.reason !== undefined ? `${r.event}(${r.reason})` : r.event;
  const seg = r.segment !== undefined ? `  ${r.segment}` : '';
  return `${r.time.toFixed(3).padStart(12)} ms  ${r.protocol}  ${event.padEnd(22)} ${formatAddress(r.source)} -> ${formatAddress(r.destination)}  ${r.size} B${seg}`;
}
