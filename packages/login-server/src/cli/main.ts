#!/usr/bin/env node
/**
 * parley-login-server: the login server of a Parley network (spec/06-login-server.md) as a command.
 *
 *   init                   create a data directory: root key, login key and certificate, OPAQUE key material
 *   serve                  run the server (SIGTERM/SIGINT: orderly shutdown)
 *   issue-supernode-cert   an operator's certificate for a hosted supernode (LOGIN-CERT-7)
 *   revoke                 revoke a certificate serial, publish the next revocation list (LOGIN-REVOKE-1)
 *   policy show|set        the network policy; `set` publishes the next version (POLICY-GEN-5, the kill switch)
 *   status                 counts and published versions
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage error. An error is one line on stderr. Results go
 * to stdout (with --json, one JSON document); `serve` logs pino JSON lines to stderr.
 */
import { type Command, Option } from 'commander';
import { daemonProgram, packageVersion, runIfEntryPoint, runProgram } from '../cli-kit/index.js';
import {
  collect,
  type Io,
  isoTime,
  parseHexArg,
  parseIntArg,
  parseListen,
  print,
  processIo,
  UsageError,
} from './common.js';
import {
  DATA_DIR_FILES,
  DEFAULT_LISTEN,
  DEFAULT_LOGIN_LIFETIME_DAYS,
  DEVICE_ID_BYTES,
  MAX_LOGIN_LIFETIME_DAYS,
  PUBLIC_KEY_BYTES,
} from './defaults.js';

// The commands' modules load the server (crypto, OPAQUE, the database drivers): only when one runs, so
// that --help and usage errors answer at once.
const admin = () => import('./admin.js');

const NAME = 'parley-login-server';

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;

const dataOption = () => new Option('--data <dir>', 'the data directory (see init)').makeOptionMandatory();
const dbOption = () =>
  new Option(
    '--db <url>',
    'the store: sqlite:PATH or postgres://USER@HOST/DB (default: config.json "db", else sqlite:DIR/login.db)',
  ).env('PARLEY_LOGIN_DB');
const jsonOption = () => new Option('--json', 'print the result as one JSON document');

