/**
 * Timing loops for `pnpm bench`. Each figure runs a warm-up, then repeats the operation until at least
 * `minMs` have passed, and reports the best of `rounds` rounds (the least disturbed by the machine).
 */
export interface Figure {
  id: string;
  value: number;
  unit: string;
  higherIsBetter: boolean;
  target?: { value: number; note: string };
  peer?: { name: string; value: number };
  machine: string;
}

export interface MeasureOptions {
  minMs?: number;
  rounds?: number;
  warmupMs?: number;
}

/** Operations per second of a synchronous operation (best round). */
export function opsPerSecond(op: () => void, opts: MeasureOptions = {}): number {
  const { minMs = 1000, rounds = 3, warmupMs = 200 } = opts;
  const warm = performance.now();
  while (performance.now() - warm < warmupMs) op();
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < minMs) {
      for (let i = 0; i < 16; i++) op();
      n += 16;
      t = performance.now();
    }
    best = Math.max(best, (n * 1000) / (t - t0));
  }
  return best;
}

/** Operations per second of an asynchronous operation, awaited one at a time (best round). */
export async function opsPerSecondAsync(op: () => Promise<unknown>, opts: MeasureOptions = {}): Promise<number> {
  const { minMs = 1000, rounds = 3, warmupMs = 200 } = opts;
  const warm = performance.now();
  while (performance.now() - warm < warmupMs) await op();
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < minMs) {
      await op();
      n++;
      t = performance.now();
    }
    best = Math.max(best, (n * 1000) / (t - t0));
  }
  return best;
}
