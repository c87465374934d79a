/**
 * DirectoryTable against a reference model (spec/07-supernode.md §6): random offers with sequences,
 * expiries, statuses and certificate lifetimes, time passing, sweeps with small budgets, revocations and
 * drops. The model is the rule text written as plainly as possible: per (user, device) the record with
 * the highest sequence, an expired record as if absent, 8 devices, OFFLINE records make room.
 */
import { ErrorCode, isParleyError } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DirectoryTable, MAX_DEVICES_PER_USER, type PresenceFacts } from '../../src/directory/table.js';
import { facts, Status } from './facts.js';

interface ModelRecord {
  device: number;
  sequence: number;
  expiresAt: number;
  offline: boolean;
  serial: number;
  envelope: string;
}

type Outcome = 'stored' | 'duplicate' | ErrorCode;

class Model {
  readonly users = new Map<string, ModelRecord[]>();

  live(user: string, now: number): ModelRecord[] {
    return (this.users.get(user) ?? []).filter((r) => r.expiresAt > now);
  }

  offer(user: string, r: ModelRecord, now: number): Outcome {
    if (r.expiresAt <= now) return ErrorCode.STALE;
    const records = this.live(user, now);
    const held = records.find((x) => x.device === r.device);
    if (held !== undefined) {
      if (held.sequence === r.sequence && held.envelope === r.envelope) return 'duplicate';
      if (r.sequence <= held.sequence) return ErrorCode.STALE;
      this.users.set(user, [...records.filter((x) => x !== held), r]);
      return 'stored';
    }
    if (records.length >= MAX_DEVICES_PER_USER) {
      const offline = records.filter((x) => x.offline).sort((a, b) => a.expiresAt - b.expiresAt || a.device - b.device);
      if (offline.length === 0) return ErrorCode.QUOTA_EXCEEDED;
      this.users.set(user, [...records.filter((x) => x !== offline[0]), r]);
      return 'stored';
    }
    this.users.set(user, [...records, r]);
    return 'stored';
  }

  revoke(serials: ReadonlySet<number>): void {
    for (const [u, rs] of this.users)
      this.users.set(
        u,
        rs.filter((r) => !serials.has(r.serial)),
      );
  }
}

type Op =
  | {
      op: 'offer';
      user: number;
      device: number;
      sequence: number;
      life: number;
      certLife: number;
      offline: boolean;
      variant: number;
    }
  | { op: 'tick'; ms: number }
  | { op: 'sweep'; budget: number }
  | { op: 'revoke'; serials: number[]; byPredicate: boolean }
  | { op: 'drop'; user: number }
  | { op: 'lookup'; user: number };

