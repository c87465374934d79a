/**
 * The README's main job (for now): two certified identities complete a Parley handshake
 * (Noise_XX_25519_ChaChaPoly_SHA256 with certificate-bound payloads, spec/03-channels.md) over a real
 * TCP connection on loopback and exchange encrypted packets; then two impostors are turned away with
 * the error codes the spec names. It prints what happens, step by step, and exits non-zero if any step
 * does not go as the spec says.
 *
 * The socket driver here is deliberately small: it frames bytes (CHAN-FRAME-*), feeds the sans-I/O
 * handshake state machine, and after the handshake encrypts and decrypts one packet per frame.
 *
 *   node packages/wire/dist/examples/tcp-handshake.js [--json]
 */
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import {
  type ChannelConfig,
  type ChannelState,
  certifiedPayloadCodec,
  createRootKey,
  decodePacket,
  type EstablishedChannel,
  encodeFrame,
  encodePacket,
  errorCodeName,
  FrameDecoder,
  fingerprintHex,
  generateKeyPair,
  generateSigningKey,
  handleMessage,
  issueCertificate,
  type LocalIdentity,
  networkFingerprint,
  nodeCrypto,
  type Packet,
  type ParleyError,
  type PeerIdentity,
  Role,
  type RootKey,
  type Step,
  startInitiator,
  startResponder,
  systemRandom,
  VerifiedCertificateCache,
} from '../src/index.js';

const suite = nodeCrypto;
const HOUR = 3_600_000;
const json = process.argv.includes('--json');
const events: object[] = [];
const hex = (b: Uint8Array, n = 12) => Buffer.from(b.subarray(0, n)).toString('hex') + (b.length > n ? '…' : '');
function say(who: string, text: string, data: object = {}): void {
  events.push({ who, text, ...data });
  if (!json) console.log(`${`[${who}]`.padEnd(10)} ${text}`);
}

// ---- A network: an offline root key, a login server certified by it, users certified by the login server.
interface Issuer {
  root: RootKey;
  login: ReturnType<typeof generateSigningKey>;
  loginCert: Uint8Array;
  serial: number;
}
function network(name: string): Issuer {
  const now = Date.now();
  const root = createRootKey(suite, systemRandom);
  const login = generateSigningKey(suite, systemRandom);
  const loginCert = issueCertificate(suite, root, {
    subject: `login.${name}`,
    subjectKey: login.publicKey,
    deviceId: systemRandom.randomBytes(16),
    role: Role.ROLE_LOGIN,
    serial: 1,
    notBefore: now - HOUR,
    notAfter: now + 30 * 24 * HOUR,
  });
  return { root, login, loginCert, serial: 100 };
}
function user(net: Issuer, name: string, validity: { notBefore: number; notAfter: number }): LocalIdentity {
  const key = generateSigningKey(suite, systemRandom);
  const cert = issueCertificate(suite, net.login, {
    subject: name,
    subjectKey: key.publicKey,
    deviceId: systemRandom.randomBytes(16),
    role: Role.ROLE_USER,
    serial: net.serial++,
    ...validity,
  });
  return { chain: [cert, net.loginCert], seed: key.seed };
}

function channelConfig(identity: LocalIdentity, trusted: RootKey, software: string): ChannelConfig<PeerIdentity> {
  const cache = new VerifiedCertificateCache();
  return {
    suite,
    random: systemRandom,
    protocolVersions: [1],
    staticKey: generateKeyPair(suite, systemRandom),
    payload: certifiedPayloadCodec(suite, {
      identity,
      software,
      // The clock is read when the peer's payload arrives ([ID-CERT-12]).
      policy: () => ({ trustAnchors: [trusted.publicKey], nowMs: Date.now(), acceptedRoles: [Role.ROLE_USER], cache }),
    }),
  };
}

// ---- The driver: one socket, one channel.
type Outcome = { ok: true; channel: EstablishedChannel<PeerIdentity> } | { ok: false; error: ParleyError };

