/**
 * A real-NAT lab on one Linux machine (DESIGN.md §9, spec/05-network.md): private test hosts in
 * network namespaces joined by veth pairs, NAT hosts that masquerade with nftables (or iptables), and
 * real `node` processes running inside them. Node-only and test-oriented; needs root, iproute2 and
 * nftables or iptables (see test/netns/README.md). netnsAvailable() says whether it can run here.
 *
 * Topology (no bridge on the public side; every address is private to this machine):
 *
 *   public host "a" ─┐ 100.64.1.0/24              NAT "n1" ── LAN 10.77.1.0/24 ── private hosts
 *   public host "b" ─┼── "internet" router ns ──── 100.64.3.2 (wan)   10.77.1.1 (bridge "lan")
 *                    └ 100.64.i.1 on each link, host/NAT side 100.64.i.2
 *
 * Safety rules the code keeps (TOOLCHAIN.md "Real NAT on one machine"):
 * - It never touches the root namespace: every veth is created with `ip -n <ns>` directly inside a lab
 *   namespace with its peer placed straight into another, and every sysctl and ruleset is applied with
 *   `ip netns exec` inside a lab namespace (forwarding only in the router and NAT namespaces).
 * - Addresses are 100.64.0.0/10 (shared address space) and 10.77.0.0/16; never 10.255.0.0/16.
 * - Namespace names carry a per-lab prefix `pnl<pid>-<thread>-<n>-`, so parallel runs never collide, and
 *   destroy() deletes everything with that prefix. It is idempotent, also runs on process exit and on
 *   SIGINT/SIGTERM/SIGHUP, and createNetnsLab() first removes leftovers of crashed runs (prefixes whose
 *   pid is no longer alive).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { threadId } from 'node:worker_threads';
import { CommandError, type CommandResult, checkedSync, hasCommand, runSync } from './run.js';

/** The NAT behaviours the lab can build (RFC 4787 terms in the comments). */
export type NatKind =
  /** MASQUERADE with port preservation: endpoint-independent mapping while ports don't collide,
   * address-and-port-dependent filtering. */
  | 'port-restricted'
  /** MASQUERADE with fully random source ports: a new random port for every new 5-tuple, i.e.
   * address-and-port-dependent mapping and filtering. */
  | 'symmetric';

export interface NatOptions {
  readonly kind: NatKind;
  /**
   * Drop unsolicited inbound datagrams on the NAT's public side silently (default true), as home
   * routers do. With false the NAT's kernel answers them with ICMP port unreachable — and, measured,
   * records a conntrack entry for them that can then collide with an outbound mapping (see README).
   */
  readonly dropUnsolicited?: boolean;
  /** Percentage (0-100) of forwarded datagrams to drop at random in both directions (nft numgen). */
  readonly lossPercent?: number;
}

export interface LabHost {
  readonly name: string;
  /** The network namespace the host is. */
  readonly ns: string;
  readonly role: 'public' | 'nat' | 'private';
  /** The host's own address: public (100.64.x.2) for public hosts and NATs, 10.77.x.y for private. */
  readonly address: string;
}

export interface LabNat extends LabHost {
  readonly role: 'nat';
  readonly kind: NatKind;
  /** The NAT's address on its LAN (the private hosts' default gateway). */
  readonly lanAddress: string;
  /** The LAN in CIDR notation. */
  readonly lan: string;
}

export interface NetnsLabOptions {
  /** Namespace name prefix; default `pnl<pid>-<thread>-<n>-`. Must be unique to this lab. */
  readonly prefix?: string;
  /** Which masquerading tool to drive; default nft when installed, else iptables. */
  readonly backend?: 'nft' | 'iptables';
}

/** One line of a fixture's stdout: JSON with an `event` field (non-JSON lines become `stdout`). */
export interface LabEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

/**
 * Family prefix of default lab prefixes, `pnl<pid>-<threadId>-<n>-`: the pid lets crashed runs be
 * recognised, the thread id keeps labs of test files running in worker threads of one process apart.
 */
const FAMILY = 'pnl';
const FAMILY_RE = /^pnl(\d+)-\d+-\w+-/;
const NAME_RE = /^[a-z][a-z0-9]{0,11}$/;

