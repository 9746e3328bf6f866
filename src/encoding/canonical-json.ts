// encoding/canonical-json.ts: the canonical JSON form that TUF signs (TUF spec 4.2,
// "OLPC canonical JSON"): sorted keys, integers only, only '"' and '\' escaped. We use the
// implementation shared with tuf-js so that both sides agree byte for byte.
import { canonicalize } from '@tufjs/canonical-json';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Canonical bytes of a JSON value, as signed by TUF metadata signatures. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}
