/**
 * A new network's keys: the root key (a trust anchor, 02-identity.md §3) and the login server's key with
 * its ROLE_LOGIN certificate issued by the root (§5, ID-CHAIN-4). What `parley-login-server init` does,
 * and what tests and benchmarks build their networks with.
 */
import type { CryptoSuite, Random } from '../crypto/suite.js';
import { DEVICE_ID_BYTES, issueCertificate, Role } from './certificate.js';
import { createRootKey, generateSigningKey, type RootKey, type SigningKey } from './keys.js';

export interface NetworkKeys {
  root: RootKey;
  login: SigningKey;
  /** The encoded `Signed` ROLE_LOGIN certificate of `login`, issued by `root`, serial 1. */
  loginCertificate: Uint8Array;
}

/** Creates a root key and a login key certified by it for [notBefore, notAfter), named `subject`. */
export function createNetworkKeys(
  suite: CryptoSuite,
  random: Random,
  o: { subject: string; notBefore: number; notAfter: number },
): NetworkKeys {
  const root = createRootKey(suite, random);
  const login = generateSigningKey(suite, random);
  const loginCertificate = issueCertificate(suite, root, {
    subject: o.subject,
    subjectKey: login.publicKey,
    deviceId: new Uint8Array(DEVICE_ID_BYTES),
    role: Role.ROLE_LOGIN,
    serial: 1,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
  });
  return { root, login, loginCertificate };
}
