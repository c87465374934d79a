/**
 * User names (spec/06-login-server.md §4, LOGIN-NAME-*): the one normalisation every implementation
 * applies to a name as typed, the grammar of a normalised name, and the reserved names.
 *
 * The rules are deliberately ASCII-only and small enough to reimplement exactly in any language:
 *
 *   1. every character of the input is ASCII (U+0000..U+007F)            [LOGIN-NAME-2]
 *   2. A-Z are mapped to a-z; nothing else changes (no trimming)          [LOGIN-NAME-2]
 *   3. the result is 3 to 32 characters: a letter first, then letters,
 *      digits and '.', '_', '-', each punctuation character followed by
 *      a letter or digit (so none is doubled and none ends the name)      [LOGIN-NAME-3]
 *
 * A name that fails is USERNAME_INVALID. The normalised name is the account's identity everywhere
 * (store key, certificate subject, OPAQUE identifiers) and is compared byte for byte [LOGIN-NAME-4].
 * Reserved names obey the grammar but cannot be registered (USERNAME_TAKEN, LOGIN-NAME-6).
 */
import { ErrorCode, MAX_USERNAME_INPUT_BYTES, RequestRefused } from '@parley/wire';

/** [LOGIN-NAME-3] The shortest normalised name, in characters (= bytes: names are ASCII). */
export const USERNAME_MIN_LENGTH = 3;
/** [LOGIN-NAME-3] The longest normalised name, in characters (= bytes). */
export const USERNAME_MAX_LENGTH = 32;

/**
 * [LOGIN-NAME-3] The grammar of a normalised name, as one regular expression: a lower-case letter, then
 * 2 to 31 units that are a letter or digit, or a punctuation character that a letter or digit follows.
 * Equivalent to `^[a-z][a-z0-9._-]{2,31}$` with no two consecutive punctuation characters and no
 * punctuation at the end.
 */
export const USERNAME_PATTERN: RegExp = /^[a-z](?:[a-z0-9]|[._-](?=[a-z0-9])){2,31}$/;

/**
 * [LOGIN-NAME-6] Names no one can register through the protocol: they would let a user pose as the
 * operator or the software. Normalised forms; an operator may reserve more by local configuration.
 */
export const RESERVED_USERNAMES: ReadonlySet<string> = new Set([
  'abuse',
  'admin',
  'administrator',
  'anonymous',
  'help',
  'login',
  'nobody',
  'operator',
  'parley',
  'postmaster',
  'root',
  'security',
  'server',
  'supernode',
  'support',
  'system',
]);

// biome-ignore lint/suspicious/noControlCharactersInRegex: the test is for anything outside U+0000..U+007F
const NON_ASCII = /[^\u0000-\u007f]/;
const UPPER = /[A-Z]/g;

function invalid(detail: string): RequestRefused {
  return new RequestRefused(ErrorCode.USERNAME_INVALID, detail);
}

/**
 * The normalised form of a user name as typed [LOGIN-NAME-2, LOGIN-NAME-3]; throws
 * `RequestRefused(USERNAME_INVALID)` when there is none. Idempotent: a normalised name normalises to
 * itself. Does not check reserved names (a reserved name may log in where the operator created it).
 */
export function normaliseUsername(input: string): string {
  if (typeof input !== 'string') throw invalid('not a string');
  // [LOGIN-NAME-1] A longer input cannot normalise to a name of at most 32 characters; the wire limit
  // (64 bytes) already bounds it, and this bound keeps the function's work constant for any caller.
  if (input.length > MAX_USERNAME_INPUT_BYTES) throw invalid('too long');
  // [LOGIN-NAME-2] ASCII only: no Unicode case folding, normalisation, or confusable characters.
  if (NON_ASCII.test(input)) throw invalid('not ASCII');
  // [LOGIN-NAME-2] A-Z to a-z, and nothing else (String#toLowerCase would also be exact on ASCII).
  const name = input.replace(UPPER, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
  // [LOGIN-NAME-3] the grammar.
  if (!USERNAME_PATTERN.test(name)) throw invalid('does not match the user name grammar');
  return name;
}

/** True when `name` is already normalised ([LOGIN-NAME-4]: the form every other module takes). */
export function isNormalisedUsername(name: string): boolean {
  return typeof name === 'string' && USERNAME_PATTERN.test(name);
}

/**
 * True when `input` normalises to a reserved name [LOGIN-NAME-6] (false for an input that does not
 * normalise at all). `extra` holds the operator's further reserved names, normalised.
 */
export function isReservedUsername(input: string, extra?: ReadonlySet<string>): boolean {
  let name: string;
  try {
    name = normaliseUsername(input);
  } catch {
    return false;
  }
  return RESERVED_USERNAMES.has(name) || (extra?.has(name) ?? false);
}

/**
 * The normalised name for a registration (RegisterStart): `normaliseUsername`, then [LOGIN-NAME-6] a
 * reserved name is refused with `RequestRefused(USERNAME_TAKEN)`, exactly as a registered one is.
 * Whether the name is registered is the caller's (the store's) question.
 */
export function registrableUsername(input: string, extra?: ReadonlySet<string>): string {
  const name = normaliseUsername(input);
  if (RESERVED_USERNAMES.has(name) || (extra?.has(name) ?? false)) {
    throw new RequestRefused(ErrorCode.USERNAME_TAKEN, 'reserved');
  }
  return name;
}
