import { describe, expect, it } from 'vitest';
import { DecodeError, ErrorCode, errorCodeName, kindOf } from '../src/index.js';

describe('error codes [GEN-ERR-1]', () => {
  it('maps every code to the kind of its range [GEN-ERR-2]', () => {
    expect(kindOf(ErrorCode.FRAME_TOO_LARGE)).toBe('decode');
    expect(kindOf(ErrorCode.REPLAYED)).toBe('protocol');
    expect(kindOf(ErrorCode.CERT_EXPIRED)).toBe('identity');
    expect(kindOf(ErrorCode.DECRYPT_FAILED)).toBe('decrypt');
    expect(kindOf(ErrorCode.VERSION_UNSUPPORTED)).toBe('incompatible');
    expect(kindOf(ErrorCode.API_MISUSE)).toBe('misuse');
    expect(kindOf(ErrorCode.BUSY)).toBe('resource');
  });
  it('carries its code and names it', () => {
    const e = new DecodeError(ErrorCode.FRAME_TOO_LARGE, 'length 70000');
    expect(e.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(e.kind).toBe('decode');
    expect(errorCodeName(e.code)).toBe('FRAME_TOO_LARGE');
  });
});
