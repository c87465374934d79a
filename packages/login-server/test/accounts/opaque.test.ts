/**
 * OPAQUE round trips through the wrapper (spec/06-login-server.md §5, LOGIN-OPAQUE-*): registration,
 * login, wrong passwords, unknown users, the identities and key stretching every implementation must
 * reproduce, and password change. Each client finish stretches the password (about half a second), so
 * these tests share one registration where they can.
 */
import { ApiMisuse, bytesEqual, MAX_OPAQUE_MESSAGE_BYTES } from '@parley/wire';
import * as library from '@serenity-kit/opaque';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CLIENT_LOGIN_STATE_BYTES,
  CLIENT_REGISTRATION_STATE_BYTES,
  checkRegistrationRecord,
  clientStartLogin,
  clientStartRegistration,
  createServerSetup,
  EXPORT_KEY_BYTES,
  finishLogin,
  KE1_BYTES,
  KE2_BYTES,
  KE3_BYTES,
  KEY_STRETCHING,
  MAX_OPAQUE_BYTES,
  OPAQUE_PUBLIC_KEY_BYTES,
  opaqueReady,
  parseServerSetup,
  REGISTRATION_RECORD_BYTES,
  REGISTRATION_REQUEST_BYTES,
  REGISTRATION_RESPONSE_BYTES,
  registrationResponse,
  SERVER_LOGIN_STATE_BYTES,
  SERVER_SETUP_BYTES,
  SESSION_KEY_BYTES,
  serverPublicKey,
  startLogin,
} from '../../src/accounts/index.js';
import { flip, login, type Registered, register } from './helpers.js';

const PASSWORD = 'correct horse battery staple';
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'base64url'));

let setup: string;
let alice: Registered;

beforeAll(async () => {
  await opaqueReady();
  setup = createServerSetup();
  alice = register(setup, 'alice', PASSWORD);
});

