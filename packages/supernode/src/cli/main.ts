#!/usr/bin/env node
/**
 * parley-supernode: a Parley supernode as a command (spec/07-supernode.md).
 *
 *   keygen   a supernode key (Ed25519 seed) and device id, for the login server's issue-supernode-cert
 *   serve    run the supernode: attach nodes, hold its share of the directory and the offline store,
 *            register and report load to the login server (SIGTERM/SIGINT: orderly shutdown)
 *   status   what a running (or the last) serve reported in DATA-DIR/status.json
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage error. An error is one line on stderr. Results go to
 * stdout (with --json, one JSON document); `serve` logs pino JSON lines to stderr.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { daemonProgram, packageVersion, runIfEntryPoint, runProgram } from '@parley/login-server/cli-kit';
import { type Command, Option } from 'commander';
import { hex, type Io, parseHostPort, parseIntArg, print, processIo, UsageError } from './common.js';

const NAME = 'parley-supernode';
/** Where `serve` listens unless --listen says otherwise. */
export const DEFAULT_LISTEN = '127.0.0.1:7500';
export const DEFAULT_CAPACITY = 10_000;

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
const jsonOption = () => new Option('--json', 'print the result as one JSON document');
const dataDirOption = () =>
  new Option(
    '--data-dir <dir>',
    'the data directory (status.json, offline.db, root.pub by default)',
  ).makeOptionMandatory();

