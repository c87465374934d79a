/**
 * Fixtures for the supernode tests (spec/07-supernode.md): a network, a user device, and valid presence
 * records and offline messages signed by it, all deterministic at the identity fixtures' fixed clock.
 */
import { seededRandom } from '../../src/crypto/random.js';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { parley } from '../../src/gen/parley.js';
import { SignatureContext, signObject } from '../../src/identity/signed.js';
import {
  encodeOfflineEnvelope,
  encodePresenceEnvelope,
  type OfflineMessageFields,
  type PresenceRecordFields,
  PresenceStatus,
  type SupernodeObjectTrust,
  signOfflineMessage,
  signPresenceRecord,
} from '../../src/supernode/index.js';
import { type Member, makeMember, makeNetwork, type Network, NOW } from '../identity/fixtures.js';

export const MINUTE = 60_000;
export { NOW };

export interface SupernodeFixture {
  suite: CryptoSuite;
  net: Network;
  alice: Member;
  trust: SupernodeObjectTrust;
  record: PresenceRecordFields;
  message: OfflineMessageFields;
}

export function makeFixture(suite: CryptoSuite, label = 'supernode objects'): SupernodeFixture {
  const net = makeNetwork(suite, label);
  const alice = makeMember(net, { subject: 'alice' });
  const random = seededRandom(`${label} ids`);
  const record: PresenceRecordFields = {
    username: 'alice',
    deviceId: alice.fields.deviceId,
    sequence: NOW,
    issuedAt: NOW - MINUTE,
    expiresAt: NOW + 9 * MINUTE,
    status: PresenceStatus.PRESENCE_STATUS_ONLINE,
    homeSupernode: random.randomBytes(32),
    sealedEndpoints: random.randomBytes(40),
  };
  const message: OfflineMessageFields = {
    messageId: random.randomBytes(16),
    sender: 'alice',
    senderDeviceId: alice.fields.deviceId,
    recipient: 'bob',
    createdAt: NOW - MINUTE,
    expiresAt: NOW + 7 * 24 * 60 * MINUTE,
    ciphertext: random.randomBytes(100),
  };
  const trust: SupernodeObjectTrust = {
    trustAnchors: [net.root.publicKey],
    loginCertificates: [net.loginCert],
    nowMs: NOW,
  };
  return { suite, net, alice, trust, record, message };
}

/** The envelope of `fields` signed by alice's key with the fixture's certificate. */
export function presenceEnvelope(f: SupernodeFixture, fields: Partial<PresenceRecordFields> = {}): Uint8Array {
  return encodePresenceEnvelope(f.alice.cert, signPresenceRecord(f.suite, f.alice.key, { ...f.record, ...fields }));
}

export function offlineEnvelope(f: SupernodeFixture, fields: Partial<OfflineMessageFields> = {}): Uint8Array {
  return encodeOfflineEnvelope(f.alice.cert, signOfflineMessage(f.suite, f.alice.key, { ...f.message, ...fields }));
}

/**
 * A record body encoded as given, without the sender's checks (bodies a receiver must refuse), signed by
 * alice's key under `context` and wrapped with her certificate.
 */
export function rawPresenceEnvelope(
  f: SupernodeFixture,
  props: Record<string, unknown>,
  context: SignatureContext = SignatureContext.SIGNATURE_CONTEXT_PRESENCE_RECORD,
): Uint8Array {
  const body = parley.v1.PresenceRecord.encode(props as never).finish();
  return encodePresenceEnvelope(f.alice.cert, signObject(f.suite, f.alice.key, context, body));
}

export function rawOfflineEnvelope(
  f: SupernodeFixture,
  props: Record<string, unknown>,
  context: SignatureContext = SignatureContext.SIGNATURE_CONTEXT_OFFLINE_MESSAGE,
): Uint8Array {
  const body = parley.v1.OfflineMessage.encode(props as never).finish();
  return encodeOfflineEnvelope(f.alice.cert, signObject(f.suite, f.alice.key, context, body));
}

/** The wire properties of a valid record (version 1), for raw variations. */
export function recordProps(f: SupernodeFixture): Record<string, unknown> {
  return { version: 1, ...f.record };
}

export function messageProps(f: SupernodeFixture): Record<string, unknown> {
  return { version: 1, ...f.message };
}
