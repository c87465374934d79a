/**
 * OPAQUE (RFC 9807) for Parley accounts (spec/06-login-server.md §5, LOGIN-OPAQUE-*): the one module
 * that touches @serenity-kit/opaque. Sans-I/O and synchronous once `opaqueReady()` has resolved.
 *
 * The configuration is fixed by the spec, and every function here applies it:
 * - suite [LOGIN-OPAQUE-1]: OPRF ristretto255-SHA512 (RFC 9497), HKDF-SHA-512, HMAC-SHA-512, SHA-512,
 *   3DH over ristretto255, empty context;
 * - key stretching [LOGIN-OPAQUE-3]: Argon2id v1.3, m = 65,536 KiB, t = 3, p = 4, 16 zero bytes of
 *   salt, 64 bytes out (RFC 9106 §4, second recommended option) — `KEY_STRETCHING`;
 * - identities [LOGIN-OPAQUE-4]: credential_identifier and client_identity are the normalised user
 *   name; server_identity is absent, so RFC 9807 uses the server's OPAQUE public key;
 * - messages [LOGIN-OPAQUE-2, LOGIN-OPAQUE-5]: the RFC 9807 serialisations, exactly the byte sizes below.
 *
 * Errors (GEN-ERR-1): bytes from the peer that are not a valid message of the exact size are
 * `DecodeError` (MISSING_FIELD when empty, MALFORMED otherwise) [LOGIN-OPAQUE-2, LOGIN-OPAQUE-6]; a wrong
 * password is `undefined`, never an exception; the caller's own mistakes (a state or a stored record of
 * the wrong form, a name not normalised, a missing `opaqueReady()`) are `ApiMisuse`. Nothing else
 * escapes: the library's exceptions are always translated.
 *
 * The secrets compared here are compared inside the library in constant time [LOGIN-OPAQUE-21] (opaque-ke
 * 4: the KE3 MAC with `subtle::ConstantTimeEq`; the KE2 MAC and the envelope tag with the `hmac` crate's
 * constant-time `verify`).
 */
import { ApiMisuse, DecodeError, ErrorCode } from '@parley/wire';
import * as opaque from '@serenity-kit/opaque';
import { prepareLoginPassword, prepareNewPassword } from './password.js';
import { isNormalisedUsername } from './username.js';

// ---- Sizes [LOGIN-OPAQUE-2]: Noe = Npk = 32, Nn = 32, Nh = Nm = Nx = 64 for this suite ----------------

/** RegistrationRequest: blinded_message (32). */
export const REGISTRATION_REQUEST_BYTES = 32;
/** RegistrationResponse: evaluated_message (32) || server_public_key (32). */
export const REGISTRATION_RESPONSE_BYTES = 64;
/** RegistrationRecord: client_public_key (32) || masking_key (64) || envelope (nonce 32 || auth_tag 64). */
export const REGISTRATION_RECORD_BYTES = 192;
/** KE1: blinded_message (32) || client_nonce (32) || client_public_keyshare (32). */
export const KE1_BYTES = 96;
/**
 * KE2: evaluated_message (32) || masking_nonce (32) || masked_response (128) || server_nonce (32) ||
 * server_public_keyshare (32) || server_mac (64).
 */
export const KE2_BYTES = 320;
/** KE3: client_mac (64). */
export const KE3_BYTES = 64;
/** The session key both sides derive (Nx). */
export const SESSION_KEY_BYTES = 64;
/** The client's export key (Nh). */
export const EXPORT_KEY_BYTES = 64;
/** The server's OPAQUE static public key (a ristretto255 element). */
export const OPAQUE_PUBLIC_KEY_BYTES = 32;
/** The largest OPAQUE message of this suite (KE2). */
export const MAX_OPAQUE_BYTES = KE2_BYTES;

/** The server setup: oprf_seed (64) || server private key (32) || fake client public key (32). */
export const SERVER_SETUP_BYTES = 128;
/** The server's state between startLogin and finishLogin: expected client MAC (64) || session key (64). */
export const SERVER_LOGIN_STATE_BYTES = 128;
/** The client's state between clientStartRegistration and clientFinishRegistration. */
export const CLIENT_REGISTRATION_STATE_BYTES = 64;
/** The client's state between clientStartLogin and clientFinishLogin. */
export const CLIENT_LOGIN_STATE_BYTES = 192;

/**
 * [LOGIN-OPAQUE-3] The key-stretching function every client uses: Argon2id (RFC 9106) version 0x13,
 * memory 65,536 KiB, 3 passes, 4 lanes, salt 16 zero bytes, no secret, no associated data, output
 * Nh = 64 bytes. RFC 9106 §4's second recommended option (the library's 'memory-constrained').
 */
