/**
 * The encoding rules and limits of every message of spec/proto/parley/v1/login.proto: the limits table
 * of spec/06-login-server.md §14 ([LOGIN-LIMIT-1]), enforced by the raw checker before protobufjs decodes
 * (spec/01-packets.md WIRE-LIMIT-*). A test compares these rules with the chapter's table.
 *
 * Fixed lengths (a 32-byte key, a 16-byte device id) are bounds here and exact checks in the handlers:
 * a field longer than its bound is FIELD_LIMIT on decode, a shorter one MALFORMED where it is used.
 */
import { defineMessage, type MessageRules } from '../codec/rules.js';
import { DEVICE_ID_BYTES } from '../identity/certificate.js';
import { MAX_SOFTWARE_BYTES } from '../identity/handshake-payload.js';
import { KEY_ID_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../identity/keys.js';
import { MAX_LIST_PAGE_BYTES, MAX_NETWORK_POLICY_BYTES, MAX_SIGNED_PREKEY_BYTES } from '../identity/signed.js';

/** [LOGIN-NAME-1] A user name as typed, before normalisation, in bytes. */
export const MAX_USERNAME_INPUT_BYTES = 64;
/** [LOGIN-OPAQUE-2] Any OPAQUE message (they are at most 320 bytes with the suite of 06 §4). */
export const MAX_OPAQUE_MESSAGE_BYTES = 512;
/** An encoded `Signed` certificate: a 512-byte body, its 64-byte signature, 32-byte key id and framing. */
export const MAX_ENCODED_CERTIFICATE_BYTES = 1_024;
/** Slack for a `Signed` envelope around its body (signature, key id, context, tags and lengths). */
const SIGNED_ENVELOPE_SLACK = 256;
/** [LOGIN-SN-2] Endpoints a supernode registers. */
export const MAX_ENDPOINTS = 8;
/** An IPv6 address; IPv4 is 4 bytes. */
export const MAX_ADDRESS_BYTES = 16;
/** [LOGIN-LIST-8] A supernode's placement key: a SHA-256 output. */
export const PLACEMENT_KEY_BYTES = 32;
/** [LOGIN-LIST-3] Entries in one supernode-list page. */
export const MAX_SUPERNODE_ENTRIES_PER_PAGE = 500;
/** [LOGIN-LIST-3] Entries in one revocation-list page. */
export const MAX_REVOCATIONS_PER_PAGE = 3_000;
/** [LOGIN-LIST-3] Pages of one list. */
export const MAX_LIST_PAGES = 64;
/** [LOGIN-PREKEY-3] One-time prekeys in one upload. */
export const MAX_ONE_TIME_PREKEYS_PER_UPLOAD = 100;
/** [LOGIN-PREKEY-5] Devices (bundles) returned for one user. */
export const MAX_DEVICES_PER_USER = 8;
/** [LOGIN-CONTACT-2] The contact-list blob. */
export const MAX_CONTACT_BLOB_BYTES = 48 * 1024;
/** [POLICY-GEN-2] Protocol versions and denied software entries in a policy. */
export const MAX_POLICY_PROTOCOL_VERSIONS = 16;
export const MAX_DENIED_SOFTWARE = 64;

const certificateBytes = { kind: 'bytes', maxLength: MAX_ENCODED_CERTIFICATE_BYTES } as const;
const opaque = { kind: 'bytes', maxLength: MAX_OPAQUE_MESSAGE_BYTES } as const;
const username = { kind: 'string', maxLength: MAX_USERNAME_INPUT_BYTES } as const;

export const REGISTER_START_RULES = defineMessage({
  name: 'RegisterStart',
  fields: [
    { number: 1, name: 'username', ...username },
    { number: 2, name: 'registration_request', ...opaque },
  ],
});
export const REGISTER_START_REPLY_RULES = defineMessage({
  name: 'RegisterStartReply',
  fields: [
    { number: 1, name: 'registration_response', ...opaque },
    { number: 2, name: 'username', ...username },
  ],
});
export const REGISTER_FINISH_RULES = defineMessage({
  name: 'RegisterFinish',
  fields: [{ number: 1, name: 'registration_record', ...opaque }],
});
export const REGISTER_FINISH_REPLY_RULES = defineMessage({
  name: 'RegisterFinishReply',
  fields: [{ number: 1, name: 'username', ...username }],
});
export const LOGIN_START_RULES = defineMessage({
  name: 'LoginStart',
  fields: [
    { number: 1, name: 'username', ...username },
    { number: 2, name: 'start_login_request', ...opaque },
  ],
});
export const LOGIN_START_REPLY_RULES = defineMessage({
  name: 'LoginStartReply',
  fields: [{ number: 1, name: 'login_response', ...opaque }],
});
export const CERTIFICATE_REQUEST_RULES = defineMessage({
  name: 'CertificateRequest',
  fields: [
    { number: 1, name: 'subject_key', kind: 'bytes', maxLength: PUBLIC_KEY_BYTES },
    { number: 2, name: 'device_id', kind: 'bytes', maxLength: DEVICE_ID_BYTES },
    { number: 3, name: 'proof', kind: 'bytes', maxLength: SIGNATURE_BYTES },
  ],
});
export const LOGIN_FINISH_RULES = defineMessage({
  name: 'LoginFinish',
  fields: [
    { number: 1, name: 'finish_login_request', ...opaque },
    { number: 2, name: 'certificate_request', kind: 'message', message: CERTIFICATE_REQUEST_RULES },
  ],
});
export const CERTIFICATE_REPLY_RULES = defineMessage({
  name: 'CertificateReply',
  fields: [
    { number: 1, name: 'certificate', ...certificateBytes },
    { number: 2, name: 'login_certificate', ...certificateBytes },
    { number: 3, name: 'username', ...username },
  ],
});
export const RENEW_CERTIFICATE_RULES = defineMessage({
  name: 'RenewCertificate',
  fields: [{ number: 1, name: 'certificate_request', kind: 'message', message: CERTIFICATE_REQUEST_RULES }],
});
export const CHANGE_PASSWORD_START_RULES = defineMessage({
  name: 'ChangePasswordStart',
  fields: [{ number: 1, name: 'registration_request', ...opaque }],
});
export const CHANGE_PASSWORD_START_REPLY_RULES = defineMessage({
  name: 'ChangePasswordStartReply',
  fields: [{ number: 1, name: 'registration_response', ...opaque }],
});
export const CHANGE_PASSWORD_FINISH_RULES = defineMessage({
  name: 'ChangePasswordFinish',
  fields: [{ number: 1, name: 'registration_record', ...opaque }],
});
export const CHANGE_PASSWORD_FINISH_REPLY_RULES = defineMessage({ name: 'ChangePasswordFinishReply', fields: [] });

export const GET_POLICY_RULES = defineMessage({
  name: 'GetPolicy',
  fields: [{ number: 1, name: 'known_version', kind: 'uint64' }],
});
export const POLICY_REPLY_RULES = defineMessage({
  name: 'PolicyReply',
  fields: [
    { number: 1, name: 'unchanged', kind: 'bool' },
    { number: 2, name: 'policy', kind: 'bytes', maxLength: MAX_NETWORK_POLICY_BYTES + SIGNED_ENVELOPE_SLACK },
    { number: 3, name: 'login_certificate', ...certificateBytes },
  ],
});
const listRequest = (name: string, known: string) =>
  defineMessage({
    name,
    fields: [
      { number: 1, name: known, kind: 'uint64' },
      { number: 2, name: 'page', kind: 'uint32' },
    ],
  });
const listReply = (name: string) =>
  defineMessage({
    name,
    fields: [
      { number: 1, name: 'unchanged', kind: 'bool' },
      { number: 2, name: 'page', kind: 'bytes', maxLength: MAX_LIST_PAGE_BYTES + SIGNED_ENVELOPE_SLACK },
      { number: 3, name: 'login_certificate', ...certificateBytes },
    ],
  });
export const GET_SUPERNODE_LIST_RULES = listRequest('GetSupernodeList', 'known_epoch');
export const SUPERNODE_LIST_REPLY_RULES = listReply('SupernodeListReply');
export const GET_REVOCATION_LIST_RULES = listRequest('GetRevocationList', 'known_number');
export const REVOCATION_LIST_REPLY_RULES = listReply('RevocationListReply');

export const STATE_VERSIONS_RULES = defineMessage({
  name: 'StateVersions',
  fields: [
    { number: 1, name: 'policy_version', kind: 'uint64' },
    { number: 2, name: 'supernode_list_epoch', kind: 'uint64' },
    { number: 3, name: 'revocation_list_number', kind: 'uint64' },
  ],
});
export const ENDPOINT_RULES = defineMessage({
  name: 'Endpoint',
  fields: [
    { number: 1, name: 'protocol', kind: 'enum' },
    { number: 2, name: 'address', kind: 'bytes', maxLength: MAX_ADDRESS_BYTES },
    { number: 3, name: 'port', kind: 'uint32' },
  ],
});
const endpoints = {
  kind: 'message',
  message: ENDPOINT_RULES,
  repeated: true,
  maxCount: MAX_ENDPOINTS,
} as const;
export const SUPERNODE_REGISTER_RULES = defineMessage({
  name: 'SupernodeRegister',
  fields: [
    { number: 1, name: 'endpoints', ...endpoints },
    { number: 2, name: 'capacity', kind: 'uint32' },
  ],
});
export const SUPERNODE_REGISTER_REPLY_RULES = defineMessage({
  name: 'SupernodeRegisterReply',
  fields: [
    { number: 1, name: 'heartbeat_interval_ms', kind: 'uint32' },
    { number: 2, name: 'versions', kind: 'message', message: STATE_VERSIONS_RULES },
  ],
});
export const SUPERNODE_HEARTBEAT_RULES = defineMessage({
  name: 'SupernodeHeartbeat',
  fields: [{ number: 1, name: 'load', kind: 'uint32' }],
});
export const SUPERNODE_HEARTBEAT_REPLY_RULES = defineMessage({
  name: 'SupernodeHeartbeatReply',
  fields: [{ number: 1, name: 'versions', kind: 'message', message: STATE_VERSIONS_RULES }],
});

export const ONE_TIME_PREKEY_RULES = defineMessage({
  name: 'OneTimePrekey',
  fields: [
    { number: 1, name: 'id', kind: 'uint32' },
    { number: 2, name: 'public_key', kind: 'bytes', maxLength: PUBLIC_KEY_BYTES },
  ],
});
export const SIGNED_PREKEY_RULES = defineMessage({
  name: 'SignedPrekey',
  fields: [
    { number: 1, name: 'id', kind: 'uint32' },
    { number: 2, name: 'public_key', kind: 'bytes', maxLength: PUBLIC_KEY_BYTES },
    { number: 3, name: 'identity_dh_key', kind: 'bytes', maxLength: PUBLIC_KEY_BYTES },
    { number: 4, name: 'device_id', kind: 'bytes', maxLength: DEVICE_ID_BYTES },
    { number: 5, name: 'created_at', kind: 'uint64' },
  ],
});
const signedPrekeyBytes = { kind: 'bytes', maxLength: MAX_SIGNED_PREKEY_BYTES + SIGNED_ENVELOPE_SLACK } as const;
export const UPLOAD_PREKEYS_RULES = defineMessage({
  name: 'UploadPrekeys',
  fields: [
    { number: 1, name: 'signed_prekey', ...signedPrekeyBytes },
    {
      number: 2,
      name: 'one_time_prekeys',
      kind: 'message',
      message: ONE_TIME_PREKEY_RULES,
      repeated: true,
      maxCount: MAX_ONE_TIME_PREKEYS_PER_UPLOAD,
    },
  ],
});
export const UPLOAD_PREKEYS_REPLY_RULES = defineMessage({
  name: 'UploadPrekeysReply',
  fields: [{ number: 1, name: 'one_time_prekeys_held', kind: 'uint32' }],
});
export const FETCH_PREKEYS_RULES = defineMessage({
  name: 'FetchPrekeys',
  fields: [{ number: 1, name: 'username', ...username }],
});
export const PREKEY_BUNDLE_RULES = defineMessage({
  name: 'PrekeyBundle',
  fields: [
    { number: 1, name: 'certificate', ...certificateBytes },
    { number: 2, name: 'signed_prekey', ...signedPrekeyBytes },
    { number: 3, name: 'one_time_prekey', kind: 'message', message: ONE_TIME_PREKEY_RULES },
  ],
});
export const FETCH_PREKEYS_REPLY_RULES = defineMessage({
  name: 'FetchPrekeysReply',
  fields: [
    {
      number: 1,
      name: 'bundles',
      kind: 'message',
      message: PREKEY_BUNDLE_RULES,
      repeated: true,
      maxCount: MAX_DEVICES_PER_USER,
    },
  ],
});
export const GET_CONTACT_BLOB_RULES = defineMessage({ name: 'GetContactBlob', fields: [] });
export const CONTACT_BLOB_REPLY_RULES = defineMessage({
  name: 'ContactBlobReply',
  fields: [
    { number: 1, name: 'version', kind: 'uint64' },
    { number: 2, name: 'blob', kind: 'bytes', maxLength: MAX_CONTACT_BLOB_BYTES },
  ],
});
export const PUT_CONTACT_BLOB_RULES = defineMessage({
  name: 'PutContactBlob',
  fields: [
    { number: 1, name: 'expected_version', kind: 'uint64' },
    { number: 2, name: 'blob', kind: 'bytes', maxLength: MAX_CONTACT_BLOB_BYTES },
  ],
});
export const PUT_CONTACT_BLOB_REPLY_RULES = defineMessage({
  name: 'PutContactBlobReply',
  fields: [{ number: 1, name: 'version', kind: 'uint64' }],
});

// ---- Signed object bodies ---------------------------------------------------------------------------

export const ELECTION_POLICY_RULES = defineMessage({
  name: 'ElectionPolicy',
  fields: [
    { number: 1, name: 'mode', kind: 'enum' },
    { number: 2, name: 'min_uptime_s', kind: 'uint32' },
    { number: 3, name: 'min_upstream_kbps', kind: 'uint32' },
    { number: 4, name: 'min_attestations', kind: 'uint32' },
    { number: 5, name: 'target_load', kind: 'uint32' },
    { number: 6, name: 'hysteresis_percent', kind: 'uint32' },
    { number: 7, name: 'cooldown_s', kind: 'uint32' },
    { number: 8, name: 'max_share_per_version_percent', kind: 'uint32' },
    { number: 9, name: 'max_share_per_prefix_percent', kind: 'uint32' },
    { number: 10, name: 'min_supernodes', kind: 'uint32' },
  ],
});
export const RELAY_POLICY_RULES = defineMessage({
  name: 'RelayPolicy',
  fields: [
    { number: 1, name: 'allocation_lifetime_s', kind: 'uint32' },
    { number: 2, name: 'allocation_bytes', kind: 'uint64' },
    { number: 3, name: 'allocation_bytes_per_s', kind: 'uint32' },
    { number: 4, name: 'allocations_per_user', kind: 'uint32' },
  ],
});
export const DIRECTORY_POLICY_RULES = defineMessage({
  name: 'DirectoryPolicy',
  fields: [
    { number: 1, name: 'presence_lifetime_s', kind: 'uint32' },
    { number: 2, name: 'offline_lifetime_s', kind: 'uint32' },
    { number: 3, name: 'offline_messages_per_recipient', kind: 'uint32' },
    { number: 4, name: 'offline_bytes_per_recipient', kind: 'uint32' },
    { number: 5, name: 'offline_messages_per_sender', kind: 'uint32' },
  ],
});
export const RATE_LIMIT_POLICY_RULES = defineMessage({
  name: 'RateLimitPolicy',
  fields: [
    { number: 1, name: 'login_failures_per_window', kind: 'uint32' },
    { number: 2, name: 'login_failure_window_s', kind: 'uint32' },
    { number: 3, name: 'login_backoff_base_ms', kind: 'uint32' },
    { number: 4, name: 'login_backoff_max_ms', kind: 'uint32' },
    { number: 5, name: 'address_bucket_capacity', kind: 'uint32' },
    { number: 6, name: 'address_refill_per_minute', kind: 'uint32' },
    { number: 7, name: 'search_per_minute', kind: 'uint32' },
  ],
});
export const NETWORK_POLICY_RULES = defineMessage({
  name: 'NetworkPolicy',
  fields: [
    { number: 1, name: 'version', kind: 'uint64' },
    { number: 2, name: 'issued_at', kind: 'uint64' },
    { number: 3, name: 'protocol_versions', kind: 'uint32', repeated: true, maxCount: MAX_POLICY_PROTOCOL_VERSIONS },
    {
      number: 4,
      name: 'denied_software',
      kind: 'string',
      maxLength: MAX_SOFTWARE_BYTES,
      repeated: true,
      maxCount: MAX_DENIED_SOFTWARE,
    },
    { number: 5, name: 'user_cert_lifetime_s', kind: 'uint32' },
    { number: 6, name: 'supernode_cert_lifetime_s', kind: 'uint32' },
    { number: 7, name: 'cert_clock_skew_s', kind: 'uint32' },
    { number: 8, name: 'replication_factor', kind: 'uint32' },
    { number: 9, name: 'heartbeat_interval_s', kind: 'uint32' },
    { number: 10, name: 'election', kind: 'message', message: ELECTION_POLICY_RULES },
    { number: 11, name: 'relay', kind: 'message', message: RELAY_POLICY_RULES },
    { number: 12, name: 'rate_limits', kind: 'message', message: RATE_LIMIT_POLICY_RULES },
    { number: 13, name: 'directory', kind: 'message', message: DIRECTORY_POLICY_RULES },
  ],
});
export const SUPERNODE_ENTRY_RULES = defineMessage({
  name: 'SupernodeEntry',
  fields: [
    { number: 1, name: 'key_id', kind: 'bytes', maxLength: KEY_ID_BYTES },
    { number: 2, name: 'endpoints', ...endpoints },
    { number: 3, name: 'software', kind: 'string', maxLength: MAX_SOFTWARE_BYTES },
    { number: 4, name: 'load_percent', kind: 'uint32' },
    { number: 5, name: 'hosted', kind: 'bool' },
    { number: 6, name: 'not_after', kind: 'uint64' },
    { number: 7, name: 'placement_key', kind: 'bytes', maxLength: PLACEMENT_KEY_BYTES },
  ],
});
export const SUPERNODE_LIST_PAGE_RULES = defineMessage({
  name: 'SupernodeListPage',
  fields: [
    { number: 1, name: 'epoch', kind: 'uint64' },
    { number: 2, name: 'issued_at', kind: 'uint64' },
    { number: 3, name: 'expires_at', kind: 'uint64' },
    { number: 4, name: 'page', kind: 'uint32' },
    { number: 5, name: 'page_count', kind: 'uint32' },
    {
      number: 6,
      name: 'entries',
      kind: 'message',
      message: SUPERNODE_ENTRY_RULES,
      repeated: true,
      maxCount: MAX_SUPERNODE_ENTRIES_PER_PAGE,
    },
  ],
});
export const REVOKED_CERTIFICATE_RULES = defineMessage({
  name: 'RevokedCertificate',
  fields: [
    { number: 1, name: 'serial', kind: 'uint64' },
    { number: 2, name: 'not_after', kind: 'uint64' },
  ],
});
export const REVOCATION_LIST_PAGE_RULES = defineMessage({
  name: 'RevocationListPage',
  fields: [
    { number: 1, name: 'number', kind: 'uint64' },
    { number: 2, name: 'issued_at', kind: 'uint64' },
    { number: 3, name: 'page', kind: 'uint32' },
    { number: 4, name: 'page_count', kind: 'uint32' },
    {
      number: 5,
      name: 'entries',
      kind: 'message',
      message: REVOKED_CERTIFICATE_RULES,
      repeated: true,
      maxCount: MAX_REVOCATIONS_PER_PAGE,
    },
  ],
});

/** Packet bodies 100-131 (spec/06-login-server.md §3): number, `oneof body` member name, rules. */
export const LOGIN_BODIES: readonly { readonly number: number; readonly name: string; readonly rules: MessageRules }[] =
  [
    { number: 100, name: 'register_start', rules: REGISTER_START_RULES },
    { number: 101, name: 'register_start_reply', rules: REGISTER_START_REPLY_RULES },
    { number: 102, name: 'register_finish', rules: REGISTER_FINISH_RULES },
    { number: 103, name: 'register_finish_reply', rules: REGISTER_FINISH_REPLY_RULES },
    { number: 104, name: 'login_start', rules: LOGIN_START_RULES },
    { number: 105, name: 'login_start_reply', rules: LOGIN_START_REPLY_RULES },
    { number: 106, name: 'login_finish', rules: LOGIN_FINISH_RULES },
    { number: 107, name: 'login_finish_reply', rules: CERTIFICATE_REPLY_RULES },
    { number: 108, name: 'renew_certificate', rules: RENEW_CERTIFICATE_RULES },
    { number: 109, name: 'renew_certificate_reply', rules: CERTIFICATE_REPLY_RULES },
    { number: 110, name: 'change_password_start', rules: CHANGE_PASSWORD_START_RULES },
    { number: 111, name: 'change_password_start_reply', rules: CHANGE_PASSWORD_START_REPLY_RULES },
    { number: 112, name: 'change_password_finish', rules: CHANGE_PASSWORD_FINISH_RULES },
    { number: 113, name: 'change_password_finish_reply', rules: CHANGE_PASSWORD_FINISH_REPLY_RULES },
    { number: 114, name: 'get_policy', rules: GET_POLICY_RULES },
    { number: 115, name: 'policy_reply', rules: POLICY_REPLY_RULES },
    { number: 116, name: 'get_supernode_list', rules: GET_SUPERNODE_LIST_RULES },
    { number: 117, name: 'supernode_list_reply', rules: SUPERNODE_LIST_REPLY_RULES },
    { number: 118, name: 'get_revocation_list', rules: GET_REVOCATION_LIST_RULES },
    { number: 119, name: 'revocation_list_reply', rules: REVOCATION_LIST_REPLY_RULES },
    { number: 120, name: 'supernode_register', rules: SUPERNODE_REGISTER_RULES },
    { number: 121, name: 'supernode_register_reply', rules: SUPERNODE_REGISTER_REPLY_RULES },
    { number: 122, name: 'supernode_heartbeat', rules: SUPERNODE_HEARTBEAT_RULES },
    { number: 123, name: 'supernode_heartbeat_reply', rules: SUPERNODE_HEARTBEAT_REPLY_RULES },
    { number: 124, name: 'upload_prekeys', rules: UPLOAD_PREKEYS_RULES },
    { number: 125, name: 'upload_prekeys_reply', rules: UPLOAD_PREKEYS_REPLY_RULES },
    { number: 126, name: 'fetch_prekeys', rules: FETCH_PREKEYS_RULES },
    { number: 127, name: 'fetch_prekeys_reply', rules: FETCH_PREKEYS_REPLY_RULES },
    { number: 128, name: 'get_contact_blob', rules: GET_CONTACT_BLOB_RULES },
    { number: 129, name: 'contact_blob_reply', rules: CONTACT_BLOB_REPLY_RULES },
    { number: 130, name: 'put_contact_blob', rules: PUT_CONTACT_BLOB_RULES },
    { number: 131, name: 'put_contact_blob_reply', rules: PUT_CONTACT_BLOB_REPLY_RULES },
  ];

/** Every message of login.proto, for the limits-table test. */
export const LOGIN_PROTO_RULES: readonly MessageRules[] = [
  ...new Set(LOGIN_BODIES.map((b) => b.rules)),
  CERTIFICATE_REQUEST_RULES,
  STATE_VERSIONS_RULES,
  ENDPOINT_RULES,
  ONE_TIME_PREKEY_RULES,
  SIGNED_PREKEY_RULES,
  PREKEY_BUNDLE_RULES,
  ELECTION_POLICY_RULES,
  RELAY_POLICY_RULES,
  DIRECTORY_POLICY_RULES,
  RATE_LIMIT_POLICY_RULES,
  NETWORK_POLICY_RULES,
  SUPERNODE_ENTRY_RULES,
  SUPERNODE_LIST_PAGE_RULES,
  REVOKED_CERTIFICATE_RULES,
  REVOCATION_LIST_PAGE_RULES,
];
