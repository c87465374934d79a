/**
 * The data directory's names and the CLI's defaults, in a module without imports so that `--help` does
 * not load the server (data-dir.ts re-exports them and checks them against @parley/wire).
 */

/** The file names inside a data directory. */
export const DATA_DIR_FILES = Object.freeze({
  config: 'config.json',
  rootPublicKeys: 'root.pub',
  rootKey: 'root.key',
  loginKey: 'login.key',
  loginCertificate: 'login.cert',
  opaqueSetup: 'opaque.setup',
  database: 'login.db',
} as const);

/** The value of config.json's `format`. */
export const DATA_DIR_FORMAT = 'parley-login-server/1';
/** Where `serve` listens when neither `--listen` nor config.json says otherwise (this implementation's choice). */
export const DEFAULT_LISTEN = '127.0.0.1:7400';
/** The login certificate's default lifetime (spec/02-identity.md §9). */
export const DEFAULT_LOGIN_LIFETIME_DAYS = 365;
/** The longest a LOGIN certificate may be valid (ID-CERT-10: 400 days). */
export const MAX_LOGIN_LIFETIME_DAYS = 400;
/** An Ed25519 public key, and a device id (ID-CERT-5, ID-CERT-6). */
export const PUBLIC_KEY_BYTES = 32;
export const DEVICE_ID_BYTES = 16;
