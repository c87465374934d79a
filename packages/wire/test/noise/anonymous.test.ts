// The anonymous initiator of a channel to a login server: spec/02-identity.md §7 (ID-HS-11) and
// spec/03-channels.md §4 (CHAN-HS-3).
import { describe, expect, it } from 'vitest';
import { nodeCrypto } from '../../src/crypto/node.js';
import { seededRandom } from '../../src/crypto/random.js';
import { ErrorCode } from '../../src/errors.js';
import { parley } from '../../src/gen/parley.js';
import { Role } from '../../src/identity/certificate.js';
import {
  buildAnonymousHandshakePayload,
  buildHandshakePayload,
  verifyHandshakePayload,
  verifyLoginClientPayload,
} from '../../src/identity/handshake-payload.js';
import { startInitiator, startResponder } from '../../src/noise/channel.js';
import { generateKeyPair } from '../../src/noise/handshake-state.js';
import {
  anonymousPayloadCodec,
  certifiedPayloadCodec,
  loginServerPayloadCodec,
} from '../../src/noise/identity-payload.js';
import { caught } from '../identity/fixtures.js';
import { config, createNetwork, policy, runHandshake } from './pki.js';

const suite = nodeCrypto;
const net = createNetwork(suite, 'anonymous payloads');
const loginIdentity = { chain: [net.loginCert], seed: net.login.seed };
const serverPolicy = policy(net);
const clientPolicy = policy(net, { acceptedRoles: [Role.ROLE_LOGIN] });
const rs = generateKeyPair(suite, seededRandom('rs')).publicKey;

describe('anonymous handshake payloads [ID-HS-11]', () => {
  it('[ID-HS-11] a login server accepts an anonymous payload as an unauthenticated peer', () => {
    const payload = buildAnonymousHandshakePayload({ protocolVersions: [1, 2], software: 'parley-ref/0.1.0' });
    const decoded = parley.v1.HandshakePayload.decode(payload);
    expect(decoded.certificates).toHaveLength(0);
    expect(decoded.staticKeySignature).toHaveLength(0);
    const v = verifyLoginClientPayload(suite, payload, rs, serverPolicy);
    expect(v.peer).toBeNull();
    expect(v.protocolVersions).toEqual([1, 2]);
    expect(v.software).toBe('parley-ref/0.1.0');
  });

  it('[ID-HS-11] [ID-HS-7] every other receiver rejects an anonymous payload (MISSING_FIELD, step 3)', () => {
    const payload = buildAnonymousHandshakePayload({ protocolVersions: [1], software: '' });
    expect(caught(() => verifyHandshakePayload(suite, payload, rs, serverPolicy)).code).toBe(ErrorCode.MISSING_FIELD);
  });

  it('[ID-HS-11] a payload with only one of chain and binding is verified as ID-HS-7 says, and fails', () => {
    const onlySignature = parley.v1.HandshakePayload.encode({
      staticKeySignature: new Uint8Array(64).fill(1),
      protocolVersions: [1],
    }).finish();
    expect(caught(() => verifyLoginClientPayload(suite, onlySignature, rs, serverPolicy)).code).toBe(
      ErrorCode.CHAIN_INVALID,
    );
    const full = parley.v1.HandshakePayload.decode(
      buildHandshakePayload(suite, loginIdentity, rs, { protocolVersions: [1], software: '' }),
    );
    const onlyChain = parley.v1.HandshakePayload.encode({
      certificates: full.certificates,
      protocolVersions: [1],
    }).finish();
    expect(caught(() => verifyLoginClientPayload(suite, onlyChain, rs, serverPolicy)).code).toBe(
      ErrorCode.MISSING_FIELD,
    );
  });

  it('[ID-HS-11] the anonymous payload still obeys the version and software rules of ID-HS-5 and ID-HS-6', () => {
    const noVersions = parley.v1.HandshakePayload.encode({ software: 'x' }).finish();
    expect(caught(() => verifyLoginClientPayload(suite, noVersions, rs, serverPolicy)).code).toBe(
      ErrorCode.MISSING_FIELD,
    );
    const badSoftware = parley.v1.HandshakePayload.encode({ protocolVersions: [1], software: 'a\u202eb' }).finish();
    expect(caught(() => verifyLoginClientPayload(suite, badSoftware, rs, serverPolicy)).code).toBe(ErrorCode.MALFORMED);
    expect(caught(() => buildAnonymousHandshakePayload({ protocolVersions: [], software: '' })).code).toBe(
      ErrorCode.API_MISUSE,
    );
  });

  it('[CHAN-HS-3] [ID-HS-11] an anonymous client completes a channel to a login server, which sees peer null', () => {
    const run = runHandshake({
      initiator: startInitiator(
        config(suite, seededRandom('client'), anonymousPayloadCodec(suite, { policy: clientPolicy, software: 'c' })),
      ),
      responder: startResponder(
        config(
          suite,
          seededRandom('server'),
          loginServerPayloadCodec(suite, { identity: loginIdentity, policy: serverPolicy, software: 's' }),
        ),
      ),
    });
    expect(run.initiator.state.kind).toBe('Established');
    expect(run.responder.state.kind).toBe('Established');
    if (run.initiator.state.kind !== 'Established' || run.responder.state.kind !== 'Established') return;
    expect(run.responder.state.channel.peer).toBeNull();
    expect(run.initiator.state.channel.peer?.certificate.role).toBe(Role.ROLE_LOGIN);
    expect(run.initiator.state.channel.handshakeHash).toEqual(run.responder.state.channel.handshakeHash);
  });

  it('[CHAN-HS-3] [ID-HS-11] a responder that is not a login server closes an anonymous initiator', () => {
    const user = loginIdentity; // any certified responder; its role does not matter to the initiator's failure
    const run = runHandshake({
      initiator: startInitiator(
        config(suite, seededRandom('client'), anonymousPayloadCodec(suite, { policy: clientPolicy, software: 'c' })),
      ),
      responder: startResponder(
        config(
          suite,
          seededRandom('server'),
          certifiedPayloadCodec(suite, { identity: user, policy: serverPolicy, software: 's' }),
        ),
      ),
    });
    expect(run.responder.state.kind).toBe('Closed');
    if (run.responder.state.kind === 'Closed') expect(run.responder.state.error.code).toBe(ErrorCode.MISSING_FIELD);
  });

  it('[ID-HS-11] a login server still verifies a certified initiator fully', () => {
    const run = runHandshake({
      initiator: startInitiator(
        config(
          suite,
          seededRandom('client'),
          certifiedPayloadCodec(suite, {
            identity: { chain: [net.loginCert], seed: net.root.seed },
            policy: clientPolicy,
            software: 'c',
          }),
        ),
      ),
      responder: startResponder(
        config(
          suite,
          seededRandom('server'),
          loginServerPayloadCodec(suite, { identity: loginIdentity, policy: serverPolicy, software: 's' }),
        ),
      ),
    });
    // The initiator sends the LOGIN chain with the root's seed: its binding cannot verify, and the
    // server's policy does not accept ROLE_LOGIN either; the chain is checked first.
    expect(run.responder.state.kind).toBe('Closed');
    if (run.responder.state.kind === 'Closed') expect(run.responder.state.error.code).toBe(ErrorCode.CERT_WRONG_ROLE);
  });
});
