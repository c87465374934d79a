/**
 * Shared helpers for the real-NAT tests: fixture paths, a skip notice when network namespaces are not
 * available, and small wrappers that start the fixtures (fixtures/*.mjs) inside lab hosts and wait for
 * their JSON events. Every wait is bounded, so a broken NAT fails a test instead of hanging it.
 */
import { fileURLToPath } from 'node:url';
import type { LabHost, LabProcess, NetnsLab } from '../../src/netns/index.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export const ep = (e: Endpoint): string => `${e.host}:${e.port}`;

/** Starts a reflector on `host:port` and waits until it listens. */
export async function startReflector(lab: NetnsLab, host: LabHost, port: number): Promise<LabProcess> {
  const p = lab.spawnNode(host, fixture('reflector.mjs'), ['--port', String(port)]);
  await p.waitFor('listening');
  return p;
}

/**
 * Runs the STUN-like client on `host` bound to `localPort`, probing each reflector in order from that
 * one socket; returns the still-running client (it keeps reporting inbound datagrams) and the mapped
 * address each reflector observed.
 */
export async function probeMappings(
  lab: NetnsLab,
  host: LabHost,
  localPort: number,
  reflectors: readonly Endpoint[],
): Promise<{ client: LabProcess; mapped: Endpoint[] }> {
  const client = lab.spawnNode(host, fixture('stun-client.mjs'), [
    '--port',
    String(localPort),
    ...reflectors.flatMap((r) => ['--reflector', ep(r)]),
  ]);
  const done = await client.waitFor('done', { timeoutMs: 10_000 });
  const mapped = done.mapped as (Endpoint | null)[];
  if (mapped.some((m) => m === null)) throw new Error(`a reflector did not answer${client.describe()}`);
  return { client, mapped: mapped as Endpoint[] };
}

/** Outcome of one simultaneous hole-punch attempt between two hosts. */
export interface PunchOutcome {
  readonly ok: boolean;
  readonly mappedA: Endpoint;
  readonly mappedB: Endpoint;
  readonly a: Record<string, unknown>;
  readonly b: Record<string, unknown>;
}

/**
 * One hole-punch attempt: both sides learn their mapped address from `reflector`, the test hands each
 * the other's (the rendezvous step), then starts both at once. Success means each side received the
 * other's punch and got an ack for its own.
 */
export async function punchOnce(
  lab: NetnsLab,
  hostA: LabHost,
  hostB: LabHost,
  localPort: number,
  reflector: Endpoint,
  budgetMs: number,
): Promise<PunchOutcome> {
  const args = ['--port', String(localPort), '--reflector', ep(reflector), '--budget-ms', String(budgetMs)];
  const pa = lab.spawnNode(hostA, fixture('punch.mjs'), args);
  const pb = lab.spawnNode(hostB, fixture('punch.mjs'), args);
  try {
    const [ma, mb] = await Promise.all([pa.waitFor('mapped'), pb.waitFor('mapped')]);
    const mappedA = ma.observed as Endpoint;
    const mappedB = mb.observed as Endpoint;
    // Both commands go out in the same tick: as simultaneous as two processes can be told to start.
    pa.send({ cmd: 'punch', ...mappedB });
    pb.send({ cmd: 'punch', ...mappedA });
    const [ra, rb] = await Promise.all([
      pa.waitFor('punched', { timeoutMs: budgetMs + 3_000 }),
      pb.waitFor('punched', { timeoutMs: budgetMs + 3_000 }),
    ]);
    const ok = ra.received === true && ra.acked === true && rb.received === true && rb.acked === true;
    return { ok, mappedA, mappedB, a: ra, b: rb };
  } finally {
    await Promise.all([pa.kill(), pb.kill()]);
  }
}

/** Inbound datagrams a stun-client reported (everything but reflector answers). */
export function received(client: LabProcess): { from: Endpoint; text: string }[] {
  return client.events
    .filter((e) => e.event === 'received')
    .map((e) => ({ from: e.from as Endpoint, text: String(e.text) }));
}
