/** Devices for the E2E tests: certified users of a fixture network, with identity DH keys and prekeys. */

import { seededRandom } from '../../src/crypto/random.js';
import type { CryptoSuite, Random } from '../../src/crypto/suite.js';
import {
  createPrekeys,
  E2eSessions,
  generateX25519,
  type LocalDevice,
  MemoryPrekeyStore,
} from '../../src/e2e/index.js';
import { bundleKeys, type VerifiedBundle } from '../../src/e2e/x3dh.js';
import type { Certificate } from '../../src/identity/certificate.js';
import { verifyUserCertificate } from '../../src/supernode/objects.js';
import { makeMember, makeNetwork, NOW } from '../identity/fixtures.js';

/** The in-memory prekey store of src/e2e, under the name the E2E tests use. */
export const MemoryPrekeys = MemoryPrekeyStore;
export type MemoryPrekeys = MemoryPrekeyStore;

export interface TestDevice {
  readonly certificate: Certificate;
  /** The device's certified Ed25519 seed (signs its signed prekeys). */
  readonly seed: Uint8Array;
  readonly local: LocalDevice;
  readonly prekeys: MemoryPrekeys;
  readonly upload: ReturnType<typeof createPrekeys>['upload'];
  readonly sessions: E2eSessions;
  readonly random: Random;
  /** A bundle of this device as FetchPrekeys would give it, with one-time prekey `otk` (or none). */
  bundle(otk?: number): VerifiedBundle;
}

export function e2eWorld(suite: CryptoSuite, label = 'e2e') {
  const net = makeNetwork(suite, label);
  const trust = { trustAnchors: [net.root.publicKey], loginCertificates: [net.loginCert], nowMs: NOW };
  let n = 0;
  const device = (username: string, oneTimeCount = 5): TestDevice => {
    const member = makeMember(net, { subject: username }, 2000 + ++n);
    const certificate = verifyUserCertificate(suite, member.cert, trust).leaf;
    const random = seededRandom(`${label} device ${username} ${n}`);
    const identityDh = generateX25519(suite, random);
    const created = createPrekeys(suite, random, {
      seed: member.key.seed,
      deviceId: certificate.deviceId,
      identityDhKey: identityDh.publicKey,
      signedPrekeyId: 1,
      firstOneTimeId: 1,
      count: oneTimeCount,
      nowMs: NOW,
    });
    const prekeys = new MemoryPrekeys();
    prekeys.signed.set(created.signed.id, created.signed.keyPair.privateKey);
    for (const k of created.oneTime) prekeys.oneTime.set(k.id, k.keyPair.privateKey);
    const local: LocalDevice = {
      username,
      deviceId: certificate.deviceId,
      identityDh,
      signedPrekey: created.upload.signedPrekey,
    };
    return {
      certificate,
      seed: member.key.seed,
      local,
      prekeys,
      upload: created.upload,
      random,
      sessions: new E2eSessions(suite, random, local, prekeys),
      bundle: (otk?: number) =>
        bundleKeys(
          suite,
          certificate,
          created.upload.signedPrekey,
          otk === undefined ? undefined : created.upload.oneTimePrekeys.find((k) => k.id === otk),
        ),
    };
  };
  return { net, trust, device };
}

/** The (user name, device id) of a test device, as a session store names its peers. */
export const peerOf = (d: TestDevice) => ({ username: d.local.username, deviceId: d.local.deviceId });
