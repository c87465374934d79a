/**
 * Client-side password rules (spec/06-login-server.md §5.2, LOGIN-OPAQUE-8..11): the preparation and the
 * rules for new passwords. That a prepared password logs in whatever form it was typed in is checked
 * with OPAQUE in opaque.test.ts.
 */
import { ApiMisuse } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PASSWORD_MAX_BYTES,
  PASSWORD_MIN_CHARACTERS,
  passwordProblem,
  prepareLoginPassword,
  prepareNewPassword,
} from '../../src/accounts/index.js';

describe('passwords', () => {
  it('[LOGIN-OPAQUE-9] the minimum is 10 code points and the maximum 1,024 UTF-8 bytes', () => {
    expect(PASSWORD_MIN_CHARACTERS).toBe(10);
    expect(PASSWORD_MAX_BYTES).toBe(1_024);
    expect(passwordProblem('123456789')).toBe('too-short');
    expect(passwordProblem('1234567890')).toBeUndefined();
    expect(passwordProblem('')).toBe('too-short');
    expect(passwordProblem('a'.repeat(1_024))).toBeUndefined();
    expect(passwordProblem('a'.repeat(1_025))).toBe('too-long');
    expect(passwordProblem('€'.repeat(341))).toBeUndefined(); // 1,023 bytes
    expect(passwordProblem('€'.repeat(342))).toBe('too-long'); // 1,026 bytes
  });

  it('[LOGIN-OPAQUE-9] counts code points, not UTF-16 units, after NFC', () => {
    expect(passwordProblem('😀'.repeat(5))).toBe('too-short'); // 10 UTF-16 units, 5 code points
    expect(passwordProblem('😀'.repeat(10))).toBeUndefined();
    // 5 x (e + combining acute) is 10 code points typed, 5 once composed.
    expect(passwordProblem('\u0065\u0301'.repeat(5))).toBe('too-short');
  });

  it('[LOGIN-OPAQUE-8] refuses lone surrogates and control characters', () => {
    expect(passwordProblem('abcdefghij\ud800')).toBe('invalid-character');
    expect(passwordProblem('\udc00abcdefghij')).toBe('invalid-character');
    expect(passwordProblem('abcdefghij\u0000')).toBe('invalid-character');
    expect(passwordProblem('abcde\tfghij')).toBe('invalid-character');
    expect(passwordProblem('abcdefghij\u007f')).toBe('invalid-character');
    expect(passwordProblem('abcdefghij\u0085')).toBe('invalid-character');
    expect(() => prepareLoginPassword('a\nb')).toThrow(ApiMisuse);
    expect(() => prepareNewPassword('short')).toThrow(ApiMisuse);
  });

  it('[LOGIN-OPAQUE-8] maps every space separator to U+0020, then composes (NFC)', () => {
    expect(prepareNewPassword('correct\u00a0horse\u3000battery')).toBe('correct horse battery');
    expect(prepareNewPassword('caf\u0065\u0301 au lait')).toBe('caf\u00e9 au lait');
    expect(prepareNewPassword('  spaces kept  ')).toBe('  spaces kept  ');
    // Compatibility forms are kept (NFC, not NFKC): fullwidth letters stay fullwidth.
    expect(prepareNewPassword('ＰＡＳＳＷＯＲＤ１２')).toBe('ＰＡＳＳＷＯＲＤ１２');
  });

  it('[LOGIN-OPAQUE-11] a login password has no length rule', () => {
    expect(prepareLoginPassword('short')).toBe('short');
    expect(prepareLoginPassword('')).toBe('');
    expect(prepareLoginPassword('x'.repeat(5_000))).toHaveLength(5_000);
  });

  it('[LOGIN-OPAQUE-8] preparation is idempotent and independent of the typed normalisation form', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 0, maxLength: 30 }), (typed) => {
        if (passwordProblem(typed) === 'invalid-character') return;
        const once = prepareLoginPassword(typed);
        expect(prepareLoginPassword(once)).toBe(once);
        expect(prepareLoginPassword(typed.normalize('NFD'))).toBe(once);
        expect(/(?! )\p{Zs}/u.test(once)).toBe(false);
      }),
    );
  });
});
