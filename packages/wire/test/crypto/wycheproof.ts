/**
 * Loads the Wycheproof vectors (github.com/C2SP/wycheproof, testvectors_v1/, Apache-2.0) that the
 * project keeps unmodified in ../shared/vectors/wycheproof, resolved from the repository root.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor holding pnpm-workspace.yaml. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, 'pnpm-workspace.yaml'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root (pnpm-workspace.yaml) not found');
    dir = up;
  }
  return dir;
}

export const vectorsDir = resolve(repoRoot(), '../shared/vectors');

export type WycheproofResult = 'valid' | 'invalid' | 'acceptable';

export interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  result: WycheproofResult;
  [field: string]: unknown;
}

export interface WycheproofGroup {
  tests: WycheproofTest[];
  [field: string]: unknown;
}

export interface WycheproofFile {
  algorithm: string;
  numberOfTests: number;
  testGroups: WycheproofGroup[];
}

export function loadWycheproof(name: string): WycheproofFile {
  return JSON.parse(readFileSync(resolve(vectorsDir, 'wycheproof', name), 'utf8')) as WycheproofFile;
}

export function hex(s: unknown): Uint8Array {
  if (typeof s !== 'string' || s.length % 2 !== 0) throw new Error(`not a hex string: ${String(s)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** Tallies vectors by result and by what the suite did with them, so a run of zero cannot pass. */
export class Tally {
  readonly byResult: Record<WycheproofResult, number> = { valid: 0, invalid: 0, acceptable: 0 };
  acceptableAccepted = 0;
  acceptableRejected = 0;
  readonly failures: string[] = [];
  count(t: WycheproofTest): void {
    this.byResult[t.result]++;
  }
  fail(t: WycheproofTest, why: string): void {
    this.failures.push(`tcId ${t.tcId} (${t.result}; ${t.flags.join(',')}; ${t.comment}): ${why}`);
  }
  get total(): number {
    return this.byResult.valid + this.byResult.invalid + this.byResult.acceptable;
  }
}
