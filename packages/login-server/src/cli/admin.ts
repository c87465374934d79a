/**
 * The operator's commands that act on a network's store through the core, as a running server would:
 * issue-supernode-cert (LOGIN-CERT-7), revoke (LOGIN-REVOKE-1), policy show|set (POLICY-GEN-5, the kill
 * switch of spec/06-login-server.md §8.4), status. Each opens the data directory and the store, does one
 * thing, and closes them. Running `serve` processes pick up what is published here at their next refresh
 * (--refresh-interval-ms).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  ApiMisuse,
  CERTIFICATE_VERSION,
  type Certificate,
  checkCertificate,
  decodeCertificate,
  decodeNetworkPolicy,
  decodeSigned,
  type EffectivePolicy,
  effectivePolicy,
  isParleyError,
  MAX_LIFETIME_MS,
  nodeCrypto,
  type parley,
  Role,
  signNetworkPolicy,
  toSafeInteger,
} from '@parley/wire';
import { limitsFromPolicy } from '../limits/config.js';
import { LoginServerCore } from '../server/core.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { hex, type Io, isoTime, print, UsageError, wallClock } from './common.js';
import { checkLoginCertificateTime, type DataDir, loadDataDir, storeUrl } from './data-dir.js';

const suite = nodeCrypto;

/** Opens and migrates the store; a URL of an unknown form is a usage error. */
export async function openStoreForCli(url: string, onPoolError?: (e: Error) => void): Promise<Store> {
  try {
    return await openStore(url, { postgres: { onPoolError: onPoolError ?? (() => {}) } });
  } catch (e) {
    if (e instanceof ApiMisuse) throw new UsageError(`--db: ${e.message}`);
    throw e;
  }
}

export interface StoreCommandOptions {
  data: string;
  db?: string;
  json?: boolean;
}

/** Runs `fn` with the data directory and its open store; closes the store afterwards. */
async function withStore<T>(o: StoreCommandOptions, fn: (data: DataDir, store: Store) => Promise<T>): Promise<T> {
  const data = await loadDataDir(suite, o.data);
  const store = await openStoreForCli(storeUrl(data, o.db));
  try {
    return await fn(data, store);
  } finally {
    await store.close();
  }
}

/** Runs `fn` with a core over the data directory's store (version 1 of every object is published if missing). */
function withCore<T>(
  o: StoreCommandOptions,
  fn: (core: LoginServerCore, data: DataDir, store: Store) => Promise<T>,
): Promise<T> {
  return withStore(o, async (data, store) => {
    checkLoginCertificateTime(data, Date.now());
    const core = await LoginServerCore.open({ store, clock: wallClock(), suite, identity: data.identity });
    try {
      return await fn(core, data, store);
    } finally {
      core.gate.close();
    }
  });
}

// ---- issue-supernode-cert -----------------------------------------------------------------------------------

export interface IssueSupernodeOptions extends StoreCommandOptions {
  subject: string;
  key: Uint8Array;
  device: Uint8Array;
  lifetimeHours?: number;
  out?: string;
}

/** [LOGIN-CERT-7] An operator's ROLE_SUPERNODE certificate for a hosted supernode, recorded in the store. */
export async function issueSupernodeCert(o: IssueSupernodeOptions, io: Io): Promise<void> {
  const lifetimeMs = o.lifetimeHours === undefined ? undefined : o.lifetimeHours * 3_600_000;
  // The core signs what it is given: check the fields here, as issueCertificate would (ID-CERT-14).
  const probe: Certificate = {
    version: CERTIFICATE_VERSION,
    subject: o.subject,
    subjectKey: o.key,
    deviceId: o.device,
    role: Role.ROLE_SUPERNODE,
    serial: 1,
    notBefore: 0,
    notAfter: lifetimeMs ?? MAX_LIFETIME_MS[Role.ROLE_SUPERNODE],
    issuerKeyId: new Uint8Array(32),
  };
  try {
    checkCertificate(probe);
  } catch (e) {
    throw new UsageError(`the certificate would be invalid: ${(e as Error).message}`);
  }
  const certificate = await withCore(o, (core) =>
    core.issueSupernodeCertificate({ subject: o.subject, subjectKey: o.key, deviceId: o.device, lifetimeMs }),
  );
  const c = decodeCertificate(decodeSigned(certificate).body);
  const out = o.out === undefined ? undefined : resolve(o.out);
  if (out !== undefined) writeFileSync(out, certificate, { mode: 0o644 });
  print(
    io,
    o.json,
    {
      serial: c.serial,
      subject: c.subject,
      notBefore: isoTime(c.notBefore),
      notAfter: isoTime(c.notAfter),
      ...(out !== undefined ? { out } : { certificate: hex(certificate) }),
    },
    [
      `issued supernode certificate serial ${c.serial} for ${JSON.stringify(c.subject)}, valid until ${isoTime(c.notAfter)}`,
      out !== undefined ? `written to ${out}` : hex(certificate),
    ].join('\n'),
  );
}

