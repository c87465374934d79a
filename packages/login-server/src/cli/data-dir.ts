/**
 * The login server's data directory: the keys, the certificate and the OPAQUE key material a login server
 * process needs, created once by `parley-login-server init` and read by every other command (and by the
 * devnet). Nothing here opens the database; `storeUrl()` only names it.
 *
 *   config.json    the network name, the default listen address and store URL     public
 *   root.pub       the pinned trust anchor(s): root public keys, hex, one per line  public
 *   root.key       the root key's seed (absent after `init --root-key-out`)          SECRET
 *   login.key      the login key's seed: signs every certificate, policy and list   SECRET
 *   login.cert     the ROLE_LOGIN certificate of the login key, an encoded `Signed`  public
 *   opaque.setup   the OPAQUE server setup (LOGIN-OPAQUE-7)                          SECRET
 *   login.db       the SQLite store (the default `sqlite:DIR/login.db`)              registration records
 *
 * Seeds are 64 lower-case hex digits and a newline; `opaque.setup` is the library's unpadded base64url
 * text and a newline. Secret files are created with mode 0600 (the directory 0700) and never logged;
 * the keys and the OPAQUE key material live apart from the database (LOGIN-STORE-15, LOGIN-OPAQUE-7).
 * `root.pub` may list several anchors (spec/02-identity.md §8, root rotation: ID-ROOT-1); `#` starts a
 * comment. The login certificate must be issued by one of them, and the network fingerprint is the key id
 * of that one.
 *
 * Every failure to read is a `DataDirError`: `DataDirMissingError` (a file or the directory is not
 * there), `DataDirCorruptError` (a file is there but not what it should be; the message names the file
 * and never repeats secret content), `DataDirExistsError` (init would overwrite something).
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import {
  bytesEqual,
  type Certificate,
  type CryptoSuite,
  createNetworkKeys,
  createRootKey,
  DEVICE_ID_BYTES,
  decodeCertificate,
  decodeSigned,
  fingerprintHex,
  isForbiddenCodePoint,
  keyId,
  MAX_LIFETIME_MS,
  MAX_SUBJECT_BYTES,
  PUBLIC_KEY_BYTES,
  type Random,
  Role,
  type RootKey,
  SEED_BYTES,
  SignatureContext,
  type SigningKey,
  signingKeyFromSeed,
  verifySigned,
} from '@parley/wire';
import { createServerSetup, opaqueReady, parseServerSetup } from '../accounts/opaque.js';
import type { ServerIdentity } from '../server/core.js';
import * as DEFAULTS from './defaults.js';
import {
  DATA_DIR_FILES,
  DATA_DIR_FORMAT,
  DEFAULT_LISTEN,
  DEFAULT_LOGIN_LIFETIME_DAYS,
  MAX_LOGIN_LIFETIME_DAYS,
} from './defaults.js';

/** Files that must stay secret (mode 0600). The database, too, holds registration records. */
export const SECRET_FILES: readonly string[] = Object.freeze([
  DATA_DIR_FILES.rootKey,
  DATA_DIR_FILES.loginKey,
  DATA_DIR_FILES.opaqueSetup,
]);

export {
  DATA_DIR_FILES,
  DATA_DIR_FORMAT,
  DEFAULT_LISTEN,
  DEFAULT_LOGIN_LIFETIME_DAYS,
  MAX_LOGIN_LIFETIME_DAYS,
} from './defaults.js';

const DAY_MS = 86_400_000;
if (
  MAX_LOGIN_LIFETIME_DAYS * DAY_MS !== MAX_LIFETIME_MS[Role.ROLE_LOGIN] ||
  DEFAULTS.PUBLIC_KEY_BYTES !== PUBLIC_KEY_BYTES ||
  DEFAULTS.DEVICE_ID_BYTES !== DEVICE_ID_BYTES
) {
  throw new Error('src/cli/defaults.ts disagrees with @parley/wire');
}

export type DataDirErrorKind = 'missing' | 'corrupt' | 'exists';

