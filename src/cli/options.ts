// cli/options.ts: the one home of the command line's option parsers (each refuses a malformed
// value with UsageError BAD_ARGUMENT, exit 2, naming the option and the value found) and of key
// loading. Key files are read only when a command signs, so commands that never do load nothing
// of it.
import type { Command } from 'commander';
import type { WitnessKey } from '../cosi/index.js';
import type { Signer } from '../crypto/signer.js';
import { UsageError } from '../errors/index.js';

/** `--leader-key FILE` of the commands that lead the release log (docs/witness.md "Who may lead"). */
export function leaderKeyOption(c: Command): Command {
  return c.option('--leader-key <file>', 'witness key file (DIR/witness-key.json) of a roster member: it signs the requests to the witnesses');
}

/** The leader options of `--leader-key FILE` (the key is read only when given). */
export async function loadLeaderKey(file: string | undefined): Promise<{ leaderKey?: WitnessKey }> {
  if (file === undefined) return {};
  const { loadWitnessKey } = await import('../witness/index.js'); // loaded only when given: most commands never need the witness layer
  return { leaderKey: await loadWitnessKey(file) };
}

/** commander reducer for a repeatable option. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

function integer(name: string, v: string, min: number, max: number, what: string): number {
  const n = /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError('BAD_ARGUMENT', `${name} must be ${what}, not "${v}"`);
  return n;
}

/** commander parser for a positive integer option named `name`. */
export function positiveInt(name: string): (v: string) => number {
  return (v) => integer(name, v, 1, Number.MAX_SAFE_INTEGER, 'a positive integer');
}

/** commander parser for a TCP port (0 picks a free one). */
export function portNumber(name: string): (v: string) => number {
  return (v) => integer(name, v, 0, 65_535, 'an integer from 0 to 65535');
}

/** commander parser for SOURCE_DATE_EPOCH-like options: whole seconds since 1970. */
export function epochSeconds(name: string): (v: string) => number {
  return (v) => integer(name, v, 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer (seconds since 1970)');
}

/** commander parser for a positive duration in seconds (fractions allowed). */
export function secondsOption(name: string): (v: string) => number {
  return (v) => {
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
    if (!Number.isFinite(n) || n <= 0) throw new UsageError('BAD_ARGUMENT', `${name} must be a positive number of seconds, not "${v}"`);
    return n;
  };
}

const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86_400, w: 7 * 86_400 } as const;

/** Seconds of a duration such as `365d`, `12h`, `30m`, `2w`, `45s`; undefined when `v` is not one. */
function durationOf(v: string): number | undefined {
  const m = /^(\d{1,9})([smhdw])$/.exec(v.trim());
  const seconds = m ? Number(m[1]) * DURATION_UNITS[m[2] as keyof typeof DURATION_UNITS] : 0;
  return seconds > 0 ? seconds : undefined;
}

/** commander parser for a duration option (`90d`, `12h`, `30m`, `2w`, `45s`), in seconds. */
export function durationOption(name: string): (v: string) => number {
  return (v) => {
    const seconds = durationOf(v);
    if (seconds === undefined) throw new UsageError('BAD_ARGUMENT', `${name} must be a positive duration: a number and a unit (s, m, h, d, w) such as 90d, not "${v}"`);
    return seconds;
  };
}

/** commander parser for an expiry option: a duration from now (`90d`) or a date-time (`2030-01-01T00:00:00Z`). */
export function expiryOption(name: string): (v: string) => Date {
  return (v) => {
    const seconds = durationOf(v);
    if (seconds !== undefined) return new Date(Date.now() + seconds * 1000);
    const t = Date.parse(v);
    if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(t)) {
      throw new UsageError('BAD_ARGUMENT', `${name} must be a duration (90d) or a date-time (2030-01-01T00:00:00Z), not "${v}"`);
    }
    return new Date(t);
  };
}

/** commander parser for an option that takes one of `allowed`. */
export function oneOf<T extends string>(name: string, allowed: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(allowed as readonly string[]).includes(v)) throw new UsageError('BAD_ARGUMENT', `${name} must be one of ${allowed.join(', ')}, not "${v}"`);
    return v as T;
  };
}

/** Loads signers from key files, asking for a passphrase (env or prompt) only for encrypted ones. */
export async function loadSigners(paths: readonly string[], passphraseEnv: string): Promise<Signer[]> {
  const { readKeyFileHeader, loadSigner: loadKeyFileSigner } = await import('../crypto/key-file.js');
  const { readPassphrase } = await import('./passphrase.js');
  const out: Signer[] = [];
  for (const path of paths) {
    const header = await readKeyFileHeader(path);
    const passphrase = header.encryption ? await readPassphrase(passphraseEnv, `passphrase for ${path}: `) : undefined;
    out.push(await loadKeyFileSigner(path, passphrase));
  }
  return out;
}

/** Loads one signer from a key file (see loadSigners). */
export async function loadSigner(path: string, passphraseEnv: string): Promise<Signer> {
  return (await loadSigners([path], passphraseEnv))[0]!;
}
