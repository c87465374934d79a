/**
 * The named peer for the channel benchmarks: @chainsafe/libp2p-noise 17 (Noise XX with libp2p's
 * Ed25519-signed identity payload), both ends in one process over libp2p's in-memory connection pair,
 * as TOOLCHAIN.md describes. A devDependency of the benchmark only.
 */
import { type MeasureOptions, opsPerSecondAsync } from './measure.js';

// libp2p 3 uses Promise.withResolvers, a Node 22 API; Node 20 needs it polyfilled before the import.
function polyfillWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: unknown };
  if (P.withResolvers) return;
  P.withResolvers = <T>() => {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((a, b) => {
      resolve = a;
      reject = b;
    });
    return { promise, resolve, reject };
  };
}

// The peer's types are not ours to model; the benchmark touches only these members.
interface Secured {
  connection: {
    send(data: Uint8Array): boolean;
    onDrain(): Promise<void>;
    addEventListener(type: 'message', fn: (e: { data: { byteLength: number } }) => void): void;
    removeEventListener(type: 'message', fn: (e: { data: { byteLength: number } }) => void): void;
  };
}
interface Party {
  noise: {
    secureOutbound(c: unknown, o: unknown): Promise<Secured>;
    secureInbound(c: unknown, o: unknown): Promise<Secured>;
  };
  peerId: unknown;
}

export async function libp2pNoise() {
  polyfillWithResolvers();
  const { noise } = await import('@chainsafe/libp2p-noise');
  const { generateKeyPair } = await import('@libp2p/crypto/keys');
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id');
  const { defaultLogger } = await import('@libp2p/logger');
  const { multiaddrConnectionPair } = await import('@libp2p/utils');

  async function party(): Promise<Party> {
    const privateKey = await generateKeyPair('Ed25519');
    const peerId = peerIdFromPrivateKey(privateKey);
    const components = { privateKey, peerId, logger: defaultLogger(), upgrader: { getStreamMuxers: () => new Map() } };
    return { noise: (noise() as (c: unknown) => Party['noise'])(components), peerId };
  }
  const a = await party();
  const b = await party();
  const handshake = (): Promise<[Secured, Secured]> => {
    const [x, y] = multiaddrConnectionPair();
    return Promise.all([
      a.noise.secureOutbound(x, { remotePeer: b.peerId }),
      b.noise.secureInbound(y, { remotePeer: a.peerId }),
    ]);
  };

  return {
    name: '@chainsafe/libp2p-noise',
    /** Complete mutually authenticated XX handshakes per second, both ends in this process. */
    handshakesPerSecond: (opts?: MeasureOptions) => opsPerSecondAsync(handshake, opts),
    /** Bytes per second of plaintext carried from one end to the other in messages of `size` bytes. */
    async throughput(size: number, totalBytes: number): Promise<number> {
      const [out, inn] = await handshake();
      const payload = new Uint8Array(size).fill(0xa5);
      const count = Math.max(1, Math.floor(totalBytes / size));
      let got = 0;
      let done!: () => void;
      const finished = new Promise<void>((r) => {
        done = r;
      });
      const onMessage = (e: { data: { byteLength: number } }) => {
        got += e.data.byteLength;
        if (got >= count * size) done();
      };
      inn.connection.addEventListener('message', onMessage);
      const t0 = performance.now();
      for (let i = 0; i < count; i++) if (!out.connection.send(payload)) await out.connection.onDrain();
      await finished;
      const seconds = (performance.now() - t0) / 1000;
      inn.connection.removeEventListener('message', onMessage);
      return (count * size) / seconds;
    },
  };
}