/** A data directory (or a file of one) that cannot be used as it is. */
export class DataDirError extends Error {
  override readonly name: string = 'DataDirError';
  constructor(
    readonly kind: DataDirErrorKind,
    /** The file or directory concerned. */
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
export class DataDirMissingError extends DataDirError {
  override readonly name = 'DataDirMissingError';
  constructor(path: string, message: string) {
    super('missing', path, message);
  }
}
export class DataDirCorruptError extends DataDirError {
  override readonly name = 'DataDirCorruptError';
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('corrupt', path, message, options);
  }
}
export class DataDirExistsError extends DataDirError {
  override readonly name = 'DataDirExistsError';
  constructor(path: string, message: string) {
    super('exists', path, message);
  }
}

/** config.json. */
export interface DataDirConfig {
  readonly format: typeof DATA_DIR_FORMAT;
  /** The network's name: the login certificate's subject. */
  readonly network: string;
  /** When init ran (ISO 8601). */
  readonly createdAt: string;
  /** The default `serve --listen`, HOST:PORT. */
  readonly listen: string;
  /**
   * The default store URL; absent means `sqlite:DIR/login.db`. A relative `sqlite:` path is relative to
   * the data directory. Prefer PARLEY_LOGIN_DB for a URL with a password (config.json is not secret).
   */
  readonly db?: string;
  /** Where init wrote the root key: `root.key` in the directory, or `offline` (--root-key-out). */
  readonly rootKey: 'root.key' | 'offline';
}

export interface InitOptions {
  readonly dir: string;
  readonly suite: CryptoSuite;
  /** The CSPRNG for the keys (CRYPTO-RAND-1); a seeded one only for reproducible test networks. */
  readonly random: Random;
  /** Unix ms: the login certificate's not_before. */
  readonly nowMs: number;
  /** The network's name (1..64 bytes UTF-8), the login certificate's subject; default `parley`. */
  readonly network?: string;
  /** Write the root key here instead of DIR/root.key, so that it can be moved offline. */
  readonly rootKeyOut?: string;
  /** The login certificate's lifetime in days, 1..400; default 365. */
  readonly loginLifetimeDays?: number;
  /** config.json's `listen`; default DEFAULT_LISTEN. */
  readonly listen?: string;
  /** config.json's `db`; default none (sqlite:DIR/login.db). */
  readonly db?: string;
}

export interface InitResult {
  readonly dir: string;
  readonly network: string;
  /** The network fingerprint (hex): the root key's key id (ID-KEY-3). */
  readonly fingerprint: string;
  /** The root public key (hex): the trust anchor clients pin. */
  readonly rootPublicKey: string;
  /** Where the root key's seed was written. */
  readonly rootKeyPath: string;
  readonly loginNotAfterMs: number;
  /** Every file written, with whether it is secret. */
  readonly files: readonly { readonly path: string; readonly secret: boolean }[];
}

/** What `loadDataDir` returns: everything `serve` and the admin commands need. */
export interface DataDir {
  readonly dir: string;
  readonly config: DataDirConfig;
  /** The server identity for LoginServerCore (the OPAQUE setup and login seed inside are SECRET). */
  readonly identity: ServerIdentity;
  /** The decoded login certificate. */
  readonly loginCertificate: Certificate;
  /** The anchor that issued the login certificate. */
  readonly rootPublicKey: Uint8Array;
  /** The network fingerprint (hex) of that anchor. */
  readonly fingerprint: string;
  /** Secret files readable by group or others (each a path); the caller warns. */
  readonly insecureFiles: readonly string[];
}

// ---- Small formats --------------------------------------------------------------------------------------

const HEX32 = /^[0-9a-f]{64}$/;

/** Parses 32 bytes of hex (either case). Undefined when it is not exactly that. */
export function parseHex32(text: string): Uint8Array | undefined {
  const t = text.trim().toLowerCase();
  return HEX32.test(t) ? new Uint8Array(Buffer.from(t, 'hex')) : undefined;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DataDirMissingError(path, `${path} is missing`);
    throw e;
  }
}

function readBytes(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DataDirMissingError(path, `${path} is missing`);
    throw e;
  }
}

