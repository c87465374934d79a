/**
 * A child process of bench/run.ts: `count` nodes on real TCP + Noise to one supernode, each attached and
 * keeping its channel alive; then, when told, a closed-loop lookup load on some of them. Messages with the
 * parent go over the IPC channel of `fork`.
 *
 *   parent -> child  { kind: 'start', ...ClientsInput }   { kind: 'lookups', ... }   { kind: 'exit' }
 *   child -> parent  { kind: 'attached', attached, failed, ms }   { kind: 'lookups', done, latencies }
 */
import { createRealTransport, type Transport } from '@parley/net';
import { issueCertificate, nodeCrypto, Role, signingKeyFromSeed, systemRandom } from '@parley/wire';
import { SupernodeClient } from '../src/runner/node-client.js';

export interface ClientsInput {
  readonly index: number;
  readonly count: number;
  readonly port: number;
  readonly loginSeed: string;
  readonly loginCertificate: string;
  readonly root: string;
  readonly concurrency: number;
}

export interface LookupsInput {
  readonly clients: number;
  readonly inFlight: number;
  readonly durationMs: number;
  readonly names: readonly string[];
}

const suite = nodeCrypto;
const fromHex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

async function start(o: ClientsInput): Promise<{ clients: SupernodeClient[]; transport: Transport }> {
  const real = createRealTransport();
  const transport: Transport = {
    ...real,
    clock: { now: () => Date.now(), setTimer: (d, f) => real.clock.setTimer(d, f) },
  };
  const login = signingKeyFromSeed(suite, fromHex(o.loginSeed));
  const loginCertificate = fromHex(o.loginCertificate);
  const root = fromHex(o.root);
  const now = Date.now();
  const clients: SupernodeClient[] = [];
  let failed = 0;
  let next = 0;
  const began = Date.now();
  const one = async (i: number) => {
    const seed = systemRandom.randomBytes(32);
    const deviceId = new Uint8Array(16);
    new DataView(deviceId.buffer).setUint32(0, o.index * 1_000_000 + i);
    const cert = issueCertificate(suite, login, {
      subject: `bench${o.index}x${i}`,
      subjectKey: suite.ed25519PublicKey(seed),
      deviceId,
      role: Role.ROLE_USER,
      serial: o.index * 1_000_000 + i + 1,
      notBefore: now - 3_600_000,
      notAfter: now + 6 * 3_600_000,
    });
    try {
      const c = await SupernodeClient.connect({
        transport,
        suite,
        supernode: { host: '127.0.0.1', port: o.port },
        trustAnchors: [root],
        identity: { chain: [cert, loginCertificate], seed },
      });
      const r = await c.attach();
      if (r.kind !== 'attached') throw new Error('not attached');
      clients.push(c);
    } catch {
      failed++;
    }
  };
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (next < o.count) await one(next++);
    }),
  );
  process.send?.({ kind: 'attached', attached: clients.length, failed, ms: Date.now() - began });
  return { clients, transport };
}

async function lookups(clients: SupernodeClient[], o: LookupsInput): Promise<void> {
  const end = Date.now() + o.durationMs;
  let done = 0;
  let errors = 0;
  const latencies: number[] = [];
  const loop = async (c: SupernodeClient, seed: number) => {
    let k = seed;
    while (Date.now() < end) {
      const name = o.names[k++ % o.names.length]!;
      const t = performance.now();
      try {
        const r = await c.lookup(name);
        if (r.length === 0) errors++;
        done++;
        if ((done & 15) === 0) latencies.push(performance.now() - t);
      } catch {
        errors++;
      }
    }
  };
  const users = clients.slice(0, o.clients);
  await Promise.all(users.flatMap((c, i) => Array.from({ length: o.inFlight }, (_, j) => loop(c, i * 31 + j * 7))));
  process.send?.({ kind: 'lookups', done, errors, latencies });
}

let state: { clients: SupernodeClient[]; transport: Transport } | undefined;
process.on('message', (m: { kind: string } & Partial<ClientsInput> & Partial<LookupsInput>) => {
  if (m.kind === 'start') {
    void start(m as unknown as ClientsInput).then((s) => {
      state = s;
    });
  } else if (m.kind === 'lookups' && state !== undefined) {
    void lookups(state.clients, m as unknown as LookupsInput);
  } else if (m.kind === 'exit') {
    for (const c of state?.clients ?? []) c.close();
    setTimeout(() => process.exit(0), 200);
  }
});
