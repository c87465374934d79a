/**
 * Hostile input to every OPAQUE function (spec/06-login-server.md §5, LOGIN-OPAQUE-2, LOGIN-OPAQUE-6):
 * truncated, extended, bit-flipped and random messages give a valid result, `undefined` (a failed
 * login), or a typed DecodeError (MISSING_FIELD when empty, MALFORMED otherwise), and nothing else; the
 * answer to a bad KE1 does not depend on whether the account exists; the caller's own mistakes are
 * ApiMisuse.
 */
import { ApiMisuse, DecodeError, ErrorCode, isParleyError } from '@parley/wire';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkRegistrationRecord,
  clientFinishLogin,
  clientFinishRegistration,
  clientStartLogin,
  clientStartRegistration,
  createServerSetup,
  finishLogin,
  KE2_BYTES,
  KE3_BYTES,
  opaqueReady,
  REGISTRATION_RECORD_BYTES,
  REGISTRATION_RESPONSE_BYTES,
  registrationResponse,
  SERVER_LOGIN_STATE_BYTES,
  SESSION_KEY_BYTES,
  startLogin,
} from '../../src/accounts/index.js';
import { type Registered, register } from './helpers.js';

const PASSWORD = 'correct horse battery staple';

/** Hostile variants of `original`: truncated (down to empty), extended, bit-flipped, random, constant. */
function mutated(original: Uint8Array): fc.Arbitrary<Uint8Array> {
  const n = original.length;
  return fc.oneof(
    fc.nat({ max: n - 1 }).map((k) => original.slice(0, k)),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => {
      const out = new Uint8Array(n + extra.length);
      out.set(original);
      out.set(extra, n);
      return out;
    }),
    fc.tuple(fc.nat({ max: n - 1 }), fc.nat({ max: 7 })).map(([i, bit]) => {
      const out = original.slice();
      out[i] = (out[i] ?? 0) ^ (1 << bit);
      return out;
    }),
    fc.uint8Array({ minLength: n, maxLength: n }),
    fc.uint8Array({ maxLength: 600 }),
    fc.constantFrom(new Uint8Array(n), new Uint8Array(n).fill(0xff), new Uint8Array(0)),
  );
}

/** What a call did: 'ok', or the error code of a typed DecodeError. Anything else fails the test. */
function outcome(f: () => unknown, expectedSize?: number): 'ok' | 'undefined' | number {
  let result: unknown;
  try {
    result = f();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw new Error(`not a DecodeError: ${String(e)}`, { cause: e });
    expect([ErrorCode.MALFORMED, ErrorCode.MISSING_FIELD]).toContain(e.code);
    return e.code;
  }
  if (result === undefined) return 'undefined';
  if (expectedSize !== undefined) expect(result).toHaveLength(expectedSize);
  return 'ok';
}

let setup: string;
let alice: Registered;
let ke1: Uint8Array;
let registrationRequest: Uint8Array;

beforeAll(async () => {
  await opaqueReady();
  setup = createServerSetup();
  alice = register(setup, 'alice', PASSWORD);
  ke1 = clientStartLogin(PASSWORD).ke1;
  registrationRequest = clientStartRegistration(PASSWORD).request;
});

describe('server functions', () => {
  it('[LOGIN-OPAQUE-2] [LOGIN-OPAQUE-6] registrationResponse: a response or a typed DecodeError', () => {
    fc.assert(
      fc.property(mutated(registrationRequest), (request) => {
        const r = outcome(() => registrationResponse(setup, 'alice', request), REGISTRATION_RESPONSE_BYTES);
        if (request.length === 0) expect(r).toBe(ErrorCode.MISSING_FIELD);
        else if (request.length !== registrationRequest.length) expect(r).toBe(ErrorCode.MALFORMED);
      }),
    );
  });

  it('[LOGIN-OPAQUE-2] [LOGIN-OPAQUE-6] [LOGIN-OPAQUE-19] startLogin: the same outcome for a known and an unknown name', () => {
    fc.assert(
      fc.property(mutated(ke1), (bad) => {
        const known = outcome(() => startLogin(setup, 'alice', alice.record, bad).ke2, KE2_BYTES);
        const unknown = outcome(() => startLogin(setup, 'alicf', undefined, bad).ke2, KE2_BYTES);
        expect(unknown).toBe(known);
        if (bad.length === 0) expect(known).toBe(ErrorCode.MISSING_FIELD);
        else if (bad.length !== ke1.length) expect(known).toBe(ErrorCode.MALFORMED);
      }),
    );
  });

  it('[LOGIN-OPAQUE-2] [LOGIN-OPAQUE-21] finishLogin: a 64-byte KE3 gives a key only when it is the real one', () => {
    const c = clientStartLogin(PASSWORD);
    const s = startLogin(setup, 'alice', alice.record, c.ke1);
    const good = clientFinishLogin({ state: c.state, password: PASSWORD, username: 'alice', ke2: s.ke2 })!;
    const fake = startLogin(setup, 'alice', undefined, c.ke1).state;
    fc.assert(
      fc.property(mutated(good.ke3), (ke3) => {
        const r = outcome(() => finishLogin(s.state, ke3), SESSION_KEY_BYTES);
        const sameAsGood = ke3.length === KE3_BYTES && ke3.every((b, i) => b === good.ke3[i]);
        if (ke3.length === KE3_BYTES) expect(r).toBe(sameAsGood ? 'ok' : 'undefined');
        else expect(r).toBe(ke3.length === 0 ? ErrorCode.MISSING_FIELD : ErrorCode.MALFORMED);
        // Against a fake record's state nothing ever verifies, not even the real KE3.
        expect(outcome(() => finishLogin(fake, ke3))).toBe(ke3.length === KE3_BYTES ? 'undefined' : r);
      }),
    );
  });

  it('[LOGIN-OPAQUE-2] [LOGIN-OPAQUE-14] checkRegistrationRecord: accepted or a typed DecodeError', () => {
    let rejected = 0;
    fc.assert(
      fc.property(mutated(alice.record), (record) => {
        const r = outcome(() => checkRegistrationRecord(record));
        if (r !== 'undefined') rejected++;
        if (record.length !== REGISTRATION_RECORD_BYTES) expect(r).not.toBe('undefined');
      }),
    );
    expect(rejected).toBeGreaterThan(0);
    // A client public key that is not a valid element (all 0xff), and the identity (all zero).
    const bad = alice.record.slice();
    bad.fill(0xff, 0, 32);
    expect(outcome(() => checkRegistrationRecord(bad))).toBe(ErrorCode.MALFORMED);
    bad.fill(0, 0, 32);
    expect(outcome(() => checkRegistrationRecord(bad))).toBe(ErrorCode.MALFORMED);
  });
});

