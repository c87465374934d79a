/**
 * The Transport contract suite (test/contract/) against real sockets: two real transports on loopback
 * (127.0.0.1), waiting on the wall clock.
 */
import { afterAll, beforeAll } from 'vitest';
import { createRealTransport } from '../../src/real/index.js';
import { type ContractEnv, transportContract } from '../contract/harness.js';
import { type SilentEndpoint, startSilentEndpoint } from './silent-endpoint.js';

let silent: SilentEndpoint | undefined;
beforeAll(async () => {
  silent = await startSilentEndpoint();
}, 30_000);
afterAll(() => silent?.stop());

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function realEnv(): Promise<ContractEnv> {
  const a = createRealTransport();
  const b = createRealTransport();
  return {
    a,
    b,
    aHost: '127.0.0.1',
    bHost: '127.0.0.1',
    ...(silent ? { silentEndpoint: silent.endpoint } : {}),
    async until(done, timeoutMs = 5_000) {
      const deadline = performance.now() + timeoutMs;
      while (!done()) {
        if (performance.now() >= deadline) return done();
        await sleep(2);
      }
      return true;
    },
    // On the transport's own clock, which never fires early, so "at least timeMs passed" holds exactly.
    wait: (timeMs) => new Promise<void>((resolve) => a.clock.setTimer(timeMs, resolve)),
    async close() {
      a.close();
      b.close();
    },
  };
}

transportContract('real sockets (loopback)', realEnv);
