/**
 * The contact list (spec/09-node.md §7): entries per user name with a state and the time of its last
 * change, and the user's own presence keys (§6). It is stored on the login server as the account's
 * contact-list blob (06 §12), encrypted under a key derived from the OPAQUE export key, which the server
 * never learns; devices that wrote at the same time merge (06 LOGIN-CONTACT-3: CONFLICT, fetch, merge,
 * write again). The merge is per entry — the later change wins — so it is commutative, associative and
 * idempotent, and every device converges on the same list whatever order it merges in.
 */
import {
  ApiMisuse,
  type CryptoSuite,
  checkEncoding,
  concatBytes,
  DecodeError,
  decodeMessage,
  defineMessage,
  ErrorCode,
  encodeMessage,
  fromSafeInteger,
  parley,
  type Random,
  RequestRefused,
  toSafeInteger,
} from '@parley/wire';
import type { PresenceKey } from '../presence/sealed.js';

export const ContactState = parley.v1.ContactState;
export type ContactState = parley.v1.ContactState;

/** [NODE-BLOB-1] Entries in one list, and own presence keys kept. */
export const MAX_CONTACTS = 500;
export const MAX_OWN_PRESENCE_KEYS = 2;
/** 06 LOGIN-CONTACT-1: a blob is at most 48 KiB. */
export const MAX_CONTACT_BLOB_BYTES = 48 * 1024;

const ENTRY_RULES = defineMessage({
  name: 'ContactEntry',
  fields: [
    { number: 1, name: 'username', kind: 'string', maxLength: 64 },
    { number: 2, name: 'state', kind: 'enum' },
    { number: 3, name: 'updated_at', kind: 'uint64' },
    { number: 4, name: 'presence_key_id', kind: 'uint32' },
    { number: 5, name: 'presence_key', kind: 'bytes', maxLength: 32 },
  ],
});
const OWN_KEY_RULES = defineMessage({
  name: 'OwnPresenceKey',
  fields: [
    { number: 1, name: 'key_id', kind: 'uint32' },
    { number: 2, name: 'key', kind: 'bytes', maxLength: 32 },
  ],
});
export const CONTACT_LIST_RULES = defineMessage({
  name: 'ContactList',
  fields: [
    { number: 1, name: 'version', kind: 'uint32' },
    { number: 2, name: 'contacts', kind: 'message', message: ENTRY_RULES, repeated: true, maxCount: MAX_CONTACTS },
    {
      number: 3,
      name: 'presence_keys',
      kind: 'message',
      message: OWN_KEY_RULES,
      repeated: true,
      maxCount: MAX_OWN_PRESENCE_KEYS,
    },
  ],
});

export interface ContactEntry {
  readonly username: string;
  readonly state: ContactState;
  readonly updatedAt: number;
  readonly presenceKey?: PresenceKey | undefined;
}

