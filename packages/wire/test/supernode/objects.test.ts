// The signed objects of spec/07-supernode.md: presence records (DIR-REC-*) and offline messages
// (STORE-MSG-*), their envelopes, signing, and every check of their verification, with the codes the
// chapter gives; properties over arbitrary valid fields and arbitrary mutations.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mutatedArbitrary } from '../../fuzz/arbitraries.js';
import { nobleCrypto, nodeCrypto } from '../../src/crypto/index.js';
import {
  ApiMisuse,
  DecodeError,
  ErrorCode,
  IdentityError,
  IncompatiblePeer,
  ParleyError,
  ProtocolViolation,
  RequestRefused,
} from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import { Role } from '../../src/identity/certificate.js';
import { VerifiedCertificateCache } from '../../src/identity/certificate-cache.js';
import { decodeSigned, SignatureContext, signObject } from '../../src/identity/signed.js';
import { POLICY_BOUNDS, POLICY_DEFAULTS } from '../../src/login/index.js';
import {
  DEFAULT_OFFLINE_LIFETIME_MS,
  DEFAULT_PRESENCE_LIFETIME_MS,
  decodeOfflineEnvelope,
  decodeOfflineMessage,
  decodePresenceEnvelope,
  decodePresenceRecord,
  encodeOfflineEnvelope,
  encodePresenceEnvelope,
  isNormalisedUsername,
  MAX_OFFLINE_CIPHERTEXT_BYTES,
  MAX_PRESENCE_LIFETIME_MS,
  MAX_SEALED_ENDPOINTS_BYTES,
  PresenceStatus,
  signOfflineMessage,
  signPresenceRecord,
  verifyOfflineEnvelope,
  verifyPresenceEnvelope,
  verifyUserCertificate,
} from '../../src/supernode/index.js';
import { countingVerifies, DAY, expectCode, HOUR, makeMember, makeNetwork } from '../identity/fixtures.js';
import {
  MINUTE,
  makeFixture,
  messageProps,
  NOW,
  offlineEnvelope,
  presenceEnvelope,
  rawOfflineEnvelope,
  rawPresenceEnvelope,
  recordProps,
} from './fixtures.js';

const suite = nodeCrypto;
const f = makeFixture(suite);
const C = SignatureContext;

/** The code a call fails with ('ok' when it does not); anything but a ParleyError is a bug. */
function codeOf(g: () => unknown): ErrorCode | 'ok' {
  try {
    g();
    return 'ok';
  } catch (e) {
    if (e instanceof ParleyError) return e.code;
    throw e;
  }
}

