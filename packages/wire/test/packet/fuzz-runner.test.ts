// The fuzz runner behind `pnpm fuzz` (spec/01-packets.md §9; WIRE-LIMIT-5): it must catch a decoder that
// throws anything but a ParleyError, report the seed, counterexample and replay command, and replay it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runTarget } from '../../fuzz/runner.js';
import { decoderTarget, matchTargets, targets } from '../../fuzz/targets.js';
import { DecodeError, ErrorCode } from '../../src/errors.js';

/** A decoder with a bug: it throws a RangeError for inputs that start with 0xff 0x01. */
const buggy = decoderTarget({
  name: 'buggy',
  valid: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  decode: (b) => {
    if (b[0] === 0xff && b[1] === 0x01) throw new RangeError('index out of range');
    if (b.length > 4) throw new DecodeError(ErrorCode.MALFORMED);
    return b;
  },
});

describe('fuzz runner [WIRE-LIMIT-5]', () => {
  it('[WIRE-LIMIT-5] registers the packet decoder', () => {
    expect(targets.map((t) => t.name)).toContain('packet');
    expect(matchTargets('pack*').map((t) => t.name)).toEqual(['packet']);
    expect(matchTargets('nothing')).toEqual([]);
  });

  it('[WIRE-LIMIT-5] [GEN-ERR-1] runs a target, allowing only ParleyError', () => {
    const ok = runTarget(matchTargets('packet')[0]!, { budget: 2_000, seed: 1 });
    expect(ok.failure).toBeUndefined();
    expect(ok.executions).toBe(2_000);
  });

  it('[WIRE-LIMIT-5] reports a failure with its seed, a shrunk counterexample and a replay that reproduces it', () => {
    const result = runTarget(buggy, { budget: 200_000, seed: 42 });
    expect(result.failure).toBeDefined();
    const f = result.failure!;
    expect(f.error).toMatch(/RangeError/);
    expect(f.counterexample).toBe('2 bytes: ff01');
    expect(f.replay).toBe(`pnpm fuzz --target buggy --seed ${f.seed} --path ${f.path} --budget 1`);
    const replay = runTarget(buggy, { budget: 1, seed: f.seed, path: f.path });
    expect(replay.failure?.counterexample).toBe('2 bytes: ff01');
  });

  it('[WIRE-LIMIT-5] treats an execution slower than the limit as a hang', () => {
    const slow = decoderTarget({
      name: 'slow',
      valid: fc.constant(new Uint8Array([1])),
      decode: () => {
        const until = performance.now() + 30;
        while (performance.now() < until) {}
      },
    });
    expect(runTarget(slow, { budget: 3, seed: 1, slowMs: 10 }).failure?.error).toMatch(/took \d+ ms twice/);
  });

  it('[WIRE-LIMIT-5] does not call a single pause of the machine a hang: a slow execution must be slow again', () => {
    let calls = 0;
    const pausedOnce = decoderTarget({
      name: 'paused-once',
      valid: fc.constant(new Uint8Array([1])),
      decode: () => {
        if (calls++ !== 1) return; // the second execution stalls, as a GC pause or a busy machine would
        const until = performance.now() + 30;
        while (performance.now() < until) {}
      },
    });
    expect(runTarget(pausedOnce, { budget: 5, seed: 1, slowMs: 10 }).failure).toBeUndefined();
  });
});
