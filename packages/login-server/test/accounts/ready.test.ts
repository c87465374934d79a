/**
 * The OPAQUE wrapper before `opaqueReady()` (spec/06-login-server.md §5): every function refuses with
 * ApiMisuse instead of failing inside the library. Its own file, so that no other test has made the
 * module ready (vitest isolates the modules of each test file).
 */
import { ApiMisuse } from '@parley/wire';
import { describe, expect, it } from 'vitest';
import {
  checkRegistrationRecord,
  clientStartLogin,
  clientStartRegistration,
  createServerSetup,
  finishLogin,
  opaqueReady,
  registrationResponse,
  startLogin,
} from '../../src/accounts/index.js';

describe('opaqueReady', () => {
  it('every function is ApiMisuse until opaqueReady() has resolved, and works after', async () => {
    expect(() => createServerSetup()).toThrow(ApiMisuse);
    expect(() => clientStartRegistration('correct horse battery')).toThrow(ApiMisuse);
    expect(() => clientStartLogin('correct horse battery')).toThrow(ApiMisuse);
    expect(() => registrationResponse('x', 'alice', new Uint8Array(32))).toThrow(ApiMisuse);
    expect(() => startLogin('x', 'alice', undefined, new Uint8Array(96))).toThrow(ApiMisuse);
    expect(() => finishLogin(new Uint8Array(128), new Uint8Array(64))).toThrow(ApiMisuse);
    expect(() => checkRegistrationRecord(new Uint8Array(192))).toThrow(ApiMisuse);
    await opaqueReady();
    await opaqueReady(); // idempotent
    const setup = createServerSetup();
    expect(startLogin(setup, 'alice', undefined, clientStartLogin('correct horse battery').ke1).ke2).toHaveLength(320);
  });
});
