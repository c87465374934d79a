/**
 * [NAT-OBS-6] One probe from the node's socket (through the mux) to a supernode's probe endpoint: the
 * reflexive endpoint the supernode saw, or undefined when every transmission went unanswered (UDP to it
 * is blocked). The node's candidates come from the probe of the socket it punches from ([NAT-PUNCH-9]).
 */
import type { Clock, NetAddress, Random, Timer } from '@parley/net';
import { type ProbeAnswer, type ProbeStep, ProbeTransaction, TRANSACTION_ID_BYTES } from '@parley/wire';
import type { UdpMux } from './udp-mux.js';

export function probe(
  mux: UdpMux,
  clock: Clock,
  random: Random,
  to: NetAddress,
  length?: number,
): Promise<ProbeAnswer | undefined> {
  const tx = new ProbeTransaction(random.randomBytes(TRANSACTION_ID_BYTES), length === undefined ? {} : { length });
  return new Promise((resolve) => {
    let timer: Timer | undefined;
    const release = mux.onProbeReplies(to, (data) => {
      tx.receive(data);
      if (tx.answer !== undefined) done(tx.answer);
    });
    const done = (answer: ProbeAnswer | undefined) => {
      timer?.cancel();
      release();
      resolve(answer);
    };
    const step = (s: ProbeStep) => {
      switch (s.kind) {
        case 'send':
          mux.send(s.datagram, to);
          timer = clock.setTimer(Math.max(0, s.deadline - clock.now()), () => step(tx.poll(clock.now())));
          return;
        case 'wait':
          timer = clock.setTimer(Math.max(0, s.deadline - clock.now()), () => step(tx.poll(clock.now())));
          return;
        case 'answered':
          done(s.answer);
          return;
        case 'failed':
          done(undefined);
      }
    };
    step(tx.start(clock.now()));
  });
}