class Connection {
  readonly decoder = new FrameDecoder();
  state: ChannelState<PeerIdentity>;
  channel: EstablishedChannel<PeerIdentity> | undefined;
  readonly packets: Packet[] = [];
  private settle!: (o: Outcome) => void;
  readonly handshake = new Promise<Outcome>((r) => {
    this.settle = r;
  });
  private packetWaiters: ((p: Packet) => void)[] = [];
  private sent = 0;

  constructor(
    readonly who: string,
    readonly role: 'initiator' | 'responder',
    readonly socket: Socket,
    start: Step<PeerIdentity>,
  ) {
    this.state = start.state;
    socket.on('data', (chunk) => this.receive(chunk));
    socket.on('error', () => {});
    this.act(start);
  }

  private act(step: Step<PeerIdentity>): void {
    this.state = step.state;
    for (const a of step.actions) {
      if (a.kind === 'Send') {
        // [CHAN-HS-1..3] msg1 and msg3 come from the initiator, msg2 from the responder.
        const n = this.role === 'responder' ? 2 : this.sent++ === 0 ? 1 : 3;
        const tokens = { 1: '-> e', 2: '<- e, ee, s, es + certificate chain', 3: '-> s, se + certificate chain' }[n];
        say(this.who, `msg${n} (${tokens}): ${a.message.length} bytes ${hex(a.message)}`);
        this.socket.write(encodeFrame(a.message));
      } else if (a.kind === 'Established') {
        this.channel = a.channel;
        this.settle({ ok: true, channel: a.channel });
      } else {
        // [CHAN-HS-6] Any failure closes the channel; nothing from the handshake is used.
        this.socket.destroy();
        this.settle({ ok: false, error: a.error });
      }
    }
  }

  private receive(chunk: Uint8Array): void {
    try {
      for (const frame of this.decoder.push(chunk)) {
        if (this.channel) {
          const packet = decodePacket(this.channel.transport.decrypt(frame));
          const waiter = this.packetWaiters.shift();
          if (waiter) waiter(packet);
          else this.packets.push(packet);
        } else if (this.state.kind !== 'Closed') {
          this.act(handleMessage(this.state, frame));
        }
      }
    } catch (e) {
      this.socket.destroy();
      this.settle({ ok: false, error: e as ParleyError });
    }
  }

  send(packet: Packet): number {
    if (!this.channel) throw new Error('not established');
    const frame = encodeFrame(this.channel.transport.encrypt(encodePacket(packet)));
    this.socket.write(frame);
    return frame.length;
  }

  nextPacket(): Promise<Packet> {
    const p = this.packets.shift();
    return p ? Promise.resolve(p) : new Promise((r) => this.packetWaiters.push(r));
  }
}

function describePeer(p: PeerIdentity): string {
  const c = p.certificate;
  const hours = ((c.notAfter - Date.now()) / HOUR).toFixed(1);
  return `${c.subject} (role ${Role[c.role]}, serial ${c.serial}, valid ${hours} h more, network ${fingerprintHex(p.networkFingerprint).slice(0, 16)}…)`;
}