export const KEY_STRETCHING = Object.freeze({
  algorithm: 'argon2id',
  version: 0x13,
  memoryKiB: 65_536,
  iterations: 3,
  parallelism: 4,
  saltBytes: 16,
  outputBytes: 64,
} as const);

// Passed explicitly, in numbers, so that a change of the library's default cannot change the protocol.
const LIBRARY_KSF = {
  'argon2id-custom': {
    iterations: KEY_STRETCHING.iterations,
    memory: KEY_STRETCHING.memoryKiB,
    parallelism: KEY_STRETCHING.parallelism,
  },
} as const;

// ---- Initialisation ----------------------------------------------------------------------------------

let initialised = false;

/** Resolves when the library's WebAssembly is loaded; every other function needs it first. Idempotent. */
export async function opaqueReady(): Promise<void> {
  await opaque.ready;
  initialised = true;
}

function requireReady(): void {
  if (!initialised) throw new ApiMisuse('await opaqueReady() before using OPAQUE');
}

// ---- The one place bytes and the library's base64url meet -------------------------------------------

function toLibrary(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Library output to a fresh plain Uint8Array of exactly `length` bytes (the library's own output). */
function fromLibrary(text: string, length: number, what: string): Uint8Array {
  const bytes = new Uint8Array(Buffer.from(text, 'base64url'));
  // The library's outputs have fixed sizes; anything else is a library change the tests must catch.
  if (bytes.length !== length) throw new ApiMisuse(`OPAQUE library returned ${bytes.length} bytes of ${what}`);
  return bytes;
}

// ---- Checks ------------------------------------------------------------------------------------------

/** [LOGIN-OPAQUE-2] A peer's OPAQUE field has exactly its size: empty is MISSING_FIELD, else MALFORMED. */
function checkPeerBytes(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array)) throw new ApiMisuse(`${what} must be a Uint8Array`);
  if (bytes.length === length) return;
  if (bytes.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, `${what} is empty`);
  throw new DecodeError(ErrorCode.MALFORMED, `${what} is ${bytes.length} bytes, not ${length}`);
}

/** Local bytes (a state, a stored record) of the wrong form are the caller's mistake. */
function checkLocalBytes(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new ApiMisuse(`${what} must be a Uint8Array of ${length} bytes`);
  }
}

/** [LOGIN-OPAQUE-4] Identities are normalised names: the caller normalises first (LOGIN-NAME-5). */
function checkUsername(username: string): void {
  if (!isNormalisedUsername(username)) throw new ApiMisuse('username must be normalised (normaliseUsername)');
}

/**
 * [LOGIN-OPAQUE-6] Translates a library exception. The library names where it failed ("deserialize
 * <field>"); a failure in one of `local` is the caller's bytes (ApiMisuse), anything else is the peer's
 * message (MALFORMED). Length checks run first, so what remains is an invalid group element.
 */
function translate(error: unknown, what: string, local: readonly string[] = []): never {
  const message = error instanceof Error ? error.message : String(error);
  for (const field of local) {
    if (message.includes(field)) throw new ApiMisuse(`invalid ${field}`);
  }
  throw new DecodeError(ErrorCode.MALFORMED, `${what} is not a valid RFC 9807 message`, { cause: error });
}

function identifiers(username: string): { client: string } {
  // [LOGIN-OPAQUE-4] client_identity = the normalised name (ASCII, so its UTF-8 is its characters);
  // server_identity omitted = the server's OPAQUE public key (RFC 9807's default).
  return { client: username };
}

// ---- Server setup ------------------------------------------------------------------------------------

/**
 * The server's OPAQUE key material [LOGIN-OPAQUE-7], as the library's unpadded base64url text (171
 * characters for SERVER_SETUP_BYTES bytes): SECRET. Created once and persisted in the server's data
 * directory; replacing it invalidates every registration record. Check a persisted one with
 * `parseServerSetup` when loading it.
 */
export type ServerSetup = string;

/** A fresh server setup [LOGIN-OPAQUE-7]. The caller persists it (secret) and never logs it. */
export function createServerSetup(): ServerSetup {
  requireReady();
  return opaque.server.createSetup();
}

