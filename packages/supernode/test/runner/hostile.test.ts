/**
 * Hostile nodes against the supernode runner over the simulator: packets a conforming node never sends,
 * encoded without the sender's checks (or arbitrary bytes) and encrypted with the channel's own keys.
 * Every request is answered — a reply, or ErrorReply with a wire code — or the channel is closed with the
 * code the spec names (00-conventions.md §4.4, GEN-ERR-4; 01-packets.md WIRE-RECV-*); the supernode never
 * fails internally and keeps serving.
 */
import { isResponseBody, StreamChannel } from '@parley/channel';
import {
  certifiedPayloadCodec,
  decodePacket,
  type EstablishedChannel,
  encodeFrame,
  isWireCode,
  type PeerIdentity,
  parley,
  Role,
  SUPPORTED_PROTOCOL_VERSIONS,
  startInitiator,
} from '@parley/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { messageOf, presenceOf, type SimSupernode, suite, T0, type TestDevice, World } from '../fixtures.js';

interface Raw {
  channel: StreamChannel<PeerIdentity>;
  /** Plaintexts received after the handshake. */
  received: Uint8Array[];
  send(plaintext: Uint8Array): void;
}

async function rawChannel(w: World, sn: SimSupernode, device: TestDevice): Promise<Raw> {
  const t = w.host();
  let established!: (c: EstablishedChannel<PeerIdentity>) => void;
  const ready = new Promise<EstablishedChannel<PeerIdentity>>((r) => {
    established = r;
  });
  const channel = new StreamChannel<PeerIdentity>({
    clock: t.clock,
    role: 'initiator',
    start: startInitiator({
      suite,
      random: t.random,
      protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
      payload: certifiedPayloadCodec(suite, {
        identity: device,
        software: 'hostile/1',
        policy: () => ({
          trustAnchors: [w.net.root.publicKey],
          nowMs: t.clock.now(),
          acceptedRoles: [Role.ROLE_SUPERNODE],
        }),
      }),
    }),
    events: { onEstablished: established, onPacket: () => {}, onClosed: () => {} },
  });
  const stream = t.connectTcp(sn.address, channel.handlers);
  channel.attach(stream);
  const est = await w.run(ready);
  const received: Uint8Array[] = [];
  const decrypt = est.transport.decrypt.bind(est.transport);
  est.transport.decrypt = (m: Uint8Array) => {
    const p = decrypt(m);
    received.push(p.slice());
    return p;
  };
  return { channel, received, send: (p) => stream.write(encodeFrame(est.transport.encrypt(p))) };
}

const raw = (p: parley.v1.IPacket): Uint8Array => parley.v1.Packet.encode(p).finish();

describe('hostile packets over a channel [SN-RES] [SN-OVER]', () => {
  it('[SN-OVER-7] [SN-ATTACH-7] every crafted request gets a reply, an ErrorReply with a wire code, or a Close with one; the supernode keeps serving', async () => {
    const w = new World({ seed: 'hostile runner' });
    const sn = await w.addSupernode();
    await w.addSupernode();
    w.publishList();
    const alice = w.user('alice');
    const now = T0;
    const good = {
      presence: presenceOf(alice, sn.identity.keyId, { issuedAt: now }),
      message: messageOf(alice, 'bob', { createdAt: now }),
    };
    const flip = (b: Uint8Array, i: number) => {
      const c = Uint8Array.from(b);
      if (c.length > 0) c[i % c.length]! ^= 0x5a;
      return c;
    };
    const bytes = fc.uint8Array({ maxLength: 300 });
    const packet: fc.Arbitrary<Uint8Array> = fc.oneof(
      bytes,
      fc
        .record({ id: fc.nat({ max: 1000 }), standby: fc.boolean(), epoch: fc.nat() })
        .map((x) => raw({ requestId: x.id, attach: { standby: x.standby, listEpoch: x.epoch as never } })),
      fc.record({ id: fc.nat({ max: 1000 }), i: fc.nat() }).map((x) =>
        raw({
          requestId: x.id,
          publishPresence: {
            presence: { certificate: good.presence.certificate, record: flip(good.presence.record, x.i) },
          },
        }),
      ),
      fc
        .record({ id: fc.nat({ max: 1000 }), name: fc.string({ maxLength: 70 }) })
        .map((x) => raw({ requestId: x.id, lookupPresence: { username: x.name } })),
      fc.record({ id: fc.nat({ max: 1000 }), i: fc.nat() }).map((x) =>
        raw({
          requestId: x.id,
          storeMessage: {
            message: { certificate: flip(good.message.certificate, x.i), message: good.message.message },
          },
        }),
      ),
      fc
        .record({ id: fc.nat({ max: 1000 }), max: fc.nat(), r: fc.string({ maxLength: 40 }) })
        .map((x) => raw({ requestId: x.id, fetchMessages: { maxMessages: x.max, recipient: x.r } })),
      fc
        .record({ id: fc.nat({ max: 1000 }), s: fc.string({ maxLength: 40 }), m: bytes })
        .map((x) =>
          raw({ requestId: x.id, ackMessages: { messages: [{ sender: x.s, messageId: x.m }], recipient: '' } }),
        ),
      fc
        .record({ id: fc.nat({ max: 1000 }), n: fc.nat({ max: 40 }) })
        .map((x) =>
          raw({ requestId: x.id, replicatePresence: { records: Array.from({ length: x.n }, () => good.presence) } }),
        ),
      fc
        .record({ id: fc.nat({ max: 1000 }), n: fc.nat({ max: 40 }) })
        .map((x) =>
          raw({ requestId: x.id, replicateMessages: { messages: Array.from({ length: x.n }, () => good.message) } }),
        ),
      fc.nat({ max: 1000 }).map((id) => raw({ requestId: id, attachReply: { attached: { keepaliveIntervalMs: 1 } } })),
    );
    let raws = 0;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), packet, async (attachFirst, p) => {
        const c = await rawChannel(w, sn, w.user(`user${++raws}`));
        if (attachFirst) {
          const r = await w.run(c.channel.request({ case: 'attach', value: { standby: false, listEpoch: 0 } }));
          expect(r.body.case).toBe('attachReply');
        }
        const before = c.received.length;
        c.send(p);
        await w.run(new Promise<void>((r) => w.sim.schedule(200, r)));
        let requestId: number | undefined;
        try {
          const decoded = decodePacket(p);
          // a response matching no request of ours is discarded by the channel ([WIRE-PKT-3])
          if (!isResponseBody(decoded.body)) requestId = decoded.requestId;
        } catch {
          // not a packet: the channel must close
        }
        const answers = c.received.slice(before).map((b) => decodePacket(b));
        if (c.channel.closed) {
          const code = c.channel.closeReason?.code;
          expect(code !== undefined && isWireCode(code)).toBe(true);
        } else if (requestId !== undefined && requestId !== 0) {
          const a = answers.find((x) => x.requestId === requestId);
          expect(a).toBeDefined();
          if (a!.body.case === 'error') expect(isWireCode(a!.body.value.code)).toBe(true);
        }
        c.channel.close(0, '');
      }),
      { numRuns: 150 },
    );
    expect(sn.log.filter((e) => e.event === 'internal-error')).toEqual([]);
    // still serving
    const after = await w.connect(sn, w.user('latecomer'));
    expect((await w.run(after.attach())).kind).toBe('attached');
  });
});
