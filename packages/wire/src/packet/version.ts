/**
 * Protocol versioning (spec/00-conventions.md §3, GEN-VER-*). The version is negotiated in the channel
 * handshake (spec/03-channels.md, `HandshakePayload.protocol_versions`); this module only names it.
 */

/** [GEN-VER-1] The protocol version this implementation speaks, and the only one. */
export const PROTOCOL_VERSION = 1;
/** [GEN-VER-1] Every version this implementation implements, highest first. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = Object.freeze([PROTOCOL_VERSION]);
