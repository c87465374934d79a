/**
 * DirectoryTable with records signed and verified by @parley/wire (DIR-REC-*): what `verifyPresenceEnvelope`
 * returns is what `offer` takes, and what `lookup` returns verifies again at the client, byte for byte.
 */
import {
  createRootKey,
  ErrorCode,
  encodePresenceEnvelope,
  generateSigningKey,
  issueCertificate,
  nodeCrypto,
  PresenceStatus,
  Role,
  type SupernodeObjectTrust,
  seededRandom,
  signPresenceRecord,
  type VerifiedPresence,
  verifyPresenceEnvelope,
} from '@parley/wire';
import { describe, expect, it } from 'vitest';
import { DirectoryTable, type PresenceFacts } from '../../src/directory/table.js';

const NOW = 1_800_000_000_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const suite = nodeCrypto;
const random = seededRandom('supernode directory verified');
const root = createRootKey(suite, random);
const login = generateSigningKey(suite, random);
const loginCert = issueCertificate(suite, root, {
  subject: 'login.parley.example',
  subjectKey: login.publicKey,
  deviceId: random.randomBytes(16),
  role: Role.ROLE_LOGIN,
  serial: 1,
  notBefore: NOW - 30 * 24 * HOUR,
  notAfter: NOW + 300 * 24 * HOUR,
});

function device(subject: string, serial: number, notAfter = NOW + 23 * HOUR) {
  const key = generateSigningKey(suite, random);
  const deviceId = random.randomBytes(16);
  const cert = issueCertificate(suite, login, {
    subject,
    subjectKey: key.publicKey,
    deviceId,
    role: Role.ROLE_USER,
    serial,
    notBefore: NOW - HOUR,
    notAfter,
  });
  return {
    publish(sequence: number, status: PresenceStatus = PresenceStatus.PRESENCE_STATUS_ONLINE): Uint8Array {
      const record = signPresenceRecord(suite, key, {
        username: subject,
        deviceId,
        sequence,
        issuedAt: NOW - MINUTE,
        expiresAt: NOW + 9 * MINUTE,
        status,
        homeSupernode: new Uint8Array(32).fill(3),
        sealedEndpoints: random.randomBytes(48),
      });
      return encodePresenceEnvelope(cert, record);
    },
  };
}

const trust = (nowMs: number, revoked: ReadonlySet<number> = new Set()): SupernodeObjectTrust => ({
  trustAnchors: [root.publicKey],
  loginCertificates: [loginCert],
  nowMs,
  isRevoked: (s) => revoked.has(s),
});

describe('DirectoryTable with verified records', () => {
  it('[DIR-LOOK-1][DIR-HOLD-2][DIR-HOLD-10] stores what verification returns and serves envelopes that verify again unchanged', () => {
    const alice1 = device('alice', 1001);
    const alice2 = device('alice', 1002);
    const table = new DirectoryTable();
    const v: VerifiedPresence = verifyPresenceEnvelope(suite, alice1.publish(1), trust(NOW));
    const facts: PresenceFacts = v;
    expect(table.offer(facts, NOW)).toBe('stored');
    expect(table.offer(verifyPresenceEnvelope(suite, alice1.publish(2), trust(NOW)), NOW)).toBe('stored');
    table.offer(verifyPresenceEnvelope(suite, alice2.publish(7), trust(NOW)), NOW);

    const answer = table.lookup('alice', NOW + MINUTE);
    expect(answer).toHaveLength(2);
    const again = answer.map((e) => verifyPresenceEnvelope(suite, e, trust(NOW + MINUTE)));
    expect(again.map((r) => r.sequence).sort()).toEqual([2, 7]);
    for (let i = 0; i < answer.length; i++) expect(again[i]!.envelope).toEqual(answer[i]);
  });

  it('[DIR-HOLD-3] another record with the held sequence is STALE; the same envelope again is a duplicate', () => {
    const bob = device('bob', 2001);
    const table = new DirectoryTable();
    const first = bob.publish(5);
    table.offer(verifyPresenceEnvelope(suite, first, trust(NOW)), NOW);
    // Another record with the same sequence (another status): other bytes.
    const other = verifyPresenceEnvelope(suite, bob.publish(5, PresenceStatus.PRESENCE_STATUS_AWAY), trust(NOW));
    expect(() => table.offer(other, NOW)).toThrow(expect.objectContaining({ code: ErrorCode.STALE }));
    // The same envelope again (a replica re-sending it): a duplicate.
    expect(table.offer(verifyPresenceEnvelope(suite, first, trust(NOW)), NOW)).toBe('duplicate');
  });

  it('[DIR-HOLD-8] a record whose certificate the new revocation list names is dropped', () => {
    const carol = device('carol', 3001);
    const table = new DirectoryTable();
    table.offer(verifyPresenceEnvelope(suite, carol.publish(1), trust(NOW)), NOW);
    const revoked = new Set([3001]);
    expect(table.dropRevoked((s) => revoked.has(s))).toBe(1);
    expect(table.lookup('carol', NOW)).toEqual([]);
  });

  it('[DIR-HOLD-6] a record stops counting when its certificate expires, before its own expires_at', () => {
    const dave = device('dave', 4001, NOW + 2 * MINUTE);
    const table = new DirectoryTable();
    table.offer(verifyPresenceEnvelope(suite, dave.publish(1), trust(NOW)), NOW);
    expect(table.lookup('dave', NOW + MINUTE)).toHaveLength(1);
    expect(table.lookup('dave', NOW + 2 * MINUTE)).toHaveLength(0);
  });
});
