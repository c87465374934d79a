/**
 * The ceiling for the login figures: raw @serenity-kit/opaque server startLogin + finishLogin, one after
 * the other on one thread, with the library's own base64url inputs ready-made: no store, no protocol,
 * no certificate. Only the two server calls are timed; the client's finishLogin that makes each real KE3
 * runs between them, untimed. No login can be handled faster than this on one core.
 *
 * The same pass times the OPAQUE steps the core runs inside a request (through ../src/accounts, as the
 * core calls them) into the blocking profile: each is one synchronous WebAssembly call.
 */
import * as opaque from '@serenity-kit/opaque';
import {
  checkRegistrationRecord,
  clientStartLogin,
  clientStartRegistration,
  registrationResponse,
  startLogin,
} from '../src/accounts/index.js';
import { finishLogin, finishRegistration } from './client.js';
import { type BlockingProfile, type Bounds, cpuSince } from './measure.js';

const PASSWORD = 'bench password, not a secret';
const b64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');

/** Server startLogin + finishLogin per second (raw library), and the profile of the core's OPAQUE calls. */
export function opaqueCeiling(setup: string, b: Bounds, profile: BlockingProfile): number {
  const username = 'ceiling';
  const reg = clientStartRegistration(PASSWORD);
  const response = registrationResponse(setup, username, reg.request);
  const record = finishRegistration({ state: reg.state, password: PASSWORD, username, response });
  const recordText = b64(record);
  let timed = 0;
  let n = 0;
  const started = performance.now();
  const run = (count: number, keep: boolean) => {
    for (let i = 0; i < count; i++) {
      const client = clientStartLogin(PASSWORD);
      const ke1 = b64(client.ke1);
      const t0 = performance.now();
      const s = opaque.server.startLogin({
        serverSetup: setup,
        userIdentifier: username,
        registrationRecord: recordText,
        startLoginRequest: ke1,
        identifiers: { client: username },
      });
      const t1 = performance.now();
      const ke3 = finishLogin({
        state: client.state,
        password: PASSWORD,
        username,
        ke2: new Uint8Array(Buffer.from(s.loginResponse, 'base64url')),
      });
      const ke3Text = b64(ke3);
      const t2 = performance.now();
      opaque.server.finishLogin({ serverLoginState: s.serverLoginState, finishLoginRequest: ke3Text });
      const t3 = performance.now();
      if (keep) {
        timed += t1 - t0 + (t3 - t2);
        n++;
      }
    }
  };
  run(20, false); // warm-up
  while (timed < b.minMs && n < b.maxOps && performance.now() - started < b.deadlineMs) run(16, true);

  // The core's OPAQUE steps, each a synchronous piece of a request.
  const ke1 = clientStartLogin(PASSWORD).ke1;
  const samples = Math.min(200, Math.max(20, n));
  for (let i = 0; i < samples; i++) {
    const sample = (label: string, f: () => unknown) => {
      const c = process.cpuUsage();
      const t = performance.now();
      f();
      profile.record(label, performance.now() - t, cpuSince(c));
    };
    sample('OPAQUE startLogin (LoginStart; WebAssembly)', () => startLogin(setup, username, record, ke1));
    sample('OPAQUE registrationResponse (RegisterStart; WebAssembly)', () =>
      registrationResponse(setup, username, reg.request),
    );
    sample('OPAQUE checkRegistrationRecord (RegisterFinish; WebAssembly)', () => checkRegistrationRecord(record));
  }
  return (n * 1000) / timed;
}
