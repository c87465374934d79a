// What a peer can make the login server hold is bounded: spec/06-login-server.md §3 (LOGIN-RES-1).
import { ErrorCode, type Packet } from '@parley/wire';
import { describe, expect, it } from 'vitest';
import { clientStartRegistration } from '../../src/accounts/index.js';
import { rawChannel, world } from './fixtures.js';

describe('resource bounds [LOGIN-RES-1]', () => {
  it('[LOGIN-RES-1] a connection beyond maxConnections is reset before its handshake', async () => {
    const w = await world({ maxConnections: 2 });
    await rawChannel(w);
    await rawChannel(w);
    await expect(rawChannel(w)).rejects.toMatchObject({ code: ErrorCode.HANDSHAKE_INCOMPLETE });
    expect(w.server.stats.refusedConnections).toBe(1);
  });

  it('[LOGIN-RES-1] requests queued beyond the per-channel bound are refused RESOURCE_LIMIT; the channel stays open', async () => {
    const w = await world({ storeDelayMs: 200 });
    const c = await rawChannel(w);
    const answers: Promise<Packet>[] = [];
    for (let i = 0; i < 24; i++) {
      answers.push(
        c.request({
          case: 'registerStart',
          value: {
            username: `queued${i}`,
            registrationRequest: clientStartRegistration('a long enough password').request,
          },
        }),
      );
    }
    const replies = await w.run(Promise.all(answers), 10 * 60_000);
    const limited = replies.filter((p) => p.body.case === 'error' && p.body.value.code === ErrorCode.RESOURCE_LIMIT);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.length).toBeLessThanOrEqual(24 - 16);
    expect(c.channel.closed).toBe(false);
    const policy = await w.run(c.request({ case: 'getPolicy', value: { knownVersion: 0 } }));
    expect(policy.body.case).toBe('policyReply');
  });
});
