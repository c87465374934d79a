// A new network's keys (spec/02-identity.md §5-§6): the login certificate chains to the root.
import { describe, expect, it } from 'vitest';
import { nodeCrypto } from '../../src/crypto/node.js';
import { seededRandom } from '../../src/crypto/random.js';
import { Role } from '../../src/identity/certificate.js';
import { verifyChain } from '../../src/identity/chain.js';
import { createNetworkKeys } from '../../src/identity/network.js';

describe('createNetworkKeys', () => {
  it('[ID-CHAIN-4] issues a ROLE_LOGIN certificate for the login key under the root', () => {
    const keys = createNetworkKeys(nodeCrypto, seededRandom('network keys'), {
      subject: 'login.example',
      notBefore: 1_000,
      notAfter: 86_400_000,
    });
    const chain = verifyChain(nodeCrypto, [keys.loginCertificate], {
      trustAnchors: [keys.root.publicKey],
      nowMs: 10_000,
      acceptedRoles: [Role.ROLE_LOGIN],
    });
    expect(chain.leaf.subjectKey).toEqual(keys.login.publicKey);
    expect(chain.leaf.serial).toBe(1);
    expect(chain.networkFingerprint).toEqual(keys.root.networkFingerprint);
  });
});