/** Reads a seed file (64 hex digits): the signing key it holds. The message never shows the content. */
export function readSeedFile(suite: CryptoSuite, path: string): SigningKey {
  const seed = parseHex32(readText(path));
  if (seed === undefined)
    throw new DataDirCorruptError(path, `${path} is not a key file (${SEED_BYTES * 2} hex digits)`);
  return signingKeyFromSeed(suite, seed);
}

/** Reads a root key file (as `init` writes root.key or --root-key-out). */
export function readRootKeyFile(suite: CryptoSuite, path: string): RootKey {
  const key = readSeedFile(suite, path);
  return createRootKey(suite, key.seed);
}

/** Parses root.pub: one or more root public keys, hex, one per line; `#` comments and blank lines allowed. */
export function parseTrustAnchors(text: string, path: string = DATA_DIR_FILES.rootPublicKeys): Uint8Array[] {
  const anchors: Uint8Array[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const key = parseHex32(line);
    if (key === undefined) {
      throw new DataDirCorruptError(path, `${path} line ${i + 1}: not a ${PUBLIC_KEY_BYTES}-byte public key in hex`);
    }
    if (!anchors.some((a) => bytesEqual(a, key))) anchors.push(key);
  }
  if (anchors.length === 0) throw new DataDirCorruptError(path, `${path} names no root public key`);
  return anchors;
}

/** The text of root.pub for these anchors. */
export function formatTrustAnchors(anchors: readonly Uint8Array[], comment?: string): string {
  return `${comment === undefined ? '' : `# ${comment}\n`}${anchors.map((a) => `${hex(a)}\n`).join('')}`;
}

/**
 * Creates `path` (which must not exist) with `content` and `mode`, flushed to disk. Throws
 * DataDirExistsError when it exists.
 */
