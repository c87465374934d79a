/**
 * The CryptoSuite contract: one suite of tests that every implementation of `CryptoSuite` runs
 * against itself, in the manner of js-libp2p's interface-compliance-tests. Normative text:
 * spec/04-crypto.md (CRYPTO-*). Known answers come from Wycheproof (../shared/vectors/wycheproof,
 * C2SP/wycheproof testvectors_v1), RFC 7748 §6.1 and RFC 8032 §7.1; properties from fast-check.
 *
 * Usage: `cryptoSuiteContract(nodeCrypto)` inside a test file.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CryptoSuite } from '../../src/crypto/suite.js';
import { ApiMisuse, DecryptError, ErrorCode, ParleyError } from '../../src/errors.js';
import { hex, loadWycheproof, Tally, toHex } from './wycheproof.js';

/** Runs `fn` and returns the ParleyError it threw (fails the test when it threw nothing else). */
export function thrown(fn: () => unknown): ParleyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ParleyError) return e;
    throw new Error(`expected a ParleyError, got ${String(e)}`);
  }
  throw new Error('expected an error, none was thrown');
}

function isZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

/** Flips bit `bit` (taken modulo the length in bits) of a copy of `b`. */
function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  const i = bit % (b.length * 8);
  out[i >> 3]! ^= 1 << (i & 7);
  return out;
}

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const anyBytes = (max: number) => fc.uint8Array({ maxLength: max });
/** A length other than `n`, small enough to build quickly. */
const wrongLength = (n: number) => fc.integer({ min: 0, max: 80 }).filter((l) => l !== n);

