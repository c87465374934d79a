/**
 * Helpers shared by the offline stores (memory.ts, sqlite.ts); not exported from the package. The
 * argument checks implement the conventions of store.ts: a misuse is an ApiMisuse (spec/00-conventions.md
 * GEN-ERR-1), raised before anything is written.
 */
import { ApiMisuse } from '@parley/wire';
import {
  DEFAULT_OFFLINE_LIMITS,
  type MessageRef,
  OFFLINE_PAGE_MAX,
  type OfflineMessageInput,
  type OfflineStoreLimits,
} from './store.js';

export function checkInt(name: string, value: number, min = 0, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ApiMisuse(`${name} must be a safe integer in ${min}..${max}, got ${String(value)}`);
  }
}

export function checkBytes(name: string, value: Uint8Array): void {
  if (!(value instanceof Uint8Array)) throw new ApiMisuse(`${name} must be a Uint8Array`);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A user name: a non-empty string that has a UTF-8 encoding (no lone surrogate). */
export function checkName(name: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || LONE_SURROGATE.test(value)) {
    throw new ApiMisuse(`${name} must be a non-empty, well-formed string`);
  }
}

export function checkMessage(msg: OfflineMessageInput): void {
  if (typeof msg !== 'object' || msg === null) throw new ApiMisuse('the message must be an object');
  checkBytes('messageId', msg.messageId);
  checkName('sender', msg.sender);
  checkBytes('senderDeviceId', msg.senderDeviceId);
  checkName('recipient', msg.recipient);
  checkInt('createdAt', msg.createdAt);
  checkInt('expiresAt', msg.expiresAt);
  checkBytes('envelope', msg.envelope);
}

export function checkRef(name: string, ref: MessageRef): void {
  if (typeof ref !== 'object' || ref === null) throw new ApiMisuse(`${name} must be an object`);
  checkName(`${name}.sender`, ref.sender);
  checkBytes(`${name}.messageId`, ref.messageId);
}

export function checkRefs(refs: readonly MessageRef[]): void {
  if (!Array.isArray(refs)) throw new ApiMisuse('refs must be an array');
  refs.forEach((r, i) => {
    checkRef(`refs[${i}]`, r);
  });
}

export function checkPage(name: string, value: number): void {
  checkInt(name, value, 1, OFFLINE_PAGE_MAX);
}

/** The limits with defaults filled in, each checked. */
export function resolveLimits(limits: Partial<OfflineStoreLimits> | undefined): OfflineStoreLimits {
  const out = { ...DEFAULT_OFFLINE_LIMITS, ...limits };
  for (const key of Object.keys(DEFAULT_OFFLINE_LIMITS) as (keyof OfflineStoreLimits)[]) {
    checkInt(`limits.${key}`, out[key], 1);
  }
  return Object.freeze(out);
}

/** Bytewise order (memcmp, then length), as SQLite orders BLOBs. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/**
 * Order of names by their UTF-8 bytes, as SQLite's BINARY collation orders TEXT: code point order, which
 * plain `<` (UTF-16 code units) gets wrong when a surrogate pair meets U+E000..U+FFFF. No allocation.
 * Both names are well formed (checkName).
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // At the first difference, the code points starting here decide (a low surrogate compares as itself,
      // after an equal high one).
      return a.codePointAt(i)! - b.codePointAt(i)!;
    }
  }
  return a.length - b.length;
}

export function closedError(kind: string): ApiMisuse {
  return new ApiMisuse(`the ${kind} offline store is closed`);
}