/** Whether the lab can run here; `reason` says why not (for test skip messages). */
export function netnsAvailable(): { ok: boolean; reason?: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'network namespaces need Linux' };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, reason: 'needs root (ip netns add); run as root, e.g. in CI' };
  }
  if (!hasCommand('ip')) return { ok: false, reason: 'iproute2 (`ip`) is not installed: apt-get install -y iproute2' };
  if (!hasCommand('nft') && !hasCommand('iptables')) {
    return { ok: false, reason: 'neither nft nor iptables is installed: apt-get install -y iptables nftables' };
  }
  // The real test: can we create (and delete) a namespace here? Containers often forbid it.
  const probe = `${FAMILY}${process.pid}-${threadId}-probe-`;
  const r = runSync('ip', ['netns', 'add', probe]);
  if (r.code !== 0) return { ok: false, reason: `\`ip netns add\` is not permitted here: ${r.stderr.trim()}` };
  runSync('ip', ['netns', 'del', probe]);
  return { ok: true };
}

/** Names of all network namespaces on the machine (`ip netns list`, first column). */
export function listNamespaces(): string[] {
  const r = runSync('ip', ['netns', 'list']);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

/** Kills whatever still runs in a namespace, then deletes it; errors are ignored (best effort). */
function deleteNamespace(ns: string): void {
  const pids = runSync('ip', ['netns', 'pids', ns]);
  for (const p of pids.stdout.split(/\s+/)) {
    const pid = Number(p);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  runSync('ip', ['netns', 'del', ns]);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM means it exists but belongs to someone else: alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes namespaces left by labs whose process died without cleaning up (SIGKILL, a crash): those
 * with the default prefix whose pid is no longer alive. Namespaces of live runs are never touched.
 * Returns the names deleted.
 */
export function cleanupStaleLabs(): string[] {
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const m = FAMILY_RE.exec(ns);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    deleteNamespace(ns);
    removed.push(ns);
  }
  return removed;
}

// ---- exit handling: every live lab is destroyed when the process ends, however it ends. ----

const liveLabs = new Set<NetnsLab>();
let handlersInstalled = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Synchronously destroys every live lab of this process (what the exit and signal handlers do). */
export function destroyAllLabsSync(): void {
  for (const lab of [...liveLabs]) lab.destroySync();
}

/** For the exit and signal handlers: never throws (a throwing 'exit' listener hides the real exit). */
function destroyAllLabsQuietly(): void {
  try {
    destroyAllLabsSync();
  } catch (err) {
    process.stderr.write(`netns lab cleanup failed: ${(err as Error).message}\n`);
  }
}

function onSignal(signal: NodeJS.Signals): void {
  destroyAllLabsQuietly();
  // If nobody else handles the signal, restore its default action (terminate) and re-raise it, so
  // installing our handler does not make the process immune to Ctrl-C.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', destroyAllLabsQuietly);
  for (const s of SIGNALS) process.on(s, onSignal);
}

let labSeq = 0;

/** Creates an empty lab (removing leftovers of crashed runs first). Call destroy() when done. */
export function createNetnsLab(options: NetnsLabOptions = {}): NetnsLab {
  cleanupStaleLabs();
  const prefix = options.prefix ?? `${FAMILY}${process.pid}-${threadId}-${labSeq++}-`;
  // destroy() deletes every namespace starting with the prefix: a short or open-ended one could match
  // namespaces that are not the lab's.
  if (!/^[a-z][a-z0-9-]{3,40}-$/.test(prefix)) {
    throw new Error(`lab prefix must be 5-42 characters [a-z0-9-] ending in '-': '${prefix}'`);
  }
  const backend = options.backend ?? (hasCommand('nft') ? 'nft' : 'iptables');
  const lab = new NetnsLab(prefix, backend);
  liveLabs.add(lab);
  installExitHandlers();
  return lab;
}

/** A `node` process running inside a lab host, speaking line-delimited JSON on stdio. */
export class LabProcess {
  /** Every event the process printed, in order. */
  readonly events: LabEvent[] = [];
  /** Its stderr, line by line, for failure messages. */
  readonly stderr: string[] = [];
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly consumed = new Set<number>();
  private readonly waiters = new Set<() => void>();
  private exitedFlag = false;

  constructor(
    readonly host: LabHost,
    readonly label: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let ev: LabEvent;
      try {
        const parsed = JSON.parse(line) as unknown;
        ev =
          typeof parsed === 'object' && parsed !== null && 'event' in parsed
            ? (parsed as LabEvent)
            : { event: 'stdout', line };
      } catch {
        ev = { event: 'stdout', line };
      }
      this.events.push(ev);
      this.wake();
    });
    createInterface({ input: child.stderr }).on('line', (line) => this.stderr.push(line));
    // A closed stdin must not crash the test process when the child is already gone.
    child.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.exitedFlag = true;
        this.wake();
        resolve({ code, signal });
      });
      child.on('error', (err) => {
        this.stderr.push(`spawn error: ${err.message}`);
        this.exitedFlag = true;
        this.wake();
        resolve({ code: null, signal: null });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Sends one command line (`{cmd: ...}`) to the process's stdin. */
  send(command: Record<string, unknown>): void {
    if (!this.exitedFlag) this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  /**
   * The first not-yet-returned event named `event` (and matching `where`), waiting for it up to
   * `timeoutMs`. Each event is returned once, so successive calls walk through repeated events.
   */
  waitFor(event: string, opts: { where?: (e: LabEvent) => boolean; timeoutMs?: number } = {}): Promise<LabEvent> {
    const timeoutMs = opts.timeoutMs ?? 5_000;
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (let i = 0; i < this.events.length; i++) {
          const e = this.events[i]!;
          if (this.consumed.has(i) || e.event !== event || (opts.where && !opts.where(e))) continue;
          this.consumed.add(i);
          done();
          resolve(e);
          return true;
        }
        if (this.exitedFlag) {
          done();
          reject(new Error(`${this.label} exited before '${event}'${this.describe()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: no '${event}' within ${timeoutMs} ms${this.describe()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = () => void check();
      if (!check()) this.waiters.add(waiter);
    });
  }

  /** Events seen and stderr, for error messages. */
  describe(): string {
    const events = this.events.map((e) => JSON.stringify(e)).join('\n  ');
    const err = this.stderr.slice(-20).join('\n  ');
    return `\n events:\n  ${events || '(none)'}${err ? `\n stderr:\n  ${err}` : ''}`;
  }

  /** Kills the process (SIGKILL by default) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.exitedFlag) this.child.kill(signal);
    await this.exited;
  }

  /** Waits for the process to exit by itself. */
  wait() {
    return this.exited;
  }

  /** Synchronous kill for teardown paths that cannot wait. */
  killNow(): void {
    if (!this.exitedFlag) this.child.kill('SIGKILL');
  }
}

/** One lab: its namespaces, links and processes. Build it with the add* methods; destroy() when done. */
export class NetnsLab {
  private readonly hosts = new Map<string, LabHost>();
  private readonly created: string[] = [];
  private readonly processes = new Set<LabProcess>();
  private routerNs: string | undefined;
  private nextLink = 1;
  private nextLan = 1;
  private readonly lanHosts = new Map<string, number>();
  private destroyed = false;

  constructor(
    readonly prefix: string,
    readonly backend: 'nft' | 'iptables',
  ) {}

  /** Namespaces this lab has created and not yet deleted. */
  get namespaces(): readonly string[] {
    return [...this.created];
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no lab host named '${name}'`);
    return h;
  }

  private assertLive(): void {
    if (this.destroyed) throw new Error('lab already destroyed');
  }

  private addNamespace(name: string): string {
    this.assertLive();
    if (!NAME_RE.test(name)) throw new Error(`lab host name must match ${NAME_RE}: '${name}'`);
    if (this.hosts.has(name) || name === 'inet') throw new Error(`lab host name taken: '${name}'`);
    const ns = `${this.prefix}${name}`;
    checkedSync('ip', ['netns', 'add', ns]);
    this.created.push(ns);
    this.ip(ns, 'link', 'set', 'lo', 'up');
    return ns;
  }

  /** `ip -n <ns> ...`: every ip command the lab runs names a lab namespace explicitly. */
  private ip(ns: string, ...args: string[]): CommandResult {
    return checkedSync('ip', ['-n', ns, ...args]);
  }

  private nsExec(ns: string, cmd: string, args: string[], input?: string): CommandResult {
    return checkedSync('ip', ['netns', 'exec', ns, cmd, ...args], input !== undefined ? { input } : {});
  }

  /** The "internet": a router namespace with one point-to-point link per public host or NAT. */
  private router(): string {
    if (this.routerNs) return this.routerNs;
    const ns = `${this.prefix}inet`;
    checkedSync('ip', ['netns', 'add', ns]);
    this.created.push(ns);
    this.routerNs = ns;
    this.ip(ns, 'link', 'set', 'lo', 'up');
    // Forwarding inside the router namespace only (a fresh namespace starts with it off).
    this.nsExec(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    return ns;
  }

  /** Links `ns` to the router as `ifname` with 100.64.<i>.2/24; returns that address. */
  private linkToRouter(ns: string, ifname: string): string {
    const i = this.nextLink++;
    if (i > 254) throw new Error('lab is full: at most 254 public hosts and NATs');
    const r = this.router();
    // Created inside the router namespace with its peer placed straight into `ns`: the pair never
    // exists in the root namespace.
    this.ip(r, 'link', 'add', 'name', `l${i}`, 'type', 'veth', 'peer', 'name', ifname, 'netns', ns);
    this.ip(r, 'addr', 'add', `100.64.${i}.1/24`, 'dev', `l${i}`);
    this.ip(r, 'link', 'set', `l${i}`, 'up');
    const address = `100.64.${i}.2`;
    this.ip(ns, 'addr', 'add', `${address}/24`, 'dev', ifname);
    this.ip(ns, 'link', 'set', ifname, 'up');
    this.ip(ns, 'route', 'add', 'default', 'via', `100.64.${i}.1`);
    return address;
  }

  /** A host on the public side with its own public address (a reflector, a rendezvous server...). */
  addPublicHost(name: string): LabHost {
    const ns = this.addNamespace(name);
    const address = this.linkToRouter(ns, 'eth0');
    const host: LabHost = { name, ns, role: 'public', address };
    this.hosts.set(name, host);
    return host;
  }

  /** A NAT with one leg on the public side ("wan") and a private LAN behind it (bridge "lan"). */
  addNat(name: string, options: NatOptions): LabNat {
    const ns = this.addNamespace(name);
    const address = this.linkToRouter(ns, 'wan');
    const j = this.nextLan++;
    if (j > 254) throw new Error('lab is full: at most 254 NATs');
    const lan = `10.77.${j}.0/24`;
    const lanAddress = `10.77.${j}.1`;
    this.ip(ns, 'link', 'add', 'name', 'lan', 'type', 'bridge');
    this.ip(ns, 'addr', 'add', `${lanAddress}/24`, 'dev', 'lan');
    this.ip(ns, 'link', 'set', 'lan', 'up');
    this.nsExec(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    this.installNat(ns, options);
    const nat: LabNat = { name, ns, role: 'nat', address, kind: options.kind, lanAddress, lan };
    this.hosts.set(name, nat);
    this.lanHosts.set(name, 1);
    return nat;
  }

  private installNat(ns: string, o: NatOptions): void {
    const drop = o.dropUnsolicited ?? true;
    const loss = o.lossPercent ?? 0;
    if (!(loss >= 0 && loss <= 100)) throw new Error(`lossPercent must be 0-100: ${loss}`);
    if (this.backend === 'nft') {
      // One table per NAT namespace. Masquerade keeps the source port when it can (port
      // preservation), which makes the mapping endpoint-independent in practice; `random,fully-random`
      // draws a fresh random port for every new conntrack entry, i.e. every new destination.
      const masq = o.kind === 'symmetric' ? 'masquerade random,fully-random' : 'masquerade';
      // Filtering is conntrack's: only datagrams of an existing flow (replies) are let in.
      const inbound = ['iifname "wan" ct state established,related accept', 'iifname "wan" drop'];
      // Loss in hundredths of a percent; nft rejects a bound equal to the modulus, so 100% is a plain drop.
      const lossRule =
        loss >= 100 ? ['drop'] : loss > 0 ? [`numgen random mod 10000 < ${Math.round(loss * 100)} drop`] : [];
      const forward = [...lossRule, ...inbound];
      const input = drop ? inbound : [];
      const chain = (name: string, hook: string, rules: string[]) =>
        `  chain ${name} {\n    ${[hook, ...rules].join('\n    ')}\n  }`;
      const script = [
        'table ip parley_nat {',
        chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', [`oifname "wan" ${masq}`]),
        chain('forward', 'type filter hook forward priority filter; policy accept;', forward),
        chain('input', 'type filter hook input priority filter; policy accept;', input),
        '}',
        '',
      ].join('\n');
      this.nsExec(ns, 'nft', ['-f', '-'], script);
    } else {
      const ipt = (...a: string[]) => this.nsExec(ns, 'iptables', a);
      ipt(
        '-t',
        'nat',
        '-A',
        'POSTROUTING',
        '-o',
        'wan',
        '-j',
        'MASQUERADE',
        ...(o.kind === 'symmetric' ? ['--random-fully'] : []),
      );
      if (loss > 0)
        ipt('-A', 'FORWARD', '-m', 'statistic', '--mode', 'random', '--probability', String(loss / 100), '-j', 'DROP');
      ipt('-A', 'FORWARD', '-i', 'wan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
      ipt('-A', 'FORWARD', '-i', 'wan', '-j', 'DROP');
      if (drop) {
        ipt('-A', 'INPUT', '-i', 'wan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
        ipt('-A', 'INPUT', '-i', 'wan', '-j', 'DROP');
      }
    }
  }

  /** A host on `nat`'s LAN (10.77.j.k), whose default route is the NAT. */
  addPrivateHost(name: string, nat: LabNat): LabHost {
    const k = this.lanHosts.get(nat.name);
    if (k === undefined) throw new Error(`'${nat.name}' is not a NAT of this lab`);
    if (k >= 253) throw new Error(`LAN of '${nat.name}' is full`);
    const ns = this.addNamespace(name);
    this.lanHosts.set(nat.name, k + 1);
    const address = nat.lanAddress.replace(/\.1$/, `.${k + 1}`);
    const port = `p${k}`;
    this.ip(nat.ns, 'link', 'add', 'name', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    this.ip(nat.ns, 'link', 'set', port, 'master', 'lan');
    this.ip(nat.ns, 'link', 'set', port, 'up');
    this.ip(ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    this.ip(ns, 'link', 'set', 'eth0', 'up');
    this.ip(ns, 'route', 'add', 'default', 'via', nat.lanAddress);
    const host: LabHost = { name, ns, role: 'private', address };
    this.hosts.set(name, host);
    return host;
  }

  /** Runs a command inside a host to completion; throws CommandError on a non-zero exit unless `check: false`. */
  exec(
    host: LabHost | string,
    cmd: string,
    args: readonly string[] = [],
    opts: { check?: boolean } = {},
  ): CommandResult {
    this.assertLive();
    const h = typeof host === 'string' ? this.host(host) : host;
    const argv = ['netns', 'exec', h.ns, cmd, ...args];
    return opts.check === false ? runSync('ip', argv) : checkedSync('ip', argv);
  }

  /** Starts `node script ...args` inside a host; its stdout lines arrive as JSON events. */
  spawnNode(host: LabHost | string, script: string, args: readonly string[] = []): LabProcess {
    this.assertLive();
    const h = typeof host === 'string' ? this.host(host) : host;
    // `ip netns exec` execs the command in place, so the child's pid is node's own and kill() reaches it.
    const child = spawn('ip', ['netns', 'exec', h.ns, process.execPath, script, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const label = `${h.name}:${script.split('/').pop()}`;
    const p = new LabProcess(h, label, child);
    this.processes.add(p);
    return p;
  }

  /** The NAT's current ruleset and conntrack table summary, for diagnostics in failure messages. */
  natState(nat: LabNat): string {
    const rules =
      this.backend === 'nft'
        ? runSync('ip', ['netns', 'exec', nat.ns, 'nft', 'list', 'ruleset']).stdout
        : runSync('ip', ['netns', 'exec', nat.ns, 'iptables-save']).stdout;
    const ct = runSync('ip', ['netns', 'exec', nat.ns, 'cat', '/proc/net/nf_conntrack']);
    return `${rules}\n${ct.code === 0 ? ct.stdout : '(no /proc/net/nf_conntrack)'}`;
  }

  /**
   * Kills every process the lab started and deletes every namespace with the lab's prefix (also ones
   * a failed setup step left unrecorded). Idempotent; safe from exit handlers.
   */
  destroySync(): void {
    for (const p of this.processes) p.killNow();
    this.processes.clear();
    const mine = new Set([...this.created, ...listNamespaces().filter((n) => n.startsWith(this.prefix))]);
    for (const ns of mine) deleteNamespace(ns);
    this.created.length = 0;
    this.destroyed = true;
    liveLabs.delete(this);
    const left = listNamespaces().filter((n) => n.startsWith(this.prefix));
    if (left.length > 0)
      throw new CommandError(['ip', 'netns', 'del', ...left], {
        code: 1,
        signal: null,
        stdout: '',
        stderr: 'namespaces remain',
      });
  }

  /** destroySync, then waits for the lab's processes to be reaped. */
  async destroy(): Promise<void> {
    const procs = [...this.processes];
    this.destroySync();
    await Promise.all(procs.map((p) => p.exited));
  }
}
