/**
 * Consumes spec/vectors/login.json as an implementer in another language would. Every byte string the
 * spec defines from primitives is recomputed here without the reference implementation: the canonical
 * encodings of the policy, the list pages, the signed prekey and the packets by a protobuf encoder
 * written from login.proto below; signed messages, signatures, key ids and X25519 keys on node:crypto
 * (./independent.ts); the effective policy from the defaults table of the spec itself. Then the
 * reference implementation, on both crypto suites, must accept what the file says is valid and refuse
 * the rest with the code it names.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCertificate, Role } from '../../src/identity/certificate.js';
import { verifyChain } from '../../src/identity/chain.js';
import { decodeSigned } from '../../src/identity/signed.js';
import {
  isSoftwareDenied,
  verifyCertificateRequest,
  verifyNetworkPolicy,
  verifyRevocationListPage,
  verifySignedPrekey,
  verifySupernodeListPage,
} from '../../src/login/index.js';
import { decodePacket, encodePacket, type Packet } from '../../src/packet/index.js';
import { outcome, suites } from './implementation.js';
import {
  concat,
  ed25519Public,
  ed25519Sign,
  ed25519Verify,
  loadVector,
  repoRoot,
  sha256,
  tohex,
  unhex,
  utf8,
  x25519Public,
} from './independent.js';
import { delimited, encoder, isScalar, json, type Schema, tagged, varint } from './proto-encoder.js';

// biome-ignore lint/suspicious/noExplicitAny: untyped JSON
type J = any;

// ---- A canonical protobuf encoder, written from spec/proto/parley/v1/login.proto and packet.proto -----------

const SCHEMA: Schema = {
  Signed: [
    [1, 'body', 'bytes'],
    [2, 'signature', 'bytes'],
    [3, 'signerKeyId', 'bytes'],
    [4, 'context', 'enum'],
  ],
  LoginFinish: [
    [1, 'finishLoginRequest', 'bytes'],
    [2, 'certificateRequest', 'CertificateRequest'],
  ],
  CertificateRequest: [
    [1, 'subjectKey', 'bytes'],
    [2, 'deviceId', 'bytes'],
    [3, 'proof', 'bytes'],
  ],
  PolicyReply: [
    [1, 'unchanged', 'bool'],
    [2, 'policy', 'bytes'],
    [3, 'loginCertificate', 'bytes'],
  ],
  GetSupernodeList: [
    [1, 'knownEpoch', 'uint64'],
    [2, 'page', 'uint32'],
  ],
  StateVersions: [
    [1, 'policyVersion', 'uint64'],
    [2, 'supernodeListEpoch', 'uint64'],
    [3, 'revocationListNumber', 'uint64'],
  ],
  SupernodeRegister: [
    [1, 'endpoints', 'Endpoint', 'repeated'],
    [2, 'capacity', 'uint32'],
  ],
  SupernodeRegisterReply: [
    [1, 'heartbeatIntervalMs', 'uint32'],
    [2, 'versions', 'StateVersions'],
  ],
  Endpoint: [
    [1, 'protocol', 'enum'],
    [2, 'address', 'bytes'],
    [3, 'port', 'uint32'],
  ],
  OneTimePrekey: [
    [1, 'id', 'uint32'],
    [2, 'publicKey', 'bytes'],
  ],
  SignedPrekey: [
    [1, 'id', 'uint32'],
    [2, 'publicKey', 'bytes'],
    [3, 'identityDhKey', 'bytes'],
    [4, 'deviceId', 'bytes'],
    [5, 'createdAt', 'uint64'],
  ],
  PrekeyBundle: [
    [1, 'certificate', 'bytes'],
    [2, 'signedPrekey', 'bytes'],
    [3, 'oneTimePrekey', 'OneTimePrekey'],
  ],
  FetchPrekeysReply: [[1, 'bundles', 'PrekeyBundle', 'repeated']],
  GetContactBlob: [],
  ElectionPolicy: [
    [1, 'mode', 'enum'],
    [2, 'minUptimeS', 'uint32'],
    [3, 'minUpstreamKbps', 'uint32'],
    [4, 'minAttestations', 'uint32'],
    [5, 'targetLoad', 'uint32'],
    [6, 'hysteresisPercent', 'uint32'],
    [7, 'cooldownS', 'uint32'],
    [8, 'maxSharePerVersionPercent', 'uint32'],
    [9, 'maxSharePerPrefixPercent', 'uint32'],
    [10, 'minSupernodes', 'uint32'],
  ],
  RelayPolicy: [
    [1, 'allocationLifetimeS', 'uint32'],
    [2, 'allocationBytes', 'uint64'],
    [3, 'allocationBytesPerS', 'uint32'],
    [4, 'allocationsPerUser', 'uint32'],
  ],
  DirectoryPolicy: [
    [1, 'presenceLifetimeS', 'uint32'],
    [2, 'offlineLifetimeS', 'uint32'],
    [3, 'offlineMessagesPerRecipient', 'uint32'],
    [4, 'offlineBytesPerRecipient', 'uint32'],
    [5, 'offlineMessagesPerSender', 'uint32'],
  ],
  RateLimitPolicy: [
    [1, 'loginFailuresPerWindow', 'uint32'],
    [2, 'loginFailureWindowS', 'uint32'],
    [3, 'loginBackoffBaseMs', 'uint32'],
    [4, 'loginBackoffMaxMs', 'uint32'],
    [5, 'addressBucketCapacity', 'uint32'],
    [6, 'addressRefillPerMinute', 'uint32'],
    [7, 'searchPerMinute', 'uint32'],
  ],
  NetworkPolicy: [
    [1, 'version', 'uint64'],
    [2, 'issuedAt', 'uint64'],
    [3, 'protocolVersions', 'uint32', 'repeated'],
    [4, 'deniedSoftware', 'string', 'repeated'],
    [5, 'userCertLifetimeS', 'uint32'],
    [6, 'supernodeCertLifetimeS', 'uint32'],
    [7, 'certClockSkewS', 'uint32'],
    [8, 'replicationFactor', 'uint32'],
    [9, 'heartbeatIntervalS', 'uint32'],
    [10, 'election', 'ElectionPolicy'],
    [11, 'relay', 'RelayPolicy'],
    [12, 'rateLimits', 'RateLimitPolicy'],
  ],
  SupernodeEntry: [
    [1, 'keyId', 'bytes'],
    [2, 'endpoints', 'Endpoint', 'repeated'],
    [3, 'software', 'string'],
    [4, 'loadPercent', 'uint32'],
    [5, 'hosted', 'bool'],
    [6, 'notAfter', 'uint64'],
    [7, 'placementKey', 'bytes'],
  ],
  SupernodeListPage: [
    [1, 'epoch', 'uint64'],
    [2, 'issuedAt', 'uint64'],
    [3, 'expiresAt', 'uint64'],
    [4, 'page', 'uint32'],
    [5, 'pageCount', 'uint32'],
    [6, 'entries', 'SupernodeEntry', 'repeated'],
  ],
  RevokedCertificate: [
    [1, 'serial', 'uint64'],
    [2, 'notAfter', 'uint64'],
  ],
  RevocationListPage: [
    [1, 'number', 'uint64'],
    [2, 'issuedAt', 'uint64'],
    [3, 'page', 'uint32'],
    [4, 'pageCount', 'uint32'],
    [5, 'entries', 'RevokedCertificate', 'repeated'],
  ],
};
/** packet.proto: the `oneof body` members of the vectors' packets. */
const BODIES: Record<string, [number, string]> = {
  loginFinish: [106, 'LoginFinish'],
  policyReply: [115, 'PolicyReply'],
  getSupernodeList: [116, 'GetSupernodeList'],
  supernodeRegister: [120, 'SupernodeRegister'],
  supernodeRegisterReply: [121, 'SupernodeRegisterReply'],
  fetchPrekeysReply: [127, 'FetchPrekeysReply'],
  getContactBlob: [128, 'GetContactBlob'],
};