export async function main(): Promise<number> {
  const now = Date.now();
  const net = network('demo');
  say(
    'network',
    `root key fingerprint ${fingerprintHex(networkFingerprint(suite, net.root.publicKey))} (clients pin it)`,
  );
  say('login', `login server certified by the root; issuing 24 h user certificates`);
  const alice = user(net, 'alice', { notBefore: now - HOUR, notAfter: now + 23 * HOUR });
  const bob = user(net, 'bob', { notBefore: now - HOUR, notAfter: now + 23 * HOUR });

  // Bob listens; every accepted connection runs the responder side with bob's identity.
  const bobConfig = channelConfig(bob, net.root, 'parley-demo/1');
  const accepted: Connection[] = [];
  const server = createServer((socket) =>
    accepted.push(new Connection('bob', 'responder', socket, startResponder(bobConfig))),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  say('bob', `listening on TCP 127.0.0.1:${port}`);

  const dial = async (who: string, identity: LocalIdentity, trusted: RootKey) => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    say(who, `connected to 127.0.0.1:${port}`);
    return new Connection(who, 'initiator', socket, startInitiator(channelConfig(identity, trusted, 'parley-demo/1')));
  };

  let failures = 0;
  const check = (ok: boolean, what: string) => {
    if (!ok) {
      failures++;
      say('demo', `FAILED: ${what}`);
    }
  };

  // 1. Alice and bob: a complete, mutually authenticated handshake.
  const a = await dial('alice', alice, net.root);
  const aOut = await a.handshake;
  const b = accepted[0]!;
  const bOut = await b.handshake;
  if (!aOut.ok || !bOut.ok) {
    say(
      'demo',
      `handshake failed: ${!aOut.ok ? errorCodeName(aOut.error.code) : ''} ${!bOut.ok ? errorCodeName(bOut.error.code) : ''}`,
    );
    server.close();
    return 1;
  }
  say('alice', `verified bob: ${describePeer(aOut.channel.peer)}`);
  say('bob', `verified alice: ${describePeer(bOut.channel.peer)}`);
  const same = Buffer.compare(aOut.channel.handshakeHash, bOut.channel.handshakeHash) === 0;
  say(
    'both',
    `handshake hash ${hex(aOut.channel.handshakeHash, 32)} (identical on both ends: ${same ? 'yes' : 'NO'}), protocol version ${aOut.channel.protocolVersion}`,
  );
  check(same, 'handshake hashes differ');
  check(
    aOut.channel.peer.certificate.subject === 'bob' && bOut.channel.peer.certificate.subject === 'alice',
    'wrong peer subjects',
  );

  // 2. Encrypted packets both ways: Ping with a message, Pong echoing it.
  for (const [i, text] of ['hello bob', 'this frame is ChaCha20-Poly1305 under a key only we hold'].entries()) {
    const data = new TextEncoder().encode(text);
    const bytes = a.send({ requestId: i + 1, body: { case: 'ping', value: { sequence: i + 1, data } } });
    say('alice', `-> Ping #${i + 1} "${text}" (${data.length} bytes of data, ${bytes} bytes on the wire)`);
    const got = await b.nextPacket();
    const gotText = got.body.case === 'ping' ? new TextDecoder().decode(got.body.value.data) : '?';
    say('bob', `<- ${got.body.case} #${got.requestId} "${gotText}"; -> Pong`);
    check(gotText === text, 'ping payload changed in transit');
    b.send({
      requestId: got.requestId,
      body: {
        case: 'pong',
        value: { sequence: i + 1, data: got.body.case === 'ping' ? got.body.value.data : new Uint8Array() },
      },
    });
    const pong = await a.nextPacket();
    say('alice', `<- ${pong.body.case} #${pong.requestId}`);
    check(pong.body.case === 'pong' && pong.requestId === i + 1, 'no matching pong');
  }
  a.send({ requestId: 0, body: { case: 'close', value: { code: 0, detail: 'bye' } } });
  const close = await b.nextPacket();
  say('bob', `<- ${close.body.case} "${close.body.case === 'close' ? close.body.value.detail : ''}"`);
  a.socket.end();

  // 3. Impostors: a user of another network, and a user whose certificate has expired.
  const other = network('elsewhere');
  const mallory = user(other, 'mallory', { notBefore: now - HOUR, notAfter: now + 23 * HOUR });
  const eve = user(net, 'eve', { notBefore: now - 30 * HOUR, notAfter: now - 6 * HOUR });
  for (const [who, identity, expected] of [
    ['mallory', mallory, 'NETWORK_MISMATCH'],
    ['eve', eve, 'CERT_EXPIRED'],
  ] as const) {
    // The impostor trusts bob's network, so that it is bob who judges the impostor's certificate.
    const c = await dial(who, identity, net.root);
    const server = accepted[accepted.length - 1]!;
    const verdict = await server.handshake;
    await c.handshake;
    const code = verdict.ok ? 'accepted' : errorCodeName(verdict.error.code);
    say('bob', `rejected ${who}'s certificate: ${code} (the spec says ${expected})`);
    check(code === expected, `${who} was not rejected with ${expected}`);
  }

  server.close();
  say('demo', failures === 0 ? 'done: every step went as the spec says' : `${failures} step(s) failed`);
  if (json) console.log(JSON.stringify({ ok: failures === 0, events }, null, 2));
  return failures === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await main();