// ---- revoke ---------------------------------------------------------------------------------------------

export interface RevokeOptions extends StoreCommandOptions {
  serial: number;
  reason: string;
}

/**
 * [LOGIN-REVOKE-1] Revokes a serial and publishes the next revocation list. An unknown serial is a runtime
 * failure (exit 1); one revoked before changes nothing (exit 0).
 */
export async function revoke(o: RevokeOptions, io: Io): Promise<void> {
  const { result, number } = await withCore(o, async (core) => {
    const result = await core.revoke(o.serial, o.reason);
    return { result, number: core.versions().revocationListNumber };
  });
  if (result === 'unknown') throw new Error(`no certificate with serial ${o.serial} was issued by this login key`);
  print(
    io,
    o.json,
    { serial: o.serial, result, revocationListNumber: number },
    result === 'revoked'
      ? `revoked serial ${o.serial}; published revocation list ${number}`
      : `serial ${o.serial} was already revoked; revocation list ${number} lists it`,
  );
}

// ---- policy ---------------------------------------------------------------------------------------------

type Props = parley.v1.NetworkPolicy.$Properties;
/** The nested messages of a NetworkPolicy that `policy set --set SECTION.FIELD=N` reaches. */
type PolicySection = 'election' | 'relay' | 'rateLimits' | 'directory';

/** The numeric fields `policy set --set PATH=N` accepts (the wire's names; 0 means the default, POLICY-GEN-3). */
export const POLICY_NUMERIC_FIELDS: Readonly<Record<'' | PolicySection, readonly string[]>> = {
  '': ['userCertLifetimeS', 'supernodeCertLifetimeS', 'certClockSkewS', 'replicationFactor', 'heartbeatIntervalS'],
  election: [
    'mode',
    'minUptimeS',
    'minUpstreamKbps',
    'minAttestations',
    'targetLoad',
    'hysteresisPercent',
    'cooldownS',
    'maxSharePerVersionPercent',
    'maxSharePerPrefixPercent',
    'minSupernodes',
  ],
  relay: ['allocationLifetimeS', 'allocationBytes', 'allocationBytesPerS', 'allocationsPerUser'],
  directory: [
    'presenceLifetimeS',
    'offlineLifetimeS',
    'offlineMessagesPerRecipient',
    'offlineBytesPerRecipient',
    'offlineMessagesPerSender',
  ],
  rateLimits: [
    'loginFailuresPerWindow',
    'loginFailureWindowS',
    'loginBackoffBaseMs',
    'loginBackoffMaxMs',
    'addressBucketCapacity',
    'addressRefillPerMinute',
    'searchPerMinute',
  ],
};
const POLICY_PATHS = Object.entries(POLICY_NUMERIC_FIELDS).flatMap(([section, keys]) =>
  keys.map((k) => (section === '' ? k : `${section}.${k}`)),
);

/** The decoded policy as plain properties (numbers, not Longs), ready to change and sign again. */
function policyProperties(p: parley.v1.NetworkPolicy): Props {
  const n = (v: unknown, field: string): number => toSafeInteger(v as number, field);
  const section = (name: PolicySection): Record<string, number> | null => {
    const s = p[name] as Record<string, unknown> | null | undefined;
    if (s === null || s === undefined) return null;
    return Object.fromEntries(POLICY_NUMERIC_FIELDS[name].map((k) => [k, n(s[k], `${name}.${k}`)]));
  };
  return {
    version: n(p.version, 'version') as never,
    issuedAt: n(p.issuedAt, 'issuedAt') as never,
    protocolVersions: [...p.protocolVersions],
    deniedSoftware: [...p.deniedSoftware],
    ...Object.fromEntries(POLICY_NUMERIC_FIELDS[''].map((k) => [k, n((p as never)[k], k)])),
    election: section('election') as never,
    relay: section('relay') as never,
    rateLimits: section('rateLimits') as never,
    directory: section('directory') as never,
  };
}