const USERS = ['alice', 'bob', 'carol'];
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('offer' as const),
      user: fc.nat({ max: 2 }),
      device: fc.nat({ max: 11 }),
      sequence: fc.integer({ min: 1, max: 6 }),
      life: fc.integer({ min: 1, max: 900 }),
      certLife: fc.integer({ min: 1, max: 2000 }),
      offline: fc.boolean(),
      variant: fc.nat({ max: 1 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('sweep' as const), budget: fc.integer({ min: 1, max: 5 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('revoke' as const),
      serials: fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 3 }),
      byPredicate: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drop' as const), user: fc.nat({ max: 2 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('lookup' as const), user: fc.nat({ max: 2 }) }) },
);

const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

function attempt(f: () => 'stored' | 'duplicate'): Outcome {
  try {
    return f();
  } catch (e) {
    if (isParleyError(e)) return e.code;
    throw e;
  }
}

describe('DirectoryTable: model', () => {
  it('[DIR-HOLD-2][DIR-HOLD-3][DIR-HOLD-4][DIR-HOLD-5][DIR-HOLD-6][DIR-HOLD-7][DIR-HOLD-8][DIR-LOOK-1][DIR-LOOK-2] agrees with the reference model', () => {
    fc.assert(
      fc.property(fc.array(arbOp, { minLength: 1, maxLength: 200 }), (ops) => {
        const table = new DirectoryTable();
        const model = new Model();
        let now = 0;
        for (const o of ops) {
          switch (o.op) {
            case 'offer': {
              const user = USERS[o.user]!;
              // The serial is the device's (one certificate per device), so revocation is per device.
              const f: PresenceFacts = facts({
                user,
                device: o.device,
                sequence: o.sequence,
                issuedAt: now,
                expiresAt: now + o.life,
                notAfter: now + o.certLife,
                status: o.offline ? Status.PRESENCE_STATUS_OFFLINE : Status.PRESENCE_STATUS_ONLINE,
                serial: o.device,
                variant: o.variant,
              });
              const r: ModelRecord = {
                device: o.device,
                sequence: o.sequence,
                expiresAt: Math.min(now + o.life, now + o.certLife),
                offline: o.offline,
                serial: o.device,
                envelope: decode(f.envelope),
              };
              expect(attempt(() => table.offer(f, now))).toBe(model.offer(user, r, now));
              break;
            }
            case 'tick':
              now += o.ms;
              break;
            case 'sweep':
              table.sweep(now, o.budget);
              break;
            case 'revoke': {
              const s = new Set(o.serials);
              if (o.byPredicate) table.dropRevoked((x) => s.has(x));
              else table.dropSerials(o.serials);
              model.revoke(s);
              break;
            }
            case 'drop':
              table.drop(USERS[o.user]!);
              model.users.delete(USERS[o.user]!);
              break;
            case 'lookup': {
              const user = USERS[o.user]!;
              const got = table.lookup(user, now).map(decode).sort();
              expect(got).toEqual(
                model
                  .live(user, now)
                  .map((r) => r.envelope)
                  .sort(),
              );
              break;
            }
          }
        }
        // Counts agree once every expired record is swept.
        while (table.sweep(now, 3) > 0);
        let records = 0;
        for (const u of USERS) records += model.live(u, now).length;
        const st = table.stats();
        expect(st.records).toBe(records);
        expect(st.users).toBe(USERS.filter((u) => model.live(u, now).length > 0).length);
        for (const u of USERS) expect(table.holds(u)).toBe(model.live(u, now).length > 0);
        const expiries = USERS.flatMap((u) => model.live(u, now).map((r) => r.expiresAt));
        expect(table.nextExpiry()).toBe(expiries.length === 0 ? undefined : Math.min(...expiries));
      }),
      { numRuns: 300 },
    );
  });

  it('[DIR-HOLD-9] never holds more than its bounds, and every refusal past them is BUSY', () => {
    const arbLimits = fc.record({
      maxUsers: fc.integer({ min: 1, max: 3 }),
      maxRecords: fc.integer({ min: 1, max: 12 }),
      maxBytes: fc.integer({ min: 150, max: 3000 }),
    });
    fc.assert(
      fc.property(arbLimits, fc.array(arbOp, { maxLength: 150 }), (limits, ops) => {
        const table = new DirectoryTable(limits);
        let now = 0;
        for (const o of ops) {
          if (o.op === 'tick') now += o.ms;
          else if (o.op === 'sweep') table.sweep(now, o.budget);
          else if (o.op === 'offer') {
            const f = facts({
              user: USERS[o.user]!,
              device: o.device,
              sequence: o.sequence,
              issuedAt: now,
              expiresAt: now + o.life,
              pad: o.variant * 200,
            });
            const before = table.stats();
            const out = attempt(() => table.offer(f, now));
            if (out === ErrorCode.BUSY) {
              const after = table.stats();
              // Nothing changed but records found expired on the way.
              expect(after.records).toBeLessThanOrEqual(before.records);
              expect(after.stored).toBe(before.stored);
            }
          }
          const st = table.stats();
          expect(st.users).toBeLessThanOrEqual(limits.maxUsers);
          expect(st.records).toBeLessThanOrEqual(limits.maxRecords);
          expect(st.bytes).toBeLessThanOrEqual(limits.maxBytes);
        }
      }),
      { numRuns: 300 },
    );
  });
});
