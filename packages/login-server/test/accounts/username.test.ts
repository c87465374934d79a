/**
 * User names (spec/06-login-server.md §4, LOGIN-NAME-*): the normalisation, the grammar and the reserved
 * names, table-driven and as properties checked against an independent restatement of the rules.
 */
import { ErrorCode, isParleyError, MAX_USERNAME_INPUT_BYTES, RequestRefused } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isNormalisedUsername,
  isReservedUsername,
  normaliseUsername,
  RESERVED_USERNAMES,
  registrableUsername,
  USERNAME_MAX_LENGTH,
  USERNAME_MIN_LENGTH,
  USERNAME_PATTERN,
} from '../../src/accounts/index.js';

/** The rules of LOGIN-NAME-2/3 restated as the spec words them, independently of the implementation. */
function reference(input: string): string | undefined {
  for (const ch of input) if (ch.charCodeAt(0) > 0x7f) return undefined;
  let name = '';
  for (const ch of input) name += ch >= 'A' && ch <= 'Z' ? String.fromCharCode(ch.charCodeAt(0) + 32) : ch;
  if (name.length < 3 || name.length > 32) return undefined;
  if (!/^[a-z][a-z0-9._-]*$/.test(name)) return undefined;
  if (/[._-][._-]/.test(name) || /[._-]$/.test(name)) return undefined;
  return name;
}

function code(f: () => unknown): number | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!isParleyError(e)) throw e;
    return e.code;
  }
}

describe('normaliseUsername', () => {
  const valid: [string, string][] = [
    ['alice', 'alice'],
    ['Alice', 'alice'],
    ['ALICE', 'alice'],
    ['bob', 'bob'],
    ['a1b', 'a1b'],
    ['j.doe', 'j.doe'],
    ['J_Doe-2', 'j_doe-2'],
    ['a.b.c', 'a.b.c'],
    ['x-1_2.3', 'x-1_2.3'],
    ['abc', 'abc'], // 3: the shortest
    ['a'.repeat(32), 'a'.repeat(32)], // 32: the longest
    ['A'.repeat(32), 'a'.repeat(32)],
    ['admin', 'admin'], // reserved names normalise: only registration refuses them
  ];
  it.each(valid)('[LOGIN-NAME-2] [LOGIN-NAME-3] accepts %j as %j', (input, expected) => {
    expect(normaliseUsername(input)).toBe(expected);
  });

  const invalid: [string, string][] = [
    ['', 'empty'],
    ['ab', 'too short'],
    ['a'.repeat(33), 'too long'],
    ['1abc', 'starts with a digit'],
    ['.abc', 'starts with punctuation'],
    ['_abc', 'starts with punctuation'],
    ['abc.', 'ends with punctuation'],
    ['abc-', 'ends with punctuation'],
    ['a..b', 'two punctuation characters'],
    ['a._b', 'two punctuation characters'],
    ['a-_b', 'two punctuation characters'],
    ['a b', 'a space'],
    [' alice', 'leading space: never trimmed'],
    ['alice ', 'trailing space: never trimmed'],
    ['alice\n', 'a control character'],
    ['al\u0000ice', 'NUL'],
    ['al@ice', 'a character outside the set'],
    ['al+ice', 'a character outside the set'],
    ['alice!', 'a character outside the set'],
    ['ali/ce', 'a character outside the set'],
    ['аlice', 'Cyrillic a (a homograph)'],
    ['alіce', 'Cyrillic i (a homograph)'],
    ['ＡＬＩＣＥ', 'fullwidth letters (NFKC would map them: we do not)'],
    ['alıce', 'dotless i'],
    ['straße', 'sharp s'],
    ['\u212aelvin', 'the Kelvin sign (lower-cases to k in Unicode)'],
    ['ali\u200bce', 'a zero-width space'],
    ['e\u0301abc', 'a combining accent'],
    ['a'.repeat(MAX_USERNAME_INPUT_BYTES + 1), 'longer than the wire allows'],
  ];
  it.each(invalid)('[LOGIN-NAME-2] [LOGIN-NAME-3] rejects %j (%s) with USERNAME_INVALID', (input) => {
    expect(code(() => normaliseUsername(input))).toBe(ErrorCode.USERNAME_INVALID);
    try {
      normaliseUsername(input);
    } catch (e) {
      expect(e).toBeInstanceOf(RequestRefused);
    }
  });

  it('[LOGIN-NAME-2] rejects what is not a string with USERNAME_INVALID', () => {
    expect(code(() => normaliseUsername(42 as unknown as string))).toBe(ErrorCode.USERNAME_INVALID);
    expect(code(() => normaliseUsername(undefined as unknown as string))).toBe(ErrorCode.USERNAME_INVALID);
  });

  it('[LOGIN-NAME-3] exports the grammar and its bounds', () => {
    expect(USERNAME_MIN_LENGTH).toBe(3);
    expect(USERNAME_MAX_LENGTH).toBe(32);
    expect(USERNAME_PATTERN.test('abc')).toBe(true);
    expect(USERNAME_PATTERN.test('ab')).toBe(false);
  });
});

