/**
 * The shared codec layer (spec/01-packets.md §3-§6): checked protobuf decoding, 64-bit integer
 * conversion, declarative field rules and their receiver- and sender-side checks, and UTF-8 checks.
 * Re-exported by the package index.
 */
export { checkEncoding, checkFields, MAX_NESTING_DEPTH } from './check.js';
export { decodeMessage, encodeMessage, fromSafeInteger, type MessageType, toSafeInteger } from './proto.js';
export {
  type CompiledField,
  defineMessage,
  type FieldKind,
  type FieldRule,
  type MessageRules,
  type MessageRulesInput,
  type ReservedOneofRange,
} from './rules.js';
export { assertEncodableString, assertUtf8, isUtf8, utf8Length } from './utf8.js';
