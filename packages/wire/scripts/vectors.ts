/**
 * Parley's own test vectors (spec/vectors/*.json): certificates, signed objects, packets, stream
 * framing, a whole XX handshake with Parley payloads, and datagrams with the replay window.
 *
 * Every key, seed and ephemeral comes from `seededRandom('<fixed seed string>')` (spec/04-crypto.md,
 * CRYPTO-RAND-4) and every timestamp is a constant, so `generateVectors(suite)` is a pure function of
 * the suite, and both suites give the same bytes ([CRYPTO-SUITE-2]). The CLI writes the files, or with
 * `--check` compares them; spec/vectors/README.md says what each file holds.
 *
 *   node dist/scripts/vectors.js            write spec/vectors/*.json
 *   node dist/scripts/vectors.js --check    exit 1 when a checked-in file differs from what it would write
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ATTESTATION_LIFETIME_MS,
  type AttestationFields,
  signAttestation,
  verifyAttestation,
} from '../src/connectivity/attestation.js';
import {
  associatedData,
  bundleKeys,
  createPrekeys,
  decodeRatchetHeader,
  encodeE2eMessage,
  generateX25519,
  RatchetSession,
  senderIdentity,
  x3dhInitiate,
} from '../src/e2e/index.js';
import {
  buildHandshakePayload,
  type CryptoSuite,
  certifiedPayloadCodec,
  DatagramChannel,
  decodeCertificate,
  decodePacket,
  decodeSigned,
  deriveDatagramKeys,
  derivePlacementKey,
  type EffectivePolicy,
  ErrorCode,
  type EstablishedChannel,
  encodeFrame,
  encodeOfflineEnvelope,
  encodePacket,
  encodePresenceEnvelope,
  errorCodeName,
  FrameDecoder,
  generateSigningKey,
  handleMessage,
  isSoftwareDenied,
  issueCertificate,
  type KeyPair,
  keyId,
  keyPairFromPrivateKey,
  type ListPage,
  type LocalIdentity,
  nodeCrypto,
  type OfflineMessageFields,
  type Packet,
  ParleyError,
  type PeerIdentity,
  PROLOGUE,
  PROLOGUE_TEXT,
  type PresenceRecordFields,
  PresenceStatus,
  parley,
  type Random,
  RENDEZVOUS_CONTEXT,
  type RevokedSerial,
  Role,
  rendezvousOrder,
  rendezvousScore,
  responsibleSupernodes,
  SIGNATURE_CONTEXTS,
  SignatureContext,
  type SignedPrekeyFields,
  type SigningKey,
  type Step,
  type SupernodeListEntryInput,
  type SupernodeObjectTrust,
  seededRandom,
  signCertificateRequest,
  signedMessage,
  signNetworkPolicy,
  signObject,
  signOfflineMessage,
  signPresenceRecord,
  signRevocationList,
  signSignedPrekey,
  signSupernodeList,
  signWithContext,
  startInitiator,
  startResponder,
  type VerifyPolicy,
  verifyCertificateRequest,
  verifyChain,
  verifyHandshakePayload,
  verifyNetworkPolicy,
  verifyOfflineEnvelope,
  verifyPresenceEnvelope,
  verifyRevocationListPage,
  verifySigned,
  verifySignedPrekey,
  verifySupernodeListPage,
  XX_PROTOCOL_NAME,
  XXHandshake,
} from '../src/index.js';

/** Where the vectors say they come from (relative to the repository root). */
export const GENERATOR = 'packages/wire/scripts/vectors.ts';

/** The verifier's clock of every vector: 2026-01-01T12:00:00Z in unix milliseconds. */
export const VECTOR_NOW_MS = Date.UTC(2026, 0, 1, 12, 0, 0);
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SKEW = 5 * MINUTE;

// ---------------------------------------------------------------------------------------------------
// Small helpers

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A protobuf varint (hand-written so that hostile encodings can be built byte by byte). */
function varint(value: number | bigint, width = 0): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    out.push(Number(v & 0x7fn));
    v >>= 7n;
  } while (v > 0n);
  while (out.length < width) out.push(0);
  for (let i = 0; i < out.length - 1; i++) out[i]! |= 0x80;
  return out;
}
const tag = (field: number, wireType: number): number[] => varint(field * 8 + wireType);
const vf = (field: number, value: number | bigint): number[] => [...tag(field, 0), ...varint(value)];
const ld = (field: number, payload: Uint8Array | number[]): number[] => [
  ...tag(field, 2),
  ...varint(payload.length),
  ...payload,
];

function flip(bytes: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const out = new Uint8Array(bytes);
  out[at < 0 ? out.length + at : at]! ^= mask;
  return out;
}

/** Runs `f`; a ParleyError becomes `{ error: NAME }`. Anything else is a bug in the generator. */
function outcome<T>(f: () => T): { ok: T } | { error: string } {
  try {
    return { ok: f() };
  } catch (e) {
    if (e instanceof ParleyError) return { error: errorCodeName(e.code) };
    throw e;
  }
}

/** A `Random` that hands out exactly the given byte strings, in order (fixed keys for the channel API). */
function fixedRandom(...values: Uint8Array[]): Random {
  const queue = values.map((v) => new Uint8Array(v));
  return {
    randomBytes(length: number): Uint8Array {
      const next = queue.shift();
      if (next === undefined || next.length !== length) throw new Error(`fixedRandom: unexpected request of ${length}`);
      return next;
    },
  };
}

const roleName = (role: number): string => Role[role] ?? `ROLE_${role}`;

function keyJson(k: SigningKey): { seed: string; publicKey: string; keyId: string } {
  return { seed: hex(k.seed), publicKey: hex(k.publicKey), keyId: hex(k.keyId) };
}

// ---------------------------------------------------------------------------------------------------
// Certificates (spec/02-identity.md §3, §5, §6)

interface CertFields {
  version?: number;
  subject?: Uint8Array;
  subjectKey?: Uint8Array;
  deviceId?: Uint8Array;
  role?: number;
  serial?: number | bigint;
  notBefore?: number;
  notAfter?: number;
  issuerKeyId?: Uint8Array;
}

/** A certificate body in canonical field order, zero values omitted, any field free to be wrong. */
function certBody(f: CertFields): Uint8Array {
  const parts: number[] = [];
  if (f.version) parts.push(...vf(1, f.version));
  if (f.subject?.length) parts.push(...ld(2, f.subject));
  if (f.subjectKey?.length) parts.push(...ld(3, f.subjectKey));
  if (f.deviceId?.length) parts.push(...ld(4, f.deviceId));
  if (f.role) parts.push(...vf(5, f.role));
  if (f.serial) parts.push(...vf(6, f.serial));
  if (f.notBefore) parts.push(...vf(7, f.notBefore));
  if (f.notAfter) parts.push(...vf(8, f.notAfter));
  if (f.issuerKeyId?.length) parts.push(...ld(9, f.issuerKeyId));
  return Uint8Array.from(parts);
}

/** A `Signed` envelope written by hand (any field may be absent or wrong). */
function signedEnvelope(e: {
  body?: Uint8Array;
  signature?: Uint8Array;
  signerKeyId?: Uint8Array;
  context?: number;
}): Uint8Array {
  const parts: number[] = [];
  if (e.body?.length) parts.push(...ld(1, e.body));
  if (e.signature?.length) parts.push(...ld(2, e.signature));
  if (e.signerKeyId?.length) parts.push(...ld(3, e.signerKeyId));
  if (e.context) parts.push(...vf(4, e.context));
  return Uint8Array.from(parts);
}

const CERT_CONTEXT = SignatureContext.SIGNATURE_CONTEXT_CERTIFICATE;

/** Signs `body` under the certificate context without any check (bodies a verifier must refuse). */
function signRaw(suite: CryptoSuite, key: SigningKey, body: Uint8Array, context: number = CERT_CONTEXT): Uint8Array {
  const signature = suite.ed25519Sign(key.seed, signedMessage(context, body));
  return signedEnvelope({ body, signature, signerKeyId: key.keyId, context: CERT_CONTEXT });
}

function certJson(name: string, issuer: string, signed: Uint8Array, suite: CryptoSuite): object {
  const envelope = decodeSigned(signed);
  const m = parley.v1.Certificate.decode(envelope.body);
  return {
    name,
    issuer,
    fields: {
      version: m.version,
      subject: m.subject,
      subjectKey: hex(m.subjectKey),
      deviceId: hex(m.deviceId),
      role: roleName(m.role),
      roleNumber: m.role,
      serial: Number(m.serial),
      notBefore: Number(m.notBefore),
      notAfter: Number(m.notAfter),
      issuerKeyId: hex(m.issuerKeyId),
    },
    subjectKeyId: hex(keyId(suite, m.subjectKey)),
    body: hex(envelope.body),
    signedMessage: hex(signedMessage(CERT_CONTEXT, envelope.body)),
    signature: hex(envelope.signature),
    signerKeyId: hex(envelope.signerKeyId),
    context: envelope.context,
    signed: hex(signed),
  };
}

interface PolicyJson {
  trustAnchors: string[];
  nowMs: number;
  skewMs: number;
  acceptedRoles: string[];
  revoked?: { issuerKeyId: string; serial: number }[];
}

