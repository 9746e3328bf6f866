// log/schema.ts: what the log formats (docs/protocol.md sections 5-7) share when they read
// untrusted JSON: the caps on each log file, the field reader bound to a LogError code (so a
// malformed forward link is a BAD_FORWARD_LINK, a malformed block a BAD_BLOCK), and the
// protocol's UTC times.
import type { JsonLimits } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { ROSTER_LIMITS } from '../cosi/index.js';
import { LogError, type LogErrorCode } from './errors.js';

/**
 * Caps on every log file read from a mirror (docs/architecture.md "Untrusted input"). A roster
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

/** The field reader of a log format: it throws LogError `code`, naming `what`. */
export function logReader(code: LogErrorCode, what: string): FieldReader<LogError> {
  return new FieldReader((message) => new LogError(code, message), what);
}

/** A UTC time `YYYY-MM-DDTHH:MM:SSZ` that names a real instant (protocol.md section 5). */
export function readUtcTime(r: FieldReader, value: unknown, field: string): string {
  return r.string(value, field, 20, { valid: (text) => parseUtcTime(text) !== undefined, expected: 'a UTC time YYYY-MM-DDTHH:MM:SSZ' });
}

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
