/**
 * The encoding rules and limits of every message of spec/proto/parley/v1/connectivity.proto: the limits
 * table of spec/08-connectivity.md ([NAT-LIMIT-1]), enforced by the raw checker before protobufjs decodes
 * (spec/01-packets.md WIRE-LIMIT-*). A test compares these rules with the chapter's table.
 *
 * Fixed lengths (a 12-byte transaction or punch id, an 8-byte allocation id, a 32-byte key) are bounds
 * here and exact checks where the field is used (the supernode's handlers, ./attestation.ts): a field
 * longer than its bound is FIELD_LIMIT on decode, a shorter one MALFORMED where it is used.
 */
import { defineMessage, type MessageRules } from '../codec/rules.js';
import { MAX_DATAGRAM_LENGTH } from '../datagram/channel.js';
import { DEVICE_ID_BYTES } from '../identity/certificate.js';
import { KEY_ID_BYTES } from '../identity/keys.js';
import { MAX_ATTESTATION_BYTES } from '../identity/signed.js';
import { ENDPOINT_RULES, MAX_ENCODED_CERTIFICATE_BYTES, MAX_USERNAME_INPUT_BYTES } from '../login/messages.js';
import { SIGNED_ENVELOPE_SLACK } from '../supernode/messages.js';

/** [NAT-LIMIT-1] A probe's transaction id: 12 bytes. */
export const TRANSACTION_ID_BYTES = 12;
/** [NAT-LIMIT-1] The return-routability token of a probe reply: 8 bytes. */
export const PROBE_TOKEN_BYTES = 8;
/** [NAT-LIMIT-1] A punch id: 12 bytes. */
export const PUNCH_ID_BYTES = 12;
/** [NAT-LIMIT-1] A punch key or a relay allocation key: 32 bytes. */
export const CONNECTIVITY_KEY_BYTES = 32;
/** [NAT-LIMIT-1] A relay allocation id: 8 bytes. */
export const ALLOCATION_ID_BYTES = 8;
/** [NAT-LIMIT-1] Candidates one side offers for a punch. */
export const MAX_CANDIDATES = 8;
/** [NAT-LIMIT-1] UDP endpoints an ObserveReply or RelayAllocateReply names. */
export const MAX_PROBE_ENDPOINTS = 4;
/** [NAT-LIMIT-1] An attestation nonce: 16..32 bytes. */
export const MIN_ATTEST_NONCE_BYTES = 16;
export const MAX_ATTEST_NONCE_BYTES = 32;
/** [NAT-LIMIT-1] An encoded Signed Attestation. */
export const MAX_SIGNED_ATTESTATION_BYTES = MAX_ATTESTATION_BYTES + SIGNED_ENVELOPE_SLACK;
/** [NAT-LIMIT-1] An IP address: 4 (IPv4) or 16 (IPv6) bytes. */
export const MAX_IP_ADDRESS_BYTES = 16;

const username = { kind: 'string', maxLength: MAX_USERNAME_INPUT_BYTES } as const;
const deviceId = { kind: 'bytes', maxLength: DEVICE_ID_BYTES } as const;
const keyIdBytes = { kind: 'bytes', maxLength: KEY_ID_BYTES } as const;
const endpoint = { kind: 'message', message: ENDPOINT_RULES } as const;

// ---- NAT behaviour and candidates, 08 §5-6 -------------------------------------------------------------

export const NAT_CLASS_RULES = defineMessage({
  name: 'NatClass',
  fields: [
    { number: 1, name: 'mapping', kind: 'enum' },
    { number: 2, name: 'filtering', kind: 'enum' },
  ],
});
export const CANDIDATE_RULES = defineMessage({
  name: 'Candidate',
  fields: [
    { number: 1, name: 'endpoint', ...endpoint },
    { number: 2, name: 'kind', kind: 'enum' },
  ],
});
const candidates = { kind: 'message', message: CANDIDATE_RULES, repeated: true, maxCount: MAX_CANDIDATES } as const;
const natClass = { kind: 'message', message: NAT_CLASS_RULES } as const;

// ---- Observed addresses, 08 §4 -------------------------------------------------------------------------

export const OBSERVE_REQUEST_RULES = defineMessage({ name: 'ObserveRequest', fields: [] });
export const OBSERVE_REPLY_RULES = defineMessage({
  name: 'ObserveReply',
  fields: [
    { number: 1, name: 'observed', ...endpoint },
    { number: 2, name: 'probe_endpoints', ...endpoint, repeated: true, maxCount: MAX_PROBE_ENDPOINTS },
  ],
});

// ---- NAT classification, 08 §5 -------------------------------------------------------------------------

