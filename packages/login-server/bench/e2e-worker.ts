/**
 * A worker thread of the end-to-end bench (e2e.ts): `clients` concurrent LoginClients over loopback TCP,
 * each login on a fresh connection: LoginClient.connect (the Noise handshake, the server proving its
 * ROLE_LOGIN chain), then LoginStart and LoginFinish with a certificate request on that channel.
 *
 * The load uses LoginClient for the channel and sends the two login requests itself (client.channel,
 * the raw-request access LoginClient offers), because LoginClient.login stretches the password with the
 * real Argon2id (0.4 s of this machine's CPU per login: with two vCPUs the figure would measure the
 * clients' key stretching, not the server). The accounts were registered with the bench's cheap stretch
 * (client.ts), which the server cannot tell apart. Afterwards, worker 0 also times a few complete
 * LoginClient.register + LoginClient.login calls with the real stretch, one at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createRealTransport, type NetAddress, type Transport } from '@parley/net';
import { generateSigningKey, nodeCrypto, type Packet, signCertificateRequest, systemRandom } from '@parley/wire';
import { clientStartLogin, opaqueReady } from '../src/accounts/index.js';
import { LoginClient } from '../src/client/index.js';
import { finishLogin } from './client.js';

export interface WorkerInput {
  index: number;
  server: NetAddress;
  trustAnchor: Uint8Array;
  usernames: string[];
  password: string;
  clients: number;
  /** Logins before the measured window are warm-up (not counted). */
  warmMs: number;
  durationMs: number;
  /** How many complete LoginClient logins with the real key stretching to time after the load. */
  realLogins: number;
}

export interface WorkerOutput {
  /** Logins completed inside the window. */
  count: number;
  /** Per login inside the window: connect to certificate received, ms. */
  latencies: number[];
  errors: string[];
  /** Complete LoginClient.login calls with the real key stretching (fresh connection each), ms. */
  realLoginMs: number[];
}

const suite = nodeCrypto;
const input = workerData as WorkerInput;

function expectBody(p: Packet, c: string): Packet['body'] {
  if (p.body.case !== c) throw new Error(`expected ${c}, got ${p.body.case}`);
  return p.body;
}

async function main(): Promise<WorkerOutput> {
  await opaqueReady();
  const real = createRealTransport();
  // Certificates are judged in unix milliseconds; the real transport's clock counts from process start.
  const transport: Transport = {
    ...real,
    clock: { now: () => Date.now(), setTimer: (d, f) => real.clock.setTimer(d, f) },
  };
  const connect = () =>
    LoginClient.connect({
      transport,
      server: input.server,
      suite,
      trustAnchors: [input.trustAnchor],
      software: 'parley-bench/1',
      retry: { maxAttempts: 1 },
    });
  const out: WorkerOutput = { count: 0, latencies: [], errors: [], realLoginMs: [] };
  const t0 = performance.now();
  const from = t0 + input.warmMs;
  const to = from + input.durationMs;
  let cursor = input.index * 7919;
  const loop = async () => {
    while (performance.now() < to) {
      const username = input.usernames[cursor++ % input.usernames.length]!;
      const started = performance.now();
      let client: LoginClient | undefined;
      try {
        client = await connect();
        const start = clientStartLogin(input.password);
        const r1 = expectBody(
          await client.channel.request({ case: 'loginStart', value: { username, startLoginRequest: start.ke1 } }),
          'loginStartReply',
        );
        if (r1.case !== 'loginStartReply') throw new Error('unreachable');
        const ke3 = finishLogin({
          state: start.state,
          password: input.password,
          username,
          ke2: r1.value.loginResponse,
        });
        const key = generateSigningKey(suite, systemRandom);
        const r2 = await client.channel.request({
          case: 'loginFinish',
          value: {
            finishLoginRequest: ke3,
            certificateRequest: {
              subjectKey: key.publicKey,
              deviceId: systemRandom.randomBytes(16),
              proof: signCertificateRequest(suite, key.seed, client.established.handshakeHash),
            },
          },
        });
        expectBody(r2, 'loginFinishReply');
        const ended = performance.now();
        if (started >= from && ended <= to) {
          out.count++;
          out.latencies.push(ended - started);
        }
      } catch (e) {
        if (out.errors.length < 5) out.errors.push(String(e));
        if (out.errors.length >= 5) return;
      } finally {
        client?.close();
      }
    }
  };
  await Promise.all(Array.from({ length: input.clients }, loop));

  // Complete logins as a user's device makes them: LoginClient.register and .login, real Argon2id.
  if (input.realLogins > 0) {
    const name = `real${input.index}x${Date.now().toString(36)}`;
    const c = await connect();
    await c.register(name, input.password);
    c.close();
    for (let i = 0; i < input.realLogins; i++) {
      const key = generateSigningKey(suite, systemRandom);
      const started = performance.now();
      const client = await connect();
      try {
        await client.login(name, input.password, { seed: key.seed, deviceId: systemRandom.randomBytes(16) });
        out.realLoginMs.push(performance.now() - started);
      } finally {
        client.close();
      }
    }
  }
  // No real.close() here: closing the transport right after the clients' orderly closes resets their
  // streams, after which Worker.terminate() never completes (a spinning thread; Node 20.20.2). The
  // parent terminates this worker, which closes what is left.
  return out;
}

main().then(
  (out) => parentPort!.postMessage(out),
  (e) => parentPort!.postMessage({ count: 0, latencies: [], errors: [String(e)], realLoginMs: [] }),
);
