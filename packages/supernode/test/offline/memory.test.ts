/**
 * The OfflineStore contract (contract.ts) against MemoryOfflineStore: what an elected supernode may run
 * ([STORE-PERSIST-2]).
 */
import type { VerifiedOfflineMessage } from '@parley/wire';
import { describe, expect, it } from 'vitest';
import { MemoryOfflineStore } from '../../src/offline/index.js';
import { msg, offlineStoreContract } from './contract.js';

offlineStoreContract('MemoryOfflineStore', async (limits) => {
  const store = new MemoryOfflineStore(limits === undefined ? {} : { limits });
  return { store, cleanup: () => store.close() };
});

describe('the core hands over what @parley/wire verified', () => {
  it('[STORE-PERSIST-3] a VerifiedOfflineMessage is an OfflineMessageInput; its size is the size the store counts', async () => {
    const m = msg({ size: 77 });
    const verified: VerifiedOfflineMessage = { ...m, size: m.envelope.length, certificateSerial: 42 };
    const store = new MemoryOfflineStore();
    expect(await store.put(verified, 0)).toBe('stored');
    const [held] = (await store.fetch('bob', 1, 0)).messages;
    expect(held?.size).toBe(verified.size);
    expect(Buffer.from(held!.envelope).equals(Buffer.from(verified.envelope))).toBe(true);
    await store.close();
  });
});
