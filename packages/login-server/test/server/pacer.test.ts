// One request started per event-loop turn: spec/06-login-server.md §3 (LOGIN-RES-2).
import { describe, expect, it } from 'vitest';
import { turnPacer } from '../../src/server/pacer.js';

describe('turnPacer [LOGIN-RES-2]', () => {
  it('[LOGIN-RES-2] releases one waiter per scheduled turn, first in first out', async () => {
    const turns: (() => void)[] = [];
    const pace = turnPacer((fn) => turns.push(fn));
    const started: number[] = [];
    const all = [1, 2, 3].map((n) => pace().then(() => started.push(n)));
    expect(turns).toHaveLength(1); // one turn scheduled at a time
    for (let turn = 1; turn <= 3; turn++) {
      turns.shift()!();
      await Promise.resolve();
      expect(started).toEqual([1, 2, 3].slice(0, turn));
    }
    await Promise.all(all);
    expect(turns).toHaveLength(0);
  });

  it('[LOGIN-RES-2] on Node, a burst of five requests starts in five different loop turns', async () => {
    const pace = turnPacer();
    let turn = 0;
    let counting = true;
    const count = (): void => {
      turn++;
      if (counting) setImmediate(count);
    };
    setImmediate(count); // one increment per iteration of the event loop
    const turnOf: number[] = [];
    await Promise.all(Array.from({ length: 5 }, () => pace().then(() => turnOf.push(turn))));
    counting = false;
    for (let i = 1; i < turnOf.length; i++) expect(turnOf[i]!).toBeGreaterThan(turnOf[i - 1]!);
  });

  it('[LOGIN-RES-2] without pacing the same burst would start in one turn (the test can tell)', async () => {
    let turn = 0;
    let counting = true;
    const count = (): void => {
      turn++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const turnOf: number[] = [];
    await new Promise<void>((r) => setImmediate(r));
    await Promise.all(Array.from({ length: 5 }, () => Promise.resolve().then(() => turnOf.push(turn))));
    counting = false;
    expect(new Set(turnOf).size).toBe(1);
  });
});