export function cryptoSuiteContract(suite: CryptoSuite): void {
  describe(`CryptoSuite contract: ${suite.name}`, () => {
    describe('Wycheproof known answers [CRYPTO-SUITE-3]', () => {
      it('[CRYPTO-SUITE-3][CRYPTO-X25519-1][CRYPTO-X25519-2] x25519_test.json: every valid vector, acceptable ones computed unless the result is all zeros', () => {
        const file = loadWycheproof('x25519_test.json');
        const tally = new Tally();
        for (const group of file.testGroups) {
          for (const t of group.tests) {
            tally.count(t);
            const priv = hex(t.private);
            const pub = hex(t.public);
            const expected = hex(t.shared);
            if (isZero(expected)) {
              // [CRYPTO-X25519-2] Parley rejects the all-zero result (LowOrderPublic/ZeroSharedSecret).
              let e: ParleyError | undefined;
              try {
                suite.x25519(priv, pub);
              } catch (err) {
                e = err as ParleyError;
              }
              if (!(e instanceof DecryptError) || e.code !== ErrorCode.INVALID_KEY)
                tally.fail(t, 'zero result accepted');
              else if (t.result === 'acceptable') tally.acceptableRejected++;
              else tally.fail(t, 'a valid vector has a zero result');
            } else {
              // [CRYPTO-X25519-1] twist points, non-canonical u and the top bit: computed as RFC 7748 says.
              try {
                const got = suite.x25519(priv, pub);
                if (toHex(got) !== t.shared) tally.fail(t, `got ${toHex(got)}`);
                else if (t.result === 'acceptable') tally.acceptableAccepted++;
              } catch (err) {
                tally.fail(t, `threw ${String(err)}`);
              }
            }
          }
        }
        expect(tally.failures).toEqual([]);
        expect(tally.total).toBe(file.numberOfTests);
        expect(tally.byResult).toEqual({ valid: 264, invalid: 0, acceptable: 254 });
        expect([tally.acceptableAccepted, tally.acceptableRejected]).toEqual([223, 31]);
      });

      it('[CRYPTO-SUITE-3][CRYPTO-ED25519-2][CRYPTO-ED25519-3][CRYPTO-ED25519-4][CRYPTO-ED25519-6] ed25519_test.json: valid signatures verify, invalid ones do not', () => {
        const file = loadWycheproof('ed25519_test.json');
        const tally = new Tally();
        for (const group of file.testGroups) {
          const pk = hex((group.publicKey as { pk: string }).pk);
          for (const t of group.tests) {
            tally.count(t);
            let ok: boolean;
            try {
              ok = suite.ed25519Verify(pk, hex(t.msg), hex(t.sig));
            } catch (err) {
              tally.fail(t, `verify threw ${String(err)}`); // [CRYPTO-API-3] verify never throws
              continue;
            }
            if (ok !== (t.result === 'valid')) tally.fail(t, `verify returned ${ok}`);
          }
        }
        expect(tally.failures).toEqual([]);
        expect(tally.total).toBe(file.numberOfTests);
        expect(tally.byResult).toEqual({ valid: 88, invalid: 63, acceptable: 0 });
      });

      it('[CRYPTO-SUITE-3][CRYPTO-AEAD-1][CRYPTO-AEAD-3][CRYPTO-AEAD-4][CRYPTO-API-1] chacha20_poly1305_test.json: seal and open give the exact bytes; modified tags and other nonce sizes are rejected', () => {
        const file = loadWycheproof('chacha20_poly1305_test.json');
        const tally = new Tally();
        for (const group of file.testGroups) {
          for (const t of group.tests) {
            tally.count(t);
            const key = hex(t.key);
            const nonce = hex(t.iv);
            const ad = hex(t.aad);
            const sealed = new Uint8Array([...hex(t.ct), ...hex(t.tag)]);
            if (group.ivSize !== 96) {
              // Only 96-bit nonces exist in the suite: any other size is the caller's mistake.
              const a = thrown(() => suite.aeadSeal(key, nonce, ad, hex(t.msg)));
              const b = thrown(() => suite.aeadOpen(key, nonce, ad, sealed));
              if (!(a instanceof ApiMisuse) || !(b instanceof ApiMisuse)) tally.fail(t, 'nonce size not ApiMisuse');
              if (t.result !== 'invalid') tally.fail(t, 'a valid vector with a non-96-bit nonce');
              continue;
            }
            if (t.result === 'valid') {
              const got = suite.aeadSeal(key, nonce, ad, hex(t.msg));
              if (toHex(got) !== `${t.ct}${t.tag}`) tally.fail(t, `seal gave ${toHex(got)}`);
              const opened = suite.aeadOpen(key, nonce, ad, sealed);
              if (toHex(opened) !== t.msg) tally.fail(t, `open gave ${toHex(opened)}`);
            } else {
              const e = thrown(() => suite.aeadOpen(key, nonce, ad, sealed));
              if (!(e instanceof DecryptError) || e.code !== ErrorCode.DECRYPT_FAILED) tally.fail(t, `open: ${e}`);
            }
          }
        }
        expect(tally.failures).toEqual([]);
        expect(tally.total).toBe(file.numberOfTests);
        expect(tally.byResult).toEqual({ valid: 256, invalid: 69, acceptable: 0 });
      });

      it('[CRYPTO-SUITE-3][CRYPTO-HKDF-1][CRYPTO-HKDF-2] hkdf_sha256_test.json: exact output keying material; sizes above 255*32 are ApiMisuse', () => {
        const file = loadWycheproof('hkdf_sha256_test.json');
        const tally = new Tally();
        for (const group of file.testGroups) {
          for (const t of group.tests) {
            tally.count(t);
            const run = () => suite.hkdfSha256(hex(t.ikm), hex(t.salt), hex(t.info), t.size as number);
            if (t.result === 'valid') {
              const got = toHex(run());
              if (got !== t.okm) tally.fail(t, `got ${got}`);
            } else if (!(thrown(run) instanceof ApiMisuse)) tally.fail(t, 'not ApiMisuse');
          }
        }
        expect(tally.failures).toEqual([]);
        expect(tally.total).toBe(file.numberOfTests);
        expect(tally.byResult).toEqual({ valid: 83, invalid: 3, acceptable: 0 });
      });

      it('[CRYPTO-SUITE-3][CRYPTO-HMAC-1] hmac_sha256_test.json: exact tags (truncated groups compare the prefix); modified tags differ', () => {
        const file = loadWycheproof('hmac_sha256_test.json');
        const tally = new Tally();
        for (const group of file.testGroups) {
          const tagBytes = (group.tagSize as number) / 8;
          for (const t of group.tests) {
            tally.count(t);
            const got = toHex(suite.hmacSha256(hex(t.key), hex(t.msg)).subarray(0, tagBytes));
            if ((got === t.tag) !== (t.result === 'valid')) tally.fail(t, `got ${got}`);
          }
        }
        expect(tally.failures).toEqual([]);
        expect(tally.total).toBe(file.numberOfTests);
        expect(tally.byResult).toEqual({ valid: 66, invalid: 108, acceptable: 0 });
      });
    });

    describe('RFC known answers', () => {
      it('[CRYPTO-X25519-1] RFC 7748 §6.1: public keys and the shared secret', () => {
        const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
        const bob = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
        const alicePub = suite.x25519PublicKey(alice);
        const bobPub = suite.x25519PublicKey(bob);
        expect(toHex(alicePub)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
        expect(toHex(bobPub)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
        const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
        expect(toHex(suite.x25519(alice, bobPub))).toBe(shared);
        expect(toHex(suite.x25519(bob, alicePub))).toBe(shared);
      });

      it('[CRYPTO-ED25519-1] RFC 8032 §7.1 TEST 1 and TEST 2: public keys and signatures', () => {
        const cases = [
          {
            seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
            pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
            msg: '',
            sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
          },
          {
            seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
            pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
            msg: '72',
            sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
          },
        ];
        for (const c of cases) {
          expect(toHex(suite.ed25519PublicKey(hex(c.seed)))).toBe(c.pub);
          expect(toHex(suite.ed25519Sign(hex(c.seed), hex(c.msg)))).toBe(c.sig);
          expect(suite.ed25519Verify(hex(c.pub), hex(c.msg), hex(c.sig))).toBe(true);
        }
      });

      it('[CRYPTO-HASH-1] FIPS 180-4: SHA-256 of "abc" and of the empty string', () => {
        expect(toHex(suite.sha256(new TextEncoder().encode('abc')))).toBe(
          'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
        );
        expect(toHex(suite.sha256(new Uint8Array(0)))).toBe(
          'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        );
      });
    });

    describe('properties', () => {
      it('[CRYPTO-SUITE-1] implements every primitive of the v1 suite with the spec output sizes', () => {
        const k = new Uint8Array(32).fill(1);
        expect(suite.sha256(new Uint8Array(3)).length).toBe(32);
        expect(suite.hmacSha256(k, new Uint8Array(3)).length).toBe(32);
        expect(suite.hkdfSha256(k, k, k, 77).length).toBe(77);
        expect(suite.x25519PublicKey(k).length).toBe(32);
        expect(suite.x25519(k, suite.x25519PublicKey(new Uint8Array(32).fill(2))).length).toBe(32);
        expect(suite.ed25519PublicKey(k).length).toBe(32);
        expect(suite.ed25519Sign(k, new Uint8Array(0)).length).toBe(64);
        expect(suite.aeadSeal(k, new Uint8Array(12), new Uint8Array(0), new Uint8Array(5)).length).toBe(5 + 16);
        expect(typeof suite.name).toBe('string');
      });

      it('[CRYPTO-X25519-1][CRYPTO-KEY-1] any 32 bytes is a private key, and both sides agree on the shared secret', () => {
        fc.assert(
          fc.property(bytes(32), bytes(32), (a, b) => {
            const ab = suite.x25519(a, suite.x25519PublicKey(b));
            const ba = suite.x25519(b, suite.x25519PublicKey(a));
            expect(toHex(ab)).toBe(toHex(ba));
            // The public key is X25519(k, 9) (RFC 7748 §6.1).
            const nine = new Uint8Array(32);
            nine[0] = 9;
            expect(toHex(suite.x25519(a, nine))).toBe(toHex(suite.x25519PublicKey(a)));
          }),
          { numRuns: 30 },
        );
      });

      it('[CRYPTO-X25519-2][CRYPTO-X25519-3] rejects an all-zero shared secret from every low-order public key (the list of the spec) as INVALID_KEY', () => {
        const p = (1n << 255n) - 19n;
        const le = (n: bigint) => {
          const out = new Uint8Array(32);
          for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
          return out;
        };
        // u = 0, 1, p-1, the two order-8 u, and their non-canonical forms (+p) and top-bit variants.
        const order8a = 325606250916557431795983626356110631294008115727848805560023387167927233504n;
        const order8b = 39382357235489614581723060781553021112529911719440698176882885853963445705823n;
        const lowOrder = [0n, 1n, p - 1n, order8a, order8b, p, p + 1n];
        fc.assert(
          fc.property(bytes(32), fc.constantFrom(...lowOrder), fc.boolean(), (priv, u, topBit) => {
            const pub = le(u);
            if (topBit) pub[31]! |= 0x80; // [CRYPTO-X25519-1] the top bit is ignored
            const e = thrown(() => suite.x25519(priv, pub));
            expect(e).toBeInstanceOf(DecryptError);
            expect(e.code).toBe(ErrorCode.INVALID_KEY);
            expect(e.kind).toBe('decrypt');
          }),
          { numRuns: 60 },
        );
      });

      it('[CRYPTO-ED25519-1][CRYPTO-ED25519-7] signatures made from any seed verify, and deterministically', () => {
        fc.assert(
          fc.property(bytes(32), anyBytes(200), (seed, msg) => {
            const pub = suite.ed25519PublicKey(seed);
            const sig = suite.ed25519Sign(seed, msg);
            expect(suite.ed25519Verify(pub, msg, sig)).toBe(true);
            expect(toHex(suite.ed25519Sign(seed, msg))).toBe(toHex(sig));
          }),
          { numRuns: 30 },
        );
      });

      it('[CRYPTO-ED25519-6][CRYPTO-API-3] a single-bit change of the message, signature or key makes verify false, never throw', () => {
        fc.assert(
          fc.property(
            bytes(32),
            anyBytes(64),
            fc.nat(),
            fc.constantFrom('msg', 'sig', 'pub'),
            (seed, msg, bit, what) => {
              const pub = suite.ed25519PublicKey(seed);
              const sig = suite.ed25519Sign(seed, msg);
              const m = what === 'msg' ? (msg.length > 0 ? flipBit(msg, bit) : new Uint8Array([0])) : msg;
              const s = what === 'sig' ? flipBit(sig, bit) : sig;
              const p = what === 'pub' ? flipBit(pub, bit) : pub;
              expect(suite.ed25519Verify(p, m, s)).toBe(false);
            },
          ),
          { numRuns: 40 },
        );
      });

      it('[CRYPTO-ED25519-2][CRYPTO-API-3] verify returns false, never throws, for inputs of any length or content', () => {
        fc.assert(
          fc.property(anyBytes(70), anyBytes(40), anyBytes(70), (pub, msg, sig) => {
            expect(suite.ed25519Verify(pub, msg, sig)).toBe(false);
          }),
        );
      });

      it('[CRYPTO-AEAD-1][CRYPTO-AEAD-3] open(seal(x)) = x for any key, nonce, ad and plaintext', () => {
        fc.assert(
          fc.property(bytes(32), bytes(12), anyBytes(64), anyBytes(300), (key, nonce, ad, pt) => {
            const sealed = suite.aeadSeal(key, nonce, ad, pt);
            expect(sealed.length).toBe(pt.length + 16);
            expect(toHex(suite.aeadOpen(key, nonce, ad, sealed))).toBe(toHex(pt));
          }),
        );
      });

      it('[CRYPTO-AEAD-3][CRYPTO-AEAD-4][CRYPTO-AEAD-5] any single-bit flip of ciphertext, tag, ad, nonce or key is DECRYPT_FAILED, and no plaintext is returned', () => {
        fc.assert(
          fc.property(
            bytes(32),
            bytes(12),
            anyBytes(32),
            anyBytes(100),
            fc.nat(),
            fc.constantFrom('sealed', 'ad', 'nonce', 'key'),
            (key, nonce, ad, pt, bit, what) => {
              const sealed = suite.aeadSeal(key, nonce, ad, pt);
              const s = what === 'sealed' ? flipBit(sealed, bit) : sealed;
              const a = what === 'ad' ? (ad.length > 0 ? flipBit(ad, bit) : new Uint8Array([0])) : ad;
              const n = what === 'nonce' ? flipBit(nonce, bit) : nonce;
              const k = what === 'key' ? flipBit(key, bit) : key;
              const e = thrown(() => suite.aeadOpen(k, n, a, s));
              expect(e).toBeInstanceOf(DecryptError);
              expect(e.code).toBe(ErrorCode.DECRYPT_FAILED);
            },
          ),
        );
      });

      it('[CRYPTO-AEAD-4] a ciphertext too short for a tag fails exactly like a wrong tag', () => {
        const key = new Uint8Array(32).fill(3);
        const nonce = new Uint8Array(12);
        const ad = new Uint8Array(0);
        const wrongTag = thrown(() => suite.aeadOpen(key, nonce, ad, new Uint8Array(16)));
        for (let len = 0; len < 16; len++) {
          const short = thrown(() => suite.aeadOpen(key, nonce, ad, new Uint8Array(len)));
          expect(short).toBeInstanceOf(DecryptError);
          expect([short.code, short.message]).toEqual([wrongTag.code, wrongTag.message]);
        }
        expect(wrongTag.message).toBe('DECRYPT_FAILED');
      });

      it('[CRYPTO-AEAD-2] reusing a nonce under one key repeats the keystream (why nonces must never repeat)', () => {
        fc.assert(
          fc.property(bytes(32), bytes(12), bytes(40), bytes(40), (key, nonce, p1, p2) => {
            const c1 = suite.aeadSeal(key, nonce, new Uint8Array(0), p1);
            const c2 = suite.aeadSeal(key, nonce, new Uint8Array(0), p2);
            for (let i = 0; i < 40; i++) expect(c1[i]! ^ c2[i]!).toBe(p1[i]! ^ p2[i]!);
          }),
          { numRuns: 20 },
        );
      });

      it('[CRYPTO-API-1] a wrong length for any fixed-length input is ApiMisuse (misuse, never DECRYPT_FAILED)', () => {
        const ok32 = new Uint8Array(32).fill(5);
        const ok12 = new Uint8Array(12);
        const none = new Uint8Array(0);
        fc.assert(
          fc.property(wrongLength(32), wrongLength(12), (l32, l12) => {
            const bad32 = new Uint8Array(l32).fill(5);
            const bad12 = new Uint8Array(l12);
            const calls: Array<() => unknown> = [
              () => suite.x25519PublicKey(bad32),
              () => suite.x25519(bad32, ok32),
              () => suite.x25519(ok32, bad32),
              () => suite.ed25519PublicKey(bad32),
              () => suite.ed25519Sign(bad32, none),
              () => suite.aeadSeal(bad32, ok12, none, none),
              () => suite.aeadSeal(ok32, bad12, none, none),
              () => suite.aeadOpen(bad32, ok12, none, new Uint8Array(16)),
              () => suite.aeadOpen(ok32, bad12, none, new Uint8Array(16)),
            ];
            for (const call of calls) {
              const e = thrown(call);
              expect(e).toBeInstanceOf(ApiMisuse);
              expect(e.code).toBe(ErrorCode.API_MISUSE);
              expect(e.kind).toBe('misuse');
            }
          }),
        );
      });

      it('[CRYPTO-HKDF-2] an HKDF length outside 1..8160 (or not an integer) is ApiMisuse', () => {
        const k = new Uint8Array(32);
        for (const len of [0, -1, 8161, 1e9, 1.5, Number.NaN]) {
          expect(thrown(() => suite.hkdfSha256(k, k, k, len))).toBeInstanceOf(ApiMisuse);
        }
        expect(suite.hkdfSha256(k, k, k, 1).length).toBe(1);
        expect(suite.hkdfSha256(k, k, k, 8160).length).toBe(8160);
      });

      it('[CRYPTO-HKDF-1] an empty salt is the same as 32 zero bytes, and an output is a prefix of a longer one', () => {
        fc.assert(
          fc.property(anyBytes(64), anyBytes(1100), fc.integer({ min: 1, max: 200 }), (ikm, info, len) => {
            const a = suite.hkdfSha256(ikm, new Uint8Array(0), info, len);
            const b = suite.hkdfSha256(ikm, new Uint8Array(32), info, len + 40);
            expect(toHex(a)).toBe(toHex(b.subarray(0, len)));
          }),
          { numRuns: 40 },
        );
      });

      it('[CRYPTO-SUITE-4] every primitive is a deterministic function of its inputs (no randomness inside)', () => {
        fc.assert(
          fc.property(bytes(32), bytes(12), anyBytes(100), (k, n, data) => {
            const peer = suite.x25519PublicKey(new Uint8Array(32).fill(9));
            const run = () =>
              [
                suite.sha256(data),
                suite.hmacSha256(k, data),
                suite.hkdfSha256(data, k, n, 50),
                suite.x25519PublicKey(k),
                suite.x25519(k, peer),
                suite.ed25519PublicKey(k),
                suite.ed25519Sign(k, data),
                suite.aeadSeal(k, n, data, data),
              ].map(toHex);
            expect(run()).toEqual(run());
          }),
          { numRuns: 20 },
        );
      });

      it('[CRYPTO-API-2] outputs are fresh arrays the caller owns, and inputs are never modified', () => {
        fc.assert(
          fc.property(bytes(32), bytes(12), anyBytes(100), (k, n, data) => {
            const before = [k, n, data].map(toHex);
            const peer = suite.x25519PublicKey(new Uint8Array(32).fill(9));
            const sealed = suite.aeadSeal(k, n, data, data);
            const run = (): Uint8Array[] => [
              suite.sha256(data),
              suite.hmacSha256(k, data),
              suite.hkdfSha256(data, k, n, 50),
              suite.x25519PublicKey(k),
              suite.x25519(k, peer),
              suite.ed25519PublicKey(k),
              suite.ed25519Sign(k, data),
              suite.aeadSeal(k, n, data, data),
              suite.aeadOpen(k, n, data, sealed),
            ];
            const first = run();
            const firstHex = first.map(toHex);
            for (const out of first) {
              expect(out).toBeInstanceOf(Uint8Array);
              // Owned outright: the whole ArrayBuffer is this output, so no other data shares it.
              expect(out.byteOffset).toBe(0);
              expect(out.buffer.byteLength).toBe(out.length);
              out.fill(0xaa);
            }
            expect(run().map(toHex)).toEqual(firstHex);
            expect([k, n, data].map(toHex)).toEqual(before);
          }),
          { numRuns: 20 },
        );
      });
    });
  });
}
