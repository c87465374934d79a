/**
 * The in-flight accounting `serve` uses to shut down (src/cli/serve.ts trackInFlight): the runner's
 * close() drops channels at once, and shutdown then waits, bounded, for the core calls already running
 * before it closes the store.
 */
import { describe, expect, it } from 'vitest';
import { trackInFlight } from '../../src/cli/serve.js';
import type { LoginServerCore } from '../../src/server/core.js';
import { openCore, testNetwork } from '../server/fixtures.js';

describe('serve: waiting for requests in flight', () => {
  it('idle() resolves when the running handle/refresh calls settle, or false at the bound', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    class Fake {
      readonly #secret = 7;
      async handle() {
        await gate;
        return { kind: 'close' };
      }
      async refresh() {
        throw new Error('store closed');
      }
      get secret() {
        return this.#secret;
      }
    }
    const fake = new Fake();
    const t = trackInFlight(fake as unknown as LoginServerCore);
    expect(await t.idle(10)).toBe(true);
    const handled = t.core.handle(undefined as never, undefined as never);
    const refreshed = t.core.refresh().catch((e: Error) => e.message);
    expect(t.inFlight()).toBe(2);
    expect(await refreshed).toBe('store closed');
    expect(t.inFlight()).toBe(1);
    expect(await t.idle(20)).toBe(false);
    const idle = t.idle(5_000);
    release();
    await handled;
    expect(await idle).toBe(true);
    expect(t.inFlight()).toBe(0);
    // Everything else is the core's own, private fields included (getters run on the real object).
    expect((t.core as unknown as { secret: number }).secret).toBe(7);
  });

  it('a real core behind the view: getters and methods with private fields work', async () => {
    const { core, store } = await openCore(await testNetwork('cli shutdown'));
    const t = trackInFlight(core);
    expect(t.core.versions()).toEqual(core.versions());
    expect(t.core.policy.version).toBe(1);
    expect(t.core.trustAnchors).toBe(core.trustAnchors);
    expect(t.core.identityForChannels().chain).toHaveLength(1);
    await t.core.refresh();
    expect(t.inFlight()).toBe(0);
    await store.close();
  });
});
