// encoding/field-reader.ts: the one strict reader of fields of untrusted JSON (docs/architecture.md
// "Untrusted input"). A document is parsed once with caps (bounded-json.ts), then each format
// reads its fields through a FieldReader into typed values: objects with exactly the fields the
// format allows (or any, where the format says unknown fields are ignored), lowercase hex of a
// fixed or capped length, safe integers in a range, strings and arrays with length caps, base64.
// The reader throws the error its caller chooses, so each format keeps its own error class and
// code (a malformed forward link stays a LogError BAD_FORWARD_LINK, a malformed envelope an
// AttestationError BAD_ENVELOPE).
import { describe } from './bounded-json.js';

/** A JSON object as read from untrusted input: field values not yet checked. */
export type JsonRecord = Record<string, unknown>;

/** Lowercase hexadecimal digits (possibly none). */
export const LOWER_HEX = /^[0-9a-f]*$/;

/** Standard base64 (RFC 4648 section 4) with padding. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Longest excerpt of an untrusted value quoted in a message. */
const MAX_QUOTED_CHARS = 64;

export interface StringRule {
  /** Fewest characters (default 0). */
  min?: number;
  /** The string must match this. */
  pattern?: RegExp;
  /** A further check of the string's meaning (a real date, a URL). */
  valid?: (text: string) => boolean;
  /** What the field must be, for messages, when `pattern` or `valid` is given. */
  expected?: string;
}

/**
 * Reads fields of untrusted JSON values. `error` makes the caller's typed error from a message;
 * `what` names the document in every message (`${what}: ${field} must be ...`).
 */
export class FieldReader<E extends Error = Error> {
  constructor(
    private readonly error: (message: string) => E,
    readonly what = '',
  ) {}

  /** The caller's error for `why`, prefixed with the document's name. */
  fail(why: string): E {
    return this.error(this.what === '' ? why : `${this.what}: ${why}`);
  }

  /** A reader with the same error, for a document named `what` (a nested file, an entry). */
  named(what: string): FieldReader<E> {
    return new FieldReader(this.error, what);
  }

  /** An object with any fields: a map, or a format that ignores unknown fields. */
  object(value: unknown, field = ''): JsonRecord {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw this.fail(field === '' ? `expected an object, found ${describe(value)}` : `${field} must be an object, found ${describe(value)}`);
    }
    return value as JsonRecord;
  }

  /** An object with exactly the `required` fields and any of the `optional` ones; others are refused. */
  exact(value: unknown, field: string, required: readonly string[], optional: readonly string[] = []): JsonRecord {
    const o = this.object(value, field);
    const at = field === '' ? '' : `${field}: `;
    for (const k of Object.keys(o)) {
      if (!required.includes(k) && !optional.includes(k)) throw this.fail(`${at}unexpected field ${quote(k)}`);
    }
    for (const k of required) if (!Object.hasOwn(o, k)) throw this.fail(`${at}missing field "${k}"`);
    return o;
  }

  /** The entries of an object used as a map, at most `max` of them, keys of 1 to `maxKeyChars` characters. */
  entries(value: unknown, field: string, max: number, maxKeyChars = 4096): Array<[string, unknown]> {
    const o = this.object(value, field);
    const keys = Object.keys(o);
    if (keys.length > max) throw this.fail(`${field} has ${keys.length} entries, at most ${max} are allowed`);
    for (const k of keys) {
      if (k.length === 0 || k.length > maxKeyChars) throw this.fail(`${field}: a key of ${k.length} characters (1 to ${maxKeyChars} allowed)`);
    }
    return keys.map((k) => [k, o[k]]);
  }

  /** A safe integer from `min` to `max` (non-negative by default). */
  integer(value: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? (min === 0 ? 'a non-negative integer' : `an integer of at least ${min}`) : `an integer from ${min} to ${max}`;
      throw this.fail(`${field} must be ${range}, found ${quote(value)}`);
    }
    return value;
  }

  /** Lowercase hex of exactly `bytes` bytes (a SHA-256 digest when 32). */
  hex(value: unknown, field: string, bytes = 32): string {
    if (typeof value !== 'string' || value.length !== bytes * 2 || !LOWER_HEX.test(value)) {
      throw this.fail(`${field} must be ${bytes} bytes of lowercase hex`);
    }
    return value;
  }

  /** Lowercase hex of `minBytes` to `maxBytes` bytes (an even number of digits). */
  hexUpTo(value: unknown, field: string, maxBytes: number, minBytes = 0): string {
    if (typeof value !== 'string' || value.length % 2 !== 0 || !LOWER_HEX.test(value)) throw this.fail(`${field} must be lowercase hex`);
    if (value.length > 2 * maxBytes || value.length < 2 * minBytes) {
      throw this.fail(`${field} must be lowercase hex of ${minBytes === 0 ? 'at most' : `${minBytes} to`} ${maxBytes} bytes, found ${value.length / 2}`);
    }
    return value;
  }

  /** A string of at most `max` characters, meeting `rule`. */
  string(value: unknown, field: string, max: number, rule: StringRule = {}): string {
    const min = rule.min ?? 0;
    if (typeof value !== 'string' || value.length > max || value.length < min) {
      const size = min === 0 ? `at most ${max}` : min === max ? `exactly ${max}` : `${min} to ${max}`;
      throw this.fail(`${field} must be a string of ${size} characters, found ${typeof value === 'string' ? `${value.length} characters` : describe(value)}`);
    }
    if ((rule.pattern !== undefined && !rule.pattern.test(value)) || (rule.valid !== undefined && !rule.valid(value))) {
      throw this.fail(`${field} must be ${rule.expected ?? `a string matching ${String(rule.pattern)}`}, found ${quote(value)}`);
    }
    return value;
  }

  /** Standard base64 with padding, of at most `maxChars` characters. */
  base64(value: unknown, field: string, maxChars: number): string {
    if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value)) throw this.fail(`${field} must be standard base64`);
    if (value.length > maxChars) throw this.fail(`${field} is ${value.length} characters of base64, at most ${maxChars} are allowed`);
    return value;
  }

  /** Exactly the string `expected`. */
  literal<T extends string>(value: unknown, field: string, expected: T): T {
    if (value !== expected) throw this.fail(`${field} must be "${expected}", found ${quote(value)}`);
    return expected;
  }

  /** One of the strings `allowed`. */
  oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      throw this.fail(`${field} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, found ${quote(value)}`);
    }
    return value as T;
  }

  boolean(value: unknown, field: string): boolean {
    if (typeof value !== 'boolean') throw this.fail(`${field} must be true or false, found ${quote(value)}`);
    return value;
  }

  /** An array of `min` to `max` entries (entries are read by the caller). */
  array(value: unknown, field: string, max: number, min = 0): unknown[] {
    if (!Array.isArray(value) || value.length > max || value.length < min) {
      const size = min === 0 ? `at most ${max}` : `${min} to ${max}`;
      throw this.fail(`${field} must be an array of ${size} entries, found ${Array.isArray(value) ? `${value.length}` : describe(value)}`);
    }
    return value;
  }
}

/** A short quotation of an untrusted value for messages (never the whole of a long string). */
function quote(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > MAX_QUOTED_CHARS ? `${JSON.stringify(value.slice(0, MAX_QUOTED_CHARS))}... (${value.length} characters)` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return describe(value);
}
