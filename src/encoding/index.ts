// encoding/index.ts: the public API of cairn's encodings (docs/architecture.md "Untrusted input"):
// canonical JSON (the bytes TUF and the log sign), JSON parsing with caps, and the one strict
// reader of untrusted JSON fields.
export { canonicalBytes, type JsonValue, type JsonObject } from './canonical-json.js';
export { parseJsonBounded, parseJsonObject, type JsonLimits } from './bounded-json.js';
export { FieldReader, type JsonRecord, type StringRule } from './field-reader.js';