/** Builds the program; `serveResult` is the exit code of a `serve` that ran; `stop` stops it (tests). */
export function buildProgram(
  io: Io,
  stop?: Promise<string>,
): { program: Command; serveResult: () => Promise<number> | undefined } {
  let serving: Promise<number> | undefined;
  const program = daemonProgram(
    NAME,
    'A Parley supernode: attachment of nodes, a replicated directory of signed presence, the offline store.',
    packageVersion(import.meta.url, '@parley/supernode'),
    io,
  ).addHelpText(
    'after',
    `
Exit codes: 0 success, 1 runtime failure, 2 usage error.
${examples(
  `${NAME} keygen --out sn1.key`,
  `${NAME} serve --login 192.0.2.10:7400 --cert sn1.cert --key sn1.key --data-dir /var/lib/parley-supernode`,
  `${NAME} status --data-dir /var/lib/parley-supernode --json`,
  `${NAME} <command> --help`,
)}`,
  );

  program
    .command('keygen')
    .description(
      "Create a supernode key: an Ed25519 seed written to --out (mode 0600), and print its public key and a fresh device id for the login server's issue-supernode-cert.",
    )
    .addOption(
      new Option('--out <file>', 'where to write the seed (64 hex digits); must not exist').makeOptionMandatory(),
    )
    .addOption(jsonOption())
    .addHelpText(
      'after',
      examples(
        `${NAME} keygen --out sn1.key`,
        `${NAME} keygen --out sn1.key --json`,
        'parley-login-server issue-supernode-cert --data ./login-data --subject sn1.example.org --key <public key> --device <device id> --out sn1.cert',
      ),
    )
    .action(async (o: { out: string; json?: boolean }) => {
      const { nodeCrypto, systemRandom } = await import('@parley/wire');
      const out = resolve(o.out);
      if (existsSync(out)) throw new UsageError(`${out} exists: not overwritten`);
      const seed = systemRandom.randomBytes(32);
      const deviceId = systemRandom.randomBytes(16);
      writeFileSync(out, `${hex(seed)}\n`, { mode: 0o600, flag: 'wx' });
      const publicKey = hex(nodeCrypto.ed25519PublicKey(seed));
      print(
        io,
        o.json,
        { key: out, publicKey, deviceId: hex(deviceId) },
        [`wrote ${out} (SECRET, mode 0600)`, `public key  ${publicKey}`, `device id   ${hex(deviceId)}`].join('\n'),
      );
    });

  program
    .command('serve')
    .description('Run the supernode until SIGTERM or SIGINT (then: orderly shutdown, exit 0).')
    .addOption(
      new Option('--login <ip:port>', "the login server's address").argParser(parseHostPort).makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--cert <file>',
        'the ROLE_SUPERNODE certificate (issue-supernode-cert --out: binary, or hex)',
      ).makeOptionMandatory(),
    )
    .addOption(new Option('--key <file>', "the certificate's Ed25519 seed (keygen --out)").makeOptionMandatory())
    .addOption(dataDirOption())
    .addOption(
      new Option('--root <file>', "the network's root public keys, hex, one per line (default: DATA-DIR/root.pub)"),
    )
    .addOption(
      new Option(
        '--login-cert <file>',
        'the login certificate that issued --cert (default: fetched from the login server)',
      ),
    )
    .addOption(
      new Option('--listen <ip:port>', 'where to listen; port 0 picks a free one')
        .argParser(parseHostPort)
        .default(parseHostPort(DEFAULT_LISTEN), DEFAULT_LISTEN),
    )
    .addOption(
      new Option(
        '--advertise <ip:port>',
        "the endpoint registered with the login server (default: --listen); the UDP endpoint of probes and the relay is registered too, at the same IP and the UDP socket's port (the TCP port)",
      ).argParser(parseHostPort),
    )
    .addOption(
      new Option('--capacity <n>', 'attached nodes at most; beyond it Attach is redirected')
        .argParser(parseIntArg(1, 1_000_000))
        .default(DEFAULT_CAPACITY),
    )
    .addOption(new Option('--memory-only', 'keep offline messages in memory only (no DATA-DIR/offline.db)'))
    .addOption(jsonOption().default(false))
    .addOption(
      new Option('--log-level <level>', 'pino log level of the JSON log lines on stderr')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .addOption(
      new Option('--shutdown-timeout-ms <ms>', 'how long shutdown waits for channels to close')
        .argParser(parseIntArg(0, 600_000))
        .default(5_000),
    )
    .addHelpText(
      'after',
      `
Output: one ready line on stdout (JSON with --json); pino JSON log lines on stderr. While it runs,
DATA-DIR/status.json is rewritten every 5 s (see status). The certificate must be renewed before it
expires (ROLE_SUPERNODE certificates live at most 24 h): restart with the new one.
${examples(
  `${NAME} serve --login 192.0.2.10:7400 --cert sn1.cert --key sn1.key --data-dir ./sn1`,
  `${NAME} serve --login 192.0.2.10:7400 --cert sn1.cert --key sn1.key --data-dir ./sn1 --listen 0.0.0.0:7500 --advertise 198.51.100.7:7500 --capacity 20000`,
  `${NAME} serve --login 127.0.0.1:7400 --cert sn1.cert --key sn1.key --data-dir ./sn1 --root ../login-data/root.pub --memory-only --json`,
)}`,
    )
    .action(async (o: import('./serve.js').ServeOptions) => {
      const { serve, createLogger } = await import('./serve.js');
      serving = serve(o, io, createLogger(o.logLevel), stop);
      await serving;
    });

  program
    .command('status')
    .description('Print what a running supernode (or the last one) wrote to DATA-DIR/status.json.')
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .addHelpText('after', examples(`${NAME} status --data-dir ./sn1`, `${NAME} status --data-dir ./sn1 --json`))
    .action((o: { dataDir: string; json?: boolean }) => {
      const path = join(resolve(o.dataDir), 'status.json');
      if (!existsSync(path)) throw new Error(`${path} does not exist: no supernode has run with this data directory`);
      const s = JSON.parse(readFileSync(path, 'utf8')) as import('./serve.js').SupernodeStatus;
      const alive = s.state === 'running' && isAlive(s.pid);
      print(
        io,
        o.json,
        { ...s, alive },
        [
          `supernode ${s.subject} (key id ${s.keyId})`,
          `state          ${s.state}${s.state === 'running' && !alive ? ' (process gone: it did not stop in order)' : ''}, pid ${s.pid}, since ${s.startedAt}`,
          `listening      ${s.address}:${s.port}`,
          `login server   ${s.login.server}: ${s.login.status} (${s.login.heartbeats} heartbeats, ${s.login.failures} failures)`,
          `list           epoch ${s.listEpoch}, ${s.listSize} supernodes; policy ${s.policyVersion}; revocations ${s.revocationListNumber}`,
          `attachments    ${s.attachments} (${s.activeAttachments} active), ${s.connections} channels`,
          `directory      ${s.directoryUsers} users; offline store (${s.offlineStore}) ${s.offlineMessages} messages`,
          `certificate    valid until ${s.certificateNotAfter}`,
          `updated        ${s.updatedAt}`,
        ].join('\n'),
      );
    });

  return { program, serveResult: () => serving };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs the command line; resolves with the exit code. */
export async function main(argv: readonly string[], io: Io = processIo, stop?: Promise<string>): Promise<number> {
  const { program, serveResult } = buildProgram(io, stop);
  return runProgram(NAME, program, serveResult, argv, io);
}

runIfEntryPoint(import.meta.url, NAME, (argv) => main(argv));
