/**
 * The portable half of the crypto module stays portable: nobleCrypto and everything the barrel
 * loads statically import nothing from node:, and without node:crypto the barrel still loads and
 * chooses nobleCrypto (spec/04-crypto.md §11).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { repoRoot } from './wycheproof.js';

const srcDir = resolve(repoRoot(), 'packages/wire/src/crypto');

describe('portability of the crypto module', () => {
  it('no file of src/crypto imports a node: module at run time (type-only imports are erased)', () => {
    for (const file of [
      'index.ts',
      'node.ts',
      'noble.ts',
      'random.ts',
      'ed25519-strict.ts',
      'lengths.ts',
      'suite.ts',
    ]) {
      const text = readFileSync(resolve(srcDir, file), 'utf8');
      const runtimeNodeImports = [...text.matchAll(/^import\s+(?!type\b)[^;]*from\s+'node:[^']+'/gm)];
      expect(runtimeNodeImports.map((m) => `${file}: ${m[0]}`)).toEqual([]);
    }
  });

  it('[CRYPTO-SUITE-2] without node:crypto the barrel loads, defaultCryptoSuite() is nobleCrypto, and nodeCrypto refuses with API_MISUSE', async () => {
    const proc = process as unknown as { getBuiltinModule?: unknown };
    const original = proc.getBuiltinModule;
    proc.getBuiltinModule = undefined;
    vi.resetModules();
    try {
      const mod = await import('../../src/crypto/index.js');
      expect(mod.nodeCryptoAvailable()).toBe(false);
      expect(mod.defaultCryptoSuite()).toBe(mod.nobleCrypto);
      expect(mod.defaultCryptoSuite().sha256(new Uint8Array(0)).length).toBe(32);
      let error: unknown;
      try {
        mod.nodeCrypto.sha256(new Uint8Array(0));
      } catch (e) {
        error = e;
      }
      // A fresh module graph has its own error classes: compare by name and code.
      expect((error as { name: string; code: number }).name).toBe('ApiMisuse');
      expect((error as { code: number }).code).toBe(600);
    } finally {
      proc.getBuiltinModule = original;
      vi.resetModules();
    }
  });
});
