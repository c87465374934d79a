/** Shared steps of the OPAQUE tests: a full registration and a full login through the wrapper. */
import {
  type ClientLoginFinish,
  clientFinishLogin,
  clientFinishRegistration,
  clientStartLogin,
  clientStartRegistration,
  registrationResponse,
  startLogin,
} from '../../src/accounts/index.js';

export interface Registered {
  readonly record: Uint8Array;
  readonly exportKey: Uint8Array;
  readonly serverPublicKey: Uint8Array;
}

/** Registers `username` with `password` against `setup` (one key stretching). */
export function register(setup: string, username: string, password: string): Registered {
  const start = clientStartRegistration(password);
  const response = registrationResponse(setup, username, start.request);
  return clientFinishRegistration({ state: start.state, password, username, response });
}

export interface LoginRun {
  readonly ke2: Uint8Array;
  /** The server's state after LoginStart. */
  readonly serverState: Uint8Array;
  /** The client's result: undefined when the client's finish failed. */
  readonly client: ClientLoginFinish | undefined;
}

/** Runs LoginStart and the client's finish (one key stretching); `record` undefined = unknown user. */
export function login(setup: string, username: string, record: Uint8Array | undefined, password: string): LoginRun {
  const start = clientStartLogin(password);
  const { ke2, state } = startLogin(setup, username, record, start.ke1);
  const client = clientFinishLogin({ state: start.state, password, username, ke2 });
  return { ke2, serverState: state, client };
}

/** A fresh copy of `bytes` with bit `bit` of byte `index` flipped. */
export function flip(bytes: Uint8Array, index: number, bit = 0): Uint8Array {
  const out = bytes.slice();
  out[index] = (out[index] ?? 0) ^ (1 << bit);
  return out;
}
