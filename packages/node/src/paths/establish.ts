/**
 * Finding a datagram path to a peer device (spec/08-connectivity.md §6-7, the node's side): punch first,
 * through the two home supernodes, then fall back to the relay the punch names ([NAT-PUNCH-8]) — over
 * UDP when the relay binding works, over the node's TCP channel otherwise ([RELAY-TCP-1]).
 *
 *   caller                                             callee
 *   PunchRequest via home -> PunchReply {start}        PunchOffer {caller, start} -> accept? PunchOfferReply
 *   PunchAttempt (caller) ............................ PunchAttempt (callee)
 *   succeeded: DirectPath                              succeeded: DirectPath
 *   failed: RelayAllocate {callee} at start.relay      failed: RelayAllocate {caller} at start.relay
 *           RelayPath (bind; frames when UDP fails)            RelayPath
 *
 * Both sides reach the same decision on their own: a punch that fails on one side fails on the other
 * within the same window (both stop at start + timeout), and a relay allocation pairs only when both ask
 * ([RELAY-ALLOC-1]), within `relay-pair-wait` (10 s).
 */
import type { Clock, Timer } from '@parley/net';
import {
  type CryptoSuite,
  DEVICE_ID_BYTES,
  ErrorCode,
  type PacketBodies,
  type PunchAction,
  PunchAttempt,
  type PunchCandidate,
  type PunchRole,
  type PunchStart,
  RequestRefused,
  type WireAddress,
} from '@parley/wire';
import { netAddress, wireAddress } from './address.js';
import { DirectPath, type PeerPath, type RelayChannel, RelayPath } from './path.js';
import type { UdpMux } from './udp-mux.js';

/** The peer device a path leads to. */
export interface PeerDevice {
  readonly username: string;
  readonly deviceId: Uint8Array;
}

export interface PathEnv {
  readonly suite: CryptoSuite;
  readonly clock: Clock;
  readonly mux: UdpMux;
  /** The node's channel to its home supernode (attached). */
  readonly home: RelayChannel;
  /** A user channel to the supernode of `keyId` from the verified list (the home channel when it is home). */
  channelTo(keyId: Uint8Array): Promise<RelayChannel>;
  /** The node's current candidates ([NAT-PUNCH-9]: of the socket the mux sends from) and NAT class. */
  candidates(): PunchCandidate[];
  nat(): NonNullable<PacketBodies['punchRequest']['nat']>;
  /** UDP to supernodes is blocked (NAT classification found no answer): skip punching, use RelayFrames. */
  udpBlocked(): boolean;
}

export interface EstablishedPath {
  readonly path: PeerPath;
  /** How it was found. */
  readonly via: 'punch' | 'relay';
}

/** Runs one PunchAttempt on the mux to its end: the selected path, or undefined ([NAT-PUNCH-8]). */
export function runPunch(
  env: PathEnv,
  role: PunchRole,
  start: PunchStart,
  receivedAt: number,
): Promise<WireAddress | undefined> {
  const attempt = new PunchAttempt({ suite: env.suite, role, start, receivedAt });
  const clock = env.clock;
  return new Promise((resolve) => {
    let timer: Timer | undefined;
    let done = false;
    const release = env.mux.onPunch(start.punchId, (data, from) =>
      perform(attempt.onDatagram(data, wireAddress(from), clock.now())),
    );
    const finish = (path: WireAddress | undefined) => {
      if (done) return;
      done = true;
      timer?.cancel();
      // The callee keeps echoing the caller's punches for the rest of the window ([NAT-PUNCH-7]) only
      // while registered; once a path is selected, its datagrams flow on the DirectPath instead.
      release();
      resolve(path);
    };
    const perform = (actions: readonly PunchAction[]) => {
      for (const a of actions) {
        if (done) return;
        if (a.kind === 'send') env.mux.send(a.datagram, netAddress(a.to));
        else if (a.kind === 'timer') {
          timer?.cancel();
          timer = clock.setTimer(Math.max(0, a.at - clock.now()), () => perform(attempt.onTimer(clock.now())));
        } else if (a.kind === 'succeeded') {
          // The callee's succeeded comes with the echo to send; the loop sends it before returning.
          const path = a.path;
          queueMicrotask(() => finish(path));
        } else finish(undefined);
      }
    };
    perform(attempt.onTimer(clock.now()));
  });
}