export interface ContactList {
  readonly contacts: readonly ContactEntry[];
  /** The user's own presence keys, newest (highest key id) first. */
  readonly presenceKeys: readonly PresenceKey[];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A total order on entries of one name: later change first; on a tie, the higher state, then the key. */
function later(a: ContactEntry, b: ContactEntry): boolean {
  if (a.updatedAt !== b.updatedAt) return a.updatedAt > b.updatedAt;
  if (a.state !== b.state) return a.state > b.state;
  const ka = a.presenceKey === undefined ? '' : `${a.presenceKey.keyId}:${hex(a.presenceKey.key)}`;
  const kb = b.presenceKey === undefined ? '' : `${b.presenceKey.keyId}:${hex(b.presenceKey.key)}`;
  return ka > kb;
}

/** [NODE-BLOB-2] Merges two lists: per name the later change, and the newest own presence keys. */
export function mergeContactLists(a: ContactList, b: ContactList): ContactList {
  const byName = new Map<string, ContactEntry>();
  for (const e of [...a.contacts, ...b.contacts]) {
    const held = byName.get(e.username);
    if (held === undefined || later(e, held)) byName.set(e.username, e);
  }
  const keys = new Map<number, PresenceKey>();
  for (const k of [...a.presenceKeys, ...b.presenceKeys]) {
    const held = keys.get(k.keyId);
    if (held === undefined || hex(k.key) > hex(held.key)) keys.set(k.keyId, k);
  }
  return {
    contacts: [...byName.values()].sort((x, y) => (x.username < y.username ? -1 : x.username > y.username ? 1 : 0)),
    presenceKeys: [...keys.values()].sort((x, y) => y.keyId - x.keyId).slice(0, MAX_OWN_PRESENCE_KEYS),
  };
}

export function encodeContactList(list: ContactList): Uint8Array {
  if (list.contacts.length > MAX_CONTACTS) throw new ApiMisuse(`${list.contacts.length} contacts`);
  return encodeMessage(
    parley.v1.ContactList,
    parley.v1.ContactList.create({
      version: 1,
      contacts: list.contacts.map((c) => ({
        username: c.username,
        state: c.state,
        updatedAt: fromSafeInteger(c.updatedAt),
        presenceKeyId: c.presenceKey?.keyId ?? 0,
        presenceKey: c.presenceKey?.key ?? new Uint8Array(0),
      })),
      presenceKeys: list.presenceKeys.slice(0, MAX_OWN_PRESENCE_KEYS).map((k) => ({ keyId: k.keyId, key: k.key })),
    }),
  );
}

export function decodeContactList(bytes: Uint8Array): ContactList {
  checkEncoding(bytes, CONTACT_LIST_RULES);
  const m = decodeMessage<parley.v1.ContactList>(parley.v1.ContactList as never, bytes, 'ContactList');
  if (m.version !== 1) throw new DecodeError(ErrorCode.MALFORMED, 'ContactList.version');
  const key = (id: number, k: Uint8Array, what: string): PresenceKey | undefined => {
    if (id === 0) return undefined;
    if (k.length !== 32) throw new DecodeError(ErrorCode.MALFORMED, what);
    return { keyId: id, key: Uint8Array.from(k) };
  };
  return {
    contacts: (m.contacts as parley.v1.ContactEntry[]).map((c) => {
      if (c.username.length === 0) throw new DecodeError(ErrorCode.MISSING_FIELD, 'ContactEntry.username');
      return {
        username: c.username,
        state: c.state,
        updatedAt: toSafeInteger(c.updatedAt, 'ContactEntry.updated_at'),
        presenceKey: key(c.presenceKeyId, c.presenceKey, 'ContactEntry.presence_key'),
      };
    }),
    presenceKeys: (m.presenceKeys as parley.v1.OwnPresenceKey[]).map((k) => key(k.keyId, k.key, 'OwnPresenceKey.key')!),
  };
}

const BLOB_INFO = new TextEncoder().encode('parley/1 contact blob');

/** [NODE-BLOB-1] The blob key: HKDF(export key, salt = 32 zero bytes, "parley/1 contact blob", 32). */
export function contactBlobKey(suite: CryptoSuite, exportKey: Uint8Array): Uint8Array {
  return suite.hkdfSha256(exportKey, new Uint8Array(32), BLOB_INFO, 32);
}

/** [NODE-BLOB-1] nonce (12) || ChaCha20-Poly1305(key, nonce, ad = label || username, ContactList). */
export function sealContactBlob(
  suite: CryptoSuite,
  random: Random,
  key: Uint8Array,
  username: string,
  list: ContactList,
): Uint8Array {
  const nonce = random.randomBytes(12);
  const ad = concatBytes([BLOB_INFO, new TextEncoder().encode(username)]);
  const out = concatBytes([nonce, suite.aeadSeal(key, nonce, ad, encodeContactList(list))]);
  if (out.length > MAX_CONTACT_BLOB_BYTES) throw new ApiMisuse(`a contact blob of ${out.length} bytes`);
  return out;
}

/** Opens a blob; an empty one (none stored) is the empty list. DECRYPT_FAILED under another key or user. */
export function openContactBlob(suite: CryptoSuite, key: Uint8Array, username: string, blob: Uint8Array): ContactList {
  if (blob.length === 0) return { contacts: [], presenceKeys: [] };
  if (blob.length < 28) throw new DecodeError(ErrorCode.TRUNCATED, 'contact blob');
  const ad = concatBytes([BLOB_INFO, new TextEncoder().encode(username)]);
  return decodeContactList(suite.aeadOpen(key, blob.subarray(0, 12), ad, blob.subarray(12)));
}

/** The login server's contact-blob requests (LoginClient has this shape). */
export interface ContactBlobStore {
  getContactBlob(): Promise<{ version: number; blob: Uint8Array }>;
  putContactBlob(expectedVersion: number, blob: Uint8Array): Promise<number>;
}

/**
 * [NODE-BLOB-3] Writes `change` into the stored list: fetch, merge, write with the version fetched; on
 * CONFLICT (another device wrote meanwhile) again, at most `tries` times. Resolves with the list written.
 */
export async function updateContactBlob(
  suite: CryptoSuite,
  random: Random,
  o: { store: ContactBlobStore; key: Uint8Array; username: string; tries?: number },
  change: ContactList,
): Promise<ContactList> {
  for (let i = 0; i < (o.tries ?? 5); i++) {
    const held = await o.store.getContactBlob();
    const merged = mergeContactLists(openContactBlob(suite, o.key, o.username, held.blob), change);
    try {
      await o.store.putContactBlob(held.version, sealContactBlob(suite, random, o.key, o.username, merged));
      return merged;
    } catch (e) {
      if ((e as { code?: number }).code !== ErrorCode.CONFLICT) throw e;
    }
  }
  throw new RequestRefused(ErrorCode.CONFLICT, 'the contact list kept changing');
}