describe('configuration', () => {
  it('[LOGIN-OPAQUE-2] [LOGIN-OPAQUE-5] every message has its fixed size, within the wire limit', () => {
    // RFC 9807 with Noe = Npk = Nn = 32 and Nh = Nm = Nx = 64.
    expect(REGISTRATION_REQUEST_BYTES).toBe(32);
    expect(REGISTRATION_RESPONSE_BYTES).toBe(32 + 32);
    expect(REGISTRATION_RECORD_BYTES).toBe(32 + 64 + (32 + 64));
    expect(KE1_BYTES).toBe(32 + 32 + 32);
    expect(KE2_BYTES).toBe(32 + 32 + (32 + 32 + 64) + 32 + 32 + 64);
    expect(KE3_BYTES).toBe(64);
    expect(SESSION_KEY_BYTES).toBe(64);
    expect(EXPORT_KEY_BYTES).toBe(64);
    expect(MAX_OPAQUE_BYTES).toBe(320);
    expect(MAX_OPAQUE_BYTES).toBeLessThanOrEqual(MAX_OPAQUE_MESSAGE_BYTES);
    expect(alice.record).toHaveLength(REGISTRATION_RECORD_BYTES);
    expect(alice.exportKey).toHaveLength(EXPORT_KEY_BYTES);
    const start = clientStartRegistration(PASSWORD);
    expect(start.request).toHaveLength(REGISTRATION_REQUEST_BYTES);
    expect(start.state).toHaveLength(CLIENT_REGISTRATION_STATE_BYTES);
    expect(registrationResponse(setup, 'alice', start.request)).toHaveLength(REGISTRATION_RESPONSE_BYTES);
    const ke1 = clientStartLogin(PASSWORD);
    expect(ke1.ke1).toHaveLength(KE1_BYTES);
    expect(ke1.state).toHaveLength(CLIENT_LOGIN_STATE_BYTES);
    const s = startLogin(setup, 'alice', alice.record, ke1.ke1);
    expect(s.ke2).toHaveLength(KE2_BYTES);
    expect(s.state).toHaveLength(SERVER_LOGIN_STATE_BYTES);
  });

  it('[LOGIN-OPAQUE-2] outputs are plain Uint8Arrays, not Buffers', () => {
    const start = clientStartRegistration(PASSWORD);
    expect(Object.getPrototypeOf(start.request)).toBe(Uint8Array.prototype);
    expect(Object.getPrototypeOf(alice.record)).toBe(Uint8Array.prototype);
  });

  it('[LOGIN-OPAQUE-7] a server setup is 128 secret bytes; a persisted one is checked on loading', () => {
    expect(Buffer.from(setup, 'base64url')).toHaveLength(SERVER_SETUP_BYTES);
    expect(setup).toHaveLength(171);
    expect(parseServerSetup(setup)).toBe(setup);
    expect(createServerSetup()).not.toBe(setup);
    expect(serverPublicKey(setup)).toHaveLength(OPAQUE_PUBLIC_KEY_BYTES);
    expect(() => parseServerSetup('')).toThrow(ApiMisuse);
    expect(() => parseServerSetup(`${setup}A`)).toThrow(ApiMisuse);
    expect(() => parseServerSetup(`${setup}=`)).toThrow(ApiMisuse); // padded: not the canonical form
    expect(() => parseServerSetup(Buffer.from(setup, 'base64url').toString('base64'))).toThrow(ApiMisuse);
    // 128 bytes whose private key is not a scalar and whose fake key is not a point.
    expect(() => parseServerSetup(b64(new Uint8Array(128).fill(0xff)))).toThrow(ApiMisuse);
    expect(() => serverPublicKey('not a setup')).toThrow(ApiMisuse);
  });

  it('[LOGIN-OPAQUE-3] the key stretching is Argon2id 64 MiB, t=3, p=4: the RFC 9106 memory-constrained option', () => {
    expect(KEY_STRETCHING).toEqual({
      algorithm: 'argon2id',
      version: 0x13,
      memoryKiB: 65_536,
      iterations: 3,
      parallelism: 4,
      saltBytes: 16,
      outputBytes: 64,
    });
    // The library's named preset (RFC 9106 §4, second option) opens the record the wrapper made with the
    // numbers; another cost does not.
    const open = (keyStretching: Parameters<typeof library.client.finishLogin>[0]['keyStretching']) => {
      const c = library.client.startLogin({ password: PASSWORD });
      const s = library.server.startLogin({
        serverSetup: setup,
        userIdentifier: 'alice',
        registrationRecord: b64(alice.record),
        startLoginRequest: c.startLoginRequest,
        identifiers: { client: 'alice' },
      });
      return library.client.finishLogin({
        clientLoginState: c.clientLoginState,
        loginResponse: s.loginResponse,
        password: PASSWORD,
        identifiers: { client: 'alice' },
        keyStretching,
      });
    };
    const ok = open('memory-constrained');
    expect(ok).toBeDefined();
    expect(bytesEqual(bytes(ok!.exportKey), alice.exportKey)).toBe(true);
    expect(open({ 'argon2id-custom': { iterations: 2, memory: 65_536, parallelism: 4 } })).toBeUndefined();
  });

  it('[LOGIN-OPAQUE-4] the record is bound to client_identity = the name, and to no explicit server_identity', () => {
    // The library, told other identities than the wrapper uses, cannot open the record.
    const open = (identifiers: { client?: string; server?: string } | undefined) => {
      const c = library.client.startLogin({ password: PASSWORD });
      const s = library.server.startLogin({
        serverSetup: setup,
        userIdentifier: 'alice',
        registrationRecord: b64(alice.record),
        startLoginRequest: c.startLoginRequest,
        ...(identifiers ? { identifiers } : {}),
      });
      return library.client.finishLogin({
        clientLoginState: c.clientLoginState,
        loginResponse: s.loginResponse,
        password: PASSWORD,
        keyStretching: 'memory-constrained',
        ...(identifiers ? { identifiers } : {}),
      });
    };
    expect(open(undefined)).toBeUndefined(); // client_identity would be the client's public key
    expect(open({ client: 'Alice' })).toBeUndefined(); // not the normalised name
    expect(open({ client: 'alice', server: 'parley' })).toBeUndefined(); // a server_identity other than the key
  });
});