async function currentPolicy(store: Store): Promise<Props> {
  const published = await store.getPublished('policy');
  if (published === undefined) return { version: 0 as never, protocolVersions: [], deniedSoftware: [] };
  return policyProperties(decodeNetworkPolicy(decodeSigned(published.pages[0]!).body));
}

export interface PolicyShowOptions extends StoreCommandOptions {}

/** The current policy with its defaults applied (POLICY-GEN-3). */
export async function policyShow(o: PolicyShowOptions, io: Io): Promise<void> {
  const shown = await withStore(o, async (_data, store) => {
    const published = await store.getPublished('policy');
    if (published === undefined) return undefined;
    return effectivePolicy(decodeNetworkPolicy(decodeSigned(published.pages[0]!).body));
  });
  if (shown === undefined) {
    print(io, o.json, { version: 0 }, 'no policy is published yet (serve, or any policy set, publishes version 1)');
    return;
  }
  const lines: string[] = [];
  const walk = (prefix: string, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) walk(prefix === '' ? k : `${prefix}.${k}`, x);
    } else {
      lines.push(`${prefix}: ${Array.isArray(v) ? (v.length === 0 ? '(none)' : v.join(', ')) : String(v)}`);
    }
  };
  walk('', { ...shown, issuedAt: isoTime(shown.issuedAtMs), issuedAtMs: undefined });
  print(io, o.json, shown, lines.filter((l) => !l.startsWith('issuedAtMs')).join('\n'));
}

export interface PolicySetOptions extends StoreCommandOptions {
  denySoftware?: string[];
  allowSoftware?: string[];
  userCertHours?: number;
  supernodeCertHours?: number;
  heartbeatSeconds?: number;
  protocolVersions?: number[];
  set?: string[];
  policyVersion?: number;
}

/** Applies the options to `p`; UsageError for an unknown field or when nothing changes. */
export function editPolicy(p: Props, o: PolicySetOptions): Props {
  const next: Props = {
    ...p,
    protocolVersions: [...(p.protocolVersions ?? [])],
    deniedSoftware: [...(p.deniedSoftware ?? [])],
    election: p.election ? { ...p.election } : null,
    relay: p.relay ? { ...p.relay } : null,
    rateLimits: p.rateLimits ? { ...p.rateLimits } : null,
    directory: p.directory ? { ...p.directory } : null,
  };
  let changes = 0;
  const setField = (path: string, value: number) => {
    if (!POLICY_PATHS.includes(path)) {
      throw new UsageError(`--set: unknown policy field ${JSON.stringify(path)} (one of ${POLICY_PATHS.join(', ')})`);
    }
    const [a, b] = path.split('.') as [string, string | undefined];
    if (b === undefined) (next as Record<string, unknown>)[a] = value;
    else {
      const key = a as PolicySection;
      next[key] = { ...(next[key] ?? {}), [b]: value } as never;
    }
    changes++;
  };
  for (const s of o.denySoftware ?? []) {
    if (!next.deniedSoftware!.includes(s)) next.deniedSoftware!.push(s);
    changes++;
  }
  for (const s of o.allowSoftware ?? []) {
    const i = next.deniedSoftware!.indexOf(s);
    if (i < 0) throw new UsageError(`--allow-software: ${JSON.stringify(s)} is not on the deny list`);
    next.deniedSoftware!.splice(i, 1);
    changes++;
  }
  if (o.userCertHours !== undefined) setField('userCertLifetimeS', o.userCertHours * 3_600);
  if (o.supernodeCertHours !== undefined) setField('supernodeCertLifetimeS', o.supernodeCertHours * 3_600);
  if (o.heartbeatSeconds !== undefined) setField('heartbeatIntervalS', o.heartbeatSeconds);
  if (o.protocolVersions !== undefined) {
    next.protocolVersions = o.protocolVersions;
    changes++;
  }
  for (const s of o.set ?? []) {
    const m = /^([A-Za-z.]+)=(\d+)$/.exec(s.trim());
    if (m === null) throw new UsageError(`--set: ${JSON.stringify(s)} is not FIELD=INTEGER`);
    const value = Number(m[2]);
    if (!Number.isSafeInteger(value)) throw new UsageError(`--set: ${m[2]} is too large`);
    setField(m[1]!, value);
  }
  if (changes === 0 && o.policyVersion === undefined) {
    throw new UsageError('nothing to change: give --deny-software, --user-cert-hours, --set FIELD=N, ...');
  }
  return next;
}