describe('presence records: format and signing [DIR-REC-1] [DIR-REC-2]', () => {
  it('[DIR-REC-2] a record signed with the device key verifies, on both suites, with every field', () => {
    const envelope = presenceEnvelope(f);
    for (const s of [nodeCrypto, nobleCrypto]) {
      const v = verifyPresenceEnvelope(s, envelope, f.trust);
      expect(v).toMatchObject({
        username: 'alice',
        sequence: f.record.sequence,
        issuedAt: f.record.issuedAt,
        expiresAt: f.record.expiresAt,
        status: PresenceStatus.PRESENCE_STATUS_ONLINE,
        certificateSerial: f.alice.fields.serial,
        certificateNotAfter: f.alice.fields.notAfter,
      });
      expect([...v.deviceId]).toEqual([...f.alice.fields.deviceId]);
      expect([...v.homeSupernode]).toEqual([...f.record.homeSupernode]);
      expect([...v.subjectKeyId!]).toEqual([...f.alice.key.keyId]);
    }
  });

  it('[DIR-REC-2] the record is a Signed under context 3, by the certified key, over the exact body', () => {
    const signed = signPresenceRecord(suite, f.alice.key, f.record);
    const s = decodeSigned(signed);
    expect(s.context).toBe(C.SIGNATURE_CONTEXT_PRESENCE_RECORD);
    expect([...s.signerKeyId]).toEqual([...f.alice.key.keyId]);
    expect(decodePresenceRecord(s.body)).toMatchObject({ username: 'alice', sequence: f.record.sequence });
    // the seed works as the signing key, deterministically
    expect([...signPresenceRecord(suite, f.alice.key.seed, f.record)]).toEqual([...signed]);
  });

  it('[DIR-REC-2] [DIR-REC-4] a record signed by another key, or under another context, is refused', () => {
    const mallory = makeMember(f.net, { subject: 'alice', deviceId: f.alice.fields.deviceId }, 2000);
    const byOther = encodePresenceEnvelope(f.alice.cert, signPresenceRecord(suite, mallory.key, f.record));
    expectCode(() => verifyPresenceEnvelope(suite, byOther, f.trust), ErrorCode.CERT_UNKNOWN_ISSUER, IdentityError);
    const wrongContext = rawPresenceEnvelope(f, recordProps(f), C.SIGNATURE_CONTEXT_OFFLINE_MESSAGE);
    expectCode(() => verifyPresenceEnvelope(suite, wrongContext, f.trust), ErrorCode.WRONG_CONTEXT, IdentityError);
    // the same signature moved to context 3 in the envelope: the signature covers the context name
    const signed = decodeSigned(signOfflineLikeRecord());
    const moved = encodePresenceEnvelope(
      f.alice.cert,
      parley.v1.Signed.encode({ ...signed, context: C.SIGNATURE_CONTEXT_PRESENCE_RECORD }).finish(),
    );
    expectCode(() => verifyPresenceEnvelope(suite, moved, f.trust), ErrorCode.BAD_SIGNATURE, IdentityError);
  });

  function signOfflineLikeRecord(): Uint8Array {
    const body = parley.v1.PresenceRecord.encode(recordProps(f) as never).finish();
    return signObject(suite, f.alice.key, C.SIGNATURE_CONTEXT_OFFLINE_MESSAGE, body);
  }

  it('[DIR-REC-2] any flipped bit of the signed record is refused', () => {
    const envelope = decodePresenceEnvelope(presenceEnvelope(f));
    fc.assert(
      fc.property(fc.nat({ max: envelope.record.length * 8 - 1 }), (bit) => {
        const record = Uint8Array.from(envelope.record);
        record[bit >> 3]! ^= 1 << (bit & 7);
        const code = codeOf(() =>
          verifyPresenceEnvelope(suite, { certificate: envelope.certificate, record }, f.trust),
        );
        expect(code).not.toBe('ok');
      }),
      { numRuns: 200 },
    );
  });

  it('[DIR-REC-1] the envelope carries the certificate and the record, both required', () => {
    const { certificate, record } = decodePresenceEnvelope(presenceEnvelope(f));
    expect([...certificate]).toEqual([...f.alice.cert]);
    const noCert = parley.v1.PresenceEnvelope.encode({ record }).finish();
    const noRecord = parley.v1.PresenceEnvelope.encode({ certificate }).finish();
    expectCode(() => verifyPresenceEnvelope(suite, noCert, f.trust), ErrorCode.MISSING_FIELD, DecodeError);
    expectCode(() => verifyPresenceEnvelope(suite, noRecord, f.trust), ErrorCode.MISSING_FIELD, DecodeError);
    expectCode(() => verifyPresenceEnvelope(suite, new Uint8Array([0x0a]), f.trust), ErrorCode.TRUNCATED);
    // a decoded PublishPresence without its envelope
    expectCode(() => verifyPresenceEnvelope(suite, undefined, f.trust), ErrorCode.MISSING_FIELD, DecodeError);
    expectCode(() => verifyOfflineEnvelope(suite, undefined, f.trust), ErrorCode.MISSING_FIELD, DecodeError);
    expectCode(() => encodePresenceEnvelope(new Uint8Array(0), record), ErrorCode.API_MISUSE, ApiMisuse);
    expectCode(
      () => verifyPresenceEnvelope(suite, { certificate, record: new Uint8Array(1281) }, f.trust),
      ErrorCode.FIELD_LIMIT,
    );
  });

  it('[DIR-REC-1] a record body above 1,024 bytes is FIELD_LIMIT; the signer refuses to make one', () => {
    // 1,025 bytes of body: under the envelope's field maximum, over the context's body maximum
    const body = new Uint8Array(1025);
    const envelope = encodePresenceEnvelope(
      f.alice.cert,
      parley.v1.Signed.encode({
        body,
        signature: new Uint8Array(64),
        signerKeyId: f.alice.key.keyId,
        context: C.SIGNATURE_CONTEXT_PRESENCE_RECORD,
      }).finish(),
    );
    expectCode(() => verifyPresenceEnvelope(suite, envelope, f.trust), ErrorCode.FIELD_LIMIT, DecodeError);
    expectCode(
      () => signPresenceRecord(suite, f.alice.key, { ...f.record, sealedEndpoints: new Uint8Array(513) }),
      ErrorCode.API_MISUSE,
    );
  });
});

