/**
 * The sessions of a device (spec/10-e2e.md §7): two devices that start at random moments, send in both
 * directions, lose messages, receive them in any order and restart from storage converge on one session,
 * and every delivered message decrypts exactly once; what storage must keep (E2E-STORE-4); the standby
 * window that keeps a failed start from locking a pair out (E2E-STORE-3).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../src/codec/proto.js';
import { nodeCrypto } from '../../src/crypto/index.js';
import {
  decodeE2eMessage,
  E2eSessions,
  encodeE2eMessage,
  MAX_SESSIONS_PER_DEVICE,
  type RatchetMessage,
  STANDBY_WINDOW_MS,
} from '../../src/e2e/index.js';
import { DecodeError, ErrorCode } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import { caught, NOW } from '../identity/fixtures.js';
import { e2eWorld, peerOf, type TestDevice } from './fixtures.js';

const suite = nodeCrypto;
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A device and its session store as a running node holds them: the store can be replaced by a restart. */
class Party {
  store: E2eSessions;
  /** The next one-time prekey of this device a peer's fetch hands out (each once, 06 LOGIN-PREKEY-3). */
  nextOneTime = 1;
  constructor(
    readonly device: TestDevice,
    readonly oneTimeCount: number,
  ) {
    this.store = device.sessions;
  }
  /** A bundle as FetchPrekeys gives it: the next one-time prekey while there are some. */
  bundle() {
    return this.device.bundle(this.nextOneTime <= this.oneTimeCount ? this.nextOneTime++ : undefined);
  }
  /** [E2E-STORE-4] A restart: a new store from what the old one saved, peer by peer. */
  restart(): void {
    const fresh = new E2eSessions(suite, this.device.random, this.device.local, this.device.prekeys);
    for (const p of this.store.peers()) fresh.load(p, this.store.save(p));
    for (const p of this.store.peers()) expect(fresh.save(p).map(hex)).toEqual(this.store.save(p).map(hex));
    this.store = fresh;
  }
  send(to: Party, body: string, nowMs = NOW): Uint8Array {
    const peer = peerOf(to.device);
    if (!this.store.has(peer)) this.store.initiate(to.bundle(), nowMs);
    const [m] = this.store.encryptFor([peer], text(body));
    return encodeE2eMessage(m!.message);
  }
  receive(from: Party, wire: Uint8Array, nowMs = NOW): string {
    return str(this.store.decrypt(from.device.certificate, decodeE2eMessage(wire), nowMs));
  }
  active(of: Party): string {
    return hex(this.store.sessions(peerOf(of.device))[0]!.meta.baseKey);
  }
}

type Action =
  | { kind: 'send'; byAlice: boolean }
  | { kind: 'deliver'; pick: number }
  | { kind: 'drop'; pick: number }
  | { kind: 'restart'; alice: boolean };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('send' as const), byAlice: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), alice: fc.boolean() }) },
);