export function writeNewFile(path: string, content: string | Uint8Array, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new DataDirExistsError(path, `${path} already exists`);
    throw e;
  }
  try {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The network name is the login certificate's subject: 1..64 bytes, none of ID-CERT-4's code points. */
function checkNetworkName(network: string): void {
  const bytes = Buffer.byteLength(network, 'utf8');
  const forbidden = [...network].some((c) => isForbiddenCodePoint(c.codePointAt(0)!));
  if (
    bytes < 1 ||
    bytes > MAX_SUBJECT_BYTES ||
    forbidden ||
    Buffer.from(network, 'utf8').toString('utf8') !== network
  ) {
    throw new RangeError(
      `the network name must be 1..${MAX_SUBJECT_BYTES} bytes of UTF-8 without control or formatting characters (ID-CERT-4)`,
    );
  }
}

// ---- init -----------------------------------------------------------------------------------------------

/**
 * Creates a data directory: a root key, a login key with its ROLE_LOGIN certificate issued by the root
 * (serial 1 under the root), root.pub, the OPAQUE server setup and config.json (written last: a directory
 * with config.json is complete). Refuses a directory that exists and is not empty, and an existing
 * --root-key-out file (DataDirExistsError); on any failure removes what it wrote. RangeError for options
 * out of range.
 */
export async function initDataDir(o: InitOptions): Promise<InitResult> {
  const dir = resolve(o.dir);
  const network = o.network ?? 'parley';
  checkNetworkName(network);
  const days = o.loginLifetimeDays ?? DEFAULT_LOGIN_LIFETIME_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_LOGIN_LIFETIME_DAYS) {
    throw new RangeError(`the login certificate lifetime must be 1..${MAX_LOGIN_LIFETIME_DAYS} days (ID-CERT-10)`);
  }
  const rootKeyPath = o.rootKeyOut === undefined ? join(dir, DATA_DIR_FILES.rootKey) : resolve(o.rootKeyOut);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new DataDirExistsError(dir, `${dir} exists and is not a directory`);
    if (readdirSync(dir).length > 0) {
      throw new DataDirExistsError(dir, `${dir} is not empty; init never overwrites a data directory`);
    }
  }
  if (existsSync(rootKeyPath)) throw new DataDirExistsError(rootKeyPath, `${rootKeyPath} already exists`);

  await opaqueReady();
  const notAfter = o.nowMs + days * DAY_MS;
  const { root, login, loginCertificate } = createNetworkKeys(o.suite, o.random, {
    subject: network,
    notBefore: o.nowMs,
    notAfter,
  });
  const config: DataDirConfig = {
    format: DATA_DIR_FORMAT,
    network,
    createdAt: new Date(o.nowMs).toISOString(),
    listen: o.listen ?? DEFAULT_LISTEN,
    ...(o.db !== undefined ? { db: o.db } : {}),
    rootKey: o.rootKeyOut === undefined ? 'root.key' : 'offline',
  };

  const createdDir = !existsSync(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const written: { path: string; secret: boolean }[] = [];
  const write = (path: string, content: string | Uint8Array, secret: boolean) => {
    writeNewFile(path, content, secret ? 0o600 : 0o644);
    written.push({ path, secret });
  };
  try {
    write(rootKeyPath, `${hex(root.seed)}\n`, true);
    write(join(dir, DATA_DIR_FILES.loginKey), `${hex(login.seed)}\n`, true);
    write(join(dir, DATA_DIR_FILES.opaqueSetup), `${createServerSetup()}\n`, true);
    write(join(dir, DATA_DIR_FILES.loginCertificate), loginCertificate, false);
    write(
      join(dir, DATA_DIR_FILES.rootPublicKeys),
      formatTrustAnchors([root.publicKey], `trust anchors of network ${JSON.stringify(network)}: pin these`),
      false,
    );
    write(join(dir, DATA_DIR_FILES.config), `${JSON.stringify(config, null, 2)}\n`, false);
    fsyncDir(dir);
    if (o.rootKeyOut !== undefined) fsyncDir(dirname(rootKeyPath));
  } catch (e) {
    for (const f of written) rmSync(f.path, { force: true });
    if (createdDir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    dir,
    network,
    fingerprint: fingerprintHex(root.networkFingerprint),
    rootPublicKey: hex(root.publicKey),
    rootKeyPath,
    loginNotAfterMs: notAfter,
    files: written,
  };
}

// ---- load -----------------------------------------------------------------------------------------------

function readConfig(dir: string): DataDirConfig {
  const path = join(dir, DATA_DIR_FILES.config);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readText(path));
  } catch (e) {
    if (e instanceof DataDirError) throw e;
    throw new DataDirCorruptError(path, `${path} is not valid JSON`, { cause: e });
  }
  const str = (k: string) => typeof j?.[k] === 'string';
  if (j === null || typeof j !== 'object' || j.format !== DATA_DIR_FORMAT) {
    throw new DataDirCorruptError(path, `${path} is not a ${DATA_DIR_FORMAT} configuration (field "format")`);
  }
  for (const k of ['network', 'createdAt', 'listen', 'rootKey']) {
    if (!str(k)) throw new DataDirCorruptError(path, `${path}: field "${k}" must be a string`);
  }
  if (j.db !== undefined && !str('db')) throw new DataDirCorruptError(path, `${path}: field "db" must be a string`);
  return j as unknown as DataDirConfig;
}

/**
 * Reads and checks a data directory: config.json, root.pub, login.key, login.cert, opaque.setup. The login
 * certificate must be a ROLE_LOGIN certificate of login.key signed by an anchor of root.pub; its validity
 * in time is not checked here (see `checkLoginCertificateTime`). Never reads the root key.
 */