function runChain(suite: CryptoSuite, chain: Uint8Array[], p: PolicyJson): object {
  const revoked = p.revoked ?? [];
  const result = outcome(() =>
    verifyChain(suite, chain, {
      trustAnchors: p.trustAnchors.map(fromHex),
      nowMs: p.nowMs,
      skewMs: p.skewMs,
      acceptedRoles: p.acceptedRoles.map((r) => Role[r as keyof typeof Role]),
      isRevoked: (issuer, serial) => revoked.some((r) => r.issuerKeyId === hex(issuer) && r.serial === serial),
    }),
  );
  if ('error' in result) return { error: result.error };
  const v = result.ok;
  return {
    result: 'valid',
    leafSubject: v.leaf.subject,
    leafRole: roleName(v.leaf.role),
    leafSerial: v.leaf.serial,
    leafKeyId: hex(v.leafKeyId),
    networkFingerprint: hex(v.networkFingerprint),
  };
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || /[^0-9a-f]/.test(s)) throw new Error(`not lower-case hex: ${s.slice(0, 20)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The shared fixture of the identity vectors: a root, a login server, a user, a supernode, strangers. */
interface Pki {
  root: SigningKey;
  login: SigningKey;
  user: SigningKey;
  supernode: SigningKey;
  otherRoot: SigningKey;
  otherLogin: SigningKey;
  loginCert: Uint8Array;
  userCert: Uint8Array;
  supernodeCert: Uint8Array;
  deviceUser: Uint8Array;
  deviceSupernode: Uint8Array;
  deviceLogin: Uint8Array;
}

const LOGIN_NB = VECTOR_NOW_MS - 30 * DAY;
const LOGIN_NA = LOGIN_NB + 365 * DAY;
const USER_NB = VECTOR_NOW_MS - HOUR;
const USER_NA = USER_NB + DAY;
const SN_NB = VECTOR_NOW_MS - HOUR;
const SN_NA = SN_NB + 6 * HOUR;

function makePki(suite: CryptoSuite, seed: string): Pki {
  const random = seededRandom(seed);
  const root = generateSigningKey(suite, random);
  const login = generateSigningKey(suite, random);
  const user = generateSigningKey(suite, random);
  const supernode = generateSigningKey(suite, random);
  const otherRoot = generateSigningKey(suite, random);
  const otherLogin = generateSigningKey(suite, random);
  const deviceLogin = random.randomBytes(16);
  const deviceUser = random.randomBytes(16);
  const deviceSupernode = random.randomBytes(16);
  const loginCert = issueCertificate(suite, root, {
    subject: 'login.example.net',
    subjectKey: login.publicKey,
    deviceId: deviceLogin,
    role: Role.ROLE_LOGIN,
    serial: 1,
    notBefore: LOGIN_NB,
    notAfter: LOGIN_NA,
  });
  const userCert = issueCertificate(suite, login, {
    subject: 'alice',
    subjectKey: user.publicKey,
    deviceId: deviceUser,
    role: Role.ROLE_USER,
    serial: 1001,
    notBefore: USER_NB,
    notAfter: USER_NA,
  });
  const supernodeCert = issueCertificate(suite, login, {
    subject: 'sn1.example.net',
    subjectKey: supernode.publicKey,
    deviceId: deviceSupernode,
    role: Role.ROLE_SUPERNODE,
    serial: 2001,
    notBefore: SN_NB,
    notAfter: SN_NA,
  });
  return {
    root,
    login,
    user,
    supernode,
    otherRoot,
    otherLogin,
    loginCert,
    userCert,
    supernodeCert,
    deviceUser,
    deviceSupernode,
    deviceLogin,
  };
}

function certificatesFile(suite: CryptoSuite): object {
  const seed = 'parley/vectors/certificates';
  const pki = makePki(suite, seed);
  const { root, login, user } = pki;
  const anchors = [hex(root.publicKey)];
  const policy = (o: Partial<PolicyJson> = {}): PolicyJson => ({
    trustAnchors: anchors,
    nowMs: VECTOR_NOW_MS,
    skewMs: SKEW,
    acceptedRoles: ['ROLE_USER', 'ROLE_SUPERNODE'],
    ...o,
  });
  const userFields: CertFields = {
    version: 1,
    subject: utf8('alice'),
    subjectKey: user.publicKey,
    deviceId: pki.deviceUser,
    role: Role.ROLE_USER,
    serial: 1001,
    notBefore: USER_NB,
    notAfter: USER_NA,
    issuerKeyId: login.keyId,
  };
  // A leaf signed by the login key whose body breaks one rule.
  const badLeaf = (o: CertFields, omit: (keyof CertFields)[] = []): Uint8Array => {
    const f: CertFields = { ...userFields, ...o };
    for (const k of omit) delete f[k];
    return signRaw(suite, login, certBody(f));
  };

  // Certificates that need a signer other than the happy path.
  const userByOtherLogin = issueCertificate(suite, pki.otherLogin, {
    subject: 'mallory',
    subjectKey: user.publicKey,
    deviceId: pki.deviceUser,
    role: Role.ROLE_USER,
    serial: 1002,
    notBefore: USER_NB,
    notAfter: USER_NA,
  });
  const otherLoginCert = issueCertificate(suite, pki.otherRoot, {
    subject: 'login.other.example',
    subjectKey: pki.otherLogin.publicKey,
    deviceId: pki.deviceLogin,
    role: Role.ROLE_LOGIN,
    serial: 1,
    notBefore: LOGIN_NB,
    notAfter: LOGIN_NA,
  });
  const userByOther = issueCertificate(suite, pki.otherLogin, {
    subject: 'bob',
    subjectKey: user.publicKey,
    deviceId: pki.deviceUser,
    role: Role.ROLE_USER,
    serial: 1003,
    notBefore: USER_NB,
    notAfter: USER_NA,
  });
  const loginByLogin = issueCertificate(suite, login, {
    subject: 'login2.example.net',
    subjectKey: pki.otherLogin.publicKey,
    deviceId: pki.deviceLogin,
    role: Role.ROLE_LOGIN,
    serial: 5,
    notBefore: LOGIN_NB,
    notAfter: LOGIN_NA,
  });
  const userByRoot = issueCertificate(suite, root, {
    subject: 'alice',
    subjectKey: user.publicKey,
    deviceId: pki.deviceUser,
    role: Role.ROLE_USER,
    serial: 7,
    notBefore: USER_NB,
    notAfter: USER_NA,
  });
  const rootSelf = issueCertificate(suite, root, {
    subject: 'root',
    subjectKey: root.publicKey,
    deviceId: pki.deviceLogin,
    role: Role.ROLE_LOGIN,
    serial: 8,
    notBefore: LOGIN_NB,
    notAfter: LOGIN_NA,
  });
  const userSelf = issueCertificate(suite, login, {
    subject: 'login-itself',
    subjectKey: login.publicKey,
    deviceId: pki.deviceUser,
    role: Role.ROLE_USER,
    serial: 1004,
    notBefore: USER_NB,
    notAfter: USER_NA,
  });
  const badSignature = (() => {
    const e = decodeSigned(pki.userCert);
    return signedEnvelope({
      body: e.body,
      signature: flip(e.signature, 5, 0x10),
      signerKeyId: e.signerKeyId,
      context: e.context,
    });
  })();
  const presenceSigned = (() => {
    const e = decodeSigned(pki.userCert);
    const signature = signWithContext(suite, login.seed, SignatureContext.SIGNATURE_CONTEXT_PRESENCE_RECORD, e.body);
    return {
      wrongContext: signedEnvelope({
        body: e.body,
        signature,
        signerKeyId: login.keyId,
        context: SignatureContext.SIGNATURE_CONTEXT_PRESENCE_RECORD,
      }),
      rewrittenContext: signedEnvelope({ body: e.body, signature, signerKeyId: login.keyId, context: CERT_CONTEXT }),
    };
  })();
  const userEnvelope = decodeSigned(pki.userCert);
  const bigBody = cat(certBody(userFields), [...tag(15, 2), ...varint(400)], new Uint8Array(400));
  const bigBodyLen = bigBody.length; // 513 bytes or more

  const chain = (leaf: Uint8Array): Uint8Array[] => [leaf, pki.loginCert];
  type CaseIn = {
    name: string;
    description: string;
    requirements: string[];
    chain: Uint8Array[];
    policy?: Partial<PolicyJson>;
  };
  const cases: CaseIn[] = [
    {
      name: 'login-only',
      description: 'the login server: a chain of its LOGIN certificate alone',
      requirements: ['ID-CHAIN-2', 'ID-CHAIN-4', 'ID-KEY-3'],
      chain: [pki.loginCert],
      policy: { acceptedRoles: ['ROLE_LOGIN'] },
    },
    {
      name: 'user',
      description: 'a user certificate under the login certificate',
      requirements: ['ID-CHAIN-3', 'ID-CHAIN-5', 'ID-CERT-12'],
      chain: chain(pki.userCert),
    },
    {
      name: 'supernode',
      description: 'a supernode certificate under the login certificate',
      requirements: ['ID-CHAIN-3', 'ID-CHAIN-9'],
      chain: chain(pki.supernodeCert),
      policy: { acceptedRoles: ['ROLE_SUPERNODE'] },
    },
    {
      name: 'user-two-anchors',
      description: 'two pinned anchors (rotation): the chain ends at the second one',
      requirements: ['ID-ROOT-1', 'ID-KEY-3'],
      chain: chain(pki.userCert),
      policy: { trustAnchors: [hex(pki.otherRoot.publicKey), hex(root.publicKey)] },
    },
    // Validity in time [ID-CERT-12]: now = bound +/- skew at both edges, for the default, zero and maximum skew.
    ...(
      [
        ['valid-until-last-ms', USER_NA + SKEW - 1, SKEW],
        ['expired-at-not-after-plus-skew', USER_NA + SKEW, SKEW],
        ['valid-from-not-before-minus-skew', USER_NB - SKEW, SKEW],
        ['not-yet-valid-1ms-before-skew', USER_NB - SKEW - 1, SKEW],
        ['skew0-valid-at-not-before', USER_NB, 0],
        ['skew0-not-yet-valid-1ms-before', USER_NB - 1, 0],
        ['skew0-valid-at-not-after-minus-1', USER_NA - 1, 0],
        ['skew0-expired-at-not-after', USER_NA, 0],
        ['skew-max-valid-until-last-ms', USER_NA + HOUR - 1, HOUR],
        ['skew-max-expired', USER_NA + HOUR, HOUR],
      ] as const
    ).map(
      ([name, nowMs, skewMs]): CaseIn => ({
        name: `time-${name}`,
        description: `user chain at nowMs ${nowMs} with skew ${skewMs} ms (not_before ${USER_NB}, not_after ${USER_NA})`,
        requirements: ['ID-CERT-12', 'ID-CERT-13'],
        chain: chain(pki.userCert),
        policy: { nowMs, skewMs },
      }),
    ),
    {
      name: 'login-cert-expired',
      description: 'the LOGIN certificate (top of the chain) has expired beyond the skew',
      requirements: ['ID-CERT-12', 'ID-CHAIN-3'],
      chain: chain(pki.userCert),
      policy: { nowMs: LOGIN_NA + SKEW },
    },
    {
      name: 'wrong-role-user-for-supernode',
      description: 'a user certificate where only a supernode is accepted',
      requirements: ['ID-CHAIN-9'],
      chain: chain(pki.userCert),
      policy: { acceptedRoles: ['ROLE_SUPERNODE'] },
    },
    {
      name: 'wrong-role-login-for-user',
      description: 'the LOGIN chain where only users are accepted',
      requirements: ['ID-CHAIN-9'],
      chain: [pki.loginCert],
      policy: { acceptedRoles: ['ROLE_USER'] },
    },
    {
      name: 'other-network',
      description: 'a chain of another network (its LOGIN certificate is issued by a root not pinned)',
      requirements: ['ID-CHAIN-4', 'ID-ROOT-3'],
      chain: [userByOther, otherLoginCert],
    },
    {
      name: 'anchor-not-pinned',
      description: 'the right chain checked against another anchor only',
      requirements: ['ID-CHAIN-4'],
      chain: chain(pki.userCert),
      policy: { trustAnchors: [hex(pki.otherRoot.publicKey)] },
    },
    {
      name: 'unknown-issuer',
      description: 'a user certificate issued by a login key that is not the subject of the next certificate',
      requirements: ['ID-CHAIN-5'],
      chain: chain(userByOtherLogin),
    },
    {
      name: 'bad-signature',
      description: 'one bit of the user certificate signature flipped',
      requirements: ['ID-SIG-6', 'ID-KEY-5'],
      chain: chain(badSignature),
    },
    {
      name: 'wrong-context',
      description: 'the user certificate body signed under parley/v1 presence-record, envelope context 3',
      requirements: ['ID-SIG-7'],
      chain: chain(presenceSigned.wrongContext),
    },
    {
      name: 'context-rewritten',
      description: 'signed under parley/v1 presence-record, envelope context rewritten to 1 (certificate)',
      requirements: ['ID-SIG-9', 'ID-SIG-2'],
      chain: chain(presenceSigned.rewrittenContext),
    },
    {
      name: 'empty-chain',
      description: 'no certificate',
      requirements: ['ID-CHAIN-2'],
      chain: [],
    },
    {
      name: 'chain-of-three',
      description: 'three certificates',
      requirements: ['ID-CHAIN-2'],
      chain: [pki.userCert, pki.loginCert, pki.loginCert],
    },
    {
      name: 'login-below-top',
      description: 'a LOGIN certificate issued by the login key, below the top',
      requirements: ['ID-CHAIN-6'],
      chain: [loginByLogin, pki.loginCert],
      policy: { acceptedRoles: ['ROLE_LOGIN', 'ROLE_USER'] },
    },
    {
      name: 'top-not-login',
      description: 'a USER certificate issued directly by the root',
      requirements: ['ID-CHAIN-4'],
      chain: [userByRoot],
    },
    {
      name: 'certifies-root',
      description: 'a LOGIN certificate whose subject key is the trust anchor itself',
      requirements: ['ID-CHAIN-7', 'ID-CHAIN-1'],
      chain: [rootSelf],
      policy: { acceptedRoles: ['ROLE_LOGIN'] },
    },
    {
      name: 'certifies-own-issuer',
      description: 'a USER certificate for the login key, issued by the login key',
      requirements: ['ID-CHAIN-7'],
      chain: [userSelf, pki.loginCert],
    },
    {
      name: 'revoked',
      description: 'the user serial 1001 is revoked under the login key',
      requirements: ['ID-CHAIN-8'],
      chain: chain(pki.userCert),
      policy: { revoked: [{ issuerKeyId: hex(login.keyId), serial: 1001 }] },
    },
    // Malformed certificate bodies, correctly signed by the login key [ID-CERT-14].
    ...(
      [
        ['version-absent', ['ID-CERT-3'], badLeaf({}, ['version'])],
        ['version-2', ['ID-CERT-3'], badLeaf({ version: 2 })],
        ['subject-absent', ['ID-CERT-4'], badLeaf({}, ['subject'])],
        ['subject-65-bytes', ['ID-CERT-4', 'ID-CERT-1'], badLeaf({ subject: utf8('a'.repeat(65)) })],
        ['subject-64-bytes-of-e-acute', ['ID-CERT-4'], badLeaf({ subject: utf8('\u00e9'.repeat(32)) })],
        ['subject-bidi-override', ['ID-CERT-4'], badLeaf({ subject: utf8('ali\u202ece') })],
        ['subject-control', ['ID-CERT-4'], badLeaf({ subject: utf8('ali\nce') })],
        ['subject-invalid-utf8', ['ID-CERT-4', 'WIRE-UTF8-1'], badLeaf({ subject: Uint8Array.of(0x61, 0xc3, 0x28) })],
        ['subject-key-31-bytes', ['ID-CERT-5'], badLeaf({ subjectKey: user.publicKey.subarray(0, 31) })],
        ['subject-key-33-bytes', ['ID-CERT-5', 'ID-CERT-1'], badLeaf({ subjectKey: cat(user.publicKey, [0]) })],
        ['device-id-absent', ['ID-CERT-6'], badLeaf({}, ['deviceId'])],
        ['device-id-15-bytes', ['ID-CERT-6'], badLeaf({ deviceId: pki.deviceUser.subarray(0, 15) })],
        ['device-id-17-bytes', ['ID-CERT-6'], badLeaf({ deviceId: cat(pki.deviceUser, [0]) })],
        ['role-absent', ['ID-CERT-7'], badLeaf({}, ['role'])],
        ['role-unknown-7', ['ID-CERT-7', 'ID-CHAIN-9', 'GEN-VER-4'], badLeaf({ role: 7 })],
        ['role-above-2^31-1', ['ID-CERT-7', 'WIRE-INT-2'], badLeaf({ role: 2 ** 31 })],
        ['serial-absent', ['ID-CERT-8'], badLeaf({}, ['serial'])],
        ['serial-2^53', ['ID-CERT-8', 'WIRE-INT-1'], badLeaf({ serial: 2n ** 53n })],
        ['serial-2^53-1', ['ID-CERT-8'], badLeaf({ serial: 2 ** 53 - 1 })],
        ['not-after-absent', ['ID-CERT-9'], badLeaf({}, ['notAfter'])],
        ['not-after-equals-not-before', ['ID-CERT-9'], badLeaf({ notAfter: USER_NB })],
        ['lifetime-7-days', ['ID-CERT-10'], badLeaf({ notAfter: USER_NB + 7 * DAY })],
        ['lifetime-7-days-plus-1ms', ['ID-CERT-10'], badLeaf({ notAfter: USER_NB + 7 * DAY + 1 })],
        ['issuer-key-id-absent', ['ID-CERT-11'], badLeaf({}, ['issuerKeyId'])],
        ['issuer-key-id-31-bytes', ['ID-CERT-11'], badLeaf({ issuerKeyId: login.keyId.subarray(0, 31) })],
        ['issuer-key-id-other', ['ID-CERT-11'], badLeaf({ issuerKeyId: root.keyId })],
        ['subject-twice', ['WIRE-ENC-4'], signRaw(suite, login, cat(certBody(userFields), ld(2, utf8('bob'))))],
        ['body-truncated', ['WIRE-ENC-3'], signRaw(suite, login, certBody(userFields).subarray(0, 40))],
        [
          'unknown-field-ignored',
          ['ID-CERT-15', 'GEN-VER-3'],
          signRaw(suite, login, cat(certBody(userFields), vf(20, 1))),
        ],
        [`body-${bigBodyLen}-bytes`, ['ID-CERT-1', 'ID-SIG-5'], signRaw(suite, login, bigBody)],
      ] as const
    ).map(
      ([name, requirements, leaf]): CaseIn => ({
        name: `body-${name}`.replace('body-body-', 'body-'),
        description: `user certificate body: ${name}, signed by the login key`,
        requirements: [...requirements, 'ID-CERT-14'],
        chain: chain(leaf),
      }),
    ),
    // The envelope [ID-SIG-5]
    ...(
      [
        ['signature-63-bytes', { signature: userEnvelope.signature.subarray(0, 63) }],
        ['signature-65-bytes', { signature: cat(userEnvelope.signature, [0]) }],
        ['signature-absent', { signature: new Uint8Array(0) }],
        ['signer-key-id-absent', { signerKeyId: new Uint8Array(0) }],
        ['signer-key-id-31-bytes', { signerKeyId: userEnvelope.signerKeyId.subarray(0, 31) }],
        ['body-absent', { body: new Uint8Array(0) }],
        ['context-absent', { context: 0 }],
      ] as const
    ).map(
      ([name, o]): CaseIn => ({
        name: `envelope-${name}`,
        description: `the user certificate's Signed envelope: ${name}`,
        requirements: ['ID-SIG-5', 'ID-SIG-6'],
        chain: chain(
          signedEnvelope({
            body: userEnvelope.body,
            signature: userEnvelope.signature,
            signerKeyId: userEnvelope.signerKeyId,
            context: userEnvelope.context,
            ...o,
          }),
        ),
      }),
    ),
    {
      name: 'envelope-truncated',
      description: "the user certificate's Signed envelope cut inside its body field",
      requirements: ['WIRE-ENC-3', 'ID-SIG-6'],
      chain: chain(pki.userCert.subarray(0, 20)),
    },
  ];

  return {
    description:
      "Parley certificates and chains (spec/02-identity.md): the keys, key ids and network fingerprint of a small network; a LOGIN, a USER and a SUPERNODE certificate with every field and their exact Signed bytes; and chain verifications, valid and invalid, each with the verifier's policy and the expected result or error code.",
    requirements: [
      'ID-KEY-1',
      'ID-KEY-3',
      'ID-KEY-5',
      'ID-KEY-6',
      'ID-SIG-1',
      'ID-SIG-2',
      'ID-SIG-4',
      'ID-SIG-5',
      'ID-SIG-6',
      'ID-SIG-7',
      'ID-SIG-9',
      'ID-CERT-1',
      'ID-CERT-2',
      'ID-CERT-3',
      'ID-CERT-4',
      'ID-CERT-5',
      'ID-CERT-6',
      'ID-CERT-7',
      'ID-CERT-8',
      'ID-CERT-9',
      'ID-CERT-10',
      'ID-CERT-11',
      'ID-CERT-12',
      'ID-CERT-13',
      'ID-CERT-14',
      'ID-CERT-15',
      'ID-CHAIN-1',
      'ID-CHAIN-2',
      'ID-CHAIN-3',
      'ID-CHAIN-4',
      'ID-CHAIN-5',
      'ID-CHAIN-6',
      'ID-CHAIN-7',
      'ID-CHAIN-8',
      'ID-CHAIN-9',
      'ID-ROOT-1',
      'ID-ROOT-3',
      'CRYPTO-RAND-4',
    ],
    generator: GENERATOR,
    seed,
    format: {
      bytes: 'lower-case hex',
      times: 'unix milliseconds',
      keys: 'Ed25519 seed (secret key) and public key; keyId = SHA-256(publicKey) (ID-KEY-1)',
      signedMessage: 'UTF-8("parley/v1 certificate") || 00 || body (ID-SIG-2), the bytes the signature covers',
      policy:
        'trustAnchors: pinned root public keys; nowMs: verifier clock; skewMs: tolerated skew; acceptedRoles: roles the leaf may have; revoked: (issuerKeyId, serial) pairs known revoked',
      expected:
        '{ result: "valid", leaf..., networkFingerprint } or { error: CODE NAME of spec/00-conventions.md §4.3 }',
    },
    keys: {
      root: keyJson(root),
      login: keyJson(login),
      user: keyJson(user),
      supernode: keyJson(pki.supernode),
      otherRoot: keyJson(pki.otherRoot),
      otherLogin: keyJson(pki.otherLogin),
    },
    networkFingerprint: hex(root.keyId),
    certificates: [
      certJson('login', 'root', pki.loginCert, suite),
      certJson('user', 'login', pki.userCert, suite),
      certJson('supernode', 'login', pki.supernodeCert, suite),
    ],
    chainCases: cases.map((c) => {
      const p = policy(c.policy);
      return {
        name: c.name,
        description: c.description,
        requirements: c.requirements,
        chain: c.chain.map(hex),
        policy: p,
        expected: runChain(suite, c.chain, p),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------------
// Signed objects (spec/02-identity.md §4)

function signedObjectsFile(suite: CryptoSuite): object {
  const seed = 'parley/vectors/signed-objects';
  const random = seededRandom(seed);
  const signer = generateSigningKey(suite, random);
  const other = generateSigningKey(suite, random);
  const noiseStatic = random.randomBytes(32);
  const staticPublic = suite.x25519PublicKey(noiseStatic);
  const contexts = [...SIGNATURE_CONTEXTS.values()].map((info) => {
    // Bare contexts sign a fixed-length value: the binding a Noise static key, the certificate request a
    // 32-byte handshake hash.
    const body =
      info.id === SignatureContext.SIGNATURE_CONTEXT_STATIC_KEY_BINDING
        ? staticPublic
        : info.bare
          ? random.randomBytes(info.maxBodyBytes)
          : cat(utf8(`${info.name} body `), random.randomBytes(16));
    const message = signedMessage(info.id, body);
    const signature = suite.ed25519Sign(signer.seed, message);
    const bare = info.bare;
    return {
      number: info.id,
      enum: SignatureContext[info.id],
      name: info.name,
      prefix: hex(info.prefix),
      maxBodyBytes: info.maxBodyBytes,
      body: hex(body),
      signedMessage: hex(message),
      signature: hex(signature),
      // Bare signatures (ID-HS-3, LOGIN-CERT-3) have no envelope; every other context travels in a Signed.
      signed: bare ? null : hex(signObject(suite, signer, info.id, body)),
    };
  });
  const presence = SignatureContext.SIGNATURE_CONTEXT_PRESENCE_RECORD;
  const policyList = SignatureContext.SIGNATURE_CONTEXT_NETWORK_POLICY;
  const body = utf8('a presence record');
  const good = signObject(suite, signer, presence, body);
  const e = decodeSigned(good);
  const env = (o: { body?: Uint8Array; signature?: Uint8Array; signerKeyId?: Uint8Array; context?: number }) =>
    signedEnvelope({ body: e.body, signature: e.signature, signerKeyId: e.signerKeyId, context: e.context, ...o });
  const underPolicy = suite.ed25519Sign(signer.seed, signedMessage(policyList, body));
  const cases: { name: string; requirements: string[]; signed: Uint8Array; context: number; key: SigningKey }[] = [
    { name: 'valid', requirements: ['ID-SIG-6'], signed: good, context: presence, key: signer },
    { name: 'expected-other-context', requirements: ['ID-SIG-7'], signed: good, context: policyList, key: signer },
    {
      name: 'context-rewritten',
      requirements: ['ID-SIG-9'],
      signed: env({ signature: underPolicy }),
      context: presence,
      key: signer,
    },
    { name: 'other-signer-expected', requirements: ['ID-SIG-8'], signed: good, context: presence, key: other },
    {
      name: 'signer-key-id-of-other-key',
      requirements: ['ID-SIG-8'],
      signed: env({ signerKeyId: other.keyId }),
      context: presence,
      key: signer,
    },
    {
      name: 'signature-bit-flipped',
      requirements: ['ID-SIG-6', 'ID-KEY-5'],
      signed: env({ signature: flip(e.signature, 0) }),
      context: presence,
      key: signer,
    },
    {
      name: 'signature-s-plus-l',
      requirements: ['ID-KEY-5', 'CRYPTO-ED25519-4'],
      signed: env({ signature: addL(e.signature) }),
      context: presence,
      key: signer,
    },
    {
      name: 'body-changed',
      requirements: ['ID-SIG-1'],
      signed: env({ body: utf8('a presence recorD') }),
      context: presence,
      key: signer,
    },
    {
      name: 'body-absent',
      requirements: ['ID-SIG-5'],
      signed: env({ body: new Uint8Array(0) }),
      context: presence,
      key: signer,
    },
    {
      name: 'signature-absent',
      requirements: ['ID-SIG-5'],
      signed: env({ signature: new Uint8Array(0) }),
      context: presence,
      key: signer,
    },
    {
      name: 'signature-63-bytes',
      requirements: ['ID-SIG-5'],
      signed: env({ signature: e.signature.subarray(0, 63) }),
      context: presence,
      key: signer,
    },
    {
      name: 'signature-65-bytes',
      requirements: ['ID-SIG-5'],
      signed: env({ signature: cat(e.signature, [0]) }),
      context: presence,
      key: signer,
    },
    {
      name: 'signer-key-id-33-bytes',
      requirements: ['ID-SIG-5'],
      signed: env({ signerKeyId: cat(e.signerKeyId, [0]) }),
      context: presence,
      key: signer,
    },
    {
      name: 'context-absent',
      requirements: ['ID-SIG-7'],
      signed: env({ context: 0 }),
      context: presence,
      key: signer,
    },
    {
      name: 'certificate-body-513-bytes',
      requirements: ['ID-SIG-5', 'ID-CERT-1'],
      signed: signedEnvelope({
        body: new Uint8Array(513).fill(0x41),
        signature: suite.ed25519Sign(signer.seed, signedMessage(CERT_CONTEXT, new Uint8Array(513).fill(0x41))),
        signerKeyId: signer.keyId,
        context: CERT_CONTEXT,
      }),
      context: CERT_CONTEXT,
      key: signer,
    },
    {
      name: 'signature-field-twice',
      requirements: ['WIRE-ENC-4', 'ID-SIG-6'],
      signed: cat(good, ld(2, e.signature)),
      context: presence,
      key: signer,
    },
    {
      name: 'unknown-field-skipped',
      requirements: ['GEN-VER-3', 'ID-SIG-1'],
      signed: cat(good, vf(9, 5)),
      context: presence,
      key: signer,
    },
  ];
  return {
    description:
      'Signed objects (spec/02-identity.md §4): for every context of the registry, the bytes an Ed25519 signature covers (UTF-8(context name) || 00 || body), the signature and the Signed envelope; then verifications of one envelope against an expected context and signer key, valid and invalid, with the expected error code.',
    requirements: [
      'ID-SIG-1',
      'ID-SIG-2',
      'ID-SIG-3',
      'ID-SIG-4',
      'ID-SIG-5',
      'ID-SIG-6',
      'ID-SIG-7',
      'ID-SIG-8',
      'ID-SIG-9',
      'ID-HS-3',
      'ID-KEY-5',
      'CRYPTO-ED25519-4',
      'CRYPTO-RAND-4',
    ],
    generator: GENERATOR,
    seed,
    format: {
      bytes: 'lower-case hex',
      contexts:
        'signed = the encoded Signed { body = 1, signature = 2, signer_key_id = 3, context = 4 }; null for the bare static-key binding',
      verifications:
        'verify `signed` expecting `context` (registry number) signed by `publicKey` (ID-SIG-6 steps 1-5); expected is { body } on success or { error: CODE NAME }',
    },
    signer: keyJson(signer),
    other: keyJson(other),
    noiseStaticKey: { privateKey: hex(noiseStatic), publicKey: hex(staticPublic) },
    contexts,
    verifications: cases.map((c) => {
      const r = outcome(() => verifySigned(suite, c.signed, c.context, c.key.publicKey));
      return {
        name: c.name,
        requirements: c.requirements,
        signed: hex(c.signed),
        context: c.context,
        publicKey: hex(c.key.publicKey),
        expected: 'error' in r ? { error: r.error } : { body: hex(r.ok) },
      };
    }),
  };
}

/** S + L: the same signature with a non-reduced scalar (little-endian, 256-bit add). */
function addL(signature: Uint8Array): Uint8Array {
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!);
  s += L;
  const out = new Uint8Array(signature);
  for (let i = 32; i < 64; i++) {
    out[i] = Number(s & 0xffn);
    s >>= 8n;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Packets (spec/01-packets.md)

function packetJson(p: Packet): object {
  const b = p.body;
  switch (b.case) {
    case 'close':
    case 'error':
      return { requestId: p.requestId, body: b.case, code: b.value.code, detail: b.value.detail };
    case 'ping':
    case 'pong':
      return { requestId: p.requestId, body: b.case, sequence: b.value.sequence, data: hex(b.value.data) };
    default:
      return { requestId: p.requestId, body: b.case, value: plainJson(b.value) };
  }
}

/** A decoded body of chapter 06 onwards as JSON: bytes in hex, everything else as it is. */
function plainJson(v: unknown): unknown {
  if (v instanceof Uint8Array) return hex(v);
  if (Array.isArray(v)) return v.map(plainJson);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainJson(x)]));
  }
  return v;
}

function packetsFile(): object {
  const packets: { name: string; requirements: string[]; packet: Packet }[] = [
    {
      name: 'close-orderly',
      requirements: ['WIRE-CLOSE-1', 'WIRE-ENC-1'],
      packet: { requestId: 0, body: { case: 'close', value: { code: 0, detail: '' } } },
    },
    {
      name: 'close-with-code',
      requirements: ['WIRE-CLOSE-1'],
      packet: {
        requestId: 0,
        body: { case: 'close', value: { code: ErrorCode.FIELD_LIMIT, detail: 'ping data too long' } },
      },
    },
    {
      name: 'ping',
      requirements: ['WIRE-PKT-2', 'WIRE-PING-1'],
      packet: { requestId: 1, body: { case: 'ping', value: { sequence: 1, data: utf8('t=1767268800000') } } },
    },
    {
      name: 'ping-empty',
      requirements: ['WIRE-ENC-1'],
      packet: { requestId: 2, body: { case: 'ping', value: { sequence: 0, data: new Uint8Array(0) } } },
    },
    {
      name: 'pong-max',
      requirements: ['WIRE-PING-1', 'WIRE-LIMIT-2', 'WIRE-INT-2'],
      packet: {
        requestId: 0xffffffff,
        body: {
          case: 'pong',
          value: { sequence: 0xffffffff, data: Uint8Array.from({ length: 256 }, (_, i) => i) },
        },
      },
    },
    {
      name: 'error-reply',
      requirements: ['WIRE-ERRREPLY-1', 'WIRE-PKT-3'],
      packet: {
        requestId: 300,
        body: { case: 'error', value: { code: ErrorCode.UNKNOWN_BODY, detail: 'body 250' } },
      },
    },
    {
      name: 'error-reply-utf8-detail',
      requirements: ['WIRE-UTF8-1', 'WIRE-UTF8-3'],
      packet: {
        requestId: 9,
        body: { case: 'error', value: { code: ErrorCode.BUSY, detail: 'occupé \u{1f600} 忙' } },
      },
    },
    {
      name: 'error-reply-detail-256-bytes',
      requirements: ['WIRE-LIMIT-1', 'WIRE-LIMIT-2'],
      packet: {
        requestId: 10,
        body: { case: 'error', value: { code: ErrorCode.RATE_LIMITED, detail: 'é'.repeat(128) } },
      },
    },
  ];
  const valid = packets.map((p) => {
    const bytes = encodePacket(p.packet);
    return {
      name: p.name,
      requirements: p.requirements,
      packet: packetJson(p.packet),
      encoding: hex(bytes),
    };
  });

  const ping = ld(17, [...vf(1, 4), ...ld(2, [0xaa])]);
  const big = (n: number): Uint8Array =>
    cat(ld(17, vf(1, 1)), [...tag(500, 2), ...varint(n - 8)], new Uint8Array(n - 8));
  // Trim the filler so that the packet is exactly n bytes long.
  const exact = (n: number): Uint8Array => {
    let b = big(n);
    let filler = n - 8;
    while (b.length !== n) {
      filler += n - b.length;
      b = cat(ld(17, vf(1, 1)), [...tag(500, 2), ...varint(filler)], new Uint8Array(filler));
    }
    return b;
  };
  // Encodings a receiver must accept although no sender produces them [WIRE-ENC-2] [GEN-VER-3].
  const accepted: { name: string; requirements: string[]; input: Uint8Array; channel?: 'stream' | 'datagram' }[] = [
    { name: 'fields-out-of-order', requirements: ['WIRE-ENC-2'], input: Uint8Array.from([...ping, ...vf(1, 7)]) },
    {
      name: 'padded-varints',
      requirements: ['WIRE-ENC-2'],
      input: Uint8Array.from([
        ...tag(1, 0),
        ...varint(7, 10),
        ...tag(17, 2),
        ...varint(5, 2),
        ...vf(1, 4),
        ...ld(2, [0xaa]),
      ]),
    },
    {
      name: 'explicit-zero-values',
      requirements: ['WIRE-ENC-2'],
      input: Uint8Array.from([...vf(1, 0), ...ld(16, [...vf(1, 0), ...ld(2, [])])]),
    },
    {
      name: 'unknown-fields',
      requirements: ['GEN-VER-3', 'WIRE-PKT-5'],
      input: Uint8Array.from([
        ...vf(2, 2 ** 40),
        ...vf(1, 7),
        ...tag(600, 1),
        ...[1, 2, 3, 4, 5, 6, 7, 8],
        ...ld(17, [...vf(1, 4), ...tag(9, 5), ...[1, 2, 3, 4], ...ld(2, [0xaa]), ...ld(300, [9])]),
      ]),
    },
    {
      name: 'close-unknown-code',
      requirements: ['WIRE-CLOSE-2', 'GEN-VER-4'],
      input: Uint8Array.from(ld(16, vf(1, 799))),
    },
    { name: 'datagram-packet-1171-bytes', requirements: ['WIRE-LIMIT-4'], input: exact(1171), channel: 'datagram' },
  ];
  const acceptedJson = accepted.map((a) => {
    const channel = a.channel ?? 'stream';
    const p = decodePacket(a.input, { channel });
    return {
      name: a.name,
      requirements: a.requirements,
      channel,
      input: hex(a.input),
      packet: packetJson(p),
      canonical: hex(encodePacket(p)),
    };
  });

  const invalid: { name: string; requirements: string[]; input: Uint8Array; channel?: 'stream' | 'datagram' }[] = [
    { name: 'empty', requirements: ['WIRE-PKT-4'], input: new Uint8Array(0) },
    { name: 'no-body-request', requirements: ['WIRE-PKT-4', 'WIRE-PKT-6'], input: Uint8Array.from(vf(1, 42)) },
    {
      name: 'unknown-body-250',
      requirements: ['WIRE-PKT-6', 'GEN-VER-5'],
      input: Uint8Array.from([...vf(1, 43), ...ld(250, [8, 1])]),
    },
    {
      name: 'unknown-body-499-notice',
      requirements: ['WIRE-PKT-6', 'WIRE-PKT-5'],
      input: Uint8Array.from(ld(499, [])),
    },
    {
      name: 'two-bodies',
      requirements: ['WIRE-PKT-4', 'WIRE-ENC-4'],
      input: Uint8Array.from([...ld(17, vf(1, 1)), ...ld(18, vf(1, 1))]),
    },
    {
      name: 'same-body-twice',
      requirements: ['WIRE-ENC-4'],
      input: Uint8Array.from([...ld(17, vf(1, 1)), ...ld(17, vf(1, 2))]),
    },
    {
      name: 'request-id-twice',
      requirements: ['WIRE-ENC-4'],
      input: Uint8Array.from([...vf(1, 1), ...vf(1, 2), ...ld(17, [])]),
    },
    {
      name: 'unknown-body-and-known-body',
      requirements: ['WIRE-ENC-4'],
      input: Uint8Array.from([...ld(17, []), ...ld(250, [])]),
    },
    { name: 'field-number-0', requirements: ['WIRE-ENC-3'], input: Uint8Array.from([0x00, 0x01, ...ld(17, [])]) },
    { name: 'wire-type-3-group', requirements: ['WIRE-ENC-3'], input: Uint8Array.from([...tag(5, 3), ...ld(17, [])]) },
    { name: 'wire-type-6', requirements: ['WIRE-ENC-3'], input: Uint8Array.from([...tag(5, 6), ...ld(17, [])]) },
    {
      name: 'body-wrong-wire-type',
      requirements: ['WIRE-ENC-3', 'WIRE-PKT-5'],
      input: Uint8Array.from(vf(17, 1)),
    },
    {
      name: 'request-id-wrong-wire-type',
      requirements: ['WIRE-ENC-3'],
      input: Uint8Array.from([...ld(1, [1]), ...ld(17, [])]),
    },
    {
      name: 'varint-11-bytes',
      requirements: ['WIRE-ENC-3'],
      input: Uint8Array.from([...tag(1, 0), ...varint(1, 11), ...ld(17, [])]),
    },
    {
      name: 'varint-10th-byte-above-1',
      requirements: ['WIRE-ENC-3'],
      input: Uint8Array.from([...tag(2, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, ...ld(17, [])]),
    },
    {
      name: 'tag-above-32-bits',
      requirements: ['WIRE-ENC-3'],
      input: Uint8Array.from([...varint(2n ** 35n), 0x01, ...ld(17, [])]),
    },
    { name: 'truncated-in-tag', requirements: ['WIRE-ENC-3'], input: Uint8Array.from([...ld(17, []), 0x88]) },
    { name: 'truncated-in-varint', requirements: ['WIRE-ENC-3'], input: Uint8Array.from([...ld(17, []), 0x08, 0x80]) },
    {
      name: 'truncated-in-body',
      requirements: ['WIRE-ENC-3'],
      input: Uint8Array.from([...tag(17, 2), 5, ...vf(1, 1)]),
    },
    {
      name: 'truncated-fixed64',
      requirements: ['WIRE-ENC-3'],
      input: Uint8Array.from([...ld(17, []), ...tag(3, 1), 1, 2, 3]),
    },
    {
      name: 'request-id-2^32',
      requirements: ['WIRE-INT-2'],
      input: Uint8Array.from([...vf(1, 2 ** 32), ...ld(17, [])]),
    },
    {
      name: 'ping-sequence-2^32',
      requirements: ['WIRE-INT-2'],
      input: Uint8Array.from(ld(17, vf(1, 2 ** 32))),
    },
    {
      name: 'close-code-2^31',
      requirements: ['WIRE-INT-2'],
      input: Uint8Array.from(ld(16, vf(1, 2 ** 31))),
    },
    {
      name: 'ping-data-257-bytes',
      requirements: ['WIRE-LIMIT-1', 'WIRE-LIMIT-2'],
      input: Uint8Array.from([...vf(1, 1), ...ld(17, ld(2, new Uint8Array(257)))]),
    },
    {
      name: 'detail-257-bytes',
      requirements: ['WIRE-LIMIT-1', 'WIRE-LIMIT-2'],
      input: Uint8Array.from(ld(16, [...vf(1, 100), ...ld(2, utf8('a'.repeat(257)))])),
    },
    {
      name: 'detail-overlong-utf8',
      requirements: ['WIRE-UTF8-1'],
      input: Uint8Array.from(ld(16, [...vf(1, 100), ...ld(2, [0xc0, 0xaf])])),
    },
    {
      name: 'detail-surrogate-utf8',
      requirements: ['WIRE-UTF8-1'],
      input: Uint8Array.from(ld(19, [...vf(1, 100), ...ld(2, [0xed, 0xa0, 0x80])])),
    },
    {
      name: 'detail-truncated-utf8',
      requirements: ['WIRE-UTF8-1'],
      input: Uint8Array.from(ld(19, [...vf(1, 100), ...ld(2, [0x61, 0xe2, 0x82])])),
    },
    {
      name: 'error-reply-code-0',
      requirements: ['WIRE-ERRREPLY-1'],
      input: Uint8Array.from([...vf(1, 5), ...ld(19, ld(2, utf8('x')))]),
    },
    { name: 'datagram-packet-1172-bytes', requirements: ['WIRE-LIMIT-4'], input: exact(1172), channel: 'datagram' },
  ];
  const invalidJson = invalid.map((c) => {
    const channel = c.channel ?? 'stream';
    const r = outcome(() => decodePacket(c.input, { channel }));
    const unknown = 'error' in r && r.error === 'UNKNOWN_BODY';
    return {
      name: c.name,
      requirements: c.requirements,
      channel,
      input: hex(c.input),
      expected:
        'error' in r
          ? unknown
            ? { error: r.error, requestId: requestIdOf(c.input) }
            : { error: r.error }
          : { packet: packetJson(r.ok) },
    };
  });
  return {
    description:
      'Packets (spec/01-packets.md): canonical encodings of the bodies of chapter 01 with their decoded values; non-canonical encodings a receiver must accept, with what they decode to and their canonical re-encoding; and encodings a receiver must reject, with the error code (for UNKNOWN_BODY also the request_id the ErrorReply answers).',
    requirements: [
      'WIRE-PKT-1',
      'WIRE-PKT-2',
      'WIRE-PKT-4',
      'WIRE-PKT-5',
      'WIRE-PKT-6',
      'WIRE-ENC-1',
      'WIRE-ENC-2',
      'WIRE-ENC-3',
      'WIRE-ENC-4',
      'WIRE-INT-2',
      'WIRE-UTF8-1',
      'WIRE-LIMIT-1',
      'WIRE-LIMIT-2',
      'WIRE-LIMIT-4',
      'WIRE-CLOSE-2',
      'WIRE-ERRREPLY-1',
      'GEN-VER-3',
      'GEN-VER-4',
      'GEN-VER-5',
    ],
    generator: GENERATOR,
    format: {
      bytes: 'lower-case hex',
      packet:
        '{ requestId, body: "close"|"ping"|"pong"|"error", code and detail (close, error) or sequence and data (ping, pong) }; codes are numbers of spec/00-conventions.md §4.3',
      channel:
        'stream: the packet of a Noise transport message (at most 65,519 bytes); datagram: of a datagram (at most 1,171 bytes)',
      expected: '{ packet } when decoding succeeds, else { error: CODE NAME } (and requestId for UNKNOWN_BODY)',
    },
    valid,
    accepted: acceptedJson,
    invalid: invalidJson,
  };
}

function requestIdOf(input: Uint8Array): number {
  try {
    decodePacket(input);
  } catch (e) {
    if (e instanceof ParleyError && 'requestId' in e) return (e as { requestId: number }).requestId;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// Framing (spec/03-channels.md §7)

type Segment = string | { repeat: string; times: number };

function segmentsBytes(segments: Segment[]): Uint8Array {
  return cat(
    ...segments.map((s) => {
      if (typeof s === 'string') return fromHex(s);
      const unit = fromHex(s.repeat);
      const out = new Uint8Array(unit.length * s.times);
      for (let i = 0; i < s.times; i++) out.set(unit, i * unit.length);
      return out;
    }),
  );
}

function frameJson(frame: Uint8Array, suite: CryptoSuite): object {
  return frame.length <= 64
    ? { length: frame.length, hex: hex(frame) }
    : { length: frame.length, sha256: hex(suite.sha256(frame)) };
}

function framingFile(suite: CryptoSuite): object {
  const max: Segment[] = ['ffff', { repeat: 'a5', times: 65535 }];
  const cases: { name: string; requirements: string[]; stream: Segment[]; reads: number[]; end: boolean }[] = [
    { name: 'one-byte-frame', requirements: ['CHAN-FRAME-1'], stream: ['0001ab'], reads: [], end: true },
    { name: 'two-frames-one-read', requirements: ['CHAN-FRAME-4'], stream: ['0001ab0002cdef'], reads: [], end: true },
    { name: 'header-split', requirements: ['CHAN-FRAME-4'], stream: ['0002cdef'], reads: [1], end: true },
    { name: 'body-split', requirements: ['CHAN-FRAME-4'], stream: ['0003010203'], reads: [3], end: true },
    {
      name: 'every-byte-a-read',
      requirements: ['CHAN-FRAME-4'],
      stream: ['0001ab0002cdef0003010203'],
      reads: Array.from({ length: 23 }, (_, i) => i + 1),
      end: true,
    },
    {
      name: 'split-across-frames',
      requirements: ['CHAN-FRAME-4'],
      stream: ['0001ab0002cdef0003010203'],
      reads: [4, 8],
      end: true,
    },
    { name: 'zero-length-frame', requirements: ['CHAN-FRAME-3'], stream: ['0000'], reads: [], end: false },
    {
      name: 'zero-length-after-a-frame',
      requirements: ['CHAN-FRAME-3'],
      stream: ['0001ab', '0000', '0001cd'],
      reads: [3],
      end: false,
    },
    { name: 'max-length-frame', requirements: ['CHAN-FRAME-2', 'CHAN-FRAME-4'], stream: max, reads: [], end: true },
    {
      name: 'max-length-frame-split',
      requirements: ['CHAN-FRAME-2', 'CHAN-FRAME-4'],
      stream: [...max, '0001ff'],
      reads: [1, 2, 30000, 65537, 65538],
      end: true,
    },
    { name: 'end-after-partial-header', requirements: ['CHAN-FRAME-5'], stream: ['0001ab00'], reads: [], end: true },
    { name: 'end-inside-body', requirements: ['CHAN-FRAME-5'], stream: ['0005abcd'], reads: [2], end: true },
    {
      name: 'end-one-byte-short-of-max',
      requirements: ['CHAN-FRAME-5'],
      stream: ['ffff', { repeat: 'a5', times: 65534 }],
      reads: [],
      end: true,
    },
    { name: 'empty-stream', requirements: ['CHAN-FRAME-5'], stream: [], reads: [], end: true },
  ];
  const decode = cases.map((c) => {
    const bytes = segmentsBytes(c.stream);
    const decoder = new FrameDecoder();
    const frames: Uint8Array[] = [];
    let error: string | undefined;
    let buffered: number | undefined;
    const cuts = [0, ...c.reads, bytes.length];
    try {
      for (let i = 0; i + 1 < cuts.length; i++) {
        for (const f of decoder.push(bytes.subarray(cuts[i], cuts[i + 1]))) frames.push(new Uint8Array(f));
      }
      buffered = decoder.buffered;
      if (c.end) decoder.end();
    } catch (e) {
      if (!(e instanceof ParleyError)) throw e;
      error = errorCodeName(e.code);
    }
    return {
      name: c.name,
      requirements: c.requirements,
      stream: c.stream,
      reads: c.reads,
      end: c.end,
      expected: {
        frames: frames.map((f) => frameJson(f, suite)),
        ...(buffered === undefined ? {} : { bufferedBeforeEnd: buffered }),
        ...(error === undefined ? {} : { error }),
      },
    };
  });
  const encode = [1, 2, 255, 256, 4660, 65535, 0, 65536].map((length) => {
    const r = outcome(() => encodeFrame(new Uint8Array(length).fill(0x5a)));
    return 'error' in r
      ? { messageLength: length, expected: { error: r.error } }
      : { messageLength: length, expected: { header: hex(r.ok.subarray(0, 2)) } };
  });
  return {
    description:
      'Stream framing (spec/03-channels.md §7): a 2-byte big-endian length, then one Noise message of 1..65,535 bytes. Decoding cases give a byte stream, where it is cut into reads, whether the stream then ends, and the frames delivered in order with the error that stops the stream, if any. Encoding cases give the header for a message length, or the local error for a length no frame can carry.',
    requirements: ['CHAN-FRAME-1', 'CHAN-FRAME-2', 'CHAN-FRAME-3', 'CHAN-FRAME-4', 'CHAN-FRAME-5', 'CHAN-TRANSPORT-1'],
    generator: GENERATOR,
    format: {
      stream:
        'the bytes the receiver reads: the concatenation of its segments, each a hex string or { repeat: hex, times: n } (hex repeated n times)',
      reads: 'offsets at which the stream is cut into separate reads (empty: one read)',
      end: 'true when the peer closes the stream after the last byte (a stream ending inside a frame is TRUNCATED, CHAN-FRAME-5)',
      frames: 'frames delivered, in order: { length, hex } up to 64 bytes, { length, sha256 } above',
      bufferedBeforeEnd: 'bytes the receiver holds for an incomplete frame after the last read (header included)',
      error: 'the code that closes the stream; frames before it are still delivered',
      encode: 'header for a message of messageLength bytes; lengths outside 1..65,535 are refused locally (API_MISUSE)',
    },
    decode,
    encode,
  };
}

// ---------------------------------------------------------------------------------------------------
// The XX handshake (spec/03-channels.md §3-6) and datagrams (§8-9)

interface HandshakeRun {
  file: object;
  initiator: EstablishedChannel<PeerIdentity>;
  responder: EstablishedChannel<PeerIdentity>;
  datagramKeys: { initiatorToResponder: Uint8Array; responderToInitiator: Uint8Array };
  chainingKey: Uint8Array;
  handshakeHash: Uint8Array;
}

function sends(step: Step<PeerIdentity>): Uint8Array[] {
  return step.actions.flatMap((a) => (a.kind === 'Send' ? [a.message] : []));
}

function closedWith(step: Step<PeerIdentity>): string | undefined {
  for (const a of step.actions) if (a.kind === 'Closed') return errorCodeName(a.error.code);
  return undefined;
}

function handshake(suite: CryptoSuite): HandshakeRun {
  const seed = 'parley/vectors/handshake-xx';
  const pki = makePki(suite, seed);
  const random = seededRandom(`${seed}/noise`);
  const iStatic = keyPairFromPrivateKey(suite, random.randomBytes(32));
  const iEphemeral = random.randomBytes(32);
  const rStatic = keyPairFromPrivateKey(suite, random.randomBytes(32));
  const rEphemeral = random.randomBytes(32);
  const iIdentity: LocalIdentity = { chain: [pki.userCert, pki.loginCert], seed: pki.user.seed };
  const rIdentity: LocalIdentity = { chain: [pki.supernodeCert, pki.loginCert], seed: pki.supernode.seed };
  const versions = [1];
  const iSoftware = 'parley-ref/0.1.0';
  const rSoftware = 'parley-ref-supernode/0.1.0';
  const iPolicy: VerifyPolicy = {
    trustAnchors: [pki.root.publicKey],
    nowMs: VECTOR_NOW_MS,
    skewMs: SKEW,
    acceptedRoles: [Role.ROLE_SUPERNODE],
  };
  const rPolicy: VerifyPolicy = { ...iPolicy, acceptedRoles: [Role.ROLE_USER] };
  const copyPair = (k: KeyPair): KeyPair => ({ privateKey: new Uint8Array(k.privateKey), publicKey: k.publicKey });

  const run = (o: {
    iPolicy?: VerifyPolicy;
    rPolicy?: VerifyPolicy;
    iVersions?: number[];
    rVersions?: number[];
    tamper?: (index: number, m: Uint8Array) => Uint8Array;
  }) => {
    const tamper = o.tamper ?? ((_i: number, m: Uint8Array) => m);
    let i = startInitiator<PeerIdentity>({
      suite,
      random: fixedRandom(iEphemeral),
      staticKey: copyPair(iStatic),
      protocolVersions: o.iVersions ?? versions,
      payload: certifiedPayloadCodec(suite, { identity: iIdentity, policy: o.iPolicy ?? iPolicy, software: iSoftware }),
    });
    let r = startResponder<PeerIdentity>({
      suite,
      random: fixedRandom(rEphemeral),
      staticKey: copyPair(rStatic),
      protocolVersions: o.rVersions ?? versions,
      payload: certifiedPayloadCodec(suite, { identity: rIdentity, policy: o.rPolicy ?? rPolicy, software: rSoftware }),
    });
    // `messages` holds what was delivered (after any change in flight).
    const messages: Uint8Array[] = [];
    const m1 = tamper(0, sends(i)[0]!);
    messages.push(m1);
    if (r.state.kind !== 'ExpectMessage1') throw new Error('responder not waiting');
    r = handleMessage(r.state, m1);
    const rErr = closedWith(r);
    if (rErr) return { messages, error: { side: 'responder', afterMessage: 1, error: rErr } };
    const m2 = tamper(1, sends(r)[0]!);
    messages.push(m2);
    if (i.state.kind !== 'ExpectMessage2') throw new Error('initiator not waiting');
    i = handleMessage(i.state, m2);
    const iErr = closedWith(i);
    if (iErr) return { messages, error: { side: 'initiator', afterMessage: 2, error: iErr } };
    const m3 = tamper(2, sends(i)[0]!);
    messages.push(m3);
    if (r.state.kind !== 'ExpectMessage3') throw new Error('responder not waiting for 3');
    r = handleMessage(r.state, m3);
    const rErr3 = closedWith(r);
    if (rErr3) return { messages, error: { side: 'responder', afterMessage: 3, error: rErr3 } };
    if (i.state.kind !== 'Established' || r.state.kind !== 'Established') throw new Error('not established');
    return { messages, initiator: i.state.channel, responder: r.state.channel };
  };

  const ok = run({});
  if (!ok.initiator || !ok.responder) throw new Error(`handshake failed: ${JSON.stringify(ok.error)}`);
  const [m1, m2, m3] = ok.messages as [Uint8Array, Uint8Array, Uint8Array];

  // The same handshake message by message on XXHandshake, for the payloads, ck and the split keys.
  const rPayload = buildHandshakePayload(suite, rIdentity, rStatic.publicKey, {
    protocolVersions: versions,
    software: rSoftware,
  });
  const iPayload = buildHandshakePayload(suite, iIdentity, iStatic.publicKey, {
    protocolVersions: versions,
    software: iSoftware,
  });
  const xi = XXHandshake.initiator(
    suite,
    PROLOGUE,
    copyPair(iStatic),
    keyPairFromPrivateKey(suite, new Uint8Array(iEphemeral)),
  );
  const xr = XXHandshake.responder(
    suite,
    PROLOGUE,
    copyPair(rStatic),
    keyPairFromPrivateKey(suite, new Uint8Array(rEphemeral)),
  );
  const same = (a: Uint8Array, b: Uint8Array, what: string) => {
    if (hex(a) !== hex(b)) throw new Error(`generator: ${what} differs between the channel and XXHandshake`);
  };
  same(xi.writeMessage1(new Uint8Array(0)), m1, 'message 1');
  xr.readMessage1(m1);
  same(xr.writeMessage2(rPayload), m2, 'message 2');
  same(xi.readMessage2(m2), rPayload, 'payload 2');
  same(xi.writeMessage3(iPayload), m3, 'message 3');
  same(xr.readMessage3(m3), iPayload, 'payload 3');
  const ck = new Uint8Array(xr.symmetricState.chainingKey);
  const h = xr.getHandshakeHash();
  same(h, ok.initiator.handshakeHash, 'handshake hash');
  const split = suite.hkdfSha256(new Uint8Array(0), ck, new Uint8Array(0), 64);
  const dk = deriveDatagramKeys(suite, ck, h);
  same(dk.initiatorToResponder, ok.initiator.datagram.sendKey, 'datagram key i->r');
  same(dk.responderToInitiator, ok.responder.datagram.sendKey, 'datagram key r->i');

  // Transport messages, interleaved; each direction counts its own nonces from 0.
  const flow: { from: 'initiator' | 'responder'; packet: Packet }[] = [
    {
      from: 'initiator',
      packet: { requestId: 1, body: { case: 'ping', value: { sequence: 1, data: utf8('hello') } } },
    },
    {
      from: 'responder',
      packet: { requestId: 1, body: { case: 'pong', value: { sequence: 1, data: utf8('hello') } } },
    },
    {
      from: 'initiator',
      packet: { requestId: 2, body: { case: 'ping', value: { sequence: 2, data: new Uint8Array(0) } } },
    },
    {
      from: 'responder',
      packet: { requestId: 2, body: { case: 'error', value: { code: ErrorCode.BUSY, detail: 'later' } } },
    },
    {
      from: 'initiator',
      packet: { requestId: 0, body: { case: 'close', value: { code: 0, detail: '' } } },
    },
  ];
  const nonces = { initiator: 0, responder: 0 };
  const transport = flow.map((t) => {
    const plaintext = encodePacket(t.packet);
    const [sender, receiver] = t.from === 'initiator' ? [ok.initiator, ok.responder] : [ok.responder, ok.initiator];
    const ciphertext = sender.transport.encrypt(plaintext);
    same(receiver.transport.decrypt(ciphertext), plaintext, 'transport round trip');
    return {
      direction: t.from === 'initiator' ? 'initiator->responder' : 'responder->initiator',
      cipherState: t.from === 'initiator' ? 'c1' : 'c2',
      nonce: nonces[t.from]++,
      packet: packetJson(t.packet),
      plaintext: hex(plaintext),
      ciphertext: hex(ciphertext),
      frame: hex(encodeFrame(ciphertext)),
    };
  });

  // Failures: the same keys, one thing changed.
  const policyJson = (p: VerifyPolicy) => ({
    trustAnchors: p.trustAnchors.map(hex),
    nowMs: p.nowMs,
    skewMs: p.skewMs,
    acceptedRoles: p.acceptedRoles.map(roleName),
  });
  const expiredNow = SN_NA + SKEW;
  const t = (tamper: (k: number, m: Uint8Array) => Uint8Array) => ({ tamper });
  const failures = (
    [
      ['message-1-of-33-bytes', ['CHAN-HS-1', 'CHAN-HS-7'], t((k, m) => (k === 0 ? cat(m, [0]) : m))],
      ['message-2-payload-tampered', ['CHAN-HS-7', 'CHAN-HS-6'], t((k, m) => (k === 1 ? flip(m, -1) : m))],
      ['message-2-static-key-tampered', ['CHAN-HS-7'], t((k, m) => (k === 1 ? flip(m, 40) : m))],
      ['message-2-too-short', ['CHAN-HS-7'], t((k, m) => (k === 1 ? m.subarray(0, 95) : m))],
      ['message-3-tampered', ['CHAN-HS-7'], t((k, m) => (k === 2 ? flip(m, 10) : m))],
      [
        'message-2-low-order-ephemeral',
        ['CHAN-NOISE-6', 'CRYPTO-X25519-2'],
        t((k, m) => (k === 1 ? cat(new Uint8Array(32), m.subarray(32)) : m)),
      ],
      ['responder-certificate-expired', ['CHAN-HS-4', 'ID-CERT-12'], { iPolicy: { ...iPolicy, nowMs: expiredNow } }],
      [
        'responder-wrong-role',
        ['CHAN-HS-4', 'ID-CHAIN-9'],
        { iPolicy: { ...iPolicy, acceptedRoles: [Role.ROLE_USER] } },
      ],
      [
        'initiator-other-network',
        ['CHAN-HS-4', 'ID-CHAIN-4'],
        { rPolicy: { ...rPolicy, trustAnchors: [pki.otherRoot.publicKey] } },
      ],
      ['no-common-version', ['CHAN-VER-3'], { iVersions: [2, 3], rVersions: [1] }],
    ] as const
  ).map(([name, requirements, o]) => {
    const r = run(o as Parameters<typeof run>[0]);
    if (!r.error) throw new Error(`generator: failure case ${name} succeeded`);
    const opts = o as Parameters<typeof run>[0];
    return {
      name,
      requirements: [...requirements],
      change: describeChange(name, expiredNow),
      initiatorPolicy: policyJson(opts.iPolicy ?? iPolicy),
      responderPolicy: policyJson(opts.rPolicy ?? rPolicy),
      initiatorVersions: opts.iVersions ?? versions,
      responderVersions: opts.rVersions ?? versions,
      delivered: r.messages.map(hex),
      expected: r.error,
    };
  });

  // Handshake payloads a verifier must accept or refuse [ID-HS-*]: the responder's payload and variants,
  // verified by the initiator against the responder's Noise static key.
  const binding = signWithContext(
    suite,
    pki.supernode.seed,
    SignatureContext.SIGNATURE_CONTEXT_STATIC_KEY_BINDING,
    rStatic.publicKey,
  );
  const payload = (o: {
    chain?: Uint8Array[];
    signature?: Uint8Array;
    versions?: number[];
    unpacked?: boolean;
    software?: Uint8Array;
    extra?: number[];
  }): Uint8Array => {
    const chainBytes = o.chain ?? rIdentity.chain;
    const sig = o.signature ?? binding;
    const vs = o.versions ?? versions;
    const sw = o.software ?? utf8(rSoftware);
    const versionBytes = o.unpacked
      ? vs.flatMap((x) => vf(3, x))
      : vs.length
        ? ld(
            3,
            vs.flatMap((x) => varint(x)),
          )
        : [];
    return Uint8Array.from([
      ...chainBytes.flatMap((c) => ld(1, c)),
      ...(sig.length ? ld(2, sig) : []),
      ...versionBytes,
      ...(sw.length ? ld(4, sw) : []),
      ...(o.extra ?? []),
    ]);
  };
  const iBinding = signWithContext(
    suite,
    pki.supernode.seed,
    SignatureContext.SIGNATURE_CONTEXT_STATIC_KEY_BINDING,
    iStatic.publicKey,
  );
  const payloadCases = (
    [
      ['as-built', ['ID-HS-2', 'ID-HS-3'], rPayload],
      ['rebuilt-by-hand', ['ID-HS-2', 'WIRE-ENC-1'], payload({})],
      ['versions-unpacked', ['ID-HS-5', 'WIRE-ENC-2'], payload({ versions: [1, 2], unpacked: true })],
      ['versions-16', ['ID-HS-5'], payload({ versions: Array.from({ length: 16 }, (_, k) => k + 1) })],
      ['versions-17', ['ID-HS-5'], payload({ versions: Array.from({ length: 17 }, (_, k) => k + 1) })],
      ['versions-absent', ['ID-HS-5'], payload({ versions: [] })],
      ['version-0', ['ID-HS-5'], payload({ versions: [1, 0] })],
      ['version-duplicate', ['ID-HS-5'], payload({ versions: [1, 2, 1] })],
      ['version-2^32', ['ID-HS-5', 'WIRE-INT-2'], payload({ versions: [2 ** 32] })],
      ['software-absent', ['ID-HS-6'], payload({ software: new Uint8Array(0) })],
      ['software-64-bytes', ['ID-HS-6'], payload({ software: utf8('s'.repeat(64)) })],
      ['software-65-bytes', ['ID-HS-6'], payload({ software: utf8('s'.repeat(65)) })],
      ['software-bidi-override', ['ID-HS-6'], payload({ software: utf8('parley\u202e/1') })],
      ['software-invalid-utf8', ['ID-HS-6', 'WIRE-UTF8-1'], payload({ software: Uint8Array.of(0x70, 0xff) })],
      ['signature-absent', ['ID-HS-3'], payload({ signature: new Uint8Array(0) })],
      ['signature-63-bytes', ['ID-HS-3'], payload({ signature: binding.subarray(0, 63) })],
      ['signature-65-bytes', ['ID-HS-3'], payload({ signature: cat(binding, [0]) })],
      ['binding-of-another-static-key', ['ID-HS-4'], payload({ signature: iBinding })],
      ['binding-bit-flipped', ['ID-HS-4'], payload({ signature: flip(binding, 3) })],
      ['certificates-absent', ['ID-HS-2', 'ID-CHAIN-2'], payload({ chain: [] })],
      ['certificates-3', ['ID-HS-2', 'ID-HS-1'], payload({ chain: [...rIdentity.chain, pki.loginCert] })],
      ['chain-in-wrong-order', ['ID-HS-2', 'ID-CHAIN-3'], payload({ chain: [pki.loginCert, pki.supernodeCert] })],
      ['user-chain-where-supernode-expected', ['ID-HS-7', 'ID-CHAIN-9'], payload({ chain: iIdentity.chain })],
      [
        'unknown-field-2048-bytes',
        ['ID-HS-1', 'GEN-VER-3'],
        (() => {
          const base = payload({});
          const fill = 2048 - base.length - 4;
          return payload({ extra: [...tag(99, 2), ...varint(fill, 2), ...new Uint8Array(fill)] });
        })(),
      ],
      [
        'unknown-field-2049-bytes',
        ['ID-HS-1'],
        (() => {
          const base = payload({});
          const fill = 2049 - base.length - 4;
          return payload({ extra: [...tag(99, 2), ...varint(fill, 2), ...new Uint8Array(fill)] });
        })(),
      ],
    ] as const
  ).map(([name, requirements, bytes]) => {
    const r = outcome(() => verifyHandshakePayload(suite, bytes, rStatic.publicKey, iPolicy));
    return {
      name,
      requirements: [...requirements, 'ID-HS-7'],
      payload: hex(bytes),
      length: bytes.length,
      expected:
        'error' in r
          ? { error: r.error }
          : {
              result: 'valid',
              keyId: hex(r.ok.peer.keyId),
              protocolVersions: r.ok.protocolVersions,
              software: r.ok.software,
            },
    };
  });

  const identityJson = (id: LocalIdentity, key: SigningKey) => ({
    identityKey: keyJson(key),
    chain: id.chain.map(hex),
  });
  const peerJson = (p: PeerIdentity) => ({
    subject: p.certificate.subject,
    role: roleName(p.certificate.role),
    keyId: hex(p.keyId),
    networkFingerprint: hex(p.networkFingerprint),
  });
  const file = {
    description:
      "A whole Parley stream-channel handshake (spec/03-channels.md §3-6): Noise_XX_25519_ChaChaPoly_SHA256 with the prologue 'parley/1 stream' between a user (initiator) and a supernode (responder) of one network, with both static and ephemeral private keys, both identities, the verifiers' policies, the three messages, both identity payloads, the handshake hash, the chaining key, the Split() keys and the datagram keys; then transport messages in both directions, handshakes that must fail with the code given, and handshake payloads a verifier must accept or refuse.",
    requirements: [
      'CHAN-NOISE-1',
      'CHAN-NOISE-2',
      'CHAN-NOISE-3',
      'CHAN-NOISE-6',
      'CHAN-NOISE-7',
      'CHAN-HS-1',
      'CHAN-HS-2',
      'CHAN-HS-3',
      'CHAN-HS-4',
      'CHAN-HS-6',
      'CHAN-HS-7',
      'CHAN-VER-2',
      'CHAN-VER-3',
      'CHAN-TRANSPORT-1',
      'CHAN-TRANSPORT-3',
      'CHAN-FRAME-1',
      'CHAN-DGRAM-1',
      'ID-HS-2',
      'ID-HS-3',
      'ID-HS-1',
      'ID-HS-4',
      'ID-HS-5',
      'ID-HS-6',
      'ID-HS-7',
      'WIRE-PKT-1',
      'CRYPTO-RAND-4',
    ],
    generator: GENERATOR,
    seed,
    format: {
      bytes: 'lower-case hex',
      keys: 'X25519 private keys as given (32 bytes, clamped inside X25519); public = X25519(private, 9)',
      messages: 'the three Noise handshake messages, without the 2-byte frame header',
      splitKeys: 'k1, k2 of Split() = HKDF(ck, empty, 2): c1 protects initiator->responder, c2 responder->initiator',
      transport:
        'EncryptWithAd(empty, plaintext) under c1 or c2 with the given nonce; frame = 2-byte length || ciphertext',
      payloadCases:
        "responder HandshakePayloads verified by the initiator (its policy, the responder's static public key as the Noise-authenticated rs): { result: valid, keyId, ... } or { error }",
      failures:
        'the same keys and identities with one change: `delivered` are the messages each side received (after any change in flight) until one side closed; expected: { side, afterMessage, error }',
    },
    protocolName: XX_PROTOCOL_NAME,
    prologue: { text: PROLOGUE_TEXT, hex: hex(PROLOGUE) },
    network: {
      rootPublicKey: hex(pki.root.publicKey),
      networkFingerprint: hex(pki.root.keyId),
      rootSeed: hex(pki.root.seed),
      loginKey: keyJson(pki.login),
      otherRootPublicKey: hex(pki.otherRoot.publicKey),
    },
    initiator: {
      role: 'ROLE_USER',
      ...identityJson(iIdentity, pki.user),
      staticKey: { privateKey: hex(iStatic.privateKey), publicKey: hex(iStatic.publicKey) },
      ephemeralKey: { privateKey: hex(iEphemeral), publicKey: hex(suite.x25519PublicKey(iEphemeral)) },
      protocolVersions: versions,
      software: iSoftware,
      policy: policyJson(iPolicy),
      payload: hex(iPayload),
    },
    responder: {
      role: 'ROLE_SUPERNODE',
      ...identityJson(rIdentity, pki.supernode),
      staticKey: { privateKey: hex(rStatic.privateKey), publicKey: hex(rStatic.publicKey) },
      ephemeralKey: { privateKey: hex(rEphemeral), publicKey: hex(suite.x25519PublicKey(rEphemeral)) },
      protocolVersions: versions,
      software: rSoftware,
      policy: policyJson(rPolicy),
      payload: hex(rPayload),
    },
    messages: [
      { index: 1, from: 'initiator', tokens: '-> e', payload: '', message: hex(m1) },
      { index: 2, from: 'responder', tokens: '<- e, ee, s, es', payload: hex(rPayload), message: hex(m2) },
      { index: 3, from: 'initiator', tokens: '-> s, se', payload: hex(iPayload), message: hex(m3) },
    ],
    result: {
      protocolVersion: ok.initiator.protocolVersion,
      handshakeHash: hex(h),
      chainingKey: hex(ck),
      splitKeys: { c1: hex(split.subarray(0, 32)), c2: hex(split.subarray(32, 64)) },
      datagramKeys: {
        info: 'parley/1 datagram keys',
        initiatorToResponder: hex(dk.initiatorToResponder),
        responderToInitiator: hex(dk.responderToInitiator),
      },
      initiatorSees: { ...peerJson(ok.initiator.peer), software: ok.initiator.peerSoftware },
      responderSees: { ...peerJson(ok.responder.peer), software: ok.responder.peerSoftware },
    },
    transport,
    failures,
    payloadCases,
  };
  return {
    file,
    initiator: ok.initiator,
    responder: ok.responder,
    datagramKeys: dk,
    chainingKey: ck,
    handshakeHash: h,
  };
}

function describeChange(name: string, expiredNow: number): string {
  switch (name) {
    case 'message-1-of-33-bytes':
      return 'a 0x00 byte appended to message 1';
    case 'message-2-payload-tampered':
      return 'last byte of message 2 (its payload tag) xor 0x01';
    case 'message-2-static-key-tampered':
      return 'byte 40 of message 2 (inside the encrypted static key) xor 0x01';
    case 'message-2-too-short':
      return 'message 2 cut to its first 95 bytes';
    case 'message-3-tampered':
      return 'byte 10 of message 3 xor 0x01';
    case 'message-2-low-order-ephemeral':
      return "the responder's ephemeral public key in message 2 replaced by 32 zero bytes (a low-order point)";
    case 'responder-certificate-expired':
      return `the initiator's clock is ${expiredNow} (the supernode certificate's not_after plus the skew)`;
    case 'responder-wrong-role':
      return 'the initiator accepts only ROLE_USER';
    case 'initiator-other-network':
      return 'the responder pins only network.otherRootPublicKey, the root of another network';
    case 'no-common-version':
      return 'the initiator offers [2, 3], the responder [1]';
    default:
      return name;
  }
}

function datagramFile(suite: CryptoSuite, hs: HandshakeRun): object {
  const keyIR = hs.datagramKeys.initiatorToResponder;
  const keyRI = hs.datagramKeys.responderToInitiator;
  const random = seededRandom('parley/vectors/datagram');
  const idx = random.randomBytes(8);
  const responderIndex = new DataView(idx.buffer).getUint32(0);
  const initiatorIndex = new DataView(idx.buffer).getUint32(4);
  const seal = (key: Uint8Array, receiverIndex: number, counter: bigint, plaintext: Uint8Array): Uint8Array =>
    new DatagramChannel(suite, {
      sendKey: key,
      receiveKey: key,
      localIndex: 0,
      remoteIndex: receiverIndex,
      initialSendCounter: counter,
    }).seal(plaintext);
  const pingPacket = (seq: number): Uint8Array =>
    encodePacket({ requestId: 0, body: { case: 'ping', value: { sequence: seq, data: new Uint8Array(0) } } });
  const MAXC = 2n ** 64n - 2n;
  const sealCases = (
    [
      ['i->r', 0n, pingPacket(1)],
      ['i->r', 1n, pingPacket(2)],
      [
        'r->i',
        0n,
        encodePacket({ requestId: 0, body: { case: 'pong', value: { sequence: 1, data: new Uint8Array(0) } } }),
      ],
      ['i->r', 255n, pingPacket(3)],
      ['i->r', 2n ** 32n, pingPacket(4)],
      ['r->i', 0x0102030405060708n, pingPacket(5)],
      ['i->r', MAXC, pingPacket(6)],
      ['i->r', 7n, new Uint8Array(0)],
      [
        'i->r',
        8n,
        encodePacket({
          requestId: 0,
          body: { case: 'ping', value: { sequence: 7, data: new Uint8Array(256).fill(0x33) } },
        }),
      ],
      ['r->i', 9n, random.randomBytes(1171)],
    ] as const
  ).map(([dir, counter, plaintext]) => {
    const key = dir === 'i->r' ? keyIR : keyRI;
    const receiverIndex = dir === 'i->r' ? responderIndex : initiatorIndex;
    const d = seal(key, receiverIndex, counter, plaintext);
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setBigUint64(4, counter, true);
    return {
      direction: dir === 'i->r' ? 'initiator->responder' : 'responder->initiator',
      key: hex(key),
      receiverIndex,
      counter: counter.toString(),
      plaintext: hex(plaintext),
      header: hex(d.subarray(0, 13)),
      nonce: hex(nonce),
      datagram: hex(d),
      length: d.length,
    };
  });

  // The responder's receiving side: every open goes through one channel (index responderIndex, key i->r).
  const receiver = (): DatagramChannel =>
    new DatagramChannel(suite, {
      sendKey: keyRI,
      receiveKey: keyIR,
      localIndex: responderIndex,
      remoteIndex: initiatorIndex,
    });
  const good = seal(keyIR, responderIndex, 5n, pingPacket(9));
  const withCounter = (d: Uint8Array, c: bigint) => {
    const out = new Uint8Array(d);
    new DataView(out.buffer).setBigUint64(5, c);
    return out;
  };
  const rejects: { name: string; requirements: string[]; datagram: Uint8Array }[] = [
    { name: 'valid', requirements: ['CHAN-DGRAM-3'], datagram: good },
    { name: 'ciphertext-bit-flipped', requirements: ['CHAN-REPLAY-3', 'CRYPTO-AEAD-3'], datagram: flip(good, 13) },
    { name: 'tag-bit-flipped', requirements: ['CRYPTO-AEAD-3'], datagram: flip(good, -1, 0x80) },
    { name: 'counter-changed', requirements: ['CHAN-DGRAM-3', 'CHAN-DGRAM-6'], datagram: withCounter(good, 6n) },
    {
      name: 'wrong-key',
      requirements: ['CHAN-DGRAM-1'],
      datagram: seal(keyRI, responderIndex, 5n, pingPacket(9)),
    },
    { name: 'other-receiver-index', requirements: ['CHAN-DGRAM-4'], datagram: flip(good, 4) },
    { name: 'type-0x02', requirements: ['CHAN-DGRAM-3'], datagram: flip(good, 0, 0x03) },
    { name: 'type-0x00', requirements: ['CHAN-DGRAM-3'], datagram: flip(good, 0, 0x01) },
    { name: 'shorter-than-29-bytes', requirements: ['CHAN-DGRAM-3'], datagram: good.subarray(0, 28) },
    {
      name: 'header-and-tag-only',
      requirements: ['CHAN-DGRAM-3'],
      datagram: seal(keyIR, responderIndex, 5n, new Uint8Array(0)),
    },
    { name: 'counter-2^64-1', requirements: ['CHAN-DGRAM-7'], datagram: withCounter(good, 2n ** 64n - 1n) },
    {
      name: '1200-bytes',
      requirements: ['CHAN-DGRAM-5'],
      datagram: seal(keyIR, responderIndex, 5n, new Uint8Array(1171).fill(0x11)),
    },
    {
      name: '1201-bytes',
      requirements: ['CHAN-DGRAM-5', 'WIRE-LIMIT-4'],
      datagram: cat(seal(keyIR, responderIndex, 5n, new Uint8Array(1171).fill(0x11)), [0]),
    },
  ];
  const openCases = rejects.map((c) => {
    const r = outcome(() => receiver().open(c.datagram));
    return {
      name: c.name,
      requirements: c.requirements,
      datagram: hex(c.datagram),
      expected: 'error' in r ? { error: r.error } : { plaintext: hex(r.ok) },
    };
  });

  // One receiver, one sequence of datagrams: the 2,048-counter window [CHAN-REPLAY-*].
  const sequence: [string | bigint, ...string[]][] = [
    [0n],
    [0n],
    [1n],
    [5n],
    [3n],
    [3n],
    [2047n],
    [0n],
    [2048n],
    [0n],
    [1n],
    [2n],
    [4n],
    [10000n],
    [7952n],
    [7953n],
    [7953n],
    ['forged', '20000'],
    [7954n],
    [20000n],
    [17952n],
    [17953n],
    [9999n],
    [MAXC],
    [MAXC - 2048n],
    [MAXC - 2047n],
    [MAXC - 1n],
    [MAXC],
  ];
  const rx = receiver();
  const replay = sequence.map((entry, step) => {
    const forged = entry[0] === 'forged';
    const counter = forged ? BigInt(entry[1]!) : (entry[0] as bigint);
    const sealed = seal(keyIR, responderIndex, counter, pingPacket(step));
    const datagram = forged ? flip(sealed, -1) : sealed;
    const r = outcome(() => rx.open(datagram));
    return {
      step,
      counter: counter.toString(),
      ...(forged ? { forged: 'last tag byte xor 0x01' } : {}),
      plaintext: hex(pingPacket(step)),
      datagram: hex(datagram),
      expected: 'error' in r ? r.error : 'ACCEPTED',
      highestAfter: rx.highestReceived.toString(),
    };
  });

  return {
    description:
      "The datagram channel (spec/03-channels.md §8-9): keys derived from the handshake of handshake-xx.json, datagrams sealed for given keys, receiver indexes and counters, datagrams a receiver must reject with the code given, and one receiver's sequence of counters with the decision of its 2,048-counter replay window.",
    requirements: [
      'CHAN-DGRAM-1',
      'CHAN-DGRAM-3',
      'CHAN-DGRAM-4',
      'CHAN-DGRAM-5',
      'CHAN-DGRAM-6',
      'CHAN-DGRAM-7',
      'CHAN-DGRAM-8',
      'CHAN-REPLAY-1',
      'CHAN-REPLAY-2',
      'CHAN-REPLAY-3',
      'WIRE-LIMIT-4',
      'CRYPTO-AEAD-3',
    ],
    generator: GENERATOR,
    format: {
      bytes: 'lower-case hex; counters are decimal strings (64-bit)',
      datagram:
        '01 || receiver index (4 bytes BE) || counter (8 bytes BE) || ChaCha20-Poly1305(key, nonce, ad = header, plaintext)',
      nonce: '4 zero bytes || counter as 8 bytes little-endian',
      open: 'opened by the responder: receiver index `receiver.localIndex`, key initiatorToResponder; expected { plaintext } or { error }',
      replay:
        'each datagram is opened in order by one fresh receiver; expected is ACCEPTED or the error code; highestAfter is the highest accepted counter after the step (-1 before any)',
    },
    keyDerivation: {
      ikm: 'chainingKey',
      salt: 'handshakeHash',
      info: 'parley/1 datagram keys',
      chainingKey: hex(hs.chainingKey),
      handshakeHash: hex(hs.handshakeHash),
      initiatorToResponder: hex(keyIR),
      responderToInitiator: hex(keyRI),
    },
    indexes: { initiator: initiatorIndex, responder: responderIndex },
    seal: sealCases,
    receiver: { localIndex: responderIndex, receiveKey: hex(keyIR) },
    open: openCases,
    replay,
  };
}

// ---------------------------------------------------------------------------------------------------
// The login server (spec/06-login-server.md): published objects, certificate requests, signed prekeys
// and login packets

/** A value as JSON: bytes in hex, an absent nested message (undefined) as null. */
function loginJson(v: unknown): unknown {
  if (v === undefined) return null;
  if (v instanceof Uint8Array) return hex(v);
  if (Array.isArray(v)) return v.map(loginJson);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, loginJson(x)]));
  }
  return v;
}