describe('sessions of a device', () => {
  it('[E2E-STORE-1] [E2E-STORE-2] [E2E-STORE-3] [E2E-STORE-4] [E2E-RATCHET-8] random starts, sends, losses, orders and restarts: every delivered message decrypts exactly once, and the pair ends on one session (property)', () => {
    let run = 0;
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 50 }), (plan) => {
        const w = e2eWorld(suite, `converge ${run++ % 5}`);
        const alice = new Party(w.device('alice', 8), 8);
        const bob = new Party(w.device('bob', 8), 8);
        const inFlight: { from: Party; to: Party; wire: Uint8Array; body: string }[] = [];
        const delivered: typeof inFlight = [];
        const deliver = (i: number) => {
          const [m] = inFlight.splice(i, 1);
          expect(m!.to.receive(m!.from, m!.wire)).toBe(m!.body);
          delivered.push(m!);
        };
        plan.forEach((a, i) => {
          if (a.kind === 'send') {
            const [from, to] = a.byAlice ? [alice, bob] : [bob, alice];
            const body = `m${i}`;
            inFlight.push({ from, to, wire: from.send(to, body), body });
          } else if (a.kind === 'deliver' && inFlight.length > 0) deliver(a.pick % inFlight.length);
          else if (a.kind === 'drop' && inFlight.length > 0) inFlight.splice(a.pick % inFlight.length, 1);
          else if (a.kind === 'restart') (a.alice ? alice : bob).restart();
        });
        while (inFlight.length > 0) deliver(0);
        // a replay of any delivered message is refused, and changes nothing
        for (const m of delivered) {
          expect(caught(() => m.to.receive(m.from, m.wire)).code).toBe(ErrorCode.DECRYPT_FAILED);
        }
        // one exchange without crossing messages: both sides are then on one session, and stay there
        for (let round = 0; round < 2; round++) {
          expect(bob.receive(alice, alice.send(bob, `settle a${round}`))).toBe(`settle a${round}`);
          expect(alice.receive(bob, bob.send(alice, `settle b${round}`))).toBe(`settle b${round}`);
          expect(alice.active(bob)).toBe(bob.active(alice));
        }
        for (const [p, q] of [
          [alice, bob],
          [bob, alice],
        ] as const) {
          expect(p.store.sessions(peerOf(q.device)).length).toBeLessThanOrEqual(MAX_SESSIONS_PER_DEVICE);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('[E2E-STORE-3] with each direction in order, starts that cross settle on the lower device’s session without a quiet exchange (property)', () => {
    let run = 0;
    const step = fc.record({ byAlice: fc.boolean(), send: fc.boolean(), lose: fc.boolean() });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (plan) => {
        const w = e2eWorld(suite, `crossing ${run++ % 5}`);
        const alice = new Party(w.device('alice', 4), 4);
        const bob = new Party(w.device('bob', 4), 4);
        // one FIFO queue per direction; `send: false` delivers the head of the queue (or loses it)
        const queues = new Map<Party, { wire: Uint8Array; body: string }[]>([
          [bob, []],
          [alice, []],
        ]);
        const heard = new Set<Party>();
        const initiated = new Set<Party>();
        plan.forEach((p, i) => {
          const [from, to] = p.byAlice ? [alice, bob] : [bob, alice];
          if (p.send) {
            if (!from.store.has(peerOf(to.device))) initiated.add(from);
            queues.get(to)!.push({ wire: from.send(to, `m${i}`), body: `m${i}` });
            return;
          }
          const m = queues.get(to)!.shift();
          if (m === undefined || p.lose) return;
          expect(to.receive(from, m.wire)).toBe(m.body);
          heard.add(to);
        });
        for (const [to, from] of [
          [bob, alice],
          [alice, bob],
        ] as const) {
          for (const m of queues.get(to)!.splice(0)) {
            expect(to.receive(from, m.wire)).toBe(m.body);
            heard.add(to);
          }
        }
        if (heard.size < 2) return; // one side has heard nothing yet: nothing to settle
        expect(alice.active(bob)).toBe(bob.active(alice));
        // when both started one, the lower device's (alice's) is the one
        if (initiated.size === 2) expect(alice.store.sessions(peerOf(bob.device))[0]!.meta.initiator).toBe(true);
        // crossing messages from now on stay on it
        for (let round = 0; round < 3; round++) {
          const a = alice.send(bob, `x${round}`);
          const b = bob.send(alice, `y${round}`);
          expect(bob.receive(alice, a)).toBe(`x${round}`);
          expect(alice.receive(bob, b)).toBe(`y${round}`);
          expect(alice.active(bob)).toBe(bob.active(alice));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('[E2E-STORE-3] a standby session becomes active once it decrypts a message standby-window after it was created', () => {
    const w = e2eWorld(suite, 'standby');
    const alice = new Party(w.device('alice'), 5);
    const bob = new Party(w.device('bob'), 5);
    // alice (the lower device) starts from a bundle whose signed prekey bob then lets go
    const lost = alice.send(bob, 'into the void');
    bob.device.prekeys.signed.delete(1);
    expect(caught(() => bob.receive(alice, lost)).code).toBe(ErrorCode.NOT_FOUND);
    // bob starts his own session; alice's own is unconfirmed and she sorts lower: bob's goes on standby
    expect(alice.receive(bob, bob.send(alice, 'hello?'))).toBe('hello?');
    const own = alice.active(bob);
    expect(alice.store.sessions(peerOf(bob.device))[1]!.standby).toBe(true);
    expect(alice.receive(bob, bob.send(alice, 'still there?'), NOW + STANDBY_WINDOW_MS - 1)).toBe('still there?');
    expect(alice.active(bob)).toBe(own);
    // the standby mark survives a restart
    alice.restart();
    expect(alice.store.sessions(peerOf(bob.device))[1]!.standby).toBe(true);
    expect(caught(() => bob.receive(alice, alice.send(bob, 'on my session'))).code).toBe(ErrorCode.NOT_FOUND);
    // a message standby-window after: bob's session takes over, and the pair talks
    expect(alice.receive(bob, bob.send(alice, 'an hour later'), NOW + STANDBY_WINDOW_MS)).toBe('an hour later');
    expect(alice.store.sessions(peerOf(bob.device))[0]!.standby).toBe(false);
    expect(alice.active(bob)).toBe(bob.active(alice));
    expect(bob.receive(alice, alice.send(bob, 'at last'))).toBe('at last');
    expect(alice.receive(bob, bob.send(alice, 'yes'))).toBe('yes');
    expect(alice.active(bob)).toBe(bob.active(alice));
  });
});

describe('storage', () => {
  it('[E2E-STORE-4] a state stored after encrypting goes on with the next key; an older one would reuse a key and nonce', () => {
    const w = e2eWorld(suite, 'storage');
    const alice = new Party(w.device('alice'), 5);
    const bob = new Party(w.device('bob'), 5);
    expect(bob.receive(alice, alice.send(bob, 'setup'))).toBe('setup');
    expect(alice.receive(bob, bob.send(alice, 'reply'))).toBe('reply');
    const peer = peerOf(bob.device);
    const before = alice.store.save(peer);
    const first = decodeE2eMessage(alice.send(bob, 'AAAAAAAAAAAAAAAA')).ratchet as RatchetMessage;
    // what a device must do: store after encrypting; a restart then uses the next key
    alice.restart();
    const second = decodeE2eMessage(alice.send(bob, 'BBBBBBBBBBBBBBBB')).ratchet as RatchetMessage;
    expect(hex(second.header)).not.toBe(hex(first.header));
    // what it must not: an older state puts the next plaintext under the same key and nonce
    const stale = new E2eSessions(suite, alice.device.random, alice.device.local, alice.device.prekeys);
    stale.load(peer, before);
    const [again] = stale.encryptFor([peer], text('BBBBBBBBBBBBBBBB'));
    const reused = again!.message.ratchet as RatchetMessage;
    expect(hex(reused.header)).toBe(hex(first.header));
    const xor = (a: Uint8Array, b: Uint8Array) => a.subarray(0, 16).map((x, i) => x ^ b[i]!);
    expect(hex(xor(first.ciphertext, reused.ciphertext))).toBe(
      hex(xor(text('AAAAAAAAAAAAAAAA'), text('BBBBBBBBBBBBBBBB'))),
    );
  });

  it('[E2E-STORE-4] [E2E-RATCHET-8] a state stored after decrypting refuses the message again after a restart', () => {
    const w = e2eWorld(suite, 'storage replay');
    const alice = new Party(w.device('alice'), 5);
    const bob = new Party(w.device('bob'), 5);
    const first = alice.send(bob, 'first');
    expect(bob.receive(alice, first)).toBe('first');
    const wire = alice.send(bob, 'second');
    expect(bob.receive(alice, wire)).toBe('second');
    bob.restart();
    expect(caught(() => bob.receive(alice, wire)).code).toBe(ErrorCode.DECRYPT_FAILED);
    expect(caught(() => bob.receive(alice, first)).code).toBe(ErrorCode.DECRYPT_FAILED);
    expect(alice.receive(bob, bob.send(alice, 'after the restart'))).toBe('after the restart');
  });

  it('load refuses bytes that are not a state, and changes nothing then', () => {
    const w = e2eWorld(suite, 'storage bad');
    const alice = new Party(w.device('alice'), 5);
    const bob = new Party(w.device('bob'), 5);
    expect(bob.receive(alice, alice.send(bob, 'setup'))).toBe('setup');
    const peer = peerOf(alice.device);
    const saved = bob.store.save(peer);
    const truncated = saved[0]!.subarray(0, saved[0]!.length - 3);
    expect(caught(() => bob.store.load(peer, [saved[0]!, truncated]))).toBeInstanceOf(DecodeError);
    // an initiator's unconfirmed session without the X3DH header it must repeat (E2E-X3DH-3)
    const fresh = new Party(w.device('carol'), 5);
    fresh.store.initiate(bob.bundle(), NOW);
    const state = decodeMessage<parley.v1.RatchetSessionState>(
      parley.v1.RatchetSessionState as never,
      fresh.store.save(peerOf(bob.device))[0]!,
      'state',
    );
    state.pending = null;
    const headerless = encodeMessage(parley.v1.RatchetSessionState, state);
    expect(caught(() => bob.store.load(peer, [headerless])).code).toBe(ErrorCode.MISSING_FIELD);
    expect(bob.store.save(peer).map(hex)).toEqual(saved.map(hex));
    expect(bob.store.peers().map((p) => p.username)).toEqual(['alice']);
    bob.store.load(peer, []);
    expect(bob.store.has(peer)).toBe(false);
  });
});
