/**
 * Presence facts for directory tests: the shape `verifyPresenceEnvelope` returns, built directly (the
 * table never checks signatures, so unit tests need none; test/directory/verified.test.ts uses real ones).
 */
import { parley } from '@parley/wire';
import type { PresenceFacts } from '../../src/directory/table.js';

export const Status = parley.v1.PresenceStatus;

export function deviceId(n: number): Uint8Array {
  const id = new Uint8Array(16);
  id[0] = n & 0xff;
  id[15] = 0xd0;
  return id;
}

export interface FactsInit {
  user?: string;
  device?: number;
  sequence?: number;
  issuedAt?: number;
  expiresAt?: number;
  status?: number;
  serial?: number;
  notAfter?: number;
  /** Distinguishes envelopes of the same (user, device, sequence). */
  variant?: number;
  /** Extra envelope bytes. */
  pad?: number;
}

/** An envelope whose bytes name everything that distinguishes it, so equal bytes mean an equal record. */
export function facts(init: FactsInit = {}): PresenceFacts {
  const user = init.user ?? 'alice';
  const device = init.device ?? 1;
  const sequence = init.sequence ?? 1;
  const issuedAt = init.issuedAt ?? 0;
  const expiresAt = init.expiresAt ?? issuedAt + 600_000;
  const status = init.status ?? Status.PRESENCE_STATUS_ONLINE;
  const serial = init.serial ?? 1000 + device;
  const text = `${user}/${device}/${sequence}/${expiresAt}/${status}/${serial}/${init.variant ?? 0}`;
  const head = new TextEncoder().encode(text);
  const envelope = new Uint8Array(head.length + (init.pad ?? 0));
  envelope.set(head);
  return {
    username: user,
    deviceId: deviceId(device),
    sequence,
    issuedAt,
    expiresAt,
    status,
    homeSupernode: new Uint8Array(32).fill(7),
    certificateSerial: serial,
    certificateNotAfter: init.notAfter ?? 86_400_000,
    envelope,
  };
}
