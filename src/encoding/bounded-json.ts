// encoding/bounded-json.ts: parse untrusted JSON once, at the edge, with caps on size, depth
// and the number of entries (docs/architecture.md "Untrusted input").
import { FormatError } from '../errors/index.js';
import type { JsonObject, JsonValue } from './canonical-json.js';

export interface JsonLimits {
  /** Largest document accepted, in bytes. */
  maxBytes: number;
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
  /** Most values (of any kind) in the whole document. */
  maxEntries: number;
}

const DEFAULT_JSON_LIMITS: JsonLimits = {
  maxBytes: 64 * 1024 * 1024,
  maxDepth: 32,
  maxEntries: 5_000_000,
};

/** Parses `bytes` as JSON, refusing documents beyond `limits`. `what` names it in errors. */
export function parseJsonBounded(bytes: Uint8Array | string, what: string, limits: JsonLimits = DEFAULT_JSON_LIMITS): JsonValue {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  if (size > limits.maxBytes) {
    throw new FormatError('TOO_LARGE', `${what} is ${size} bytes, the limit is ${limits.maxBytes}`);
  }
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FormatError('MALFORMED_JSON', `${what} is not valid JSON: ${(e as Error).message}`);
  }
  checkShape(value, what, limits);
  return value as JsonValue;
}

/** Like parseJsonBounded, but the top level must be an object. */
export function parseJsonObject(bytes: Uint8Array | string, what: string, limits?: JsonLimits): JsonObject {
  const value = parseJsonBounded(bytes, what, limits);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FormatError('SCHEMA', `${what}: expected a JSON object, found ${describe(value)}`);
  }
  return value;
}

function checkShape(root: unknown, what: string, limits: JsonLimits): void {
  // Iterative walk: hostile nesting cannot blow the stack. Values are counted before any is
  // pushed, and only containers are pushed: a huge flat array is refused at its count, never
  // turned into millions of stack entries.
  const stack: Array<[object, number]> = [];
  let entries = 0;
  const count = (values: number): void => {
    entries += values;
    if (entries > limits.maxEntries) throw new FormatError('TOO_MANY_ENTRIES', `${what} has more than ${limits.maxEntries} values`);
  };
  const enter = (value: unknown, depth: number): void => {
    if (value === null || typeof value !== 'object') return;
    if (depth >= limits.maxDepth) throw new FormatError('TOO_DEEP', `${what} nests deeper than ${limits.maxDepth} levels`);
    stack.push([value, depth]);
  };
  count(1);
  enter(root, 0);
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    const children = Array.isArray(value) ? value : Object.values(value);
    count(children.length);
    for (const child of children) enter(child, depth + 1);
  }
}

/** The kind of a JSON value, for messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
