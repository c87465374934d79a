/**
 * DirectoryTable (spec/07-supernode.md §6): the holder's rules DIR-HOLD-*, the lookup answers DIR-LOOK-*.
 */
import { ErrorCode, isParleyError, type ParleyError } from '@parley/wire';
import { describe, expect, it } from 'vitest';
import {
  DirectoryTable,
  MAX_DEVICES_PER_USER,
  RECORD_OVERHEAD_BYTES,
  USER_OVERHEAD_BYTES,
} from '../../src/directory/table.js';
import { facts, Status } from './facts.js';

function thrown(f: () => unknown): ParleyError {
  try {
    f();
  } catch (e) {
    if (isParleyError(e)) return e;
    throw e;
  }
  throw new Error('did not throw');
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('DirectoryTable: what a holder keeps', () => {
  it('[DIR-HOLD-1] keys a record by its certified user name: one user cannot fill another user’s slots', () => {
    const t = new DirectoryTable();
    for (let d = 0; d < MAX_DEVICES_PER_USER; d++) t.offer(facts({ user: 'mallory', device: d }), 0);
    expect(thrown(() => t.offer(facts({ user: 'mallory', device: 99 }), 0)).code).toBe(ErrorCode.QUOTA_EXCEEDED);
    // Alice's slots are untouched by mallory's full set, and the same device id under another name is another record.
    for (let d = 0; d < MAX_DEVICES_PER_USER; d++)
      expect(t.offer(facts({ user: 'alice', device: d }), 0)).toBe('stored');
    expect(
      t
        .lookup('alice', 1)
        .map(text)
        .every((s) => s.startsWith('alice/')),
    ).toBe(true);
    expect(
      t
        .lookup('mallory', 1)
        .map(text)
        .every((s) => s.startsWith('mallory/')),
    ).toBe(true);
    expect(t.stats().records).toBe(2 * MAX_DEVICES_PER_USER);
  });

  it('[DIR-HOLD-2] keeps the highest sequence per device; a lower sequence is STALE and changes nothing', () => {
    const t = new DirectoryTable();
    expect(t.offer(facts({ sequence: 5 }), 0)).toBe('stored');
    expect(t.offer(facts({ sequence: 7 }), 0)).toBe('stored');
    expect(t.sequenceOf('alice', facts().deviceId, 1)).toBe(7);
    const e = thrown(() => t.offer(facts({ sequence: 6 }), 0));
    expect(e.code).toBe(ErrorCode.STALE);
    expect(e.kind).toBe('refused');
    expect(t.lookup('alice', 1).map(text)).toEqual([text(facts({ sequence: 7 }).envelope)]);
    expect(t.stats()).toMatchObject({ users: 1, records: 1, stored: 2, stale: 1 });
  });

  it('[DIR-HOLD-3] the held sequence with the same bytes is a duplicate; with other bytes it is STALE', () => {
    const t = new DirectoryTable();
    t.offer(facts({ sequence: 3 }), 0);
    expect(t.offer(facts({ sequence: 3 }), 10)).toBe('duplicate');
    expect(thrown(() => t.offer(facts({ sequence: 3, variant: 1 }), 10)).code).toBe(ErrorCode.STALE);
    expect(t.lookup('alice', 11).map(text)).toEqual([text(facts({ sequence: 3 }).envelope)]);
    expect(t.stats()).toMatchObject({ stored: 1, duplicates: 1, stale: 1 });
  });

  it('[DIR-HOLD-4] holds at most 8 devices of a user', () => {
    const t = new DirectoryTable();
    for (let d = 0; d < MAX_DEVICES_PER_USER; d++) t.offer(facts({ device: d }), 0);
    expect(thrown(() => t.offer(facts({ device: 8 }), 0)).code).toBe(ErrorCode.QUOTA_EXCEEDED);
    expect(t.lookup('alice', 1)).toHaveLength(MAX_DEVICES_PER_USER);
    // A held device still refreshes when all 8 slots are taken.
    expect(t.offer(facts({ device: 3, sequence: 2 }), 0)).toBe('stored');
    expect(t.stats()).toMatchObject({ records: 8, quotaRefused: 1 });
  });

  it('[DIR-HOLD-5] a ninth device replaces the OFFLINE record that expires first, or is QUOTA_EXCEEDED', () => {
    const t = new DirectoryTable();
    for (let d = 0; d < 6; d++) t.offer(facts({ device: d, expiresAt: 500_000 + d }), 0);
    t.offer(facts({ device: 6, status: Status.PRESENCE_STATUS_OFFLINE, expiresAt: 400_000 }), 0);
    t.offer(facts({ device: 7, status: Status.PRESENCE_STATUS_OFFLINE, expiresAt: 300_000 }), 0);
    expect(t.offer(facts({ device: 8 }), 0)).toBe('stored');
    expect(t.sequenceOf('alice', facts({ device: 7 }).deviceId, 1)).toBeUndefined();
    expect(t.sequenceOf('alice', facts({ device: 6 }).deviceId, 1)).toBe(1);
    expect(t.offer(facts({ device: 9 }), 0)).toBe('stored');
    expect(t.sequenceOf('alice', facts({ device: 6 }).deviceId, 1)).toBeUndefined();
    const e = thrown(() => t.offer(facts({ device: 10 }), 0));
    expect(e.code).toBe(ErrorCode.QUOTA_EXCEEDED);
    expect(e.kind).toBe('refused');
    expect(t.stats()).toMatchObject({ records: 8, evicted: 2 });
  });

  it('[DIR-HOLD-5] equal expiries: the OFFLINE record of the lower device id goes first', () => {
    const t = new DirectoryTable();
    for (let d = 0; d < 6; d++) t.offer(facts({ device: d }), 0);
    t.offer(facts({ device: 7, status: Status.PRESENCE_STATUS_OFFLINE, expiresAt: 300_000 }), 0);
    t.offer(facts({ device: 6, status: Status.PRESENCE_STATUS_OFFLINE, expiresAt: 300_000 }), 0);
    t.offer(facts({ device: 9 }), 0);
    expect(t.sequenceOf('alice', facts({ device: 6 }).deviceId, 1)).toBeUndefined();
    expect(t.sequenceOf('alice', facts({ device: 7 }).deviceId, 1)).toBe(1);
  });

  it('[DIR-HOLD-6] a record counts until the earlier of its expires_at and its certificate’s not_after', () => {
    const t = new DirectoryTable();
    t.offer(facts({ device: 1, expiresAt: 600_000, notAfter: 200_000 }), 0);
    t.offer(facts({ device: 2, expiresAt: 300_000, notAfter: 900_000 }), 0);
    expect(t.lookup('alice', 199_999)).toHaveLength(2);
    expect(t.lookup('alice', 200_000)).toHaveLength(1);
    expect(t.lookup('alice', 300_000)).toHaveLength(0);
    // An expired record is refused as STALE, whichever bound expired it.
    expect(thrown(() => t.offer(facts({ device: 3, expiresAt: 100 }), 100)).code).toBe(ErrorCode.STALE);
    expect(thrown(() => t.offer(facts({ device: 3, notAfter: 100 }), 100)).code).toBe(ErrorCode.STALE);
  });

  it('[DIR-HOLD-6] a device whose record expired starts again at any sequence; an expired slot is free', () => {
    const t = new DirectoryTable();
    for (let d = 0; d < MAX_DEVICES_PER_USER; d++) t.offer(facts({ device: d, sequence: 9, expiresAt: 1000 }), 0);
    expect(t.offer(facts({ device: 0, sequence: 1, issuedAt: 1000, expiresAt: 5000 }), 1000)).toBe('stored');
    expect(t.offer(facts({ device: 20, issuedAt: 1000, expiresAt: 5000 }), 1000)).toBe('stored');
    expect(t.stats()).toMatchObject({ records: 2, users: 1 });
  });

  it('[DIR-HOLD-7] sweep removes expired records with bounded work per call; lookups never see them', () => {
    const t = new DirectoryTable();
    for (let u = 0; u < 100; u++) t.offer(facts({ user: `user${u}`, expiresAt: 1000 + u }), 0);
    expect(t.nextExpiry()).toBe(1000);
    expect(t.lookup('user5', 1005)).toEqual([]);
    expect(t.sweep(1049, 10)).toBe(10);
    expect(t.stats().records).toBe(90);
    expect(t.sweep(1049)).toBe(40);
    expect(t.sweep(1049)).toBe(0);
    expect(t.nextExpiry()).toBe(1050);
    expect(t.stats()).toMatchObject({ users: 50, records: 50, expired: 50 });
    expect(t.holds('user49')).toBe(false);
    expect(t.holds('user50')).toBe(true);
  });

  it('[DIR-HOLD-7] a replaced record leaves the expiry order: only the held record expires', () => {
    const t = new DirectoryTable();
    for (let s = 1; s <= 2000; s++) t.offer(facts({ sequence: s, expiresAt: 600_000 + ((s * 7919) % 2000) }), 0);
    const heldExpiry = 600_000 + ((2000 * 7919) % 2000);
    expect(t.nextExpiry()).toBe(heldExpiry);
    expect(t.sweep(heldExpiry - 1)).toBe(0);
    expect(t.lookup('alice', 0)).toHaveLength(1);
    expect(t.sweep(heldExpiry)).toBe(1);
    expect(t.nextExpiry()).toBeUndefined();
    expect(t.stats()).toMatchObject({ records: 0, users: 0, bytes: 0 });
  });

  it('[DIR-HOLD-8] dropRevoked removes the records of revoked certificates only', () => {
    const t = new DirectoryTable();
    t.offer(facts({ user: 'alice', device: 1, serial: 11 }), 0);
    t.offer(facts({ user: 'alice', device: 2, serial: 12 }), 0);
    t.offer(facts({ user: 'bob', device: 1, serial: 21 }), 0);
    const revoked = new Set([12, 21, 99]);
    expect(t.dropRevoked((s) => revoked.has(s))).toBe(2);
    expect(t.lookup('alice', 1).map(text)).toEqual([text(facts({ user: 'alice', device: 1, serial: 11 }).envelope)]);
    expect(t.lookup('bob', 1)).toEqual([]);
    expect(t.stats()).toMatchObject({ users: 1, records: 1, revoked: 2 });
  });

  it('[DIR-HOLD-8] dropSerials removes the records of the serials a new revocation list added', () => {
    const t = new DirectoryTable();
    t.offer(facts({ user: 'alice', device: 1, serial: 11 }), 0);
    t.offer(facts({ user: 'alice', device: 2, serial: 12 }), 0);
    // Serials of different issuers may collide: both records go.
    t.offer(facts({ user: 'bob', device: 1, serial: 12 }), 0);
    // A refresh under a renewed certificate moves the device to its new serial.
    t.offer(facts({ user: 'alice', device: 1, sequence: 2, serial: 13 }), 0);
    expect(t.dropSerials([11])).toBe(0);
    expect(t.dropSerials([12, 12, 40])).toBe(2);
    expect(t.lookup('alice', 1).map(text)).toEqual([text(facts({ device: 1, sequence: 2, serial: 13 }).envelope)]);
    expect(t.dropSerials(new Set([13]))).toBe(1);
    expect(t.stats()).toMatchObject({ users: 0, records: 0, bytes: 0, revoked: 3 });
  });

  it('[DIR-HOLD-9] refuses with BUSY past maxUsers, maxRecords or maxBytes, and changes nothing', () => {
    const byUsers = new DirectoryTable({ maxUsers: 2 });
    byUsers.offer(facts({ user: 'alice' }), 0);
    byUsers.offer(facts({ user: 'bob' }), 0);
    const e = thrown(() => byUsers.offer(facts({ user: 'carol' }), 0));
    expect(e.code).toBe(ErrorCode.BUSY);
    expect(e.kind).toBe('resource');
    expect(byUsers.offer(facts({ user: 'bob', device: 2 }), 0)).toBe('stored');
    expect(byUsers.stats()).toMatchObject({ users: 2, records: 3, busy: 1 });

    const byRecords = new DirectoryTable({ maxRecords: 2 });
    byRecords.offer(facts({ device: 1 }), 0);
    byRecords.offer(facts({ device: 2 }), 0);
    expect(thrown(() => byRecords.offer(facts({ device: 3 }), 0)).code).toBe(ErrorCode.BUSY);
    expect(byRecords.offer(facts({ device: 2, sequence: 2 }), 0)).toBe('stored');

    const one = facts({ user: 'alice' });
    const perRecord = one.envelope.length + RECORD_OVERHEAD_BYTES;
    const byBytes = new DirectoryTable({ maxBytes: USER_OVERHEAD_BYTES + 5 + perRecord + 10 });
    byBytes.offer(one, 0);
    expect(byBytes.stats().bytes).toBe(USER_OVERHEAD_BYTES + 5 + perRecord);
    expect(thrown(() => byBytes.offer(facts({ sequence: 2, pad: 11 }), 0)).code).toBe(ErrorCode.BUSY);
    expect(byBytes.offer(facts({ sequence: 2, pad: 10 }), 0)).toBe('stored');
    expect(byBytes.lookup('alice', 1)[0]!.length).toBe(one.envelope.length + 10);
  });
});

describe('DirectoryTable: lookup answers', () => {
  it('[DIR-LOOK-1][DIR-HOLD-10] returns every unexpired record of the name, one per device, the bytes as offered', () => {
    const t = new DirectoryTable();
    const a = facts({ device: 1 });
    const b = facts({ device: 2, status: Status.PRESENCE_STATUS_OFFLINE });
    const c = facts({ device: 3, expiresAt: 50 });
    for (const f of [a, b, c]) t.offer(f, 0);
    const got = t.lookup('alice', 60);
    expect(got).toHaveLength(2);
    expect(got[0]).toBe(a.envelope);
    expect(got[1]).toBe(b.envelope);
  });

  it('[DIR-LOOK-2] answers a name with no record with an empty list, not NOT_FOUND', () => {
    const t = new DirectoryTable();
    expect(t.lookup('nobody', 0)).toEqual([]);
    t.offer(facts({ expiresAt: 10 }), 0);
    expect(t.lookup('alice', 10)).toEqual([]);
    expect(t.stats().lookups).toBe(2);
  });

  it('drop removes a name’s records and the user; names is a snapshot', () => {
    const t = new DirectoryTable();
    t.offer(facts({ user: 'alice', device: 1 }), 0);
    t.offer(facts({ user: 'alice', device: 2 }), 0);
    t.offer(facts({ user: 'bob' }), 0);
    const names = t.names();
    expect(names.sort()).toEqual(['alice', 'bob']);
    for (const n of names) t.drop(n);
    expect(t.drop('alice')).toBe(0);
    expect(t.stats()).toMatchObject({ users: 0, records: 0, bytes: 0, dropped: 3 });
    expect(t.size).toBe(0);
  });
});
