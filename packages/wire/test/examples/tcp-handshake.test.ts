// Keeps the README's main job working: the demo over real TCP on loopback must succeed end to end,
// including the two rejections (CHAN-HS-4, CHAN-HS-6, ID-CHAIN-4, ID-CERT-12).
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../examples/tcp-handshake.js';

describe('the README demo', () => {
  it('[CHAN-HS-4] completes a certified handshake over TCP, exchanges packets, and rejects impostors', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main()).toBe(0);
      const lines = log.mock.calls.map((c) => String(c[0]));
      expect(lines.some((l) => l.includes('rejected mallory') && l.includes('NETWORK_MISMATCH ('))).toBe(true);
      expect(lines.some((l) => l.includes('rejected eve') && l.includes('CERT_EXPIRED ('))).toBe(true);
    } finally {
      log.mockRestore();
    }
  });
});