describe('normaliseUsername: properties', () => {
  const asciiInput = fc.string({ unit: 'binary-ascii', maxLength: 40 });
  const nameLike = fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{1,33}$/);
  const anyInput = fc.oneof(asciiInput, nameLike, fc.string({ unit: 'binary', maxLength: 40 }));

  it('[LOGIN-NAME-2] [LOGIN-NAME-3] agrees with the rules as the spec states them', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        const expected = reference(input);
        if (expected === undefined) expect(code(() => normaliseUsername(input))).toBe(ErrorCode.USERNAME_INVALID);
        else expect(normaliseUsername(input)).toBe(expected);
      }),
      { numRuns: 2_000 },
    );
  });

  it('[LOGIN-NAME-4] is idempotent, and its output always matches the grammar', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        let name: string;
        try {
          name = normaliseUsername(input);
        } catch {
          return;
        }
        expect(normaliseUsername(name)).toBe(name);
        expect(isNormalisedUsername(name)).toBe(true);
        expect(name).toMatch(/^[a-z][a-z0-9._-]{2,31}$/);
        expect(name).not.toMatch(/[._-]{2}/);
        expect(name).not.toMatch(/[._-]$/);
      }),
      { numRuns: 2_000 },
    );
  });

  it('[LOGIN-NAME-2] is insensitive to ASCII case, and to nothing else', () => {
    fc.assert(
      fc.property(fc.mixedCase(fc.stringMatching(/^[a-z][a-z0-9._-]{2,31}$/)), (input) => {
        const lower = input.replace(/[A-Z]/g, (c) => c.toLowerCase());
        expect(code(() => normaliseUsername(input))).toBe(code(() => normaliseUsername(lower)));
        if (reference(lower) !== undefined) {
          expect(normaliseUsername(input)).toBe(normaliseUsername(lower));
          expect(normaliseUsername(input.toUpperCase())).toBe(normaliseUsername(lower));
        }
      }),
    );
  });

  it('[LOGIN-NAME-2] rejects every input with a character outside ASCII', () => {
    const nonAscii = fc.integer({ min: 0x80, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp));
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{3,10}$/), nonAscii, fc.nat(), (base, ch, at) => {
        const i = at % (base.length + 1);
        const input = base.slice(0, i) + ch + base.slice(i);
        expect(code(() => normaliseUsername(input))).toBe(ErrorCode.USERNAME_INVALID);
      }),
    );
  });
});

describe('reserved names', () => {
  it('[LOGIN-NAME-6] lists the reserved names in normalised form', () => {
    for (const name of ['admin', 'root', 'login', 'supernode', 'system', 'parley']) {
      expect(RESERVED_USERNAMES.has(name)).toBe(true);
    }
    for (const name of RESERVED_USERNAMES) expect(normaliseUsername(name)).toBe(name);
  });

  it('[LOGIN-NAME-6] isReservedUsername normalises first', () => {
    expect(isReservedUsername('admin')).toBe(true);
    expect(isReservedUsername('Admin')).toBe(true);
    expect(isReservedUsername('ROOT')).toBe(true);
    expect(isReservedUsername('alice')).toBe(false);
    expect(isReservedUsername('admin1')).toBe(false);
    expect(isReservedUsername('a')).toBe(false); // not a name at all
    expect(isReservedUsername('аdmin')).toBe(false); // Cyrillic: not a name at all
    expect(isReservedUsername('alice', new Set(['alice']))).toBe(true);
  });

  it('[LOGIN-NAME-6] a reserved name cannot be registered: USERNAME_TAKEN, as a registered one', () => {
    expect(code(() => registrableUsername('Admin'))).toBe(ErrorCode.USERNAME_TAKEN);
    expect(code(() => registrableUsername('supernode'))).toBe(ErrorCode.USERNAME_TAKEN);
    expect(code(() => registrableUsername('carol', new Set(['carol'])))).toBe(ErrorCode.USERNAME_TAKEN);
    expect(registrableUsername('Carol')).toBe('carol');
    expect(code(() => registrableUsername('c'))).toBe(ErrorCode.USERNAME_INVALID);
  });
});