/** Validates a persisted server setup (ApiMisuse when it is not one; the text is never echoed). */
export function parseServerSetup(text: string): ServerSetup {
  requireReady();
  if (typeof text !== 'string') throw new ApiMisuse('server setup must be a string');
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.length !== SERVER_SETUP_BYTES || bytes.toString('base64url') !== text) {
    throw new ApiMisuse(`server setup must be ${SERVER_SETUP_BYTES} bytes of unpadded base64url`);
  }
  try {
    opaque.server.getPublicKey(text);
  } catch {
    throw new ApiMisuse('server setup is not valid OPAQUE key material');
  }
  return text;
}

/** The server's OPAQUE static public key (32 bytes): public; clients find it in their envelope. */
export function serverPublicKey(setup: ServerSetup): Uint8Array {
  requireReady();
  let text: string;
  try {
    text = opaque.server.getPublicKey(setup);
  } catch {
    throw new ApiMisuse('server setup is not valid OPAQUE key material');
  }
  return fromLibrary(text, OPAQUE_PUBLIC_KEY_BYTES, 'server public key');
}

// ---- Server side -------------------------------------------------------------------------------------

/**
 * RegisterStart / ChangePasswordStart [LOGIN-OPAQUE-12, LOGIN-OPAQUE-27]: the RegistrationResponse to
 * `request` for the normalised `username`. A request of the wrong size or with an invalid element is
 * DecodeError.
 */
export function registrationResponse(setup: ServerSetup, username: string, request: Uint8Array): Uint8Array {
  requireReady();
  checkUsername(username);
  checkPeerBytes(request, REGISTRATION_REQUEST_BYTES, 'registration request'); // [LOGIN-OPAQUE-2]
  let response: string;
  try {
    response = opaque.server.createRegistrationResponse({
      serverSetup: setup,
      userIdentifier: username, // [LOGIN-OPAQUE-4] credential_identifier
      registrationRequest: toLibrary(request),
    }).registrationResponse;
  } catch (error) {
    translate(error, 'registration request', ['serverSetup']); // [LOGIN-OPAQUE-6]
  }
  return fromLibrary(response, REGISTRATION_RESPONSE_BYTES, 'registration response');
}

let probe: { setup: string; ke1: string } | undefined;

/**
 * RegisterFinish / ChangePasswordFinish [LOGIN-OPAQUE-14, LOGIN-OPAQUE-28]: checks that `record` is a
 * RegistrationRecord a server can log in with (exact size; a client public key that is a valid,
 * non-identity ristretto255 element) before it is stored; DecodeError otherwise. Costs about one
 * `startLogin`. The check does not depend on the server setup or the name.
 */
export function checkRegistrationRecord(record: Uint8Array): void {
  requireReady();
  checkPeerBytes(record, REGISTRATION_RECORD_BYTES, 'registration record'); // [LOGIN-OPAQUE-2]
  // The library validates a record only where it deserialises one: in a login. Run one with a throwaway
  // setup and a fixed valid KE1, and drop the result.
  probe ??= {
    setup: opaque.server.createSetup(),
    ke1: opaque.client.startLogin({ password: 'parley record probe' }).startLoginRequest,
  };
  try {
    opaque.server.startLogin({
      serverSetup: probe.setup,
      userIdentifier: 'probe',
      registrationRecord: toLibrary(record),
      startLoginRequest: probe.ke1,
    });
  } catch (error) {
    translate(error, 'registration record'); // [LOGIN-OPAQUE-6]
  }
}

/** The server's answer to a KE1, and what it keeps for finishLogin. */
export interface ServerLoginStart {
  /** KE2, KE2_BYTES bytes: the LoginStartReply. */
  readonly ke2: Uint8Array;
  /** SECRET (it holds the session key); kept by the server with the channel until LoginFinish. */
  readonly state: Uint8Array;
}

/**
 * LoginStart [LOGIN-OPAQUE-17, LOGIN-OPAQUE-19]: the KE2 for `ke1`. With `record` undefined (no such
 * account) the library answers from a fake record (RFC 9807 §6.3.2.2: the setup's fake client public
 * key, a fresh random masking key, an all-zero envelope), so the KE2 has the same size and form, costs
 * the same, and no KE3 will ever verify against the state. A `ke1` of the wrong size or with an invalid
 * element is DecodeError, whether or not the account exists; a stored `record` that is not one is
 * ApiMisuse.
 */