export const CLASSIFY_REQUEST_RULES = defineMessage({
  name: 'ClassifyRequest',
  fields: [
    { number: 1, name: 'transaction_id', kind: 'bytes', maxLength: TRANSACTION_ID_BYTES },
    { number: 2, name: 'token', kind: 'bytes', maxLength: PROBE_TOKEN_BYTES },
  ],
});
export const CLASSIFY_REPLY_RULES = defineMessage({
  name: 'ClassifyReply',
  fields: [
    { number: 1, name: 'supernode_key_id', ...keyIdBytes },
    { number: 2, name: 'probe_endpoint', ...endpoint },
    { number: 3, name: 'transaction_id', kind: 'bytes', maxLength: TRANSACTION_ID_BYTES },
  ],
});
export const CLASSIFY_PROBE_RULES = defineMessage({
  name: 'ClassifyProbe',
  fields: [
    { number: 1, name: 'target', ...endpoint },
    { number: 2, name: 'transaction_id', kind: 'bytes', maxLength: TRANSACTION_ID_BYTES },
  ],
});
export const CLASSIFY_PROBE_REPLY_RULES = defineMessage({
  name: 'ClassifyProbeReply',
  fields: [{ number: 1, name: 'probe_endpoint', ...endpoint }],
});

// ---- Hole punching, 08 §6 ------------------------------------------------------------------------------

export const PUNCH_REQUEST_RULES = defineMessage({
  name: 'PunchRequest',
  fields: [
    { number: 1, name: 'username', ...username },
    { number: 2, name: 'device_id', ...deviceId },
    { number: 3, name: 'via', ...keyIdBytes },
    { number: 4, name: 'candidates', ...candidates },
    { number: 5, name: 'nat', ...natClass },
    { number: 6, name: 'caller', ...username },
    { number: 7, name: 'caller_device_id', ...deviceId },
  ],
});
export const PUNCH_START_RULES = defineMessage({
  name: 'PunchStart',
  fields: [
    { number: 1, name: 'punch_id', kind: 'bytes', maxLength: PUNCH_ID_BYTES },
    { number: 2, name: 'punch_key', kind: 'bytes', maxLength: CONNECTIVITY_KEY_BYTES },
    { number: 3, name: 'candidates', ...candidates },
    { number: 4, name: 'nat', ...natClass },
    { number: 5, name: 'start_in_ms', kind: 'uint32' },
    { number: 6, name: 'timeout_ms', kind: 'uint32' },
    { number: 7, name: 'relay', ...keyIdBytes },
  ],
});
const punchStart = { kind: 'message', message: PUNCH_START_RULES } as const;
export const PUNCH_REPLY_RULES = defineMessage({
  name: 'PunchReply',
  fields: [{ number: 1, name: 'start', ...punchStart }],
});
export const PUNCH_OFFER_RULES = defineMessage({
  name: 'PunchOffer',
  fields: [
    { number: 1, name: 'caller', ...username },
    { number: 2, name: 'caller_device_id', ...deviceId },
    { number: 3, name: 'start', ...punchStart },
  ],
});
export const PUNCH_OFFER_REPLY_RULES = defineMessage({
  name: 'PunchOfferReply',
  fields: [
    { number: 1, name: 'accept', kind: 'bool' },
    { number: 2, name: 'candidates', ...candidates },
    { number: 3, name: 'nat', ...natClass },
  ],
});

// ---- Relay, 08 §7 --------------------------------------------------------------------------------------

const allocationId = { kind: 'bytes', maxLength: ALLOCATION_ID_BYTES } as const;
export const RELAY_ALLOCATE_RULES = defineMessage({
  name: 'RelayAllocate',
  fields: [
    { number: 1, name: 'username', ...username },
    { number: 2, name: 'device_id', ...deviceId },
  ],
});
export const RELAY_ALLOCATE_REPLY_RULES = defineMessage({
  name: 'RelayAllocateReply',
  fields: [
    { number: 1, name: 'allocation_id', ...allocationId },
    { number: 2, name: 'allocation_key', kind: 'bytes', maxLength: CONNECTIVITY_KEY_BYTES },
    { number: 3, name: 'relay_endpoints', ...endpoint, repeated: true, maxCount: MAX_PROBE_ENDPOINTS },
    { number: 4, name: 'lifetime_s', kind: 'uint32' },
    { number: 5, name: 'byte_quota', kind: 'uint64' },
    { number: 6, name: 'bytes_per_s', kind: 'uint32' },
  ],
});
export const RELAY_REFRESH_RULES = defineMessage({
  name: 'RelayRefresh',
  fields: [
    { number: 1, name: 'allocation_id', ...allocationId },
    { number: 2, name: 'lifetime_s', kind: 'uint32' },
  ],
});
export const RELAY_REFRESH_REPLY_RULES = defineMessage({
  name: 'RelayRefreshReply',
  fields: [{ number: 1, name: 'lifetime_s', kind: 'uint32' }],
});
export const RELAY_FRAME_RULES = defineMessage({
  name: 'RelayFrame',
  fields: [
    { number: 1, name: 'allocation_id', ...allocationId },
    { number: 2, name: 'datagram', kind: 'bytes', maxLength: MAX_DATAGRAM_LENGTH },
  ],
});

