/** The contact list and its blob (src/contacts/, spec/09-node.md §7). */
import { suite } from '@parley/supernode/testing';
import { ErrorCode, isParleyError, RequestRefused, seededRandom } from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ContactList,
  ContactState,
  contactBlobKey,
  decodeContactList,
  encodeContactList,
  mergeContactLists,
  openContactBlob,
  sealContactBlob,
  updateContactBlob,
} from '../../src/contacts/index.js';

const random = seededRandom('contacts');
const listArb: fc.Arbitrary<ContactList> = fc.record({
  contacts: fc.uniqueArray(
    fc.record({
      username: fc.constantFrom('bob', 'carol', 'dave', 'erin'),
      state: fc.integer({ min: 1, max: 6 }) as fc.Arbitrary<ContactState>,
      updatedAt: fc.integer({ min: 1, max: 20 }),
      presenceKey: fc.option(
        fc.record({ keyId: fc.integer({ min: 1, max: 3 }), key: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
        { nil: undefined },
      ),
    }),
    { selector: (e) => e.username, maxLength: 4 },
  ),
  presenceKeys: fc.uniqueArray(
    fc.record({ keyId: fc.integer({ min: 1, max: 4 }), key: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
    { selector: (k) => k.keyId, maxLength: 2 },
  ),
});
/** Lists compare by their canonical encoding (merge output is sorted). */
const canon = (l: ContactList) =>
  Buffer.from(encodeContactList(mergeContactLists(l, { contacts: [], presenceKeys: [] }))).toString('hex');

describe('the contact list', () => {
  it('[NODE-BLOB-2] merging is commutative, associative and idempotent: devices converge whatever the order (property)', () => {
    fc.assert(
      fc.property(listArb, listArb, listArb, (a, b, c) => {
        expect(canon(mergeContactLists(a, b))).toBe(canon(mergeContactLists(b, a)));
        expect(canon(mergeContactLists(mergeContactLists(a, b), c))).toBe(
          canon(mergeContactLists(a, mergeContactLists(b, c))),
        );
        expect(canon(mergeContactLists(a, a))).toBe(canon(a));
      }),
    );
  });

  it('[NODE-BLOB-2] the later change wins: a removal made later beats an acceptance on another device', () => {
    const accepted: ContactList = {
      contacts: [{ username: 'bob', state: ContactState.CONTACT_STATE_ACCEPTED, updatedAt: 5 }],
      presenceKeys: [],
    };
    const removed: ContactList = {
      contacts: [{ username: 'bob', state: ContactState.CONTACT_STATE_REMOVED, updatedAt: 9 }],
      presenceKeys: [],
    };
    expect(mergeContactLists(accepted, removed).contacts[0]!.state).toBe(ContactState.CONTACT_STATE_REMOVED);
    expect(decodeContactList(encodeContactList(removed)).contacts[0]!.state).toBe(ContactState.CONTACT_STATE_REMOVED);
  });

  it('[NODE-BLOB-1] the blob opens only with the export key it was sealed under, for the same user', () => {
    const key = contactBlobKey(suite, new Uint8Array(64).fill(3));
    const list: ContactList = {
      contacts: [
        {
          username: 'bob',
          state: ContactState.CONTACT_STATE_ACCEPTED,
          updatedAt: 7,
          presenceKey: { keyId: 2, key: new Uint8Array(32).fill(9) },
        },
      ],
      presenceKeys: [{ keyId: 1, key: new Uint8Array(32).fill(1) }],
    };
    const blob = sealContactBlob(suite, random, key, 'alice', list);
    expect(openContactBlob(suite, key, 'alice', blob)).toEqual(list);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (isParleyError(e)) return e.code;
        throw e;
      }
      return undefined;
    };
    expect(code(() => openContactBlob(suite, contactBlobKey(suite, new Uint8Array(64)), 'alice', blob))).toBe(
      ErrorCode.DECRYPT_FAILED,
    );
    expect(code(() => openContactBlob(suite, key, 'mallory', blob))).toBe(ErrorCode.DECRYPT_FAILED);
    expect(openContactBlob(suite, key, 'alice', new Uint8Array(0))).toEqual({ contacts: [], presenceKeys: [] });
  });

  it('[NODE-BLOB-3] two devices writing at once: CONFLICT, fetch, merge, write — both changes survive', async () => {
    const key = contactBlobKey(suite, new Uint8Array(64).fill(4));
    let stored: { version: number; blob: Uint8Array } = { version: 0, blob: new Uint8Array(0) };
    let interleave: (() => void) | undefined;
    const store = {
      getContactBlob: async () => stored,
      putContactBlob: async (expected: number, blob: Uint8Array) => {
        interleave?.(); // another device writes between our fetch and our put, once
        interleave = undefined;
        if (expected !== stored.version) throw new RequestRefused(ErrorCode.CONFLICT, 'version');
        stored = { version: stored.version + 1, blob };
        return stored.version;
      },
    };
    const other: ContactList = {
      contacts: [{ username: 'carol', state: ContactState.CONTACT_STATE_OUTGOING, updatedAt: 3 }],
      presenceKeys: [],
    };
    interleave = () => {
      stored = { version: stored.version + 1, blob: sealContactBlob(suite, random, key, 'alice', other) };
    };
    const mine: ContactList = {
      contacts: [{ username: 'bob', state: ContactState.CONTACT_STATE_ACCEPTED, updatedAt: 4 }],
      presenceKeys: [],
    };
    await updateContactBlob(suite, random, { store, key, username: 'alice' }, mine);
    const final = openContactBlob(suite, key, 'alice', stored.blob);
    expect(final.contacts.map((c) => c.username)).toEqual(['bob', 'carol']);
    expect(stored.version).toBe(2);
  });
});
