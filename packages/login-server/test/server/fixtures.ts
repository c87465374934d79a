// Shared fixtures for login-server tests: a network (root, login key and certificate), a manual clock,
// an in-memory SQLite store, and a core opened over them.
import type { Clock, Timer } from '@parley/net';
import {
  createNetworkKeys,
  nodeCrypto,
  type PeerIdentity,
  type RootKey,
  type SigningKey,
  seededRandom,
} from '@parley/wire';
import { createServerSetup, opaqueReady } from '../../src/accounts/index.js';
import { LoginServerCore, type ServerIdentity, type Session } from '../../src/server/core.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';

export const suite = nodeCrypto;
export const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
export const HOUR = 3_600_000;

/** A clock tests move by hand; timers fire in order when `advance` passes them. */
export class ManualClock implements Clock {
  #now: number;
  #timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  constructor(now = T0) {
    this.#now = now;
  }
  now(): number {
    return this.#now;
  }
  setTimer(delayMs: number, fn: () => void): Timer {
    const t = { at: this.#now + delayMs, fn, cancelled: false };
    this.#timers.push(t);
    return {
      cancel: () => {
        t.cancelled = true;
      },
    };
  }
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      due.cancelled = true;
      this.#now = Math.max(this.#now, due.at);
      due.fn();
    }
    this.#now = end;
  }
}

export interface TestNetwork {
  root: RootKey;
  login: SigningKey;
  loginCertificate: Uint8Array;
  identity: ServerIdentity;
}

export async function testNetwork(seed = 'login-server tests'): Promise<TestNetwork> {
  await opaqueReady();
  const { root, login, loginCertificate } = createNetworkKeys(suite, seededRandom(seed), {
    subject: 'login.test',
    notBefore: T0 - 24 * HOUR,
    notAfter: T0 + 365 * 24 * HOUR,
  });
  return {
    root,
    login,
    loginCertificate,
    identity: { loginKey: login, loginCertificate, trustAnchors: [root.publicKey], opaqueSetup: createServerSetup() },
  };
}

export async function openCore(
  net: TestNetwork,
  clock = new ManualClock(),
  store: Store = new SqliteStore(':memory:'),
): Promise<{ core: LoginServerCore; store: Store; clock: ManualClock }> {
  await store.migrate();
  const core = await LoginServerCore.open({ store, clock, suite, identity: net.identity });
  return { core, store, clock: clock as ManualClock };
}

let sessions = 0;
/** A session as the channel driver makes it: anonymous unless `peer` is given. */
export function session(
  peer: PeerIdentity | null = null,
  software = 'parley-test/1.0',
  address = '192.0.2.1',
): Session {
  const handshakeHash = new Uint8Array(32);
  new DataView(handshakeHash.buffer).setUint32(0, ++sessions);
  return { peer, software, handshakeHash, remoteAddress: address };
}