/** Builds the program; `io` receives the output; `serveResult` is the exit code of a `serve` that ran. */
export function buildProgram(io: Io): { program: Command; serveResult: () => Promise<number> | undefined } {
  let serving: Promise<number> | undefined;
  const program = daemonProgram(
    NAME,
    'The login server of a Parley network: accounts (OPAQUE), certificates, policy, revocations.',
    packageVersion(import.meta.url, '@parley/login-server'),
    io,
  ).addHelpText(
    'after',
    `
Exit codes: 0 success, 1 runtime failure, 2 usage error.
${examples(
  `${NAME} init --data /var/lib/parley-login --network example.org`,
  `${NAME} serve --data /var/lib/parley-login --listen 0.0.0.0:7400`,
  `${NAME} <command> --help`,
)}`,
  );

  program
    .command('init')
    .description(
      'Create a data directory: root key, login key and its ROLE_LOGIN certificate, root.pub (the trust anchor clients pin), the OPAQUE key material and config.json. Never overwrites.',
    )
    .addOption(
      new Option('--data <dir>', 'the data directory to create (must not exist, or be empty)').makeOptionMandatory(),
    )
    .option('--network <name>', 'the network name (the login certificate subject, 1..64 bytes)', 'parley')
    .option('--root-key-out <file>', 'write the root key here instead of DIR/root.key, to keep it offline')
    .addOption(
      new Option('--login-lifetime-days <n>', `the login certificate's lifetime, 1..${MAX_LOGIN_LIFETIME_DAYS} days`)
        .argParser(parseIntArg(1, MAX_LOGIN_LIFETIME_DAYS))
        .default(DEFAULT_LOGIN_LIFETIME_DAYS),
    )
    .addOption(
      new Option('--listen <host:port>', 'the default listen address written to config.json')
        .argParser((v: string) => {
          parseListen(v);
          return v;
        })
        .default(DEFAULT_LISTEN),
    )
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Files (in DIR): ${DATA_DIR_FILES.config}, ${DATA_DIR_FILES.rootPublicKeys}, ${DATA_DIR_FILES.loginCertificate} (public);
${DATA_DIR_FILES.rootKey}, ${DATA_DIR_FILES.loginKey}, ${DATA_DIR_FILES.opaqueSetup} (SECRET, mode 0600). Back up opaque.setup:
without it no account can log in again.
${examples(
  `${NAME} init --data ./login-data`,
  `${NAME} init --data /var/lib/parley-login --network example.org --root-key-out /media/offline/root.key`,
  `${NAME} init --data ./login-data --login-lifetime-days 90 --json`,
)}`,
    )
    .action(
      async (o: {
        data: string;
        network: string;
        rootKeyOut?: string;
        loginLifetimeDays: number;
        listen: string;
        json?: boolean;
      }) => {
        const { initDataDir } = await import('./data-dir.js');
        const { nodeCrypto, systemRandom } = await import('@parley/wire');
        let r: Awaited<ReturnType<typeof initDataDir>>;
        try {
          r = await initDataDir({
            dir: o.data,
            suite: nodeCrypto,
            random: systemRandom,
            nowMs: Date.now(),
            network: o.network,
            loginLifetimeDays: o.loginLifetimeDays,
            listen: o.listen,
            ...(o.rootKeyOut !== undefined ? { rootKeyOut: o.rootKeyOut } : {}),
          });
        } catch (e) {
          if (e instanceof RangeError) throw new UsageError(e.message);
          throw e;
        }
        print(
          io,
          o.json,
          {
            dir: r.dir,
            network: r.network,
            fingerprint: r.fingerprint,
            rootPublicKey: r.rootPublicKey,
            rootKey: r.rootKeyPath,
            loginCertificateNotAfter: isoTime(r.loginNotAfterMs),
            files: r.files,
          },
          [
            `initialised ${r.dir} for network ${JSON.stringify(r.network)}`,
            `network fingerprint  ${r.fingerprint}`,
            `root public key      ${r.rootPublicKey}`,
            '  (pin the root public key in clients: it is also in root.pub)',
            `login certificate    valid until ${isoTime(r.loginNotAfterMs)}`,
            `root key             ${r.rootKeyPath} (SECRET: keep it offline; serve never needs it)`,
            `secret files         ${r.files
              .filter((f) => f.secret)
              .map((f) => f.path)
              .join(', ')}`,
          ].join('\n'),
        );
      },
    );

  program
    .command('serve')
    .description('Run the login server until SIGTERM or SIGINT (then: orderly shutdown, exit 0).')
    .addOption(dataOption())
    .addOption(dbOption())
    .addOption(
      new Option(
        '--listen <host:port>',
        'where to listen; port 0 picks a free one (default: config.json "listen")',
      ).argParser(parseListen),
    )
    .addOption(jsonOption().default(false))
    .addOption(
      new Option('--log-level <level>', 'pino log level of the JSON log lines on stderr')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    )
    .addOption(new Option('--max-connections <n>', 'channels open at once').argParser(parseIntArg(1, 1_000_000)))
    .addOption(
      new Option('--shutdown-timeout-ms <ms>', 'how long shutdown waits for requests in flight')
        .argParser(parseIntArg(0, 600_000))
        .default(10_000),
    )
    .addOption(
      new Option('--refresh-interval-ms <ms>', 'how often published objects are reloaded from the store')
        .argParser(parseIntArg(10, 3_600_000))
        .default(5_000),
    )
    .addHelpText(
      'after',
      `
Output: one ready line on stdout once listening (JSON with --json: {"event":"ready","address",
"port","network","fingerprint","pid"}); logs are pino JSON lines on stderr. Several processes may
serve one PostgreSQL database (one data directory copied to each host). The URL may come from the
PARLEY_LOGIN_DB environment variable instead of --db, which keeps a password off the command line.
${examples(
  `${NAME} serve --data ./login-data`,
  `${NAME} serve --data ./login-data --listen 0.0.0.0:7400 --json`,
  `PARLEY_LOGIN_DB=postgres://parley:secret@db.internal/parley ${NAME} serve --data /etc/parley-login --listen 0.0.0.0:7400`,
)}`,
    )
    .action(async (o: import('./serve.js').ServeOptions) => {
      const { serve } = await import('./serve.js');
      serving = serve(o, io);
      return serving.then(() => {});
    });

  program
    .command('issue-supernode-cert')
    .description(
      'Issue a ROLE_SUPERNODE certificate for a hosted supernode (LOGIN-CERT-7); the serial is recorded in the store.',
    )
    .addOption(dataOption())
    .addOption(dbOption())
    .addOption(new Option('--subject <name>', "the supernode's name (1..64 bytes)").makeOptionMandatory())
    .addOption(
      new Option('--key <hex>', "the supernode's Ed25519 public key")
        .argParser(parseHexArg(PUBLIC_KEY_BYTES, 'an Ed25519 public key'))
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--device <hex>', "the supernode's device id")
        .argParser(parseHexArg(DEVICE_ID_BYTES, 'a device id'))
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--lifetime-hours <n>', 'validity, 1..24 hours (default: the policy, 6 h unless set)').argParser(
        parseIntArg(1, 24),
      ),
    )
    .option('--out <file>', 'write the encoded Signed certificate (binary) here; default: hex on stdout')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      examples(
        `${NAME} issue-supernode-cert --data ./login-data --subject sn1.example.org --key 3b6a27bc...(64 hex) --device 00112233445566778899aabbccddeeff --out sn1.cert`,
        `${NAME} issue-supernode-cert --data ./login-data --subject sn2 --key $(cat sn2.pub) --device $(cat sn2.device) --lifetime-hours 24 --json`,
      ),
    )
    .action(async (o: import('./admin.js').IssueSupernodeOptions) => (await admin()).issueSupernodeCert(o, io));

  program
    .command('revoke')
    .description('Revoke a certificate by serial and publish the next revocation list (LOGIN-REVOKE-1).')
    .addOption(dataOption())
    .addOption(dbOption())
    .addOption(
      new Option('--serial <n>', 'the serial to revoke')
        .argParser(parseIntArg(1, Number.MAX_SAFE_INTEGER))
        .makeOptionMandatory(),
    )
    .option('--reason <text>', 'a short reason, for operators', 'revoked by the operator')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
An unknown serial is an error (exit 1); a serial revoked before changes nothing (exit 0).
${examples(`${NAME} revoke --data ./login-data --serial 42 --reason "key compromised"`, `${NAME} revoke --data ./login-data --serial 42 --json`)}`,
    )
    .action(async (o: import('./admin.js').RevokeOptions) => (await admin()).revoke(o, io));

  const policy = program
    .command('policy')
    .description('Show the network policy, or publish its next version (the kill switch: --deny-software).')
    .addHelpText(
      'after',
      examples(
        `${NAME} policy show --data ./login-data`,
        `${NAME} policy set --data ./login-data --deny-software parley-ref/0.3.`,
      ),
    );
  policy
    .command('show')
    .description('Print the current policy with its defaults applied.')
    .addOption(dataOption())
    .addOption(dbOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      examples(`${NAME} policy show --data ./login-data`, `${NAME} policy show --data ./login-data --json`),
    )
    .action(async (o: import('./admin.js').PolicyShowOptions) => (await admin()).policyShow(o, io));
  policy
    .command('set')
    .description(
      'Publish the next policy version (current + 1): the current policy with these changes (POLICY-GEN-5). Running servers serve it after their next refresh.',
    )
    .addOption(dataOption())
    .addOption(dbOption())
    .addOption(
      new Option(
        '--deny-software <prefix>',
        'add to denied_software: an exact software string, or a prefix ending in / or .',
      ).argParser(collect),
    )
    .addOption(new Option('--allow-software <entry>', 'remove an entry from denied_software').argParser(collect))
    .addOption(
      new Option('--user-cert-hours <n>', 'user certificate lifetime, 1..168 (0: default 24)').argParser(
        parseIntArg(0, 168),
      ),
    )
    .addOption(
      new Option('--supernode-cert-hours <n>', 'supernode certificate lifetime, 1..24 (0: default 6)').argParser(
        parseIntArg(0, 24),
      ),
    )
    .addOption(
      new Option('--heartbeat-seconds <n>', 'supernode heartbeat interval, 1..600 (0: default 30)').argParser(
        parseIntArg(0, 600),
      ),
    )
    .addOption(
      new Option('--protocol-versions <list>', 'comma-separated protocol versions, e.g. 1 or 1,2').argParser(
        (v: string) => v.split(',').map((x) => parseIntArg(1, 0xffff_ffff)(x)),
      ),
    )
    .addOption(
      new Option(
        '--set <field=n>',
        'set any numeric policy field by its wire name, e.g. rateLimits.addressBucketCapacity=100 (0: default)',
      ).argParser(collect),
    )
    .addOption(
      new Option('--policy-version <n>', 'the new version (default: current + 1)').argParser(
        parseIntArg(1, Number.MAX_SAFE_INTEGER),
      ),
    )
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Fields for --set: userCertLifetimeS, supernodeCertLifetimeS, certClockSkewS, replicationFactor,
heartbeatIntervalS, election.*, relay.*, rateLimits.* (spec/06-login-server.md §8.3). A policy
that a receiver would refuse, or with rate limits outside their bounds, is refused (exit 2) and
nothing is published.
${examples(
  `${NAME} policy set --data ./login-data --deny-software parley-ref/0.3.`,
  `${NAME} policy set --data ./login-data --allow-software parley-ref/0.3.`,
  `${NAME} policy set --data ./login-data --user-cert-hours 12 --set rateLimits.addressBucketCapacity=100 --json`,
)}`,
    )
    .action(async (o: import('./admin.js').PolicySetOptions) => (await admin()).policySet(o, io));

  program
    .command('status')
    .description('Print the network fingerprint, the login certificate, the store, counts and published versions.')
    .addOption(dataOption())
    .addOption(dbOption())
    .addOption(jsonOption())
    .addHelpText('after', examples(`${NAME} status --data ./login-data`, `${NAME} status --data ./login-data --json`))
    .action(async (o: import('./admin.js').StoreCommandOptions) => (await admin()).status(o, io));

  return { program, serveResult: () => serving };
}

/** Runs the command line; resolves with the exit code. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const { program, serveResult } = buildProgram(io);
  return runProgram(NAME, program, serveResult, argv, io);
}

runIfEntryPoint(import.meta.url, NAME, main);
