/**
 * The dial-back of an attestation (spec/08-connectivity.md §8, [ATTEST-DIAL-2]) over a @parley/net
 * Transport: a TCP connection to the address the attestation service names (the requesting channel's
 * observed address, [ATTEST-DIAL-1]), a stream-channel handshake on it as initiator proving this
 * supernode's ROLE_SUPERNODE certificate, and a responder that must prove a ROLE_USER certificate of the
 * network, valid and not revoked. The channel carries no packet: once the handshake completes it is
 * closed orderly (Close 0) and the responder's verified identity is the result. Whether that identity is
 * the candidate's is the attestation service's check.
 *
 * Everything is bounded by `timeoutMs` on the transport's clock: the connection attempt, the handshake
 * and the wait; at the deadline the channel is abandoned (the stream reset) and the dial-back rejects with
 * TIMEOUT.
 */
import { StreamChannel } from '@parley/channel';
import type { NetAddress, Timer, Transport } from '@parley/net';
import {
  type CryptoSuite,
  certifiedPayloadCodec,
  ErrorCode,
  type LocalIdentity,
  type PeerIdentity,
  ResourceError,
  Role,
  SUPPORTED_PROTOCOL_VERSIONS,
  startInitiator,
  VerifiedCertificateCache,
} from '@parley/wire';
import type { DialBack } from '../connectivity/service.js';
import type { NetworkState } from '../core/network-state.js';

export interface DialBackOptions {
  readonly transport: Transport;
  readonly suite: CryptoSuite;
  readonly identity: LocalIdentity;
  readonly trustAnchors: readonly Uint8Array[];
  readonly state: NetworkState;
  readonly software: string;
}

/** Makes the `DialBack` of ConnectivityDeps: one stream channel per call, closed once it proved who answers. */
export function makeDialBack(options: DialBackOptions): DialBack {
  const { transport, suite, identity, state, software } = options;
  const trustAnchors = [...options.trustAnchors];
  const clock = transport.clock;
  const cache = new VerifiedCertificateCache();
  return (to: NetAddress, timeoutMs: number) =>
    new Promise<PeerIdentity>((resolve, reject) => {
      let done = false;
      let deadline: Timer | undefined;
      const finish = (outcome: { ok: PeerIdentity } | { error: unknown }) => {
        if (done) return;
        done = true;
        deadline?.cancel();
        if ('ok' in outcome) resolve(outcome.ok);
        else reject(outcome.error);
      };
      const channel = StreamChannel.connect<PeerIdentity>(
        transport,
        to,
        {
          clock,
          start: startInitiator({
            suite,
            random: transport.random,
            protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
            payload: certifiedPayloadCodec(suite, {
              identity,
              software,
              // [ATTEST-DIAL-2] a certified ROLE_USER responder of this network, valid now, not revoked.
              policy: () => ({
                trustAnchors,
                nowMs: clock.now(),
                acceptedRoles: [Role.ROLE_USER],
                ...(state.policy !== undefined ? { skewMs: state.policy.certClockSkewMs } : {}),
                isRevoked: state.isRevoked,
                cache,
              }),
            }),
          }),
          events: {
            onEstablished: (c) => {
              // The handshake is all a dial-back needs: leave at once, orderly.
              finish({ ok: c.peer });
              channel.close(0, 'dial-back complete');
            },
            // The candidate has nothing to ask of the dialling supernode.
            onPacket: (p) => {
              if (p.requestId !== 0 && !channel.closed) {
                channel.send({
                  requestId: p.requestId,
                  body: { case: 'error', value: { code: ErrorCode.NOT_AUTHORIZED, detail: 'dial-back' } },
                });
              }
            },
            onClosed: (reason) => {
              finish({
                error:
                  reason.error ??
                  new ResourceError(ErrorCode.RESOURCE_LIMIT, `dial-back channel closed (${reason.code ?? 'no code'})`),
              });
            },
          },
          handshakeTimeoutMs: timeoutMs,
        },
        { timeoutMs },
      );
      if (done) return;
      deadline = clock.setTimer(timeoutMs, () => {
        finish({
          error: new ResourceError(
            ErrorCode.TIMEOUT,
            `dial-back to ${to.host}:${to.port}: no handshake within ${timeoutMs} ms`,
          ),
        });
        channel.close(ErrorCode.TIMEOUT, 'dial-back timed out');
      });
    });
}
