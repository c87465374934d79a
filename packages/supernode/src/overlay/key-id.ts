/**
 * Key ids (32 bytes, 02-identity.md) as the overlay's map keys: lower-case hex, computed once per key id
 * a view or a health table is given, never on a lookup's hot path.
 */
export function keyHex(keyId: Uint8Array): string {
  return Buffer.from(keyId.buffer, keyId.byteOffset, keyId.byteLength).toString('hex');
}