// ---- Reachability attestations, 08 §8 ------------------------------------------------------------------

export const ATTEST_REQUEST_RULES = defineMessage({
  name: 'AttestRequest',
  fields: [
    { number: 1, name: 'tcp_port', kind: 'uint32' },
    { number: 2, name: 'udp_port', kind: 'uint32' },
    { number: 3, name: 'nonce', kind: 'bytes', maxLength: MAX_ATTEST_NONCE_BYTES },
  ],
});
export const ATTEST_REPLY_RULES = defineMessage({
  name: 'AttestReply',
  fields: [
    { number: 1, name: 'certificate', kind: 'bytes', maxLength: MAX_ENCODED_CERTIFICATE_BYTES },
    { number: 2, name: 'attestation', kind: 'bytes', maxLength: MAX_SIGNED_ATTESTATION_BYTES },
  ],
});
/** The body of a Signed Attestation (context 9); at most MAX_ATTESTATION_BYTES. */
export const ATTESTATION_RULES = defineMessage({
  name: 'Attestation',
  fields: [
    { number: 1, name: 'version', kind: 'uint32' },
    { number: 2, name: 'subject_key_id', ...keyIdBytes },
    { number: 3, name: 'username', ...username },
    { number: 4, name: 'device_id', ...deviceId },
    { number: 5, name: 'address', kind: 'bytes', maxLength: MAX_IP_ADDRESS_BYTES },
    { number: 6, name: 'tcp_port', kind: 'uint32' },
    { number: 7, name: 'tcp_reachable', kind: 'bool' },
    { number: 8, name: 'udp_port', kind: 'uint32' },
    { number: 9, name: 'udp_reachable', kind: 'bool' },
    { number: 10, name: 'nonce', kind: 'bytes', maxLength: MAX_ATTEST_NONCE_BYTES },
    { number: 11, name: 'issued_at', kind: 'uint64' },
    { number: 12, name: 'expires_at', kind: 'uint64' },
  ],
});

/** Packet bodies 240-281 (spec/08-connectivity.md): number, `oneof body` member name, rules. */
export const CONNECTIVITY_BODIES: readonly {
  readonly number: number;
  readonly name: string;
  readonly rules: MessageRules;
}[] = [
  { number: 240, name: 'observe_request', rules: OBSERVE_REQUEST_RULES },
  { number: 241, name: 'observe_reply', rules: OBSERVE_REPLY_RULES },
  { number: 242, name: 'classify_request', rules: CLASSIFY_REQUEST_RULES },
  { number: 243, name: 'classify_reply', rules: CLASSIFY_REPLY_RULES },
  { number: 244, name: 'classify_probe', rules: CLASSIFY_PROBE_RULES },
  { number: 245, name: 'classify_probe_reply', rules: CLASSIFY_PROBE_REPLY_RULES },
  { number: 246, name: 'punch_request', rules: PUNCH_REQUEST_RULES },
  { number: 247, name: 'punch_reply', rules: PUNCH_REPLY_RULES },
  { number: 248, name: 'punch_offer', rules: PUNCH_OFFER_RULES },
  { number: 249, name: 'punch_offer_reply', rules: PUNCH_OFFER_REPLY_RULES },
  { number: 260, name: 'relay_allocate', rules: RELAY_ALLOCATE_RULES },
  { number: 261, name: 'relay_allocate_reply', rules: RELAY_ALLOCATE_REPLY_RULES },
  { number: 262, name: 'relay_refresh', rules: RELAY_REFRESH_RULES },
  { number: 263, name: 'relay_refresh_reply', rules: RELAY_REFRESH_REPLY_RULES },
  { number: 264, name: 'relay_frame', rules: RELAY_FRAME_RULES },
  { number: 280, name: 'attest_request', rules: ATTEST_REQUEST_RULES },
  { number: 281, name: 'attest_reply', rules: ATTEST_REPLY_RULES },
];

/** Every message of connectivity.proto, for the limits-table test (Endpoint belongs to login.proto). */
export const CONNECTIVITY_PROTO_RULES: readonly MessageRules[] = [
  ...new Set(CONNECTIVITY_BODIES.map((b) => b.rules)),
  NAT_CLASS_RULES,
  CANDIDATE_RULES,
  PUNCH_START_RULES,
  ATTESTATION_RULES,
];
