/**
 * Test fixtures for the channel tests: a tiny network (root key, login certificate) and certified
 * user/supernode identities issued from it, plus a channel driver that runs two state machines
 * against each other in memory.
 */
import { seededRandom } from '../../src/crypto/index.js';
import type { CryptoSuite, Random } from '../../src/crypto/suite.js';
import { parley } from '../../src/gen/parley.js';
import { issueCertificate, Role } from '../../src/identity/certificate.js';
import type { LocalIdentity, VerifyPolicy } from '../../src/identity/handshake-payload.js';
import { createRootKey, generateSigningKey, type RootKey, type SigningKey } from '../../src/identity/keys.js';
import {
  type ChannelAction,
  type ChannelConfig,
  type ChannelState,
  type HandshakePayloadCodec,
  handleMessage,
  type Step,
} from '../../src/noise/channel.js';

export const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
export const HOUR = 3_600_000;

export interface Network {
  root: RootKey;
  login: SigningKey;
  loginCert: Uint8Array;
  random: Random;
  /** The next leaf serial: per network, so that equal seeds give equal bytes. */
  serial: number;
}

export function createNetwork(suite: CryptoSuite, seed = 'parley test network'): Network {
  const random = seededRandom(seed);
  const root = createRootKey(suite, random);
  const login = generateSigningKey(suite, random);
  const loginCert = issueCertificate(suite, root, {
    subject: 'login.example',
    subjectKey: login.publicKey,
    deviceId: new Uint8Array(16),
    role: Role.ROLE_LOGIN,
    serial: 1,
    notBefore: NOW - 30 * 24 * HOUR,
    notAfter: NOW + 30 * 24 * HOUR,
  });
  return { root, login, loginCert, random, serial: 100 };
}

export interface IdentityOptions {
  role?: Role;
  notBefore?: number;
  notAfter?: number;
  /** Issue with this key instead of the network's login key (a wrongly signed certificate). */
  issuer?: SigningKey;
  /** Flip one bit of the leaf certificate's signature (a wrongly signed certificate). */
  corruptSignature?: boolean;
}

export function issueIdentity(
  suite: CryptoSuite,
  net: Network,
  subject: string,
  o: IdentityOptions = {},
): LocalIdentity {
  const key = generateSigningKey(suite, net.random);
  const leaf = issueCertificate(suite, o.issuer ?? net.login, {
    subject,
    subjectKey: key.publicKey,
    deviceId: new Uint8Array(16).fill(7),
    role: o.role ?? Role.ROLE_USER,
    serial: net.serial++,
    notBefore: o.notBefore ?? NOW - HOUR,
    notAfter: o.notAfter ?? NOW + 23 * HOUR,
  });
  if (!o.corruptSignature) return { chain: [leaf, net.loginCert], seed: key.seed };
  const signed = parley.v1.Signed.decode(leaf);
  const signature = signed.signature.slice();
  signature[5]! ^= 0x10;
  const corrupted = parley.v1.Signed.encode({ ...signed, signature }).finish();
  return { chain: [corrupted, net.loginCert], seed: key.seed };
}

export function policy(net: Network, o: Partial<VerifyPolicy> = {}): VerifyPolicy {
  return {
    trustAnchors: [net.root.publicKey],
    nowMs: NOW,
    acceptedRoles: [Role.ROLE_USER, Role.ROLE_SUPERNODE],
    ...o,
  };
}

/** A payload codec that accepts anything: for transport tests that do not exercise identity. */
export function openCodec(versions: number[] = [1]): HandshakePayloadCodec<string> {
  return {
    build: (key) => Uint8Array.from([...key, 1]),
    verify: () => ({ peer: 'anyone', protocolVersions: versions, software: 'test' }),
  };
}

export interface Run<P> {
  initiator: Step<P>;
  responder: Step<P>;
  /** Every handshake message sent, in order (msg1, msg2, msg3 when they were sent). */
  messages: Uint8Array[];
}

function sends<P>(actions: readonly ChannelAction<P>[]): Uint8Array[] {
  return actions.flatMap((a) => (a.kind === 'Send' ? [a.message] : []));
}

/**
 * Runs a full handshake: `tamper(i, message)` may rewrite message i (0-based) in flight. Stops as soon
 * as a side closes or nothing is left to deliver.
 */
export function runHandshake<P>(
  start: { initiator: Step<P>; responder: Step<P> },
  tamper: (index: number, message: Uint8Array) => Uint8Array = (_, m) => m,
): Run<P> {
  let init = start.initiator;
  let resp = start.responder;
  const messages: Uint8Array[] = [];
  let toResponder = sends(init.actions);
  let toInitiator: Uint8Array[] = [];
  while (toResponder.length + toInitiator.length > 0) {
    for (const m of toResponder) {
      messages.push(m);
      const delivered = tamper(messages.length - 1, m);
      if (!isHandshaking(resp.state)) break;
      resp = handleMessage(resp.state, delivered);
      toInitiator.push(...sends(resp.actions));
    }
    toResponder = [];
    for (const m of toInitiator) {
      messages.push(m);
      const delivered = tamper(messages.length - 1, m);
      if (!isHandshaking(init.state)) break;
      init = handleMessage(init.state, delivered);
      toResponder.push(...sends(init.actions));
    }
    toInitiator = [];
  }
  return { initiator: init, responder: resp, messages };
}

export function isHandshaking<P>(state: ChannelState<P>): boolean {
  return state.kind !== 'Established' && state.kind !== 'Closed';
}

export function config<P>(
  suite: CryptoSuite,
  random: Random,
  payload: HandshakePayloadCodec<P>,
  extra: Partial<ChannelConfig<P>> = {},
): ChannelConfig<P> {
  return { suite, random, payload, protocolVersions: [1], ...extra };
}