const encode = encoder(SCHEMA);

/** A vector value as the implementation's: hex to bytes for bytes fields, null to undefined. */
function fromJson(message: string, value: J): J {
  const out: J = {};
  for (const [, name, type, repeated] of SCHEMA[message]!) {
    const one = (x: J): J =>
      x === null ? undefined : type === 'bytes' ? unhex(x) : isScalar(type) ? x : fromJson(type, x);
    out[name] = repeated ? value[name].map(one) : one(value[name]);
  }
  return out;
}

/** The `Signed` envelope of a vector object, encoded again from its parts. */
const envelope = (o: J): Uint8Array =>
  encode('Signed', { body: o.body, signature: o.signature, signerKeyId: o.signerKeyId, context: o.context });

// ---- The defaults of the network policy, read from the spec's own table (POLICY-GEN-3) ------------------------

const CHAPTER = path.join(repoRoot, 'spec/06-login-server.md');
const specText = readFileSync(CHAPTER, 'utf8');
const defaultsTable = (() => {
  const lines = specText.split('\n');
  const start = lines.findIndex((l) => /^#+\s/.test(l) && l.includes('Defaults and bounds'));
  const rows = lines
    .slice(start + 1)
    .filter((l, i, all) => l.trim().startsWith('|') && all.slice(0, i).every((x) => !/^#+\s/.test(x)))
    .map((l) =>
      l
        .trim()
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim().replace(/`/g, '')),
    );
  return rows.slice(2).map(([field, unit, def]) => ({
    path: field!.split('.'),
    unit: unit!,
    value: Number(/\d[\d,]*/.exec(def!)![0].replaceAll(',', '')),
  }));
})();
const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** POLICY-GEN-3 applied to the vector's fields with the spec's table: what every receiver must derive. */
function effectiveFromSpec(fields: J): J {
  const out: J = {
    version: fields.version ?? 0,
    issuedAtMs: fields.issuedAt ?? 0,
    protocolVersions: fields.protocolVersions?.length ? fields.protocolVersions : [1],
    deniedSoftware: fields.deniedSoftware ?? [],
  };
  for (const row of defaultsTable) {
    const wire = row.path.map(camel);
    const given = wire.reduce((x: J, k) => x?.[k], fields) ?? 0;
    const value = (given === 0 ? row.value : given) * (row.unit === 's' ? 1000 : 1);
    const key = row.unit === 's' ? `${camel(row.path.at(-1)!.replace(/_s$/, ''))}Ms` : wire.at(-1)!;
    let at = out;
    for (const k of wire.slice(0, -1)) at = at[k] ??= {};
    at[key] = value;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

describe('login.json', () => {
  const v = loadVector('login');
  const net = v.network;
  const trust = () => ({
    trustAnchors: v.verifier.trustAnchors.map(unhex),
    nowMs: v.verifier.nowMs,
    skewMs: v.verifier.skewMs,
  });
  const CONTEXTS: Record<number, string> = {
    4: 'parley/v1 supernode-list',
    5: 'parley/v1 network-policy',
    6: 'parley/v1 revocation-list',
    7: 'parley/v1 prekey-bundle',
  };

  /** Checks a Signed of the vector on primitives: message, key id, deterministic signature, envelope. */
  function checkSigned(o: J, context: number, signer: J): void {
    expect(o.context).toBe(context);
    expect(tohex(concat(utf8(CONTEXTS[context]!), Uint8Array.of(0), unhex(o.body)))).toBe(o.signedMessage);
    expect(o.signerKeyId).toBe(tohex(sha256(unhex(signer.publicKey))));
    expect(ed25519Verify(unhex(signer.publicKey), unhex(o.signedMessage), unhex(o.signature))).toBe(true);
    expect(tohex(ed25519Sign(unhex(signer.seed), unhex(o.signedMessage)))).toBe(o.signature);
    expect(tohex(envelope(o))).toBe(o.signed);
  }

  it('[ID-KEY-1] [LOGIN-PUB-1] the keys derive from their seeds and the login certificate is issued by the root', () => {
    for (const k of [net.root, net.login, net.user, net.supernode, net.otherRoot, net.otherLogin]) {
      expect(tohex(ed25519Public(unhex(k.seed)))).toBe(k.publicKey);
      expect(tohex(sha256(unhex(k.publicKey)))).toBe(k.keyId);
    }
    const c = net.loginCertificate;
    expect(c.fields.role).toBe('ROLE_LOGIN');
    expect(c.fields.subjectKey).toBe(net.login.publicKey);
    expect(c.signerKeyId).toBe(net.root.keyId);
    expect(ed25519Verify(unhex(net.root.publicKey), unhex(c.signedMessage), unhex(c.signature))).toBe(true);
    for (const [, suite] of suites) {
      const chain = verifyChain(suite, [unhex(c.signed)], { ...trust(), acceptedRoles: [Role.ROLE_LOGIN] });
      expect(tohex(chain.leafKeyId)).toBe(net.login.keyId);
    }
  });

  it('[POLICY-GEN-1] [LOGIN-PUB-1] [WIRE-ENC-1] the policy body is the canonical encoding of its fields, signed by the login key', () => {
    for (const p of [v.policy, v.policyDefaults]) {
      expect(tohex(encode('NetworkPolicy', p.fields))).toBe(p.body);
      checkSigned(p, 5, net.login);
      expect(unhex(p.body).length).toBeLessThanOrEqual(8_192);
    }
  });

  it("[POLICY-GEN-3] the effective policies are the spec table's defaults applied to the fields", () => {
    expect(defaultsTable.length).toBeGreaterThan(20);
    expect(effectiveFromSpec(v.policy.fields)).toStrictEqual(v.policy.expected);
    expect(effectiveFromSpec(v.policyDefaults.fields)).toStrictEqual(v.policyDefaults.expected);
  });

  for (const [suiteName, suite] of suites) {
    it(`[LOGIN-PUB-2] [POLICY-GEN-3] the reference verifier derives the expected effective policies (${suiteName})`, () => {
      for (const p of [v.policy, v.policyDefaults]) {
        expect(
          json(verifyNetworkPolicy(suite, unhex(p.signed), unhex(net.loginCertificate.signed), trust())),
        ).toStrictEqual(p.expected);
      }
    });
  }

  it('[POLICY-DENY-1] the deny list decisions follow the rule: equal, or a prefix ending in "/" or "."', () => {
    const rule = (list: string[], s: string) =>
      list.some((e) => e === s || ((e.endsWith('/') || e.endsWith('.')) && s.startsWith(e)));
    expect(v.policy.denied.length).toBeGreaterThan(4);
    for (const d of v.policy.denied) {
      expect(rule(v.policy.fields.deniedSoftware, d.software), d.software).toBe(d.denied);
      expect(isSoftwareDenied(v.policy.expected.deniedSoftware, d.software), d.software).toBe(d.denied);
    }
  });

  it('[LOGIN-LIST-1] [LOGIN-LIST-2] [LOGIN-SN-2] the supernode list page: canonical body, signature, and the page it verifies to', () => {
    for (const page of v.supernodeList.pages) {
      expect(tohex(encode('SupernodeListPage', page.fields))).toBe(page.body);
      checkSigned(page, 4, net.login);
      const f = page.fields;
      expect(page.expected).toStrictEqual({
        version: f.epoch,
        issuedAtMs: f.issuedAt,
        expiresAtMs: f.expiresAt,
        page: f.page,
        pageCount: f.pageCount,
        entries: f.entries.map(({ notAfter, ...e }: J) => ({ ...e, notAfterMs: notAfter })),
      });
      for (const e of f.entries) {
        expect(unhex(e.keyId)).toHaveLength(32);
        for (const x of e.endpoints) {
          expect([1, 2]).toContain(x.protocol);
          expect([4, 16]).toContain(unhex(x.address).length);
          expect(x.port >= 1 && x.port <= 65_535).toBe(true);
        }
      }
    }
    expect(v.supernodeList.pages[0].fields.entries[0].keyId).toBe(net.supernode.keyId);
  });

  it('[LOGIN-REVOKE-2] the revocation list page: canonical body, signature, and the page it verifies to', () => {
    for (const page of v.revocationList.pages) {
      expect(tohex(encode('RevocationListPage', page.fields))).toBe(page.body);
      checkSigned(page, 6, net.login);
      const f = page.fields;
      expect(page.expected).toStrictEqual({
        version: f.number,
        issuedAtMs: f.issuedAt,
        expiresAtMs: 0,
        page: f.page,
        pageCount: f.pageCount,
        entries: f.entries.map((e: J) => ({ serial: e.serial, notAfterMs: e.notAfter })),
      });
    }
  });

  for (const [suiteName, suite] of suites) {
    it(`[LOGIN-PUB-2] [LOGIN-LIST-3] [LOGIN-REVOKE-2] every published-object verification gives the expected result (${suiteName})`, () => {
      expect(v.verifications.length).toBeGreaterThan(15);
      for (const c of v.verifications) {
        const policy = { ...trust(), nowMs: c.nowMs };
        const signed = unhex(c.signed);
        const cert = unhex(c.loginCertificate);
        const r = outcome(() =>
          c.object === 'policy'
            ? verifyNetworkPolicy(suite, signed, cert, policy)
            : c.object === 'supernode-list'
              ? verifySupernodeListPage(suite, signed, cert, policy)
              : verifyRevocationListPage(suite, signed, cert, policy),
        );
        expect('error' in r ? { error: r.error } : json(r.ok), c.name).toStrictEqual(c.expected);
      }
    });
  }

  it('[LOGIN-CERT-3] the proof is the subject key\'s signature of "parley/v1 certificate-request" 00 h', () => {
    const r = v.certificateRequest;
    const message = concat(utf8('parley/v1 certificate-request'), Uint8Array.of(0), unhex(r.handshakeHash));
    expect(tohex(message)).toBe(r.signedMessage);
    expect(unhex(r.handshakeHash)).toHaveLength(32);
    expect(ed25519Verify(unhex(r.subject.publicKey), message, unhex(r.proof))).toBe(true);
    expect(tohex(ed25519Sign(unhex(r.subject.seed), message))).toBe(r.proof);
    const valid = r.cases.find((c: J) => c.name === 'valid');
    expect(valid.request).toStrictEqual({ subjectKey: r.subject.publicKey, deviceId: r.deviceId, proof: r.proof });
  });

  for (const [suiteName, suite] of suites) {
    it(`[LOGIN-CERT-2] [LOGIN-CERT-3] every certificate request case gives the expected result (${suiteName})`, () => {
      for (const c of v.certificateRequest.cases) {
        const request = fromJson('CertificateRequest', c.request);
        const r = outcome(() => verifyCertificateRequest(suite, request, unhex(c.handshakeHash)));
        expect('error' in r ? { error: r.error } : json(r.ok), c.name).toStrictEqual(c.expected);
      }
    });
  }

  it('[LOGIN-PREKEY-2] the signed prekey: X25519 keys, canonical body, signed by the device key, naming its device', () => {
    const p = v.signedPrekey;
    expect(p.fields.publicKey).toBe(tohex(x25519Public(unhex(p.privateKeys.prekey))));
    expect(p.fields.identityDhKey).toBe(tohex(x25519Public(unhex(p.privateKeys.identityDh))));
    expect(tohex(encode('SignedPrekey', p.fields))).toBe(p.body);
    expect(unhex(p.body).length).toBeLessThanOrEqual(256);
    checkSigned(p, 7, p.device.key);
    expect(p.fields.deviceId).toBe(p.device.deviceId);
    expect(net.userCertificate.fields.deviceId).toBe(p.device.deviceId);
    expect(net.userCertificate.signed).toBe(p.device.certificate);
  });

  for (const [suiteName, suite] of suites) {
    it(`[LOGIN-PREKEY-2] every signed prekey case gives the expected result (${suiteName})`, () => {
      const certificate = decodeCertificate(decodeSigned(unhex(v.signedPrekey.device.certificate)).body);
      for (const c of v.signedPrekey.cases) {
        const r = outcome(() => verifySignedPrekey(suite, unhex(c.signed), certificate));
        expect('error' in r ? { error: r.error } : json(r.ok), c.name).toStrictEqual(c.expected);
      }
    });
  }

  it('[WIRE-ENC-1] [WIRE-PKT-1] every login packet is the canonical encoding of its value', () => {
    expect(v.packets.length).toBeGreaterThanOrEqual(8);
    for (const c of v.packets) {
      const [number, message] = BODIES[c.packet.body]!;
      const bytes = [
        ...(c.packet.requestId ? tagged(1, 0, varint(c.packet.requestId)) : []),
        ...delimited(number, encode(message, c.packet.value)),
      ];
      expect(tohex(Uint8Array.from(bytes)), c.name).toBe(c.encoding);
    }
  });

  it('[WIRE-PKT-1] [WIRE-INT-1] [LOGIN-LIMIT-1] the reference decoder gives each value, and encodes it back to the same bytes', () => {
    for (const c of v.packets) {
      const decoded = decodePacket(unhex(c.encoding));
      expect(
        { requestId: decoded.requestId, body: decoded.body.case, value: json(decoded.body.value) },
        c.name,
      ).toStrictEqual(c.packet);
      const [, message] = BODIES[c.packet.body]!;
      const packet = {
        requestId: c.packet.requestId,
        body: { case: c.packet.body, value: fromJson(message, c.packet.value) },
      };
      expect(tohex(encodePacket(packet as Packet)), c.name).toBe(c.encoding);
    }
  });

  it('[LOGIN-PUB-5] the policy reply carries the signed policy and the login certificate, byte for byte', () => {
    const reply = v.packets.find((c: J) => c.name === 'policy-reply').packet.value;
    expect(reply.policy).toBe(v.policy.signed);
    expect(reply.loginCertificate).toBe(net.loginCertificate.signed);
  });
});
