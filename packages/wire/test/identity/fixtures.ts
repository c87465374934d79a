/**
 * Deterministic identity fixtures for the tests of spec/02-identity.md: a network (root key, login
 * key and LOGIN certificate) and USER/SUPERNODE identities, all from seeded keys, at a fixed clock.
 */
import { expect } from 'vitest';
import { seededRandom } from '../../src/crypto/random.js';
import type { CryptoSuite, Random } from '../../src/crypto/suite.js';
import { type ErrorCode, ParleyError } from '../../src/errors.js';
import {
  type Certificate,
  type CertificateFields,
  type ChainPolicy,
  createRootKey,
  encodeCertificate,
  generateSigningKey,
  issueCertificate,
  type LocalIdentity,
  Role,
  type RootKey,
  SignatureContext,
  type SigningKey,
  signObject,
} from '../../src/identity/index.js';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** The fixed clock of every fixture: 2027-01-15T08:00:00Z. */
export const NOW = 1_800_000_000_000;

export interface Network {
  suite: CryptoSuite;
  random: Random;
  root: RootKey;
  login: SigningKey;
  loginFields: CertificateFields;
  loginCert: Uint8Array;
}

export function makeNetwork(suite: CryptoSuite, label = 'network'): Network {
  const random = seededRandom(`parley identity fixtures ${label}`);
  const root = createRootKey(suite, random);
  const login = generateSigningKey(suite, random);
  const loginFields: CertificateFields = {
    subject: 'login.parley.example',
    subjectKey: login.publicKey,
    deviceId: random.randomBytes(16),
    role: Role.ROLE_LOGIN,
    serial: 1,
    notBefore: NOW - 30 * DAY,
    notAfter: NOW + 300 * DAY,
  };
  const loginCert = issueCertificate(suite, root, loginFields);
  return { suite, random, root, login, loginFields, loginCert };
}

export interface Member {
  key: SigningKey;
  fields: CertificateFields;
  cert: Uint8Array;
  chain: Uint8Array[];
  local: LocalIdentity;
}

/** A USER (or other role) identity issued by the network's login key. */
export function makeMember(net: Network, overrides: Partial<CertificateFields> = {}, serial = 1000): Member {
  const key = generateSigningKey(net.suite, net.random);
  const fields: CertificateFields = {
    subject: 'alice',
    subjectKey: key.publicKey,
    deviceId: net.random.randomBytes(16),
    role: Role.ROLE_USER,
    serial,
    notBefore: NOW - HOUR,
    notAfter: NOW + 23 * HOUR,
    ...overrides,
  };
  const cert = issueCertificate(net.suite, net.login, fields);
  const chain = [cert, net.loginCert];
  return { key, fields, cert, chain, local: { chain, seed: key.seed } };
}

export function policyFor(net: Network, extra: Partial<ChainPolicy> = {}): ChainPolicy {
  return { trustAnchors: [net.root.publicKey], nowMs: NOW, acceptedRoles: [Role.ROLE_USER], ...extra };
}

/** A certificate body signed as-is, without issuance checks, to build certificates that break a rule. */
export function signRawCertificate(suite: CryptoSuite, issuer: SigningKey, cert: Certificate): Uint8Array {
  return signObject(suite, issuer, SignatureContext.SIGNATURE_CONTEXT_CERTIFICATE, encodeCertificate(cert));
}

/** A valid USER certificate as a plain value, issued by `issuer`, to mutate one field at a time. */
export function userCertificate(issuer: SigningKey, subjectKey: Uint8Array): Certificate {
  return {
    version: 1,
    subject: 'alice',
    subjectKey,
    deviceId: new Uint8Array(16).fill(7),
    role: Role.ROLE_USER,
    serial: 42,
    notBefore: NOW - HOUR,
    notAfter: NOW + 23 * HOUR,
    issuerKeyId: issuer.keyId,
  };
}

/** Runs `f` and returns the ParleyError it throws; fails the test if it throws anything else or nothing. */
export function caught(f: () => unknown): ParleyError {
  try {
    f();
  } catch (e) {
    if (e instanceof ParleyError) return e;
    throw new Error(`expected a ParleyError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a ParleyError, nothing was thrown');
}

/** Asserts that `f` throws a ParleyError with `code` (and, when given, of class `kind`). */
export function expectCode(f: () => unknown, code: ErrorCode, kind?: new (...args: never[]) => ParleyError): void {
  const e = caught(f);
  expect(e.code, e.message).toBe(code);
  if (kind !== undefined) expect(e).toBeInstanceOf(kind);
}

/** A suite that counts its Ed25519 verifications (to check what the certificate cache saves). */
export function countingVerifies(inner: CryptoSuite): CryptoSuite & { verifies: number } {
  const s = {
    ...inner,
    verifies: 0,
    ed25519Verify(pk: Uint8Array, m: Uint8Array, sig: Uint8Array): boolean {
      s.verifies++;
      return inner.ed25519Verify(pk, m, sig);
    },
  };
  return s;
}