export function startLogin(
  setup: ServerSetup,
  username: string,
  record: Uint8Array | undefined,
  ke1: Uint8Array,
): ServerLoginStart {
  requireReady();
  checkUsername(username);
  checkPeerBytes(ke1, KE1_BYTES, 'KE1'); // [LOGIN-OPAQUE-2]
  if (record !== undefined) checkLocalBytes(record, REGISTRATION_RECORD_BYTES, 'stored registration record');
  let result: { serverLoginState: string; loginResponse: string };
  try {
    result = opaque.server.startLogin({
      serverSetup: setup,
      userIdentifier: username, // [LOGIN-OPAQUE-4] credential_identifier
      registrationRecord: record === undefined ? null : toLibrary(record), // [LOGIN-OPAQUE-19] fake record
      startLoginRequest: toLibrary(ke1),
      identifiers: identifiers(username),
    });
  } catch (error) {
    translate(error, 'KE1', ['serverSetup', 'registrationRecord']); // [LOGIN-OPAQUE-6]
  }
  return {
    ke2: fromLibrary(result.loginResponse, KE2_BYTES, 'KE2'),
    state: fromLibrary(result.serverLoginState, SERVER_LOGIN_STATE_BYTES, 'server login state'),
  };
}

/**
 * LoginFinish [LOGIN-OPAQUE-21]: the session key when `ke3` proves the password, else undefined (a
 * wrong password, a fake record, any tampering: indistinguishable, and compared in constant time by the
 * library). A `ke3` of the wrong size is DecodeError; every 64-byte `ke3` gives a key or undefined.
 */
export function finishLogin(state: Uint8Array, ke3: Uint8Array): Uint8Array | undefined {
  requireReady();
  checkPeerBytes(ke3, KE3_BYTES, 'KE3'); // [LOGIN-OPAQUE-2]
  checkLocalBytes(state, SERVER_LOGIN_STATE_BYTES, 'server login state');
  let sessionKey: string;
  try {
    // The identities are in the state already: they entered the transcript at startLogin.
    sessionKey = opaque.server.finishLogin({
      serverLoginState: toLibrary(state),
      finishLoginRequest: toLibrary(ke3),
    }).sessionKey;
  } catch {
    // A 64-byte KE3 is only a MAC and a 128-byte state only two byte strings, so nothing can fail to
    // deserialise: the one failure left is a MAC that does not match.
    return undefined;
  }
  return fromLibrary(sessionKey, SESSION_KEY_BYTES, 'session key');
}

// ---- Client side (our client and the tests) ----------------------------------------------------------

/** The client's first registration message and what it keeps for the second. */
export interface ClientRegistrationStart {
  /** RegistrationRequest, REGISTRATION_REQUEST_BYTES bytes. */
  readonly request: Uint8Array;
  /** SECRET (the OPRF blind); kept until clientFinishRegistration. */
  readonly state: Uint8Array;
}

/**
 * Starts a registration or a password change with a NEW password [LOGIN-OPAQUE-9]: ApiMisuse when a
 * conforming client must refuse the password (see `passwordProblem`).
 */
export function clientStartRegistration(password: string): ClientRegistrationStart {
  requireReady();
  const prepared = prepareNewPassword(password); // [LOGIN-OPAQUE-8] [LOGIN-OPAQUE-9]
  const r = opaque.client.startRegistration({ password: prepared });
  return {
    request: fromLibrary(r.registrationRequest, REGISTRATION_REQUEST_BYTES, 'registration request'),
    state: fromLibrary(r.clientRegistrationState, CLIENT_REGISTRATION_STATE_BYTES, 'client registration state'),
  };
}

export interface ClientRegistrationFinishParams {
  readonly state: Uint8Array;
  /** The same password as at clientStartRegistration. */
  readonly password: string;
  /** The normalised name from RegisterStartReply (the client checks it against its own, LOGIN-NAME-7). */
  readonly username: string;
  /** RegistrationResponse from the server. */
  readonly response: Uint8Array;
}

export interface ClientRegistrationFinish {
  /** RegistrationRecord, REGISTRATION_RECORD_BYTES bytes: RegisterFinish / ChangePasswordFinish. */
  readonly record: Uint8Array;
  /** SECRET, the client's alone; changes with every registration and password change. */
  readonly exportKey: Uint8Array;
  /** The server's OPAQUE public key, as the response claimed it. */
  readonly serverPublicKey: Uint8Array;
}

/**
 * Finishes a registration: stretches the password [LOGIN-OPAQUE-3] (the slow step) and seals the
 * envelope to the identities of [LOGIN-OPAQUE-4]. A response of the wrong size or with an invalid
 * element (including the reflected blinded element) is DecodeError.
 */
