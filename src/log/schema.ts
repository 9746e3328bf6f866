// log/schema.ts: the small strict readers that turn untrusted JSON of the log formats
// (docs/protocol.md sections 5-7) into typed values: exact field sets, lowercase hex of fixed
// length, safe non-negative integers, UTC times. Each reader throws the LogError code its caller
// names, so a malformed forward link is a BAD_FORWARD_LINK, a malformed block a BAD_BLOCK.
import type { JsonLimits } from '../encoding/bounded-json.js';
import { ROSTER_LIMITS } from '../cosi/index.js';
import { LogError, type LogErrorCode } from './errors.js';

export type JsonRecord = Record<string, unknown>;

/**
 * Caps on every log file read from a mirror (STYLE.md "Untrusted bytes are bounded"). A roster
 * file is capped as cosi caps rosters (ROSTER_LIMITS: 10,000 witnesses); a block may carry one
 * roster plus up to 256 root signatures and its small fixed fields; a link or head file is a
 * small fixed shape plus a bitmap of at most 1,250 bytes.
 */
export const LOG_FILE_LIMITS: Readonly<Record<'block' | 'link' | 'roster' | 'head', JsonLimits>> = {
  block: { maxBytes: ROSTER_LIMITS.maxBytes + 1024 * 1024, maxDepth: 8, maxEntries: 6 * ROSTER_LIMITS.maxWitnesses + 2_000 },
  link: { maxBytes: 16 * 1024, maxDepth: 4, maxEntries: 64 },
  roster: { maxBytes: ROSTER_LIMITS.maxBytes, maxDepth: 4, maxEntries: 6 * ROSTER_LIMITS.maxWitnesses + 8 },
  head: { maxBytes: 16 * 1024, maxDepth: 4, maxEntries: 64 },
};

/** A reader bound to an error code and a description of the document being read. */
export class Reader {
  constructor(
    readonly code: LogErrorCode,
    readonly what: string,
  ) {}

  fail(why: string): LogError {
    return new LogError(this.code, `${this.what}: ${why}`);
  }

  /** An object with exactly these fields (the hash covers every field, so no extras). */
  object(value: unknown, fields: readonly string[], where = ''): JsonRecord {
    const at = where === '' ? '' : `${where}: `;
    if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
      throw this.fail(`${at}expected an object`);
    }
    for (const k of Object.keys(value)) if (!fields.includes(k)) throw this.fail(`${at}unexpected field "${k}"`);
    for (const k of fields) if (!Object.hasOwn(value, k)) throw this.fail(`${at}missing field "${k}"`);
    return value as JsonRecord;
  }

  /** A non-negative safe integer, at most `max`. */
  integer(value: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      throw this.fail(`${field} must be an integer from ${min} to ${max}, found ${JSON.stringify(value)}`);
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

  literal<T extends string>(value: unknown, field: string, expected: T): T {
    if (value !== expected) throw this.fail(`${field} must be "${expected}", found ${JSON.stringify(value)}`);
    return expected;
  }

  /** A UTC time `YYYY-MM-DDTHH:MM:SSZ` that names a real instant. */
  time(value: unknown, field: string): string {
    if (typeof value !== 'string' || parseUtcTime(value) === undefined) {
      throw this.fail(`${field} must be a UTC time YYYY-MM-DDTHH:MM:SSZ, found ${JSON.stringify(value)}`);
    }
    return value;
  }

  array(value: unknown, field: string, max: number): unknown[] {
    if (!Array.isArray(value) || value.length > max) throw this.fail(`${field} must be an array of at most ${max} entries`);
    return value;
  }
}

export const LOWER_HEX = /^[0-9a-f]*$/;
const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

/** Seconds since the epoch of a protocol time, or undefined if it is not one. */
export function parseUtcTime(text: string): number | undefined {
  const m = TIME.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) return undefined;
  // Date.parse rolls 2026-02-30 over to March; a protocol time must round-trip exactly.
  if (new Date(ms).toISOString().replace('.000Z', 'Z') !== text) return undefined;
  return ms / 1000;
}

/** The protocol form of an instant (seconds are truncated). */
export function formatUtcTime(secondsSinceEpoch: number): string {
  return new Date(Math.floor(secondsSinceEpoch) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
