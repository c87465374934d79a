/**
 * Stream framing of the Noise channel: spec/03-channels.md §6 (CHAN-FRAME-*). Each frame is a 2-byte
 * big-endian length, then that many bytes of one Noise message (handshake or transport).
 *
 * The decoder accepts chunks split or coalesced anywhere and never holds more than one maximum frame
 * plus its header ([CHAN-FRAME-4]): a frame that arrives whole inside one chunk is returned as a view
 * of that chunk (no copy); only a frame spread over several chunks is assembled into its own buffer.
 */
import { ApiMisuse, DecodeError, ErrorCode } from '../errors.js';
import { slabAllocate } from './slab.js';

/** [CHAN-FRAME-1] Length of the frame header. */
export const FRAME_HEADER_LENGTH = 2;
/** [CHAN-FRAME-2] The largest frame body: the Noise maximum message length. */
export const MAX_FRAME_LENGTH = 65_535;

/** The 2-byte header of a frame of `length` bytes (for writev-style sends that avoid copying the body). */
export function encodeFrameHeader(length: number): Uint8Array {
  checkLength(length);
  return Uint8Array.of(length >>> 8, length & 0xff);
}

/**
 * One frame: header and `message` in one new array, carved from a shared slab when small (./slab.ts: a
 * region of its own, never reused, but its `buffer` is shared).
 */
export function encodeFrame(message: Uint8Array): Uint8Array {
  checkLength(message.length);
  const out = slabAllocate(FRAME_HEADER_LENGTH + message.length);
  out[0] = message.length >>> 8;
  out[1] = message.length & 0xff;
  out.set(message, FRAME_HEADER_LENGTH);
  return out;
}

function checkLength(length: number): void {
  // [CHAN-FRAME-3] No Noise message is empty; [CHAN-FRAME-2] none exceeds 65,535 bytes.
  if (!Number.isInteger(length) || length < 1 || length > MAX_FRAME_LENGTH) {
    throw new ApiMisuse(`frame length ${length} outside 1..${MAX_FRAME_LENGTH}`);
  }
}

/**
 * Incremental decoder. `push(chunk)` returns the frames completed by `chunk`, in order. A zero-length
 * frame is DecodeError(MALFORMED) ([CHAN-FRAME-3]); after an error the decoder is unusable (the
 * channel closes). Returned frames may be views into `chunk`: a caller that reuses its chunk buffers
 * must consume or copy them first.
 */
/**
 * A malformed frame. `frames` holds the whole frames that the failing `push` completed before the
 * malformed header: a driver delivers them, then closes ([CHAN-FRAME-4]).
 */
export class FramingError extends DecodeError {
  override readonly name: string = 'FramingError';
  readonly frames: readonly Uint8Array[];
  constructor(code: ErrorCode, detail: string, frames: readonly Uint8Array[]) {
    super(code, detail);
    this.frames = frames;
  }
}

export class FrameDecoder {
  /** First header byte when a header is split across chunks, else -1. */
  #headerByte = -1;
  /** The frame being assembled across chunks, and how much of it has arrived. */
  #partial: Uint8Array | undefined;
  #filled = 0;
  #failed = false;

  /** Bytes held for an incomplete frame (header included); at most 65,537. */
  get buffered(): number {
    if (this.#partial) return FRAME_HEADER_LENGTH + this.#filled;
    return this.#headerByte >= 0 ? 1 : 0;
  }

  /**
   * [CHAN-FRAME-5] The stream has ended: throws DecodeError(TRUNCATED) when it ended inside a frame
   * (header or body).
   */
  end(): void {
    if (this.buffered > 0) {
      this.#failed = true;
      throw new DecodeError(ErrorCode.TRUNCATED, `stream ended inside a frame (${this.buffered} bytes held)`);
    }
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#failed) throw new ApiMisuse('frame decoder used after an error');
    const frames: Uint8Array[] = [];
    let at = 0;
    const end = chunk.length;
    // Finish a frame begun in an earlier chunk.
    if (this.#partial) {
      const partial = this.#partial;
      const n = Math.min(partial.length - this.#filled, end);
      partial.set(chunk.subarray(0, n), this.#filled);
      this.#filled += n;
      at = n;
      if (this.#filled < partial.length) return frames;
      frames.push(partial);
      this.#partial = undefined;
      this.#filled = 0;
    }
    while (at < end) {
      let length: number;
      if (this.#headerByte >= 0) {
        length = (this.#headerByte << 8) | chunk[at]!;
        this.#headerByte = -1;
        at += 1;
      } else if (end - at >= FRAME_HEADER_LENGTH) {
        length = (chunk[at]! << 8) | chunk[at + 1]!;
        at += FRAME_HEADER_LENGTH;
      } else {
        this.#headerByte = chunk[at]!;
        break;
      }
      if (length === 0) {
        // [CHAN-FRAME-3] and [CHAN-FRAME-4]: the frames this chunk completed before the bad header go
        // with the error, so the frames delivered before it do not depend on how reads were split.
        this.#failed = true;
        throw new FramingError(ErrorCode.MALFORMED, 'zero-length frame', frames);
      }
      if (end - at >= length) {
        frames.push(chunk.subarray(at, at + length));
        at += length;
      } else {
        // [CHAN-FRAME-4] at most 65,535 bytes, allocated only once the header has said how many.
        const partial = new Uint8Array(length);
        partial.set(chunk.subarray(at));
        this.#partial = partial;
        this.#filled = end - at;
        at = end;
      }
    }
    return frames;
  }
}
