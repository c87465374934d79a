/**
 * The client halves of OPAQUE registration and login for the bench, with a CHEAP key-stretching function.
 *
 * A conforming client stretches the password with Argon2id at 64 MiB, 3 passes ([LOGIN-OPAQUE-3]): about
 * 0.4 s per registration or login here. The server never runs the key-stretching function: it stores the
 * registration record the client sends and runs startLogin/finishLogin on it, and a record made with a
 * cheap stretch has the same size, form and cost for the server. So bench accounts are registered, and
 * log in, with Argon2id at 8 KiB and 1 pass (consistently, or the login would fail): the server's work is
 * exactly what it is for real clients, and the bench does not spend minutes in client key stretching.
 * The client's steps still run outside the timed server phases (see run.ts).
 */
import * as opaque from '@serenity-kit/opaque';
import { prepareLoginPassword, prepareNewPassword } from '../src/accounts/password.js';

/** Argon2id at its smallest: the server cannot tell (see above). NOT for anything but this bench. */
const BENCH_KSF = { 'argon2id-custom': { iterations: 1, memory: 8, parallelism: 1 } } as const;

const b64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64url'));

/** RegistrationRecord for RegisterFinish (clientFinishRegistration with the bench's stretch). */
export function finishRegistration(p: {
  state: Uint8Array;
  password: string;
  username: string;
  response: Uint8Array;
}): Uint8Array {
  const r = opaque.client.finishRegistration({
    clientRegistrationState: b64(p.state),
    registrationResponse: b64(p.response),
    password: prepareNewPassword(p.password),
    identifiers: { client: p.username },
    keyStretching: BENCH_KSF,
  });
  return bytes(r.registrationRecord);
}

/** KE3 for LoginFinish (clientFinishLogin with the bench's stretch); throws when the login fails. */
export function finishLogin(p: { state: Uint8Array; password: string; username: string; ke2: Uint8Array }): Uint8Array {
  const r = opaque.client.finishLogin({
    clientLoginState: b64(p.state),
    loginResponse: b64(p.ke2),
    password: prepareLoginPassword(p.password),
    identifiers: { client: p.username },
    keyStretching: BENCH_KSF,
  });
  if (r === undefined) throw new Error(`bench client: login of ${p.username} failed`);
  return bytes(r.finishLoginRequest);
}
