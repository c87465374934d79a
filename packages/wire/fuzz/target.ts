/**
 * What a fuzz target is (see targets.ts for the registry), and the common kind: a decoder of bytes.
 */
import type fc from 'fast-check';
import { isParleyError } from '../src/errors.js';
import { fuzzInputArbitrary, hex } from './arbitraries.js';

export interface FuzzTarget<T = Uint8Array> {
  /** Unique, kebab-case; `--target GLOB` matches it. */
  readonly name: string;
  readonly description: string;
  /** The inputs. */
  readonly input: fc.Arbitrary<T>;
  /** The function under test. A plain `Error` thrown here (an invariant check) is a failure too. */
  readonly run: (input: T) => unknown;
  /** The errors `run` may throw; anything else is a failure. */
  readonly allowed: (error: unknown) => boolean;
  /** Prints an input for a failure report. */
  readonly format: (input: T) => string;
}

export interface DecoderTargetOptions {
  readonly name: string;
  readonly description?: string;
  /** Valid encodings: returned unchanged 1 in 8 times, mutated most of the time, else random bytes. */
  readonly valid: fc.Arbitrary<Uint8Array>;
  readonly decode: (bytes: Uint8Array) => unknown;
}

/** A target for a decoder of bytes: random bytes and mutations of `valid`; only ParleyError is allowed. */
export function decoderTarget(options: DecoderTargetOptions): FuzzTarget<unknown> {
  const target: FuzzTarget = {
    name: options.name,
    description: options.description ?? `${options.name} decoder`,
    input: fuzzInputArbitrary(options.valid),
    run: options.decode,
    allowed: (e) => isParleyError(e),
    format: (bytes) => `${bytes.length} bytes: ${hex(bytes)}`,
  };
  return target as FuzzTarget<unknown>;
}