export function clientFinishRegistration(params: ClientRegistrationFinishParams): ClientRegistrationFinish {
  requireReady();
  checkUsername(params.username);
  checkPeerBytes(params.response, REGISTRATION_RESPONSE_BYTES, 'registration response'); // [LOGIN-OPAQUE-2]
  checkLocalBytes(params.state, CLIENT_REGISTRATION_STATE_BYTES, 'client registration state');
  const password = prepareNewPassword(params.password);
  let r: { registrationRecord: string; exportKey: string; serverStaticPublicKey: string };
  try {
    r = opaque.client.finishRegistration({
      clientRegistrationState: toLibrary(params.state),
      registrationResponse: toLibrary(params.response),
      password,
      identifiers: identifiers(params.username),
      keyStretching: LIBRARY_KSF,
    });
  } catch (error) {
    translate(error, 'registration response', ['clientRegistrationState']); // [LOGIN-OPAQUE-6]
  }
  return {
    record: fromLibrary(r.registrationRecord, REGISTRATION_RECORD_BYTES, 'registration record'),
    exportKey: fromLibrary(r.exportKey, EXPORT_KEY_BYTES, 'export key'),
    serverPublicKey: fromLibrary(r.serverStaticPublicKey, OPAQUE_PUBLIC_KEY_BYTES, 'server public key'),
  };
}

/** The client's KE1 and what it keeps for clientFinishLogin. */
export interface ClientLoginStart {
  /** KE1, KE1_BYTES bytes: LoginStart. */
  readonly ke1: Uint8Array;
  /** SECRET (the OPRF blind and the ephemeral key); kept until clientFinishLogin. */
  readonly state: Uint8Array;
}

/** Starts a login [LOGIN-OPAQUE-11]: the password is prepared, no length rule applies. */
export function clientStartLogin(password: string): ClientLoginStart {
  requireReady();
  const prepared = prepareLoginPassword(password); // [LOGIN-OPAQUE-8]
  const r = opaque.client.startLogin({ password: prepared });
  return {
    ke1: fromLibrary(r.startLoginRequest, KE1_BYTES, 'KE1'),
    state: fromLibrary(r.clientLoginState, CLIENT_LOGIN_STATE_BYTES, 'client login state'),
  };
}

export interface ClientLoginFinishParams {
  readonly state: Uint8Array;
  /** The same password as at clientStartLogin. */
  readonly password: string;
  /** The normalised name the login is for. */
  readonly username: string;
  /** KE2 from LoginStartReply. */
  readonly ke2: Uint8Array;
}

export interface ClientLoginFinish {
  /** KE3, KE3_BYTES bytes: LoginFinish. */
  readonly ke3: Uint8Array;
  /** SECRET: equals the server's finishLogin result. */
  readonly sessionKey: Uint8Array;
  /** SECRET, the client's alone; the same at every login until the password changes. */
  readonly exportKey: Uint8Array;
  /** The server's OPAQUE public key, authenticated by the envelope. */
  readonly serverPublicKey: Uint8Array;
}

/**
 * Finishes a login: stretches the password [LOGIN-OPAQUE-3], opens the envelope and checks the server's
 * MAC. Undefined when that fails (wrong password, unknown user, a server without the record: the client
 * cannot tell which, LOGIN-OPAQUE-24); DecodeError for a KE2 of the wrong size or with an invalid
 * element.
 */
export function clientFinishLogin(params: ClientLoginFinishParams): ClientLoginFinish | undefined {
  requireReady();
  checkUsername(params.username);
  checkPeerBytes(params.ke2, KE2_BYTES, 'KE2'); // [LOGIN-OPAQUE-2]
  checkLocalBytes(params.state, CLIENT_LOGIN_STATE_BYTES, 'client login state');
  const password = prepareLoginPassword(params.password);
  let r:
    | { finishLoginRequest: string; sessionKey: string; exportKey: string; serverStaticPublicKey: string }
    | undefined;
  try {
    r = opaque.client.finishLogin({
      clientLoginState: toLibrary(params.state),
      loginResponse: toLibrary(params.ke2),
      password,
      identifiers: identifiers(params.username),
      keyStretching: LIBRARY_KSF,
    });
  } catch (error) {
    translate(error, 'KE2', ['clientLoginState']); // [LOGIN-OPAQUE-6]
  }
  if (r === undefined) return undefined;
  return {
    ke3: fromLibrary(r.finishLoginRequest, KE3_BYTES, 'KE3'),
    sessionKey: fromLibrary(r.sessionKey, SESSION_KEY_BYTES, 'session key'),
    exportKey: fromLibrary(r.exportKey, EXPORT_KEY_BYTES, 'export key'),
    serverPublicKey: fromLibrary(r.serverStaticPublicKey, OPAQUE_PUBLIC_KEY_BYTES, 'server public key'),
  };
}