export async function loadDataDir(suite: CryptoSuite, dirPath: string): Promise<DataDir> {
  const dir = resolve(dirPath);
  if (!existsSync(dir)) throw new DataDirMissingError(dir, `the data directory ${dir} does not exist (run init)`);
  if (!existsSync(join(dir, DATA_DIR_FILES.config))) {
    throw new DataDirMissingError(
      join(dir, DATA_DIR_FILES.config),
      `${dir} is not an initialised data directory (no ${DATA_DIR_FILES.config}; run init)`,
    );
  }
  const config = readConfig(dir);
  const anchorsPath = join(dir, DATA_DIR_FILES.rootPublicKeys);
  const trustAnchors = parseTrustAnchors(readText(anchorsPath), anchorsPath);
  const loginKeyPath = join(dir, DATA_DIR_FILES.loginKey);
  const loginKey = readSeedFile(suite, loginKeyPath);

  const certPath = join(dir, DATA_DIR_FILES.loginCertificate);
  const certBytes = readBytes(certPath);
  let signerKeyId: Uint8Array;
  try {
    signerKeyId = decodeSigned(certBytes).signerKeyId;
  } catch (e) {
    throw new DataDirCorruptError(certPath, `${certPath} is not an encoded Signed certificate`, { cause: e });
  }
  const rootPublicKey = trustAnchors.find((a) => bytesEqual(keyId(suite, a), signerKeyId));
  if (rootPublicKey === undefined) {
    throw new DataDirCorruptError(certPath, `${certPath} is not issued by a root key of ${anchorsPath}`);
  }
  let loginCertificate: Certificate;
  try {
    loginCertificate = decodeCertificate(
      verifySigned(suite, certBytes, SignatureContext.SIGNATURE_CONTEXT_CERTIFICATE, rootPublicKey),
    );
  } catch (e) {
    throw new DataDirCorruptError(certPath, `${certPath} does not verify under its root key`, { cause: e });
  }
  if (loginCertificate.role !== Role.ROLE_LOGIN) {
    throw new DataDirCorruptError(certPath, `${certPath} is not a ROLE_LOGIN certificate`);
  }
  if (!bytesEqual(loginCertificate.subjectKey, loginKey.publicKey)) {
    throw new DataDirCorruptError(loginKeyPath, `${loginKeyPath} is not the key ${certPath} certifies`);
  }

  const setupPath = join(dir, DATA_DIR_FILES.opaqueSetup);
  await opaqueReady();
  let opaqueSetup: string;
  try {
    opaqueSetup = parseServerSetup(readText(setupPath).trim());
  } catch (e) {
    if (e instanceof DataDirError) throw e;
    throw new DataDirCorruptError(setupPath, `${setupPath} is not OPAQUE server key material`);
  }

  const insecureFiles: string[] = [];
  for (const name of SECRET_FILES) {
    const path = join(dir, name);
    if (existsSync(path) && (statSync(path).mode & 0o077) !== 0) insecureFiles.push(path);
  }
  return {
    dir,
    config,
    identity: { loginKey, loginCertificate: certBytes, trustAnchors, opaqueSetup },
    loginCertificate,
    rootPublicKey,
    fingerprint: fingerprintHex(keyId(suite, rootPublicKey)),
    insecureFiles,
  };
}

/** Throws DataDirError('corrupt') when the login certificate is not valid at `nowMs` (no skew: it is ours). */
export function checkLoginCertificateTime(data: DataDir, nowMs: number): void {
  const c = data.loginCertificate;
  const path = join(data.dir, DATA_DIR_FILES.loginCertificate);
  if (nowMs < c.notBefore) {
    throw new DataDirCorruptError(path, `${path} is not valid before ${new Date(c.notBefore).toISOString()}`);
  }
  if (nowMs >= c.notAfter) {
    throw new DataDirCorruptError(path, `${path} expired at ${new Date(c.notAfter).toISOString()}`);
  }
}

/**
 * The store URL to open: `explicit` (--db or PARLEY_LOGIN_DB) as given, else config.json's `db` (a relative
 * sqlite path taken from the data directory), else `sqlite:DIR/login.db`.
 */
export function storeUrl(data: Pick<DataDir, 'dir' | 'config'>, explicit?: string): string {
  if (explicit !== undefined && explicit !== '') return explicit;
  const configured = data.config.db;
  if (configured === undefined) return `sqlite:${join(data.dir, DATA_DIR_FILES.database)}`;
  if (configured.startsWith('sqlite:')) {
    const path = configured.slice('sqlite:'.length);
    if (path !== '' && path !== ':memory:' && !path.startsWith('/') && !isAbsolute(path)) {
      return `sqlite:${join(data.dir, path)}`;
    }
  }
  return configured;
}