/** [RELAY-ALLOC-1] Asks `start.relay` for an allocation naming the peer; the path once bound or on frames. */
export async function relayPath(env: PathEnv, start: PunchStart, peer: PeerDevice): Promise<EstablishedPath> {
  const channel = await env.channelTo(start.relay);
  const reply = await channel.request(
    { case: 'relayAllocate', value: { username: peer.username, deviceId: peer.deviceId } },
    'relayAllocateReply',
  );
  const path = new RelayPath({
    suite: env.suite,
    clock: env.clock,
    mux: env.mux,
    channel,
    allocation: reply,
    receivedAt: env.clock.now(),
    tcpOnly: env.udpBlocked(),
  });
  await path.ready;
  return { path, via: 'relay' };
}

/** Punch, then relay: the common tail of both roles. */
async function punchOrRelay(
  env: PathEnv,
  role: PunchRole,
  start: PunchStart,
  receivedAt: number,
  peer: PeerDevice,
): Promise<EstablishedPath> {
  if (!env.udpBlocked()) {
    const direct = await runPunch(env, role, start, receivedAt);
    if (direct !== undefined) return { path: new DirectPath(env.mux, netAddress(direct)), via: 'punch' };
  }
  return relayPath(env, start, peer);
}

/**
 * The caller: asks its home supernode to coordinate a punch to `peer`, attached to the supernode `via`
 * (from the peer's verified presence record), then punches or relays. A decline, an absent device and
 * silence all reject with NOT_FOUND ([NAT-PUNCH-4]).
 */
export async function callPath(env: PathEnv, peer: PeerDevice, via: Uint8Array): Promise<EstablishedPath> {
  const reply: PacketBodies['punchReply'] = await env.home.request(
    {
      case: 'punchRequest',
      value: {
        username: peer.username,
        deviceId: peer.deviceId,
        via,
        candidates: env.candidates(),
        nat: env.nat(),
        caller: '',
        callerDeviceId: new Uint8Array(0),
      },
    },
    'punchReply',
  );
  const receivedAt = env.clock.now();
  if (reply.start === undefined) throw new RequestRefused(ErrorCode.MISSING_FIELD, 'PunchReply without start');
  return punchOrRelay(env, 'caller', reply.start, receivedAt, peer);
}

/**
 * The callee: the answer to a PunchOffer its home supernode sent (to return from the client's onPacket),
 * and, when accepted, the path the punch (or the relay) gives. `accept` is the node's decision: chapter 09
 * accepts offers from accepted contacts only.
 */
export function answerOffer(
  env: PathEnv,
  offer: PacketBodies['punchOffer'],
  accept: boolean,
): { reply: PacketBodies['punchOfferReply']; path: Promise<EstablishedPath> | undefined } {
  const start = offer.start;
  if (!accept || start === undefined || offer.callerDeviceId.length !== DEVICE_ID_BYTES) {
    return { reply: { accept: false, candidates: [], nat: undefined }, path: undefined };
  }
  // [NAT-PUNCH-4] the callee starts `start_in_ms` after sending its answer: the answer goes out now.
  const receivedAt = env.clock.now();
  const peer = { username: offer.caller, deviceId: Uint8Array.from(offer.callerDeviceId) };
  return {
    reply: { accept: true, candidates: env.candidates(), nat: env.nat() },
    path: punchOrRelay(env, 'callee', start, receivedAt, peer),
  };
}