describe('registration and login', () => {
  it('[LOGIN-OPAQUE-12] [LOGIN-OPAQUE-21] a registered user logs in: both sides derive the same session key', () => {
    const run = login(setup, 'alice', alice.record, PASSWORD);
    expect(run.client).toBeDefined();
    const key = finishLogin(run.serverState, run.client!.ke3);
    expect(key).toBeDefined();
    expect(key).toHaveLength(SESSION_KEY_BYTES);
    expect(bytesEqual(key!, run.client!.sessionKey)).toBe(true);
    // The export key is stable across logins; the server's key is authenticated by the envelope.
    expect(bytesEqual(run.client!.exportKey, alice.exportKey)).toBe(true);
    expect(bytesEqual(run.client!.serverPublicKey, serverPublicKey(setup))).toBe(true);
    expect(bytesEqual(alice.serverPublicKey, serverPublicKey(setup))).toBe(true);
    // A state is good for one KE3 only: another session's KE3 does not verify against it.
    const again = login(setup, 'alice', alice.record, PASSWORD);
    expect(finishLogin(again.serverState, run.client!.ke3)).toBeUndefined();
    expect(bytesEqual(finishLogin(again.serverState, again.client!.ke3)!, again.client!.sessionKey)).toBe(true);
    // Tampered and random KE3s.
    for (const i of [0, 31, 63]) expect(finishLogin(run.serverState, flip(run.client!.ke3, i))).toBeUndefined();
    expect(finishLogin(run.serverState, new Uint8Array(KE3_BYTES))).toBeUndefined();
  });

  it('[LOGIN-OPAQUE-21] [LOGIN-OPAQUE-23] a wrong password fails in the client; no KE3 it can make verifies', () => {
    const run = login(setup, 'alice', alice.record, 'correct horse battery stapler');
    expect(run.client).toBeUndefined();
    expect(run.ke2).toHaveLength(KE2_BYTES);
    expect(finishLogin(run.serverState, crypto.getRandomValues(new Uint8Array(KE3_BYTES)))).toBeUndefined();
  });

  it('[LOGIN-OPAQUE-19] [LOGIN-OPAQUE-24] an unknown user gets a KE2 of the same size, and fails like a wrong password', () => {
    const run = login(setup, 'nobody-here', undefined, PASSWORD);
    expect(run.ke2).toHaveLength(KE2_BYTES);
    expect(run.serverState).toHaveLength(SERVER_LOGIN_STATE_BYTES);
    expect(run.client).toBeUndefined(); // exactly what a wrong password gives
    expect(finishLogin(run.serverState, crypto.getRandomValues(new Uint8Array(KE3_BYTES)))).toBeUndefined();
    // Two fake KE2s for one name differ (fresh nonces, fresh masking key), as two real ones do.
    const ke1 = clientStartLogin(PASSWORD).ke1;
    const a = startLogin(setup, 'nobody-here', undefined, ke1).ke2;
    const b = startLogin(setup, 'nobody-here', undefined, ke1).ke2;
    expect(bytesEqual(a, b)).toBe(false);
    // The OPRF evaluation (the first 32 bytes) is keyed by the name alone, for real and unknown names alike.
    expect(bytesEqual(a.subarray(0, 32), b.subarray(0, 32))).toBe(true);
    const real1 = startLogin(setup, 'alice', alice.record, ke1).ke2;
    const fakeAlice = startLogin(setup, 'alice', undefined, ke1).ke2;
    expect(bytesEqual(real1.subarray(0, 32), fakeAlice.subarray(0, 32))).toBe(true);
  });

  it('[LOGIN-OPAQUE-4] a record does not open under another name', () => {
    // Alice's record stored under "mallory": the client logging in as mallory with alice's password fails.
    expect(login(setup, 'mallory', alice.record, PASSWORD).client).toBeUndefined();
  });

  it('[LOGIN-OPAQUE-7] a record does not open with another server setup', () => {
    expect(login(createServerSetup(), 'alice', alice.record, PASSWORD).client).toBeUndefined();
  });

  it('[LOGIN-OPAQUE-8] a password logs in whatever normalisation form and spaces it is typed with', () => {
    const typedAtRegistration = 'cre\u0300me\u00a0bru\u0302le\u0301e';
    const typedAtLogin = 'cr\u00e8me br\u00fbl\u00e9e';
    const carol = register(setup, 'carol', typedAtRegistration);
    const run = login(setup, 'carol', carol.record, typedAtLogin);
    expect(run.client).toBeDefined();
    expect(finishLogin(run.serverState, run.client!.ke3)).toBeDefined();
  });

  it('[LOGIN-OPAQUE-9] a client refuses to register a password shorter than 10 characters', () => {
    expect(() => clientStartRegistration('123456789')).toThrow(ApiMisuse);
    expect(() => clientStartRegistration('x'.repeat(1_025))).toThrow(ApiMisuse);
    expect(clientStartLogin('123456789').ke1).toHaveLength(KE1_BYTES); // [LOGIN-OPAQUE-11]
  });

  it('[LOGIN-OPAQUE-14] checkRegistrationRecord accepts a real record', () => {
    expect(() => checkRegistrationRecord(alice.record)).not.toThrow();
  });
});

describe('password change', () => {
  it('[LOGIN-OPAQUE-27] [LOGIN-OPAQUE-28] a new record replaces the old: the old password fails, the new one works', () => {
    const NEW = 'a completely new passphrase';
    const changed = register(setup, 'dave', 'the first passphrase');
    const after = register(setup, 'dave', NEW); // ChangePasswordStart/Finish compute exactly this
    checkRegistrationRecord(after.record);
    expect(bytesEqual(after.record, changed.record)).toBe(false);
    expect(bytesEqual(after.exportKey, changed.exportKey)).toBe(false); // the export key changes with the password
    expect(login(setup, 'dave', after.record, 'the first passphrase').client).toBeUndefined();
    const run = login(setup, 'dave', after.record, NEW);
    expect(run.client).toBeDefined();
    expect(finishLogin(run.serverState, run.client!.ke3)).toBeDefined();
  });
});