describe('client functions', () => {
  // Each mutation that still parses costs a key stretching: few runs.
  it('[LOGIN-OPAQUE-6] clientFinishRegistration: a record or a typed DecodeError', () => {
    const start = clientStartRegistration(PASSWORD);
    const response = registrationResponse(setup, 'alice', start.request);
    // The reflected blinded element (RFC 9807 input validation) is refused.
    const reflected = new Uint8Array(REGISTRATION_RESPONSE_BYTES);
    reflected.set(start.request);
    reflected.set(response.subarray(32), 32);
    expect(
      outcome(() =>
        clientFinishRegistration({ state: start.state, password: PASSWORD, username: 'alice', response: reflected }),
      ),
    ).toBe(ErrorCode.MALFORMED);
    fc.assert(
      fc.property(
        mutated(response).filter((r) => r.length !== REGISTRATION_RESPONSE_BYTES || r[0] !== response[0]),
        (bad) => {
          outcome(() =>
            clientFinishRegistration({ state: start.state, password: PASSWORD, username: 'alice', response: bad }),
          );
        },
      ),
      { numRuns: 12 },
    );
  });

  it('[LOGIN-OPAQUE-6] [LOGIN-OPAQUE-23] clientFinishLogin: undefined or a typed DecodeError for anything but the real KE2', () => {
    const c = clientStartLogin(PASSWORD);
    const { ke2 } = startLogin(setup, 'alice', alice.record, c.ke1);
    fc.assert(
      fc.property(
        mutated(ke2).filter((k) => k.length !== KE2_BYTES || k.some((b, i) => b !== ke2[i])),
        (bad) => {
          const r = outcome(() =>
            clientFinishLogin({ state: c.state, password: PASSWORD, username: 'alice', ke2: bad }),
          );
          expect(r).not.toBe('ok');
        },
      ),
      { numRuns: 12 },
    );
  });
});

describe("the caller's mistakes", () => {
  function misuse(f: () => unknown): void {
    expect(f).toThrow(ApiMisuse);
    try {
      f();
    } catch (e) {
      expect(isParleyError(e, ErrorCode.API_MISUSE)).toBe(true);
    }
  }

  it('[LOGIN-OPAQUE-4] a name that is not normalised is ApiMisuse', () => {
    misuse(() => registrationResponse(setup, 'Alice', registrationRequest));
    misuse(() => startLogin(setup, ' alice', alice.record, ke1));
    misuse(() => startLogin(setup, 'a', undefined, ke1));
    const c = clientStartLogin(PASSWORD);
    misuse(() =>
      clientFinishLogin({ state: c.state, password: PASSWORD, username: 'ALICE', ke2: new Uint8Array(KE2_BYTES) }),
    );
  });

  it('states and stored records of the wrong form are ApiMisuse, not a peer error', () => {
    misuse(() => finishLogin(new Uint8Array(SERVER_LOGIN_STATE_BYTES - 1), new Uint8Array(KE3_BYTES)));
    misuse(() => startLogin(setup, 'alice', new Uint8Array(10), ke1));
    misuse(() => startLogin(setup, 'alice', new Uint8Array(REGISTRATION_RECORD_BYTES).fill(0xff), ke1));
    misuse(() => registrationResponse('not a setup', 'alice', registrationRequest));
    misuse(() => startLogin('not a setup', 'alice', undefined, ke1));
    misuse(() => registrationResponse(setup, 'alice', [1, 2, 3] as unknown as Uint8Array));
    const c = clientStartLogin(PASSWORD);
    misuse(() =>
      clientFinishLogin({
        state: c.state.subarray(1),
        password: PASSWORD,
        username: 'alice',
        ke2: new Uint8Array(KE2_BYTES),
      }),
    );
    // A client state of the right size but not a state at all.
    misuse(() =>
      clientFinishLogin({
        state: new Uint8Array(c.state.length).fill(0xff),
        password: PASSWORD,
        username: 'alice',
        ke2: startLogin(setup, 'alice', alice.record, c.ke1).ke2,
      }),
    );
  });
});
