/**
 * Passwords on the client (spec/06-login-server.md §5.2, LOGIN-OPAQUE-8..11). The server never sees a
 * password, so every rule here is the CLIENT's: how a typed password becomes the bytes OPAQUE takes (the
 * same on every client, so a password set on one device works on another), and which new passwords a
 * conforming client refuses.
 *
 * Preparation [LOGIN-OPAQUE-8] (a subset of the OpaqueString profile of RFC 8265 §4.2):
 *   1. every space separator (general category Zs) becomes U+0020;
 *   2. the result is put in Unicode Normalization Form C;
 *   3. OPAQUE's password input is its UTF-8 encoding.
 * A prepared password contains no lone surrogate and no control character (category Cc).
 *
 * A new password (registration, password change) must also have at least 10 code points and at most
 * 1,024 UTF-8 bytes once prepared [LOGIN-OPAQUE-9]. A login applies the preparation only
 * [LOGIN-OPAQUE-11], so a later, stricter minimum never locks an existing account out.
 */
import { ApiMisuse } from '@parley/wire';

/** [LOGIN-OPAQUE-9] Fewest code points of a new password, after preparation. */
export const PASSWORD_MIN_CHARACTERS = 10;
/** [LOGIN-OPAQUE-9] Most UTF-8 bytes of a new password, after preparation. */
export const PASSWORD_MAX_BYTES = 1_024;

/** Why a password is refused; undefined from `passwordProblem` when it is acceptable. */
export type PasswordProblem =
  /** A lone surrogate or a control character: it cannot be prepared [LOGIN-OPAQUE-8]. */
  | 'invalid-character'
  /** Fewer than PASSWORD_MIN_CHARACTERS code points [LOGIN-OPAQUE-9]. */
  | 'too-short'
  /** More than PASSWORD_MAX_BYTES UTF-8 bytes [LOGIN-OPAQUE-9]. */
  | 'too-long';

const SPACE_SEPARATORS = /\p{Zs}/gu;
const LONE_SURROGATE = /\p{Cs}/u;
const CONTROL = /\p{Cc}/u;
const encoder = new TextEncoder();

/** The prepared password, or the reason there is none [LOGIN-OPAQUE-8]. */
function prepare(password: string): string | 'invalid-character' {
  if (typeof password !== 'string') return 'invalid-character';
  // With the u flag a well-formed surrogate pair is one code point of another category, so only a lone
  // surrogate is Cs. Checked first: normalize() would keep it, TextEncoder would replace it.
  if (LONE_SURROGATE.test(password) || CONTROL.test(password)) return 'invalid-character';
  return password.replace(SPACE_SEPARATORS, ' ').normalize('NFC');
}

/** The number of code points of `s` (not UTF-16 units). */
function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * What is wrong with `password` as a NEW password (registration, password change), or undefined when a
 * conforming client may use it [LOGIN-OPAQUE-8, LOGIN-OPAQUE-9]. For the user interface.
 */
export function passwordProblem(password: string): PasswordProblem | undefined {
  const prepared = prepare(password);
  if (prepared === 'invalid-character') return prepared;
  if (codePoints(prepared) < PASSWORD_MIN_CHARACTERS) return 'too-short';
  if (encoder.encode(prepared).length > PASSWORD_MAX_BYTES) return 'too-long';
  return undefined;
}

/**
 * The prepared form of a NEW password [LOGIN-OPAQUE-8]; throws ApiMisuse when a conforming client must
 * refuse it [LOGIN-OPAQUE-9] (check `passwordProblem` first to tell the user why).
 */
export function prepareNewPassword(password: string): string {
  const problem = passwordProblem(password);
  if (problem !== undefined) throw new ApiMisuse(`password refused: ${problem}`);
  return prepare(password) as string;
}

/**
 * The prepared form of a password typed to LOG IN [LOGIN-OPAQUE-8]: no length rule applies
 * [LOGIN-OPAQUE-11]; a password that cannot be prepared throws ApiMisuse (no account can have it).
 */
export function prepareLoginPassword(password: string): string {
  const prepared = prepare(password);
  if (prepared === 'invalid-character') throw new ApiMisuse('password refused: invalid-character');
  return prepared;
}