describe('presence records: verification [DIR-REC-3] .. [DIR-REC-10]', () => {
  const verify = (envelope: Uint8Array, trust = f.trust) => verifyPresenceEnvelope(suite, envelope, trust);
  const raw = (over: Record<string, unknown>) => rawPresenceEnvelope(f, { ...recordProps(f), ...over });

  it('[DIR-REC-3] version 0 is MISSING_FIELD, any version but 1 MALFORMED', () => {
    expectCode(() => verify(raw({ version: 0 })), ErrorCode.MISSING_FIELD);
    expectCode(() => verify(raw({ version: 2 })), ErrorCode.MALFORMED, DecodeError);
  });

  it('[DIR-REC-4] the certificate must be a valid, unrevoked ROLE_USER certificate of a login key the receiver holds', () => {
    const envelope = presenceEnvelope(f);
    expectCode(
      () => verify(envelope, { ...f.trust, nowMs: f.alice.fields.notAfter + 5 * MINUTE }),
      ErrorCode.CERT_EXPIRED,
    );
    expectCode(
      () => verify(envelope, { ...f.trust, nowMs: f.alice.fields.notBefore - 5 * MINUTE - 1 }),
      ErrorCode.CERT_NOT_YET_VALID,
    );
    expectCode(
      () => verify(envelope, { ...f.trust, isRevoked: (serial) => serial === f.alice.fields.serial }),
      ErrorCode.CERT_REVOKED,
    );
    // the login certificate's serial is not looked up in the revocation list
    expect(verify(envelope, { ...f.trust, isRevoked: (serial) => serial === f.net.loginFields.serial }).username).toBe(
      'alice',
    );
    // a supernode certificate does not sign presence records
    const sn = makeMember(f.net, { subject: 'alice', role: Role.ROLE_SUPERNODE });
    const bySupernode = encodePresenceEnvelope(
      sn.cert,
      signPresenceRecord(suite, sn.key, { ...f.record, deviceId: sn.fields.deviceId }),
    );
    expectCode(() => verify(bySupernode), ErrorCode.CERT_WRONG_ROLE, IdentityError);
    // a user of another network: its login certificate is not one the receiver holds
    const other = makeNetwork(suite, 'another network');
    const stranger = makeMember(other, { subject: 'alice' });
    const fromElsewhere = encodePresenceEnvelope(
      stranger.cert,
      signPresenceRecord(suite, stranger.key, { ...f.record, deviceId: stranger.fields.deviceId }),
    );
    expectCode(() => verify(fromElsewhere), ErrorCode.CERT_UNKNOWN_ISSUER, IdentityError);
    // ... and with that login certificate but not its root: NETWORK_MISMATCH
    expectCode(
      () => verify(fromElsewhere, { ...f.trust, loginCertificates: [other.loginCert] }),
      ErrorCode.NETWORK_MISMATCH,
      IncompatiblePeer,
    );
    // either of two login certificates may be the issuer
    expect(
      verify(fromElsewhere, {
        ...f.trust,
        trustAnchors: [f.net.root.publicKey, other.root.publicKey],
        loginCertificates: [f.net.loginCert, other.loginCert],
      }).username,
    ).toBe('alice');
    // a certificate that is not a certificate
    expectCode(
      () => verify(encodePresenceEnvelope(new Uint8Array([1, 2, 3]), decodePresenceEnvelope(envelope).record)),
      ErrorCode.MALFORMED,
    );
  });

  it('[DIR-REC-4] the certificate memo saves the certificate signatures of a returning device', () => {
    const counting = countingVerifies(suite);
    const cache = new VerifiedCertificateCache();
    const envelope = presenceEnvelope(f);
    verifyPresenceEnvelope(counting, envelope, { ...f.trust, cache });
    expect(counting.verifies).toBe(3); // login certificate, user certificate, record
    verifyPresenceEnvelope(counting, envelope, { ...f.trust, cache });
    expect(counting.verifies).toBe(4); // the record only
  });

  it('[DIR-REC-4] nothing is verified on trust inputs that cannot be right: ApiMisuse', () => {
    const envelope = presenceEnvelope(f);
    expectCode(() => verify(envelope, { ...f.trust, loginCertificates: [] }), ErrorCode.API_MISUSE);
    expectCode(() => verify(envelope, { ...f.trust, nowMs: -1 }), ErrorCode.API_MISUSE);
    expectCode(() => verify(envelope, { ...f.trust, skewMs: 2 * HOUR }), ErrorCode.API_MISUSE);
  });

  it('[DIR-REC-5] the record names the certificate subject and its device, else MALFORMED', () => {
    expectCode(() => verify(raw({ username: 'bob' })), ErrorCode.MALFORMED, DecodeError);
    expectCode(() => verify(raw({ deviceId: new Uint8Array(16).fill(7) })), ErrorCode.MALFORMED, DecodeError);
    expectCode(() => verify(raw({ username: '' })), ErrorCode.MISSING_FIELD);
    expectCode(() => verify(raw({ deviceId: new Uint8Array(0) })), ErrorCode.MISSING_FIELD);
    expectCode(() => verify(raw({ deviceId: new Uint8Array(15) })), ErrorCode.MALFORMED);
    expectCode(() => verify(raw({ deviceId: new Uint8Array(17) })), ErrorCode.FIELD_LIMIT);
  });

  it('[DIR-REC-6] the sequence is 1..2^53-1', () => {
    expectCode(() => verify(raw({ sequence: 0 })), ErrorCode.MISSING_FIELD);
    expect(verify(raw({ sequence: 1 })).sequence).toBe(1);
    expect(verify(raw({ sequence: Number.MAX_SAFE_INTEGER })).sequence).toBe(Number.MAX_SAFE_INTEGER);
    expectCode(() => verify(raw({ sequence: 2 ** 53 })), ErrorCode.INTEGER_RANGE, DecodeError);
    expectCode(() => signPresenceRecord(suite, f.alice.key, { ...f.record, sequence: 0 }), ErrorCode.API_MISUSE);
  });

  it('[DIR-REC-7] issued_at < expires_at <= issued_at + 15 min, else MALFORMED', () => {
    const at = NOW - MINUTE;
    expectCode(() => verify(raw({ issuedAt: at, expiresAt: at })), ErrorCode.MALFORMED);
    expectCode(() => verify(raw({ issuedAt: at + 1, expiresAt: at })), ErrorCode.MALFORMED);
    expectCode(() => verify(raw({ issuedAt: at, expiresAt: at + MAX_PRESENCE_LIFETIME_MS + 1 })), ErrorCode.MALFORMED);
    expect(verify(raw({ issuedAt: at, expiresAt: at + MAX_PRESENCE_LIFETIME_MS })).expiresAt).toBe(
      at + MAX_PRESENCE_LIFETIME_MS,
    );
    expectCode(() => verify(raw({ issuedAt: 0 })), ErrorCode.MISSING_FIELD);
    expectCode(
      () => signPresenceRecord(suite, f.alice.key, { ...f.record, expiresAt: f.record.issuedAt + 16 * MINUTE }),
      ErrorCode.API_MISUSE,
    );
  });

  it('[DIR-REC-7] an expired record is TOO_OLD; one issued more than the skew ahead is CERT_NOT_YET_VALID', () => {
    const envelope = presenceEnvelope(f);
    expect(verify(envelope, { ...f.trust, nowMs: f.record.expiresAt - 1 }).username).toBe('alice');
    expectCode(() => verify(envelope, { ...f.trust, nowMs: f.record.expiresAt }), ErrorCode.TOO_OLD, ProtocolViolation);
    const ahead = (ms: number) => presenceEnvelope(f, { issuedAt: NOW + ms, expiresAt: NOW + ms + MINUTE });
    expect(verify(ahead(5 * MINUTE)).issuedAt).toBe(NOW + 5 * MINUTE);
    expectCode(() => verify(ahead(5 * MINUTE + 1)), ErrorCode.CERT_NOT_YET_VALID, IdentityError);
    expect(verify(ahead(5 * MINUTE + 1), { ...f.trust, skewMs: 10 * MINUTE }).issuedAt).toBe(NOW + 5 * MINUTE + 1);
  });

  it('[DIR-REC-8] the status is one this version defines', () => {
    for (const status of [1, 2, 3, 4]) expect(verify(raw({ status })).status).toBe(status);
    expectCode(() => verify(raw({ status: 0 })), ErrorCode.MISSING_FIELD);
    expectCode(() => verify(raw({ status: 5 })), ErrorCode.MALFORMED);
    expectCode(() => verify(raw({ status: 0x7fff_ffff })), ErrorCode.MALFORMED);
  });

  it('[DIR-REC-9] home_supernode is a 32-byte key id; sealed_endpoints 0..512 opaque bytes', () => {
    expectCode(() => verify(raw({ homeSupernode: new Uint8Array(0) })), ErrorCode.MISSING_FIELD);
    expectCode(() => verify(raw({ homeSupernode: new Uint8Array(31) })), ErrorCode.MALFORMED);
    expectCode(() => verify(raw({ homeSupernode: new Uint8Array(33) })), ErrorCode.FIELD_LIMIT);
    expect(verify(raw({ sealedEndpoints: new Uint8Array(0) })).username).toBe('alice');
    const full = new Uint8Array(MAX_SEALED_ENDPOINTS_BYTES).fill(0xff);
    expect(verify(raw({ sealedEndpoints: full })).username).toBe('alice');
    expectCode(() => verify(raw({ sealedEndpoints: new Uint8Array(513) })), ErrorCode.FIELD_LIMIT);
  });

  it('[DIR-REC-10] the verified result carries the envelope bytes exactly, from bytes or from a decoded body', () => {
    const envelope = presenceEnvelope(f);
    const v = verify(envelope);
    expect([...v.envelope]).toEqual([...envelope]);
    expect(v.envelope).not.toBe(envelope); // a copy the store owns
    const fromParts = verifyPresenceEnvelope(suite, decodePresenceEnvelope(envelope), f.trust);
    expect([...fromParts.envelope]).toEqual([...envelope]);
    // an unknown field inside the signed record survives: nothing is re-encoded
    const body = parley.v1.PresenceRecord.encode(recordProps(f) as never).finish();
    const withUnknown = new Uint8Array([...body, 0xf8, 0x06, 0x01]); // field 111, varint 1
    const signed = signObject(suite, f.alice.key, C.SIGNATURE_CONTEXT_PRESENCE_RECORD, withUnknown);
    const e2 = encodePresenceEnvelope(f.alice.cert, signed);
    const v2 = verify(e2);
    expect([...decodePresenceEnvelope(v2.envelope).record]).toEqual([...signed]);
  });

  it('[DIR-REC-4] any mutation of a valid envelope is a value or a ParleyError, never anything else', () => {
    const valid = fc.constant(presenceEnvelope(f));
    fc.assert(
      fc.property(mutatedArbitrary(valid), (bytes) => {
        codeOf(() => verify(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('[DIR-REC-2] [DIR-REC-4] every valid record the signer accepts verifies with the same fields', () => {
    fc.assert(
      fc.property(
        fc.record({
          sequence: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          issuedAt: fc.integer({ min: NOW - 14 * MINUTE, max: NOW + 5 * MINUTE }),
          lifetime: fc.integer({ min: 1, max: MAX_PRESENCE_LIFETIME_MS }),
          status: fc.integer({ min: 1, max: 4 }),
          home: fc.uint8Array({ minLength: 32, maxLength: 32 }),
          sealed: fc.uint8Array({ maxLength: MAX_SEALED_ENDPOINTS_BYTES }),
        }),
        (r) => {
          const fields = {
            ...f.record,
            sequence: r.sequence,
            issuedAt: r.issuedAt,
            expiresAt: r.issuedAt + r.lifetime,
            status: r.status,
            homeSupernode: r.home,
            sealedEndpoints: r.sealed,
          };
          const envelope = presenceEnvelope(f, fields);
          const code = codeOf(() => verify(envelope));
          if (fields.expiresAt <= NOW) expect(code).toBe(ErrorCode.TOO_OLD);
          else {
            const v = verify(envelope);
            expect(v).toMatchObject({ sequence: r.sequence, issuedAt: r.issuedAt, status: r.status });
            expect([...v.homeSupernode]).toEqual([...r.home]);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('offline messages: format and signing [STORE-MSG-1] [STORE-MSG-2]', () => {
  const verify = (envelope: Uint8Array, trust = f.trust, options?: { maxLifetimeMs?: number }) =>
    verifyOfflineEnvelope(suite, envelope, trust, options);

  it('[STORE-MSG-2] a message signed with the sending device key verifies, on both suites', () => {
    const envelope = offlineEnvelope(f);
    for (const s of [nodeCrypto, nobleCrypto]) {
      const v = verifyOfflineEnvelope(s, envelope, f.trust);
      expect(v).toMatchObject({
        sender: 'alice',
        recipient: 'bob',
        createdAt: f.message.createdAt,
        expiresAt: f.message.expiresAt,
        size: envelope.length,
        certificateSerial: f.alice.fields.serial,
      });
      expect([...v.messageId]).toEqual([...f.message.messageId]);
      expect([...v.senderDeviceId]).toEqual([...f.alice.fields.deviceId]);
    }
    const s = decodeSigned(decodeOfflineEnvelope(envelope).message);
    expect(s.context).toBe(C.SIGNATURE_CONTEXT_OFFLINE_MESSAGE);
    expect(decodeOfflineMessage(s.body).recipient).toBe('bob');
  });

  it('[STORE-MSG-2] [STORE-MSG-4] another signer, another context, a flipped bit: refused', () => {
    const mallory = makeMember(f.net, { subject: 'alice', deviceId: f.alice.fields.deviceId }, 2001);
    const byOther = encodeOfflineEnvelope(f.alice.cert, signOfflineMessage(suite, mallory.key, f.message));
    expectCode(() => verify(byOther), ErrorCode.CERT_UNKNOWN_ISSUER);
    const wrongContext = rawOfflineEnvelope(f, messageProps(f), C.SIGNATURE_CONTEXT_PRESENCE_RECORD);
    expectCode(() => verify(wrongContext), ErrorCode.WRONG_CONTEXT);
    const { certificate, message } = decodeOfflineEnvelope(offlineEnvelope(f));
    const signed = decodeSigned(message);
    const signature = Uint8Array.from(signed.signature);
    signature[10]! ^= 0x40;
    const flipped = parley.v1.Signed.encode({ ...signed, signature }).finish();
    expectCode(() => verifyOfflineEnvelope(suite, { certificate, message: flipped }, f.trust), ErrorCode.BAD_SIGNATURE);
  });

  it('[STORE-MSG-1] the envelope carries both fields; the body is at most 17,408 bytes', () => {
    const { certificate, message } = decodeOfflineEnvelope(offlineEnvelope(f));
    expectCode(() => verify(parley.v1.OfflineEnvelope.encode({ message }).finish()), ErrorCode.MISSING_FIELD);
    expectCode(() => verify(parley.v1.OfflineEnvelope.encode({ certificate }).finish()), ErrorCode.MISSING_FIELD);
    const big = encodeOfflineEnvelope(
      certificate,
      parley.v1.Signed.encode({
        body: new Uint8Array(17_409),
        signature: new Uint8Array(64),
        signerKeyId: f.alice.key.keyId,
        context: C.SIGNATURE_CONTEXT_OFFLINE_MESSAGE,
      }).finish(),
    );
    expectCode(() => verify(big), ErrorCode.FIELD_LIMIT);
    expectCode(
      () => verifyOfflineEnvelope(suite, { certificate, message: new Uint8Array(17_665) }, f.trust),
      ErrorCode.FIELD_LIMIT,
    );
    // the largest message the signer makes fits its context and its envelope
    const largest = offlineEnvelope(f, { ciphertext: new Uint8Array(MAX_OFFLINE_CIPHERTEXT_BYTES) });
    expect(verify(largest).size).toBe(largest.length);
  });
});

describe('offline messages: verification [STORE-MSG-3] .. [STORE-MSG-9]', () => {
  const verify = (envelope: Uint8Array, trust = f.trust, options?: { maxLifetimeMs?: number }) =>
    verifyOfflineEnvelope(suite, envelope, trust, options);
  const raw = (over: Record<string, unknown>) => rawOfflineEnvelope(f, { ...messageProps(f), ...over });

  it('[STORE-MSG-3] version 1 and a 16-byte message id', () => {
    expectCode(() => verify(raw({ version: 0 })), ErrorCode.MISSING_FIELD);
    expectCode(() => verify(raw({ version: 3 })), ErrorCode.MALFORMED);
    expectCode(() => verify(raw({ messageId: new Uint8Array(0) })), ErrorCode.MISSING_FIELD);
    expectCode(() => verify(raw({ messageId: new Uint8Array(15) })), ErrorCode.MALFORMED);
    expectCode(() => verify(raw({ messageId: new Uint8Array(17) })), ErrorCode.FIELD_LIMIT);
  });

  it('[STORE-MSG-4] the sender certificate is checked like a presence record certificate', () => {
    const envelope = offlineEnvelope(f);
    expectCode(
      () => verify(envelope, { ...f.trust, nowMs: f.alice.fields.notAfter + 5 * MINUTE }),
      ErrorCode.CERT_EXPIRED,
    );
    expectCode(() => verify(envelope, { ...f.trust, isRevoked: () => true }), ErrorCode.CERT_REVOKED);
    const sn = makeMember(f.net, { subject: 'alice', role: Role.ROLE_SUPERNODE });
    const bySupernode = encodeOfflineEnvelope(
      sn.cert,
      signOfflineMessage(suite, sn.key, { ...f.message, senderDeviceId: sn.fields.deviceId }),
    );
    expectCode(() => verify(bySupernode), ErrorCode.CERT_WRONG_ROLE);
    expectCode(
      () => verifyUserCertificate(suite, f.alice.cert, { ...f.trust, loginCertificates: [] }),
      ErrorCode.API_MISUSE,
    );
  });

  it('[STORE-MSG-5] sender and sender_device_id are the certificate subject and device', () => {
    expectCode(() => verify(raw({ sender: 'carol' })), ErrorCode.MALFORMED);
    expectCode(() => verify(raw({ senderDeviceId: new Uint8Array(16) })), ErrorCode.MALFORMED);
    expectCode(() => verify(raw({ sender: '' })), ErrorCode.MISSING_FIELD);
    expectCode(() => verify(raw({ senderDeviceId: new Uint8Array(0) })), ErrorCode.MISSING_FIELD);
  });

  it('[STORE-MSG-6] the recipient is a normalised user name, else USERNAME_INVALID', () => {
    for (const r of ['Bob', 'b', 'bo', 'bob.', 'bob..x', '1bob', 'bób', ' bob', 'a'.repeat(33)]) {
      expectCode(() => verify(raw({ recipient: r })), ErrorCode.USERNAME_INVALID, RequestRefused);
    }
    expectCode(() => verify(raw({ recipient: '' })), ErrorCode.MISSING_FIELD);
    for (const r of ['bob', 'b.o-b_1', 'a'.repeat(32)]) expect(verify(raw({ recipient: r })).recipient).toBe(r);
    expectCode(() => signOfflineMessage(suite, f.alice.key, { ...f.message, recipient: 'Bob' }), ErrorCode.API_MISUSE);
  });

  it('[STORE-MSG-6] isNormalisedUsername is the grammar of 06 LOGIN-NAME-3', () => {
    const restated = (s: string): boolean => {
      if (s.length < 3 || s.length > 32 || !/^[a-z]/.test(s)) return false;
      for (let i = 0; i < s.length; i++) {
        const c = s[i]!;
        if (/[a-z0-9]/.test(c)) continue;
        if (!/[._-]/.test(c) || i === s.length - 1 || !/[a-z0-9]/.test(s[i + 1]!)) return false;
      }
      return true;
    };
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcxyz019._-A '.split('')), maxLength: 36 }), (s) => {
        expect(isNormalisedUsername(s)).toBe(restated(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('[STORE-MSG-7] created_at < expires_at <= created_at + offline-lifetime, else MALFORMED', () => {
    const at = NOW - HOUR;
    expectCode(() => verify(raw({ createdAt: at, expiresAt: at })), ErrorCode.MALFORMED);
    expectCode(
      () => verify(raw({ createdAt: at, expiresAt: at + DEFAULT_OFFLINE_LIFETIME_MS + 1 })),
      ErrorCode.MALFORMED,
    );
    expect(verify(raw({ createdAt: at, expiresAt: at + DEFAULT_OFFLINE_LIFETIME_MS })).createdAt).toBe(at);
    expect(DEFAULT_OFFLINE_LIFETIME_MS).toBe(30 * DAY);
    // a policy's shorter lifetime
    expectCode(
      () => verify(raw({ createdAt: at, expiresAt: at + 2 * DAY }), f.trust, { maxLifetimeMs: DAY }),
      ErrorCode.MALFORMED,
    );
    expect(verify(raw({ createdAt: at, expiresAt: at + DAY }), f.trust, { maxLifetimeMs: DAY }).expiresAt).toBe(
      at + DAY,
    );
    expectCode(() => verify(raw({}), f.trust, { maxLifetimeMs: 0 }), ErrorCode.API_MISUSE);
    expectCode(() => verify(raw({ createdAt: 0 })), ErrorCode.MISSING_FIELD);
  });

  it('[STORE-MSG-7] [DIR-REC-7] the lifetimes are the defaults and bounds of the policy (06 §8.3)', () => {
    expect(DEFAULT_OFFLINE_LIFETIME_MS).toBe(POLICY_DEFAULTS.directory.offlineLifetimeMs);
    expect(DEFAULT_PRESENCE_LIFETIME_MS).toBe(POLICY_DEFAULTS.directory.presenceLifetimeMs);
    expect(MAX_PRESENCE_LIFETIME_MS).toBe(POLICY_BOUNDS.directory.presenceLifetimeMs);
    // the policy's longest offline lifetime is accepted when the caller passes it
    const at = NOW - HOUR;
    const long = raw({ createdAt: at, expiresAt: at + POLICY_BOUNDS.directory.offlineLifetimeMs });
    expectCode(() => verify(long), ErrorCode.MALFORMED);
    expect(verify(long, f.trust, { maxLifetimeMs: POLICY_BOUNDS.directory.offlineLifetimeMs }).createdAt).toBe(at);
  });

  it('[STORE-MSG-7] an expired message is TOO_OLD; one created more than the skew ahead CERT_NOT_YET_VALID', () => {
    // within the certificate's validity: the message expires in an hour
    const envelope = offlineEnvelope(f, { expiresAt: NOW + HOUR });
    expectCode(() => verify(envelope, { ...f.trust, nowMs: NOW + HOUR }), ErrorCode.TOO_OLD, ProtocolViolation);
    expect(verify(envelope, { ...f.trust, nowMs: NOW + HOUR - 1 }).sender).toBe('alice');
    const ahead = offlineEnvelope(f, { createdAt: NOW + 5 * MINUTE + 1, expiresAt: NOW + DAY });
    expectCode(() => verify(ahead), ErrorCode.CERT_NOT_YET_VALID);
    expect(verify(ahead, { ...f.trust, nowMs: NOW + 1 }).sender).toBe('alice');
  });

  it('[STORE-MSG-8] the ciphertext is 1..16,384 opaque bytes', () => {
    expectCode(() => verify(raw({ ciphertext: new Uint8Array(0) })), ErrorCode.MISSING_FIELD);
    expectCode(
      () => verify(raw({ ciphertext: new Uint8Array(MAX_OFFLINE_CIPHERTEXT_BYTES + 1) })),
      ErrorCode.FIELD_LIMIT,
    );
    expect(verify(raw({ ciphertext: new Uint8Array(1) })).sender).toBe('alice');
    expectCode(
      () => signOfflineMessage(suite, f.alice.key, { ...f.message, ciphertext: new Uint8Array(16_385) }),
      ErrorCode.API_MISUSE,
    );
  });

  it('[STORE-MSG-9] the verified result carries the exact envelope and its size, from bytes or a decoded body', () => {
    const envelope = offlineEnvelope(f);
    const v = verify(envelope);
    expect([...v.envelope]).toEqual([...envelope]);
    expect(v.size).toBe(envelope.length);
    const again = verifyOfflineEnvelope(suite, decodeOfflineEnvelope(envelope), f.trust);
    expect([...again.envelope]).toEqual([...envelope]);
  });

  it('[STORE-MSG-4] any mutation of a valid envelope is a value or a ParleyError', () => {
    fc.assert(
      fc.property(mutatedArbitrary(fc.constant(offlineEnvelope(f))), (bytes) => {
        codeOf(() => verify(bytes));
      }),
      { numRuns: 300 },
    );
  });
});
