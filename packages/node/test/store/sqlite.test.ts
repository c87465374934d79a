import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteNodeStore } from '../../src/store/index.js';
import { nodeStoreContract } from './contract.js';

nodeStoreContract('sqlite', () => new SqliteNodeStore(':memory:'));

describe('SqliteNodeStore on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-node-store-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('[NODE-STORE-1] [NODE-STORE-2] [NODE-STORE-3] keeps everything across a close and reopen', () => {
    const path = join(dir, 'node.db');
    const d = new Uint8Array(16).fill(7);
    const a = new SqliteNodeStore(path);
    a.putList({ epoch: 3, pages: [new Uint8Array([1])], loginCertificates: [new Uint8Array([2])] });
    a.putHostStat({ keyId: d, lastSuccessAt: 5, failures: 0 });
    const seq = a.nextPresenceSequence(d, 100);
    a.set('bob', d, 42);
    a.putContactList(new Uint8Array([3, 4]));
    a.putSecret('e2e', new Uint8Array([5]));
    a.addProcessed('bob', d, 9);
    a.close();

    const b = new SqliteNodeStore(path);
    expect(b.getList()).toEqual({ epoch: 3, pages: [new Uint8Array([1])], loginCertificates: [new Uint8Array([2])] });
    expect(b.hostStats()).toEqual([{ keyId: d, lastSuccessAt: 5, failures: 0 }]);
    expect(b.nextPresenceSequence(d, 0)).toBe(seq + 1);
    expect(b.get('bob', d)).toBe(42);
    expect(b.getContactList()).toEqual(new Uint8Array([3, 4]));
    expect(b.getSecret('e2e')).toEqual(new Uint8Array([5]));
    expect(b.has('bob', d)).toBe(true);
    b.close();
  });
});