/** A `Signed` envelope of a published object, in parts. */
function signedJson(signed: Uint8Array): object {
  const e = decodeSigned(signed);
  return {
    body: hex(e.body),
    signedMessage: hex(signedMessage(e.context, e.body)),
    signature: hex(e.signature),
    signerKeyId: hex(e.signerKeyId),
    context: e.context,
    signed: hex(signed),
  };
}

function listPageJson<E>(page: ListPage<E>): unknown {
  return loginJson(page);
}

function loginFile(suite: CryptoSuite): object {
  const seed = 'parley/vectors/login';
  const pki = makePki(suite, seed);
  const random = seededRandom(`${seed}/values`);
  const loginCertFields = {
    subject: 'login.example.net',
    deviceId: pki.deviceLogin,
    role: Role.ROLE_LOGIN,
    serial: 1,
    notBefore: LOGIN_NB,
    notAfter: LOGIN_NA,
  };
  const otherLoginCert = issueCertificate(suite, pki.otherRoot, {
    ...loginCertFields,
    subjectKey: pki.otherLogin.publicKey,
  });
  const verifier = { trustAnchors: [pki.root.publicKey], nowMs: VECTOR_NOW_MS, skewMs: SKEW };
  const C = SignatureContext;

  // The network policy: some fields set, the others left to their defaults (POLICY-GEN-3).
  const policyFields = {
    version: 12,
    issuedAt: VECTOR_NOW_MS - HOUR,
    protocolVersions: [1],
    deniedSoftware: ['parley-ref/0.3.', 'badclient/', 'parley-ref/0.4.2'],
    userCertLifetimeS: 12 * 3600,
    certClockSkewS: 120,
    replicationFactor: 4,
    election: { mode: parley.v1.ElectionMode.ELECTION_MODE_OPEN, targetLoad: 600, maxSharePerVersionPercent: 50 },
    relay: { allocationBytes: 2 ** 40, allocationsPerUser: 2 },
    rateLimits: { loginFailuresPerWindow: 10, searchPerMinute: 60 },
  };
  const policySigned = signNetworkPolicy(suite, pki.login, policyFields as never);
  const defaultsFields = { version: 1 };
  const defaultsSigned = signNetworkPolicy(suite, pki.login, defaultsFields as never);
  const effective = (signed: Uint8Array): EffectivePolicy =>
    verifyNetworkPolicy(suite, signed, pki.loginCert, verifier);
  const deniedChecks = [
    'parley-ref/0.3.1',
    'parley-ref/0.30',
    'parley-ref/0.3',
    'badclient/7',
    'parley-ref/0.4.2',
    'parley-ref/0.4.20',
  ];

  // One page of the supernode list.
  const v6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 0x07]);
  const entries: SupernodeListEntryInput[] = [
    {
      keyId: keyId(suite, pki.supernode.publicKey),
      endpoints: [
        {
          protocol: parley.v1.TransportProtocol.TRANSPORT_PROTOCOL_UDP,
          address: Uint8Array.of(203, 0, 113, 7),
          port: 4000,
        },
        { protocol: parley.v1.TransportProtocol.TRANSPORT_PROTOCOL_TCP, address: v6, port: 443 },
      ],
      software: 'parley-ref/0.4.0',
      loadPercent: 35,
      hosted: false,
      notAfterMs: SN_NA,
    },
    {
      keyId: keyId(suite, generateSigningKey(suite, random).publicKey),
      endpoints: [
        {
          protocol: parley.v1.TransportProtocol.TRANSPORT_PROTOCOL_UDP,
          address: Uint8Array.of(198, 51, 100, 20),
          port: 65_535,
        },
      ],
      software: 'parley-ref/0.4.1',
      loadPercent: 0,
      hosted: true,
      notAfterMs: SN_NA + HOUR,
    },
  ];
  const list = { epoch: 77, issuedAtMs: VECTOR_NOW_MS - 5 * MINUTE, expiresAtMs: VECTOR_NOW_MS + 5 * MINUTE, entries };
  const listPages = signSupernodeList(suite, pki.login, list);
  const pageWire = (e: SupernodeListEntryInput) => ({
    keyId: e.keyId,
    // [LOGIN-LIST-8] what a login server adds to every entry it lists
    placementKey: derivePlacementKey(suite, pki.login, e.keyId),
    endpoints: e.endpoints,
    software: e.software,
    loadPercent: e.loadPercent,
    hosted: e.hosted,
    notAfter: e.notAfterMs,
  });

  // One page of the revocation list.
  const revoked: RevokedSerial[] = [
    { serial: 1002, notAfterMs: USER_NA },
    { serial: 2002, notAfterMs: SN_NA },
    { serial: Number.MAX_SAFE_INTEGER, notAfterMs: USER_NA + HOUR },
  ];
  const revocation = { number: 5, issuedAtMs: VECTOR_NOW_MS - MINUTE, entries: revoked };
  const revocationPages = signRevocationList(suite, pki.login, revocation);

  // A certificate request on a channel with handshake hash h, and a signed prekey of the user's device.
  const handshakeHash = random.randomBytes(32);
  const request = {
    subjectKey: pki.user.publicKey,
    deviceId: pki.deviceUser,
    proof: signCertificateRequest(suite, pki.user.seed, handshakeHash),
  };
  const prekeyPrivate = random.randomBytes(32);
  const identityDhPrivate = random.randomBytes(32);
  const prekey: SignedPrekeyFields = {
    id: 3,
    publicKey: suite.x25519PublicKey(prekeyPrivate),
    identityDhKey: suite.x25519PublicKey(identityDhPrivate),
    deviceId: pki.deviceUser,
    createdAtMs: VECTOR_NOW_MS - 10 * MINUTE,
  };
  const prekeySigned = signSignedPrekey(suite, pki.user.seed, prekey);
  const userCertificate = decodeCertificate(decodeSigned(pki.userCert).body);
  const oneTimePrivate = random.randomBytes(32);
  const oneTimePrekey = { id: 17, publicKey: suite.x25519PublicKey(oneTimePrivate) };

  // Objects a verifier must refuse, each with the error of the first failing step.
  const raw = (context: SignatureContext, type: { encode(m: never): { finish(): Uint8Array } }, fields: object) =>
    signObject(suite, pki.login, context, type.encode(fields as never).finish());
  const flipped = (signed: Uint8Array): Uint8Array => {
    const e = decodeSigned(signed);
    return signedEnvelope({
      body: e.body,
      signature: flip(e.signature, 7, 0x10),
      signerKeyId: e.signerKeyId,
      context: e.context,
    });
  };
  type Kind = 'policy' | 'supernode-list' | 'revocation-list';
  const published: {
    name: string;
    requirements: string[];
    object: Kind;
    signed: Uint8Array;
    loginCertificate: Uint8Array;
    nowMs?: number;
  }[] = [
    {
      name: 'policy-valid',
      requirements: ['LOGIN-PUB-2', 'POLICY-GEN-1'],
      object: 'policy',
      signed: policySigned,
      loginCertificate: pki.loginCert,
    },
    {
      name: 'policy-of-another-network',
      requirements: ['LOGIN-PUB-2', 'ID-CHAIN-4'],
      object: 'policy',
      signed: signNetworkPolicy(suite, pki.otherLogin, policyFields as never),
      loginCertificate: otherLoginCert,
    },
    {
      name: 'login-certificate-expired',
      requirements: ['LOGIN-PUB-2', 'ID-CERT-12'],
      object: 'policy',
      signed: policySigned,
      loginCertificate: pki.loginCert,
      nowMs: LOGIN_NA + SKEW,
    },
    {
      name: 'user-certificate-issued-by-the-root',
      requirements: ['LOGIN-PUB-2', 'ID-CHAIN-4'],
      object: 'policy',
      signed: signNetworkPolicy(suite, pki.user, policyFields as never),
      loginCertificate: issueCertificate(suite, pki.root, {
        ...loginCertFields,
        subject: 'alice',
        subjectKey: pki.user.publicKey,
        role: Role.ROLE_USER,
        serial: 7,
        notBefore: USER_NB,
        notAfter: USER_NA,
      }),
    },
    {
      name: 'user-certificate-as-login-certificate',
      requirements: ['LOGIN-PUB-2', 'ID-CHAIN-4'],
      object: 'policy',
      signed: signNetworkPolicy(suite, pki.user, policyFields as never),
      loginCertificate: pki.userCert,
    },
    {
      name: 'policy-signed-by-another-key',
      requirements: ['LOGIN-PUB-2', 'ID-SIG-8'],
      object: 'policy',
      signed: signNetworkPolicy(suite, pki.supernode, policyFields as never),
      loginCertificate: pki.loginCert,
    },
    {
      name: 'policy-signature-bit-flipped',
      requirements: ['LOGIN-PUB-2', 'ID-SIG-6'],
      object: 'policy',
      signed: flipped(policySigned),
      loginCertificate: pki.loginCert,
    },
    {
      name: 'policy-as-supernode-list',
      requirements: ['LOGIN-PUB-2', 'ID-SIG-7'],
      object: 'supernode-list',
      signed: policySigned,
      loginCertificate: pki.loginCert,
    },
    {
      name: 'policy-version-0',
      requirements: ['POLICY-GEN-2'],
      object: 'policy',
      signed: raw(C.SIGNATURE_CONTEXT_NETWORK_POLICY, parley.v1.NetworkPolicy, { issuedAt: VECTOR_NOW_MS }),
      loginCertificate: pki.loginCert,
    },
    {
      name: 'policy-user-certificate-lifetime-above-7-days',
      requirements: ['POLICY-GEN-4'],
      object: 'policy',
      signed: raw(C.SIGNATURE_CONTEXT_NETWORK_POLICY, parley.v1.NetworkPolicy, {
        version: 13,
        userCertLifetimeS: 7 * 86_400 + 1,
      }),
      loginCertificate: pki.loginCert,
    },
    {
      name: 'policy-denied-software-empty-entry',
      requirements: ['POLICY-GEN-2'],
      object: 'policy',
      signed: raw(C.SIGNATURE_CONTEXT_NETWORK_POLICY, parley.v1.NetworkPolicy, { version: 13, deniedSoftware: [''] }),
      loginCertificate: pki.loginCert,
    },
    {
      name: 'supernode-list-valid',
      requirements: ['LOGIN-LIST-1', 'LOGIN-LIST-4'],
      object: 'supernode-list',
      signed: listPages[0]!,
      loginCertificate: pki.loginCert,
    },
    {
      name: 'supernode-list-page-not-below-page-count',
      requirements: ['LOGIN-LIST-3'],
      object: 'supernode-list',
      signed: raw(C.SIGNATURE_CONTEXT_SUPERNODE_LIST, parley.v1.SupernodeListPage, {
        epoch: 77,
        page: 1,
        pageCount: 1,
      }),
      loginCertificate: pki.loginCert,
    },
    {
      name: 'supernode-list-65-pages',
      requirements: ['LOGIN-LIST-3'],
      object: 'supernode-list',
      signed: raw(C.SIGNATURE_CONTEXT_SUPERNODE_LIST, parley.v1.SupernodeListPage, {
        epoch: 77,
        page: 0,
        pageCount: 65,
      }),
      loginCertificate: pki.loginCert,
    },
    {
      name: 'supernode-list-address-of-3-bytes',
      requirements: ['LOGIN-SN-2', 'LOGIN-LIST-4'],
      object: 'supernode-list',
      signed: raw(C.SIGNATURE_CONTEXT_SUPERNODE_LIST, parley.v1.SupernodeListPage, {
        epoch: 77,
        pageCount: 1,
        entries: [
          { ...pageWire(entries[0]!), endpoints: [{ protocol: 1, address: Uint8Array.of(10, 0, 0), port: 4000 }] },
        ],
      }),
      loginCertificate: pki.loginCert,
    },
    {
      name: 'supernode-list-port-0',
      requirements: ['LOGIN-SN-2', 'LOGIN-LIST-4'],
      object: 'supernode-list',
      signed: raw(C.SIGNATURE_CONTEXT_SUPERNODE_LIST, parley.v1.SupernodeListPage, {
        epoch: 77,
        pageCount: 1,
        entries: [{ ...pageWire(entries[0]!), endpoints: [{ protocol: 1, address: Uint8Array.of(10, 0, 0, 1) }] }],
      }),
      loginCertificate: pki.loginCert,
    },
    {
      name: 'supernode-list-load-101',
      requirements: ['LOGIN-LIST-4'],
      object: 'supernode-list',
      signed: raw(C.SIGNATURE_CONTEXT_SUPERNODE_LIST, parley.v1.SupernodeListPage, {
        epoch: 77,
        pageCount: 1,
        entries: [{ ...pageWire(entries[0]!), loadPercent: 101 }],
      }),
      loginCertificate: pki.loginCert,
    },
    {
      name: 'revocation-list-valid',
      requirements: ['LOGIN-REVOKE-2'],
      object: 'revocation-list',
      signed: revocationPages[0]!,
      loginCertificate: pki.loginCert,
    },
    {
      name: 'revocation-list-serial-0',
      requirements: ['LOGIN-REVOKE-2'],
      object: 'revocation-list',
      signed: raw(C.SIGNATURE_CONTEXT_REVOCATION_LIST, parley.v1.RevocationListPage, {
        number: 5,
        pageCount: 1,
        entries: [{ notAfter: USER_NA }],
      }),
      loginCertificate: pki.loginCert,
    },
    {
      name: 'revocation-list-number-0',
      requirements: ['LOGIN-REVOKE-2', 'LOGIN-PUB-8'],
      object: 'revocation-list',
      signed: raw(C.SIGNATURE_CONTEXT_REVOCATION_LIST, parley.v1.RevocationListPage, { pageCount: 1 }),
      loginCertificate: pki.loginCert,
    },
  ];
  const verifyPublished = (kind: Kind, signed: Uint8Array, cert: Uint8Array, nowMs: number) => {
    const p = { ...verifier, nowMs };
    if (kind === 'policy') return loginJson(verifyNetworkPolicy(suite, signed, cert, p));
    if (kind === 'supernode-list') return listPageJson(verifySupernodeListPage(suite, signed, cert, p));
    return listPageJson(verifyRevocationListPage(suite, signed, cert, p));
  };

  // Certificate requests and signed prekeys a verifier must refuse.
  const requestCases: { name: string; requirements: string[]; request: typeof request; handshakeHash: Uint8Array }[] = [
    { name: 'valid', requirements: ['LOGIN-CERT-3'], request, handshakeHash },
    {
      name: 'proof-for-another-channel',
      requirements: ['LOGIN-CERT-3'],
      request,
      handshakeHash: flip(handshakeHash, 0),
    },
    {
      name: 'proof-by-another-key',
      requirements: ['LOGIN-CERT-3'],
      request: { ...request, subjectKey: pki.supernode.publicKey },
      handshakeHash,
    },
    {
      name: 'device-id-absent',
      requirements: ['LOGIN-CERT-2'],
      request: { ...request, deviceId: new Uint8Array(0) },
      handshakeHash,
    },
    {
      name: 'subject-key-of-31-bytes',
      requirements: ['LOGIN-CERT-2'],
      request: { ...request, subjectKey: request.subjectKey.subarray(0, 31) },
      handshakeHash,
    },
    {
      name: 'proof-of-63-bytes',
      requirements: ['LOGIN-CERT-2'],
      request: { ...request, proof: request.proof.subarray(0, 63) },
      handshakeHash,
    },
  ];
  const prekeyCases: { name: string; requirements: string[]; signed: Uint8Array }[] = [
    { name: 'valid', requirements: ['LOGIN-PREKEY-2'], signed: prekeySigned },
    {
      name: 'device-id-of-another-device',
      requirements: ['LOGIN-PREKEY-2'],
      signed: signSignedPrekey(suite, pki.user.seed, { ...prekey, deviceId: pki.deviceSupernode }),
    },
    {
      name: 'signed-by-another-key',
      requirements: ['LOGIN-PREKEY-2', 'ID-SIG-8'],
      signed: signSignedPrekey(suite, pki.supernode.seed, prekey),
    },
    { name: 'signature-bit-flipped', requirements: ['LOGIN-PREKEY-2', 'ID-SIG-6'], signed: flipped(prekeySigned) },
  ];

  // Login packets, canonical (WIRE-ENC-1), with their decoded values.
  const loginPackets: { name: string; requirements: string[]; packet: Packet }[] = [
    {
      name: 'login-finish',
      requirements: ['LOGIN-CERT-2', 'WIRE-PKT-1'],
      packet: {
        requestId: 3,
        body: {
          case: 'loginFinish',
          value: { finishLoginRequest: random.randomBytes(64), certificateRequest: request },
        },
      },
    },
    {
      name: 'policy-reply',
      requirements: ['LOGIN-PUB-5', 'POLICY-GEN-1'],
      packet: {
        requestId: 4,
        body: {
          case: 'policyReply',
          value: { unchanged: false, policy: policySigned, loginCertificate: pki.loginCert },
        },
      },
    },
    {
      name: 'policy-reply-unchanged',
      requirements: ['LOGIN-PUB-4'],
      packet: {
        requestId: 5,
        body: {
          case: 'policyReply',
          value: { unchanged: true, policy: new Uint8Array(0), loginCertificate: new Uint8Array(0) },
        },
      },
    },
    {
      name: 'get-supernode-list',
      requirements: ['LOGIN-PUB-4', 'LOGIN-LIST-6'],
      packet: { requestId: 6, body: { case: 'getSupernodeList', value: { knownEpoch: 76, page: 1 } } },
    },
    {
      name: 'supernode-register',
      requirements: ['LOGIN-SN-2', 'WIRE-PKT-1'],
      packet: {
        requestId: 7,
        body: { case: 'supernodeRegister', value: { endpoints: entries[0]!.endpoints, capacity: 800 } },
      },
    },
    {
      name: 'supernode-register-reply',
      requirements: ['WIRE-INT-1'],
      packet: {
        requestId: 7,
        body: {
          case: 'supernodeRegisterReply',
          value: {
            heartbeatIntervalMs: 30_000,
            versions: { policyVersion: 12, supernodeListEpoch: 77, revocationListNumber: Number.MAX_SAFE_INTEGER },
          },
        },
      },
    },
    {
      name: 'fetch-prekeys-reply',
      requirements: ['LOGIN-PREKEY-2', 'WIRE-PKT-1'],
      packet: {
        requestId: 8,
        body: {
          case: 'fetchPrekeysReply',
          value: {
            bundles: [
              { certificate: pki.userCert, signedPrekey: prekeySigned, oneTimePrekey },
              { certificate: pki.userCert, signedPrekey: prekeySigned, oneTimePrekey: undefined },
            ],
          },
        },
      },
    },
    {
      name: 'get-contact-blob',
      requirements: ['WIRE-ENC-1'],
      packet: { requestId: 9, body: { case: 'getContactBlob', value: {} } },
    },
  ];

  return {
    description:
      "The login server's signed objects and login packets (spec/06-login-server.md): a signed network policy with the effective policy a receiver derives (defaults applied), and one of defaults only; a page of the supernode list; a page of the revocation list, each verified through the login certificate under the network's root key; published objects a receiver must refuse; a certificate request's proof over a channel's handshake hash; a signed prekey; and login packets with their canonical encodings.",
    requirements: [
      'LOGIN-PUB-1',
      'LOGIN-PUB-2',
      'LOGIN-PUB-4',
      'LOGIN-PUB-5',
      'POLICY-GEN-1',
      'POLICY-GEN-2',
      'POLICY-GEN-3',
      'POLICY-GEN-4',
      'POLICY-DENY-1',
      'LOGIN-LIST-1',
      'LOGIN-LIST-2',
      'LOGIN-LIST-3',
      'LOGIN-LIST-4',
      'LOGIN-SN-2',
      'LOGIN-REVOKE-2',
      'LOGIN-CERT-2',
      'LOGIN-CERT-3',
      'LOGIN-PREKEY-2',
      'LOGIN-LIMIT-1',
      'ID-SIG-2',
      'ID-SIG-6',
      'WIRE-ENC-1',
      'WIRE-INT-1',
      'CRYPTO-RAND-4',
    ],
    generator: GENERATOR,
    seed,
    format: {
      bytes: 'lower-case hex; times are unix milliseconds; 64-bit fields are JSON numbers (all below 2^53)',
      fields:
        'message fields by their proto3 JSON names (lowerCamelCase), bytes in hex, enums as numbers; a field absent from `fields` is 0 or absent on the wire',
      signed:
        'a Signed { body = 1, signature = 2, signer_key_id = 3, context = 4 }; signedMessage = UTF-8(context name) || 00 || body',
      verifier:
        'every published object is verified with this trust anchor, clock and skew unless a case gives another nowMs',
      effectivePolicy:
        'what a receiver derives from a verified policy (POLICY-GEN-3): every parameter with its default when 0 or absent, `..._s` fields as milliseconds (`...Ms`)',
      listPage:
        'a verified page: version (epoch or number), issuedAtMs, expiresAtMs (0 for the revocation list), page, pageCount, entries (notAfter as notAfterMs)',
      verifications:
        'verify `signed` as `object` with `loginCertificate`; expected is the verified value or { error: CODE NAME }',
      packets:
        'encoding = the canonical encoding (WIRE-ENC-1) of `packet`; value is what a decoder returns: every field, zero values included, absent nested messages null',
    },
    network: {
      root: keyJson(pki.root),
      login: keyJson(pki.login),
      loginCertificate: certJson('login', 'root', pki.loginCert, suite),
      user: keyJson(pki.user),
      userCertificate: certJson('user', 'login', pki.userCert, suite),
      supernode: keyJson(pki.supernode),
      otherRoot: keyJson(pki.otherRoot),
      otherLogin: keyJson(pki.otherLogin),
      otherLoginCertificate: hex(otherLoginCert),
    },
    verifier: { trustAnchors: [hex(pki.root.publicKey)], nowMs: VECTOR_NOW_MS, skewMs: SKEW },
    policy: {
      requirements: ['POLICY-GEN-1', 'POLICY-GEN-2', 'POLICY-GEN-3', 'LOGIN-PUB-1'],
      fields: loginJson(policyFields),
      ...signedJson(policySigned),
      expected: loginJson(effective(policySigned)),
      denied: deniedChecks.map((software) => ({
        software,
        denied: isSoftwareDenied(effective(policySigned).deniedSoftware, software),
      })),
    },
    policyDefaults: {
      requirements: ['POLICY-GEN-3'],
      fields: loginJson(defaultsFields),
      ...signedJson(defaultsSigned),
      expected: loginJson(effective(defaultsSigned)),
    },
    supernodeList: {
      requirements: ['LOGIN-LIST-1', 'LOGIN-LIST-2', 'LOGIN-LIST-4', 'LOGIN-SN-2'],
      pages: listPages.map((signed, i) => ({
        fields: loginJson({
          epoch: list.epoch,
          issuedAt: list.issuedAtMs,
          expiresAt: list.expiresAtMs,
          page: i,
          pageCount: listPages.length,
          entries: entries.map(pageWire),
        }),
        ...signedJson(signed),
        expected: listPageJson(verifySupernodeListPage(suite, signed, pki.loginCert, verifier)),
      })),
    },
    revocationList: {
      requirements: ['LOGIN-REVOKE-2', 'LOGIN-REVOKE-3'],
      pages: revocationPages.map((signed, i) => ({
        fields: loginJson({
          number: revocation.number,
          issuedAt: revocation.issuedAtMs,
          page: i,
          pageCount: revocationPages.length,
          entries: revoked.map((r) => ({ serial: r.serial, notAfter: r.notAfterMs })),
        }),
        ...signedJson(signed),
        expected: listPageJson(verifyRevocationListPage(suite, signed, pki.loginCert, verifier)),
      })),
    },
    verifications: published.map((c) => {
      const nowMs = c.nowMs ?? VECTOR_NOW_MS;
      const r = outcome(() => verifyPublished(c.object, c.signed, c.loginCertificate, nowMs));
      return {
        name: c.name,
        requirements: c.requirements,
        object: c.object,
        signed: hex(c.signed),
        loginCertificate: hex(c.loginCertificate),
        nowMs,
        expected: 'error' in r ? { error: r.error } : r.ok,
      };
    }),
    certificateRequest: {
      requirements: ['LOGIN-CERT-2', 'LOGIN-CERT-3'],
      subject: keyJson(pki.user),
      handshakeHash: hex(handshakeHash),
      deviceId: hex(request.deviceId),
      signedMessage: hex(signedMessage(C.SIGNATURE_CONTEXT_CERTIFICATE_REQUEST, handshakeHash)),
      proof: hex(request.proof),
      cases: requestCases.map((c) => {
        const r = outcome(() => verifyCertificateRequest(suite, c.request, c.handshakeHash));
        return {
          name: c.name,
          requirements: c.requirements,
          request: loginJson(c.request),
          handshakeHash: hex(c.handshakeHash),
          expected: 'error' in r ? { error: r.error } : loginJson(r.ok),
        };
      }),
    },
    signedPrekey: {
      requirements: ['LOGIN-PREKEY-2'],
      device: { key: keyJson(pki.user), certificate: hex(pki.userCert), deviceId: hex(pki.deviceUser) },
      privateKeys: { prekey: hex(prekeyPrivate), identityDh: hex(identityDhPrivate) },
      fields: loginJson({
        id: prekey.id,
        publicKey: prekey.publicKey,
        identityDhKey: prekey.identityDhKey,
        deviceId: prekey.deviceId,
        createdAt: prekey.createdAtMs,
      }),
      ...signedJson(prekeySigned),
      cases: prekeyCases.map((c) => {
        const r = outcome(() => verifySignedPrekey(suite, c.signed, userCertificate));
        return {
          name: c.name,
          requirements: c.requirements,
          signed: hex(c.signed),
          expected: 'error' in r ? { error: r.error } : loginJson(r.ok),
        };
      }),
    },
    packets: loginPackets.map((c) => {
      const encoding = encodePacket(c.packet);
      const decoded = decodePacket(encoding);
      return {
        name: c.name,
        requirements: c.requirements,
        packet: { requestId: decoded.requestId, body: decoded.body.case, value: loginJson(decoded.body.value) },
        encoding: hex(encoding),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------------
// supernode.json: placement, presence records and offline messages (spec/07-supernode.md §4, §5, §7)

function supernodeFile(suite: CryptoSuite): object {
  const seed = 'parley/vectors/supernode';
  const pki = makePki(suite, seed);
  const random = seededRandom(`${seed}/values`);
  const C = SignatureContext;

  // Placement: a few normalised names over the key ids of a small list.
  const keyIds = Array.from({ length: 6 }, () => keyId(suite, generateSigningKey(suite, random).publicKey));
  // [LOGIN-LIST-8] each supernode's placement key, as the login server lists it
  const placementSignatures = keyIds.map((id) =>
    signWithContext(suite, pki.login.seed, SignatureContext.SIGNATURE_CONTEXT_PLACEMENT, id),
  );
  const placementKeys = keyIds.map((id) => derivePlacementKey(suite, pki.login, id));
  const names = ['alice', 'bob', 'carol.smith', 'd-9_x', 'zoe'];
  const placementInput = (name: string): Uint8Array => cat(utf8(RENDEZVOUS_CONTEXT), [0], utf8(name));

  // Trust and clock of every verification below.
  const trust: SupernodeObjectTrust = {
    trustAnchors: [pki.root.publicKey],
    loginCertificates: [pki.loginCert],
    nowMs: VECTOR_NOW_MS,
    skewMs: SKEW,
  };
  const verifierJson = {
    trustAnchors: [hex(pki.root.publicKey)],
    loginCertificates: [hex(pki.loginCert)],
    nowMs: VECTOR_NOW_MS,
    skewMs: SKEW,
  };

  // A presence record of the user's device.
  const record: PresenceRecordFields = {
    username: 'alice',
    deviceId: pki.deviceUser,
    sequence: VECTOR_NOW_MS - MINUTE,
    issuedAt: VECTOR_NOW_MS - MINUTE,
    expiresAt: VECTOR_NOW_MS + 9 * MINUTE,
    status: PresenceStatus.PRESENCE_STATUS_AWAY,
    homeSupernode: keyId(suite, pki.supernode.publicKey),
    sealedEndpoints: random.randomBytes(48),
  };
  const recordSigned = signPresenceRecord(suite, pki.user, record);
  const presence = encodePresenceEnvelope(pki.userCert, recordSigned);
  const rawRecord = (over: object, context: number = C.SIGNATURE_CONTEXT_PRESENCE_RECORD, key = pki.user) =>
    encodePresenceEnvelope(
      pki.userCert,
      signObject(
        suite,
        key,
        context,
        parley.v1.PresenceRecord.encode({ version: 1, ...record, ...over } as never).finish(),
      ),
    );

  // An offline message from the user's device to bob.
  const message: OfflineMessageFields = {
    messageId: random.randomBytes(16),
    sender: 'alice',
    senderDeviceId: pki.deviceUser,
    recipient: 'bob',
    createdAt: VECTOR_NOW_MS - 2 * MINUTE,
    expiresAt: VECTOR_NOW_MS + 12 * HOUR, // within the certificate's validity
    ciphertext: random.randomBytes(64),
  };
  const messageSigned = signOfflineMessage(suite, pki.user, message);
  const offline = encodeOfflineEnvelope(pki.userCert, messageSigned);
  const rawMessage = (over: object, context: number = C.SIGNATURE_CONTEXT_OFFLINE_MESSAGE, key = pki.user) =>
    encodeOfflineEnvelope(
      pki.userCert,
      signObject(
        suite,
        key,
        context,
        parley.v1.OfflineMessage.encode({ version: 1, ...message, ...over } as never).finish(),
      ),
    );

  type Case = { name: string; requirements: string[]; envelope: Uint8Array; nowMs?: number; revoked?: number[] };
  const presenceCases: Case[] = [
    { name: 'valid', requirements: ['DIR-REC-4'], envelope: presence },
    { name: 'expired', requirements: ['DIR-REC-7'], envelope: presence, nowMs: record.expiresAt },
    { name: 'last-valid-millisecond', requirements: ['DIR-REC-7'], envelope: presence, nowMs: record.expiresAt - 1 },
    {
      name: 'issued-beyond-the-skew',
      requirements: ['DIR-REC-7'],
      envelope: presence,
      nowMs: record.issuedAt - SKEW - 1,
    },
    { name: 'certificate-revoked', requirements: ['DIR-REC-4', 'ID-CHAIN-8'], envelope: presence, revoked: [1001] },
    {
      name: 'certificate-expired',
      requirements: ['DIR-REC-4', 'ID-CERT-12'],
      envelope: presence,
      nowMs: USER_NA + SKEW,
    },
    {
      name: 'supernode-certificate',
      requirements: ['DIR-REC-4', 'ID-CHAIN-9'],
      envelope: encodePresenceEnvelope(
        pki.supernodeCert,
        signPresenceRecord(suite, pki.supernode, { ...record, deviceId: pki.deviceSupernode }),
      ),
    },
    {
      name: 'signed-by-another-key',
      requirements: ['DIR-REC-2', 'ID-SIG-8'],
      envelope: encodePresenceEnvelope(pki.userCert, signPresenceRecord(suite, pki.supernode, record)),
    },
    {
      name: 'offline-message-context',
      requirements: ['DIR-REC-1', 'ID-SIG-7'],
      envelope: rawRecord({}, C.SIGNATURE_CONTEXT_OFFLINE_MESSAGE),
    },
    { name: 'version-2', requirements: ['DIR-REC-3'], envelope: rawRecord({ version: 2 }) },
    { name: 'another-username', requirements: ['DIR-REC-5'], envelope: rawRecord({ username: 'bob' }) },
    { name: 'sequence-0', requirements: ['DIR-REC-6'], envelope: rawRecord({ sequence: 0 }) },
    {
      name: 'lifetime-above-15-minutes',
      requirements: ['DIR-REC-7'],
      envelope: rawRecord({ expiresAt: record.issuedAt + 15 * MINUTE + 1 }),
    },
    { name: 'status-5', requirements: ['DIR-REC-8'], envelope: rawRecord({ status: 5 }) },
    {
      name: 'home-supernode-31-bytes',
      requirements: ['DIR-REC-9'],
      envelope: rawRecord({ homeSupernode: new Uint8Array(31) }),
    },
    {
      name: 'sealed-endpoints-513-bytes',
      requirements: ['DIR-REC-9', 'SN-LIMIT-1'],
      envelope: rawRecord({ sealedEndpoints: new Uint8Array(513) }),
    },
  ];
  const messageCases: Case[] = [
    { name: 'valid', requirements: ['STORE-MSG-4'], envelope: offline },
    { name: 'expired', requirements: ['STORE-MSG-7'], envelope: offline, nowMs: message.expiresAt },
    {
      name: 'created-beyond-the-skew',
      requirements: ['STORE-MSG-7'],
      envelope: offline,
      nowMs: message.createdAt - SKEW - 1,
    },
    {
      name: 'presence-record-context',
      requirements: ['STORE-MSG-1', 'ID-SIG-7'],
      envelope: rawMessage({}, C.SIGNATURE_CONTEXT_PRESENCE_RECORD),
    },
    {
      name: 'message-id-15-bytes',
      requirements: ['STORE-MSG-3'],
      envelope: rawMessage({ messageId: new Uint8Array(15) }),
    },
    { name: 'another-sender', requirements: ['STORE-MSG-5'], envelope: rawMessage({ sender: 'carol' }) },
    { name: 'recipient-not-normalised', requirements: ['STORE-MSG-6'], envelope: rawMessage({ recipient: 'Bob' }) },
    {
      name: 'lifetime-above-30-days',
      requirements: ['STORE-MSG-7'],
      envelope: rawMessage({ expiresAt: message.createdAt + 30 * DAY + 1 }),
    },
    {
      name: 'empty-ciphertext',
      requirements: ['STORE-MSG-8'],
      envelope: rawMessage({ ciphertext: new Uint8Array(0) }),
    },
  ];
  const runCase = <T>(c: Case, verify: (t: SupernodeObjectTrust) => T) => {
    const nowMs = c.nowMs ?? VECTOR_NOW_MS;
    const revoked = c.revoked ?? [];
    const r = outcome(() => verify({ ...trust, nowMs, isRevoked: (serial) => revoked.includes(serial) }));
    return {
      name: c.name,
      requirements: c.requirements,
      envelope: hex(c.envelope),
      nowMs,
      revoked,
      expected: 'error' in r ? { error: r.error } : loginJson(r.ok),
    };
  };

  const packets: { name: string; requirements: string[]; packet: Packet }[] = [
    {
      name: 'publish-presence',
      requirements: ['DIR-REC-1', 'SN-LIMIT-1'],
      packet: {
        requestId: 7,
        body: { case: 'publishPresence', value: { presence: { certificate: pki.userCert, record: recordSigned } } },
      },
    },
    {
      name: 'store-message',
      requirements: ['STORE-MSG-1', 'SN-LIMIT-1'],
      packet: {
        requestId: 8,
        body: { case: 'storeMessage', value: { message: { certificate: pki.userCert, message: messageSigned } } },
      },
    },
    {
      name: 'attach-reply-redirect',
      requirements: ['SN-LIMIT-1'],
      packet: {
        requestId: 9,
        body: { case: 'attachReply', value: { redirect: { supernodeKeyIds: keyIds.slice(0, 2), listEpoch: 77 } } },
      },
    },
    {
      name: 'ack-messages',
      requirements: ['SN-LIMIT-1'],
      packet: {
        requestId: 10,
        body: {
          case: 'ackMessages',
          value: { messages: [{ sender: 'alice', messageId: message.messageId }], recipient: 'bob' },
        },
      },
    },
  ];

  return {
    description:
      'Supernode vectors (07-supernode.md): rendezvous placement of normalised user names over supernode key ids; a presence record and an offline message signed by a user device, with their bodies, signed messages, signatures and envelopes; verifications a receiver must accept or refuse with the code named; supernode packets with their canonical encodings',
    requirements: [
      'SN-PLACE-1',
      'SN-PLACE-2',
      'SN-PLACE-3',
      'DIR-REC-1',
      'DIR-REC-2',
      'DIR-REC-4',
      'STORE-MSG-1',
      'STORE-MSG-2',
      'STORE-MSG-4',
      'SN-LIMIT-1',
      'ID-SIG-2',
      'WIRE-ENC-1',
      'CRYPTO-RAND-4',
    ],
    generator: GENERATOR,
    seed,
    format: {
      bytes: 'lower-case hex; times are unix milliseconds; 64-bit fields are JSON numbers (all below 2^53)',
      placement:
        'placementKey = SHA-256(Ed25519 signature of the login key over "parley/v1 placement" || 00 || keyId); input = UTF-8("parley/v1 rendezvous") || 00 || UTF-8(name); h = the first 8 bytes of SHA-256(input), big-endian; p = the first 8 bytes of placementKey, big-endian; score = mix64(h XOR p) as a decimal string, mix64 the SplitMix64 finaliser modulo 2^64; order: score descending, ties by placement key ascending (placement keys listed); responsible: the first k of the order',
      fields: 'message fields by their proto3 JSON names (lowerCamelCase), bytes in hex, enums as numbers',
      signed:
        'a Signed { body = 1, signature = 2, signer_key_id = 3, context = 4 }; signedMessage = UTF-8(context name) || 00 || body',
      envelope: 'PresenceEnvelope / OfflineEnvelope { certificate = 1, record or message = 2 }',
      verifier:
        'every envelope is verified with these trust anchors and login certificates, at `nowMs` of its case, with this skew, the serials of `revoked` revoked; expected is the verified value or { error: CODE NAME }',
    },
    network: {
      root: keyJson(pki.root),
      login: keyJson(pki.login),
      loginCertificate: hex(pki.loginCert),
      user: keyJson(pki.user),
      userCertificate: hex(pki.userCert),
      userDeviceId: hex(pki.deviceUser),
      supernode: keyJson(pki.supernode),
      supernodeCertificate: hex(pki.supernodeCert),
    },
    verifier: verifierJson,
    placement: {
      requirements: ['SN-PLACE-1', 'SN-PLACE-2', 'SN-PLACE-3', 'LOGIN-LIST-8'],
      supernodes: keyIds.map((id, i) => ({
        keyId: hex(id),
        placementSignature: hex(placementSignatures[i]!),
        placementKey: hex(placementKeys[i]!),
      })),
      k: 3,
      names: names.map((name) => ({
        name,
        input: hex(placementInput(name)),
        nameHash: hex(suite.sha256(placementInput(name)).subarray(0, 8)),
        scores: placementKeys.map((key) => rendezvousScore(name, key, suite).toString()),
        order: rendezvousOrder(name, placementKeys, suite).map(hex),
        responsible: responsibleSupernodes(name, placementKeys, 3, suite).map(hex),
      })),
    },
    presence: {
      requirements: ['DIR-REC-1', 'DIR-REC-2', 'DIR-REC-10'],
      fields: loginJson({ version: 1, ...record }),
      ...signedJson(recordSigned),
      envelope: hex(presence),
      verifications: presenceCases.map((c) => runCase(c, (t) => verifyPresenceEnvelope(suite, c.envelope, t))),
    },
    offline: {
      requirements: ['STORE-MSG-1', 'STORE-MSG-2', 'STORE-MSG-9'],
      fields: loginJson({ version: 1, ...message }),
      ...signedJson(messageSigned),
      envelope: hex(offline),
      verifications: messageCases.map((c) => runCase(c, (t) => verifyOfflineEnvelope(suite, c.envelope, t))),
    },
    packets: packets.map((c) => {
      const encoding = encodePacket(c.packet);
      const decoded = decodePacket(encoding);
      return {
        name: c.name,
        requirements: c.requirements,
        packet: { requestId: decoded.requestId, body: decoded.body.case, value: loginJson(decoded.body.value) },
        encoding: hex(encoding),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------------
// connectivity.json: reachability attestations (spec/08-connectivity.md §8)

function connectivityFile(suite: CryptoSuite): object {
  const seed = 'parley/vectors/connectivity';
  const pki = makePki(suite, seed);
  const random = seededRandom(`${seed}/values`);
  const C = SignatureContext;
  const userKeyId = keyId(suite, pki.user.publicKey);

  // What the supernode found when it dialled the user's device back: TCP reachable, UDP not.
  const fields: AttestationFields = {
    subjectKeyId: userKeyId,
    username: 'alice',
    deviceId: pki.deviceUser,
    address: Uint8Array.of(198, 51, 100, 7),
    tcpPort: 40_001,
    tcpReachable: true,
    udpPort: 40_002,
    udpReachable: false,
    nonce: random.randomBytes(24),
    issuedAt: VECTOR_NOW_MS - MINUTE,
    expiresAt: VECTOR_NOW_MS - MINUTE + ATTESTATION_LIFETIME_MS,
  };
  const signed = signAttestation(suite, pki.supernode, fields);
  const unreachable: AttestationFields = {
    ...fields,
    address: Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 0x07]),
    tcpReachable: false,
    udpPort: 0,
    nonce: random.randomBytes(16),
  };
  const raw = (over: object, context: number = C.SIGNATURE_CONTEXT_ATTESTATION, key = pki.supernode) =>
    signObject(suite, key, context, parley.v1.Attestation.encode({ version: 1, ...fields, ...over } as never).finish());
  const expected = { subjectKeyId: fields.subjectKeyId, nonce: fields.nonce };

  type Case = {
    name: string;
    requirements: string[];
    certificate?: Uint8Array;
    attestation: Uint8Array;
    nowMs?: number;
    revoked?: number[];
    expect?: { subjectKeyId: Uint8Array; nonce: Uint8Array } | null;
  };
  const cases: Case[] = [
    { name: 'valid', requirements: ['ATTEST-VERIFY-1', 'ATTEST-SIGN-1'], attestation: signed },
    {
      name: 'valid-unreachable-ipv6-udp-untested',
      requirements: ['ATTEST-VERIFY-1', 'ATTEST-SIGN-1'],
      attestation: signAttestation(suite, pki.supernode, unreachable),
      expect: { subjectKeyId: unreachable.subjectKeyId, nonce: unreachable.nonce },
    },
    { name: 'valid-without-expectation', requirements: ['ATTEST-VERIFY-1'], attestation: signed, expect: null },
    {
      name: 'last-valid-millisecond',
      requirements: ['ATTEST-VERIFY-1'],
      attestation: signed,
      nowMs: fields.expiresAt - SKEW - 1,
    },
    { name: 'expired', requirements: ['ATTEST-VERIFY-1'], attestation: signed, nowMs: fields.expiresAt - SKEW },
    {
      name: 'issued-beyond-the-skew',
      requirements: ['ATTEST-VERIFY-1'],
      attestation: signed,
      nowMs: fields.issuedAt - SKEW - 1,
    },
    { name: 'supernode-certificate-revoked', requirements: ['ATTEST-VERIFY-1'], attestation: signed, revoked: [2001] },
    {
      name: 'user-certificate',
      requirements: ['ATTEST-VERIFY-1', 'ID-CHAIN-9'],
      certificate: pki.userCert,
      attestation: signAttestation(suite, pki.user, fields),
    },
    {
      name: 'signed-by-another-key',
      requirements: ['ATTEST-VERIFY-1', 'ID-SIG-8'],
      attestation: signAttestation(suite, pki.user, fields),
    },
    {
      name: 'presence-record-context',
      requirements: ['ATTEST-VERIFY-1', 'ID-SIG-7'],
      attestation: raw({}, C.SIGNATURE_CONTEXT_PRESENCE_RECORD),
    },
    { name: 'version-2', requirements: ['ATTEST-VERIFY-1'], attestation: raw({ version: 2 }) },
    { name: 'nonce-15-bytes', requirements: ['ATTEST-VERIFY-1'], attestation: raw({ nonce: new Uint8Array(15) }) },
    { name: 'address-5-bytes', requirements: ['ATTEST-VERIFY-1'], attestation: raw({ address: new Uint8Array(5) }) },
    {
      name: 'lifetime-above-1-hour',
      requirements: ['ATTEST-VERIFY-1'],
      attestation: raw({ expiresAt: fields.issuedAt + ATTESTATION_LIFETIME_MS + 1 }),
    },
    {
      name: 'udp-reachable-without-port',
      requirements: ['ATTEST-VERIFY-1'],
      attestation: raw({ udpPort: 0, udpReachable: true }),
    },
    {
      name: 'another-nonce',
      requirements: ['ATTEST-VERIFY-1'],
      attestation: signed,
      expect: { subjectKeyId: fields.subjectKeyId, nonce: flip(fields.nonce, 0) },
    },
    {
      name: 'another-candidate',
      requirements: ['ATTEST-VERIFY-1'],
      attestation: signed,
      expect: { subjectKeyId: flip(fields.subjectKeyId, 31), nonce: fields.nonce },
    },
  ];
  const verifierJson = {
    trustAnchors: [hex(pki.root.publicKey)],
    loginCertificates: [hex(pki.loginCert)],
    skewMs: SKEW,
  };
  const verifications = cases.map((c) => {
    const certificate = c.certificate ?? pki.supernodeCert;
    const nowMs = c.nowMs ?? VECTOR_NOW_MS;
    const revoked = c.revoked ?? [];
    const expect = c.expect === undefined ? expected : c.expect;
    const r = outcome(() => {
      const { supernodeCertificate, ...v } = verifyAttestation(
        suite,
        { certificate, attestation: c.attestation },
        {
          trustAnchors: [pki.root.publicKey],
          loginCertificates: [pki.loginCert],
          nowMs,
          skewMs: SKEW,
          isRevoked: (serial) => revoked.includes(serial),
        },
        expect ?? undefined,
      );
      return { ...v, supernodeCertificateSerial: supernodeCertificate.serial };
    });
    return {
      name: c.name,
      requirements: c.requirements,
      certificate: hex(certificate),
      attestation: hex(c.attestation),
      nowMs,
      revoked,
      expect: expect === null ? null : { subjectKeyId: hex(expect.subjectKeyId), nonce: hex(expect.nonce) },
      expected: 'error' in r ? { error: r.error } : loginJson(r.ok),
    };
  });

  return {
    description:
      'Connectivity vectors (08-connectivity.md): a reachability attestation signed by a supernode for a user device it dialled back, with its fields, body, signed message, signature and Signed; attestations a verifier must accept or refuse with the code named',
    requirements: ['ATTEST-SIGN-1', 'ATTEST-VERIFY-1', 'ID-SIG-2', 'CRYPTO-RAND-4'],
    generator: GENERATOR,
    seed,
    format: {
      bytes: 'lower-case hex; times are unix milliseconds; 64-bit fields are JSON numbers (all below 2^53)',
      fields: 'message fields by their proto3 JSON names (lowerCamelCase), bytes in hex',
      signed:
        'a Signed { body = 1, signature = 2, signer_key_id = 3, context = 4 }; signedMessage = UTF-8("parley/v1 attestation") || 00 || body; context 9',
      verifier:
        'an AttestReply { certificate, attestation } is verified with these trust anchors and login certificates, at `nowMs` of its case, with this skew, the serials of `revoked` revoked, expecting `expect` (the candidate key id and nonce; null: nothing expected); expected is the verified attestation (its fields, the signer key id and the supernode certificate serial) or { error: CODE NAME }',
    },
    network: {
      root: keyJson(pki.root),
      login: keyJson(pki.login),
      loginCertificate: hex(pki.loginCert),
      user: keyJson(pki.user),
      userCertificate: hex(pki.userCert),
      userDeviceId: hex(pki.deviceUser),
      supernode: keyJson(pki.supernode),
      supernodeCertificate: hex(pki.supernodeCert),
    },
    verifier: verifierJson,
    attestation: {
      requirements: ['ATTEST-SIGN-1'],
      fields: loginJson({ version: 1, ...fields }),
      ...signedJson(signed),
      verifications,
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The whole set

/** Every vector file, by file name (without `.json`), as a JSON value. Pure: the suite is the only input. */

// ---- e2e.json: X3DH and the first messages of a Double Ratchet session (spec/10-e2e.md) ------------------------

/** A Random that draws from `inner` and records every draw (the vectors publish the private keys drawn). */
function recordingRandom(inner: Random): Random & { draws: Uint8Array[] } {
  const draws: Uint8Array[] = [];
  return {
    draws,
    randomBytes(length: number): Uint8Array {
      const b = inner.randomBytes(length);
      draws.push(Uint8Array.from(b));
      return b;
    },
  };
}

function e2eFile(suite: CryptoSuite): object {
  const seed = 'parley/vectors/e2e';
  const pki = makePki(suite, seed);
  const random = seededRandom(`${seed}/values`);
  const bobKey = generateSigningKey(suite, random);
  const deviceBob = random.randomBytes(16);
  const bobCert = issueCertificate(suite, pki.login, {
    subject: 'bob',
    subjectKey: bobKey.publicKey,
    deviceId: deviceBob,
    role: Role.ROLE_USER,
    serial: 1002,
    notBefore: USER_NB,
    notAfter: USER_NA,
  });
  const cert = (signed: Uint8Array) => decodeCertificate(decodeSigned(signed).body);
  const aliceCertificate = cert(pki.userCert);
  const bobCertificate = cert(bobCert);
  const ikA = generateX25519(suite, random);
  const ikB = generateX25519(suite, random);
  const prekeysA = createPrekeys(suite, random, {
    seed: pki.user.seed,
    deviceId: pki.deviceUser,
    identityDhKey: ikA.publicKey,
    signedPrekeyId: 1,
    firstOneTimeId: 1,
    count: 1,
    nowMs: USER_NB,
  });
  const prekeysB = createPrekeys(suite, random, {
    seed: bobKey.seed,
    deviceId: deviceBob,
    identityDhKey: ikB.publicKey,
    signedPrekeyId: 7,
    firstOneTimeId: 42,
    count: 1,
    nowMs: USER_NB,
  });
  const alice = {
    username: 'alice',
    deviceId: pki.deviceUser,
    identityDh: ikA,
    signedPrekey: prekeysA.upload.signedPrekey,
  };
  const bob = { username: 'bob', deviceId: deviceBob, identityDh: ikB, signedPrekey: prekeysB.upload.signedPrekey };
  const secretsB = {
    signedPrekey: (id: number) => (id === 7 ? prekeysB.signed.keyPair.privateKey : undefined),
    oneTimePrekey: (id: number) => (id === 42 ? prekeysB.oneTime[0]!.keyPair.privateKey : undefined),
  };
  const bundle = bundleKeys(suite, bobCertificate, prekeysB.upload.signedPrekey, prekeysB.upload.oneTimePrekeys[0]);
  const ra = recordingRandom(seededRandom(`${seed}/alice`));
  const rb = recordingRandom(seededRandom(`${seed}/bob`));
  const sessionA = RatchetSession.initiate(suite, ra, alice, bundle);
  const [ekA, ratchetA1] = ra.draws;
  const text = new TextEncoder();
  const m1 = sessionA.encrypt(text.encode('Hello, Bob.'), ra);
  const identityA = senderIdentity(suite, aliceCertificate, prekeysA.upload.signedPrekey);
  const { session: sessionB, plaintext: p1 } = RatchetSession.respond(
    suite,
    rb,
    bob,
    secretsB,
    identityA,
    m1.prekey as never,
  );
  const m2 = sessionB.encrypt(text.encode('Hello, Alice.'), rb);
  const ratchetB1 = rb.draws[0]!;
  const p2 = sessionA.decrypt(m2.ratchet as never, ra);
  // Alice's second chain (she stepped on m2): two messages, which Bob receives in the reverse order.
  const ratchetA2 = ra.draws[2]!;
  const m3 = sessionA.encrypt(text.encode('How are you?'), ra);
  const m4 = sessionA.encrypt(text.encode('Are you there?'), ra);
  const p4 = sessionB.decrypt(m4.ratchet as never, rb);
  const p3 = sessionB.decrypt(m3.ratchet as never, rb);
  const ratchetB2 = rb.draws[1]!;
  const m5 = sessionB.encrypt(text.encode('Fine, thanks.'), rb);
  const p5 = sessionA.decrypt(m5.ratchet as never, ra);
  const ad = associatedData({ username: 'alice', deviceId: pki.deviceUser, identityDhKey: ikA.publicKey }, bundle.peer);
  const sk = x3dhInitiate(suite, ikA, { privateKey: ekA!, publicKey: suite.x25519PublicKey(ekA!) }, bundle);
  const messageJson = (
    from: 'alice' | 'bob',
    m: ReturnType<typeof sessionA.encrypt>,
    plaintext: Uint8Array,
    ratchetPrivate: Uint8Array,
  ) => {
    const r = (m.prekey?.message ?? m.ratchet)!;
    const h = decodeRatchetHeader(r.header!);
    return {
      from,
      pn: h.pn,
      n: h.n,
      e2eMessage: hex(encodeE2eMessage(m)),
      header: hex(r.header!),
      ciphertext: hex(r.ciphertext!),
      senderRatchetPrivate: hex(ratchetPrivate),
      plaintext: new TextDecoder().decode(plaintext),
    };
  };
  return {
    requirements: [
      'E2E-X3DH-2',
      'E2E-X3DH-5',
      'E2E-RATCHET-1',
      'E2E-RATCHET-2',
      'E2E-RATCHET-3',
      'E2E-RATCHET-4',
      'E2E-RATCHET-5',
    ],
    generator: GENERATOR,
    seed,
    description:
      "X3DH (10 §4) with a one-time prekey, then a short conversation (10 §5-6): Alice's PrekeyMessage, Bob's reply, two " +
      "messages of Alice's second chain that Bob receives in the reverse order (`delivery` lists the order of receipt), and " +
      "Bob's answer from his second chain. The private keys, ratchet keys included, are published so that an implementation " +
      'can recompute SK, AD, the root and chain keys, each message key and the AEAD from the text of the chapter.',
    certificates: {
      alice: hex(pki.userCert),
      bob: hex(bobCert),
      login: hex(pki.loginCert),
      root: hex(pki.root.publicKey),
    },
    alice: {
      username: 'alice',
      deviceId: hex(pki.deviceUser),
      identityDhPrivate: hex(ikA.privateKey),
      identityDhPublic: hex(ikA.publicKey),
      signedPrekey: hex(prekeysA.upload.signedPrekey),
      ephemeralPrivate: hex(ekA!),
    },
    bob: {
      username: 'bob',
      deviceId: hex(deviceBob),
      identityDhPrivate: hex(ikB.privateKey),
      identityDhPublic: hex(ikB.publicKey),
      signedPrekey: hex(prekeysB.upload.signedPrekey),
      signedPrekeyId: 7,
      signedPrekeyPrivate: hex(prekeysB.signed.keyPair.privateKey),
      oneTimePrekeyId: 42,
      oneTimePrekeyPrivate: hex(prekeysB.oneTime[0]!.keyPair.privateKey),
    },
    sk: hex(sk),
    ad: hex(ad),
    messages: [
      messageJson('alice', m1, p1, ratchetA1!),
      messageJson('bob', m2, p2, ratchetB1),
      messageJson('alice', m3, p3, ratchetA2),
      messageJson('alice', m4, p4, ratchetA2),
      messageJson('bob', m5, p5, ratchetB2),
    ],
    delivery: [0, 1, 3, 2, 4],
  };
}

export function generateVectors(suite: CryptoSuite): Record<string, object> {
  const hs = handshake(suite);
  return {
    certificates: certificatesFile(suite),
    'signed-objects': signedObjectsFile(suite),
    packets: packetsFile(),
    framing: framingFile(suite),
    'handshake-xx': hs.file,
    datagram: datagramFile(suite, hs),
    login: loginFile(suite),
    supernode: supernodeFile(suite),
    connectivity: connectivityFile(suite),
    e2e: e2eFile(suite),
  };
}

/** The exact text of a vector file: 2-space JSON and a trailing newline. */
export function serializeVector(value: object): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------------
// CLI

const HELP = `usage: node dist/scripts/vectors.js [--check] [--out DIR]

Generates Parley's test vectors (spec/vectors/*.json) from fixed seeds with the reference
implementation, and writes them (default) or compares them with the checked-in files (--check:
exit 1 and name every file that would change).

options:
  --check      compare instead of writing; exit 1 when a file differs or is missing
  --out DIR    the vectors folder (default: spec/vectors of this repository)
  --help       this text

examples:
  pnpm vectors                                     # build, then write spec/vectors/*.json
  pnpm vectors:check                               # build, then fail if a vector would change
  node packages/wire/dist/scripts/vectors.js --check
  node packages/wire/dist/scripts/vectors.js --out /tmp/vectors`;

function main(argv: string[]): number {
  const args = [...argv];
  if (args.includes('--help') || args.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const check = args.includes('--check');
  const outAt = args.indexOf('--out');
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/scripts/vectors.js (or scripts/vectors.ts) -> the repository root
  const root = resolve(here, here.split(/[\\/]/).includes('dist') ? '../../../..' : '../../..');
  const dir = outAt >= 0 && args[outAt + 1] ? resolve(args[outAt + 1]!) : resolve(root, 'spec/vectors');
  for (const a of args) {
    if (a.startsWith('-') && !['--check', '--out'].includes(a)) {
      console.error(`unknown option ${a}\n\n${HELP}`);
      return 2;
    }
  }
  console.log(
    `vectors: generating with ${nodeCrypto.name} (seeded, fixed clock ${new Date(VECTOR_NOW_MS).toISOString()})`,
  );
  const files = generateVectors(nodeCrypto);
  const changed: string[] = [];
  if (!check) mkdirSync(dir, { recursive: true });
  for (const [name, value] of Object.entries(files)) {
    const path = resolve(dir, `${name}.json`);
    const text = serializeVector(value);
    const old = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    const status = old === undefined ? 'missing' : old === text ? 'unchanged' : 'differs';
    if (check) {
      console.log(`vectors: ${name}.json ${status}`);
      if (status !== 'unchanged') changed.push(`${name}.json (${status})`);
    } else {
      if (status !== 'unchanged') writeFileSync(path, text);
      console.log(`vectors: ${name}.json ${status === 'unchanged' ? 'unchanged' : 'written'} (${text.length} bytes)`);
    }
  }
  if (check && changed.length > 0) {
    console.error(
      `vectors: ${changed.length} file(s) would change: ${changed.join(', ')}\n` +
        'Regenerate with `pnpm vectors` and review the diff: a vector that changes is a change of the protocol or a bug.',
    );
    return 1;
  }
  console.log(check ? `vectors: all ${Object.keys(files).length} files match` : `vectors: done, in ${dir}`);
  return 0;
}

const invokedAs = process.argv[1] ? resolve(process.argv[1]) : '';
if (invokedAs === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