/**
 * [POLICY-GEN-5] Signs and publishes the next policy version: the current policy with the changes, version
 * current + 1 (or --version, which must be greater), issued now. A policy a receiver would refuse
 * (POLICY-GEN-4) or with rate limits outside their bounds ([LOGIN-RATE-21]) is a usage error; nothing is
 * published then.
 */
export async function policySet(o: PolicySetOptions, io: Io): Promise<void> {
  const published = await withCore(o, async (core, data, store) =>
    publishEdited(core, data, await currentPolicy(store), o),
  );
  print(
    io,
    o.json,
    published,
    `published policy version ${published.version}${published.deniedSoftware.length > 0 ? ` (denied software: ${published.deniedSoftware.join(', ')})` : ''}`,
  );
}

async function publishEdited(
  core: LoginServerCore,
  data: DataDir,
  current: Props,
  o: PolicySetOptions,
): Promise<EffectivePolicy> {
  const currentVersion = Number(current.version ?? 0);
  const edited = editPolicy(current, o);
  const version = o.policyVersion ?? currentVersion + 1;
  if (version <= currentVersion) {
    throw new UsageError(
      `--policy-version ${version} is not above the current version ${currentVersion} (POLICY-GEN-5)`,
    );
  }
  const fields: Props = { ...edited, version: version as never, issuedAt: Date.now() as never };
  let effective: EffectivePolicy;
  try {
    // [POLICY-GEN-4] what a receiver would refuse, and [LOGIN-RATE-21] rate limits out of bounds: refused unsigned.
    const signed = signNetworkPolicy(suite, data.identity.loginKey, fields);
    effective = effectivePolicy(decodeNetworkPolicy(decodeSigned(signed).body));
    limitsFromPolicy(fields.rateLimits);
  } catch (e) {
    if (isParleyError(e)) throw new UsageError(`the policy would be invalid: ${e.message}`);
    throw e;
  }
  if (!(await core.publishPolicy(fields))) {
    throw new Error(`another process published policy version ${version} or later first; run the command again`);
  }
  return effective;
}

// ---- status ---------------------------------------------------------------------------------------------

export async function status(o: StoreCommandOptions, io: Io): Promise<void> {
  const s = await withStore(o, async (data, store) => {
    const now = Date.now();
    const version = async (kind: 'policy' | 'supernode-list' | 'revocation-list') =>
      (await store.getPublished(kind))?.version ?? 0;
    const policyVersion = await version('policy');
    const heartbeatMs = policyVersion === 0 ? 30_000 : await heartbeatOf(store);
    return {
      network: data.config.network,
      fingerprint: data.fingerprint,
      loginCertificate: {
        serial: data.loginCertificate.serial,
        notBefore: isoTime(data.loginCertificate.notBefore),
        notAfter: isoTime(data.loginCertificate.notAfter),
      },
      store: { kind: store.kind, schemaVersion: await store.schemaVersion() },
      accounts: await store.countAccounts(),
      revocations: (await store.listRevocations(now)).length,
      liveSupernodes: (await store.listLiveSupernodes(now - 3 * heartbeatMs, now)).length,
      versions: {
        policy: policyVersion,
        supernodeList: await version('supernode-list'),
        revocationList: await version('revocation-list'),
      },
    };
  });
  print(
    io,
    o.json,
    s,
    [
      `network              ${s.network} (fingerprint ${s.fingerprint})`,
      `login certificate    serial ${s.loginCertificate.serial}, valid until ${s.loginCertificate.notAfter}`,
      `store                ${s.store.kind}, schema version ${s.store.schemaVersion}`,
      `accounts             ${s.accounts}`,
      `revocations          ${s.revocations} (unexpired)`,
      `live supernodes      ${s.liveSupernodes}`,
      `policy version       ${s.versions.policy}`,
      `supernode list epoch ${s.versions.supernodeList}`,
      `revocation list      ${s.versions.revocationList}`,
    ].join('\n'),
  );
}

async function heartbeatOf(store: Store): Promise<number> {
  const p = await store.getPublished('policy');
  return effectivePolicy(decodeNetworkPolicy(decodeSigned(p!.pages[0]!).body)).heartbeatIntervalMs;
}
