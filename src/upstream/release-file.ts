// upstream/release-file.ts: an archive suite's release file, InRelease (the Debian repository
// format, wiki.debian.org/DebianRepository/Format "Release files"), verified: its clearsigned text
// against the archive's keyring (clearsigned.ts), its Date not in the future and not older than
// the newest one seen of the same archive (its signed Origin and Codename, under any key of the
// keyring: a mirror replaying an old release file, with its old, vulnerable packages, is refused,
// also with some of its signatures stripped), its Valid-Until not passed. Only the signed text is
// read: the files it lists (SHA256: digest, size, path) are what every later link of the chain is
// checked against.
import type { PublicKey } from 'openpgp';
import { checksumLines, parseDeb822, type ChecksumLine } from './deb822.js';
import { verifyClearsigned } from './clearsigned.js';
import { UpstreamError } from './errors.js';

/** A verified release file: its dates, the files it lists, its signers and the bytes it was verified from. */
export interface VerifiedRelease {
  suite: string;
  /** The signed Origin ("Debian"), if any. */
  origin: string | undefined;
  /**
   * Under which names its Date is recorded for rollback checks: its signed Origin and Codename
   * (or Suite) with each key that signed it (see ReleaseCheck.lastSeen).
   */
  seenAs: string[];
  date: Date;
  validUntil: Date | undefined;
  /** Whether the archive serves indexes by hash (`Acquire-By-Hash: yes`): fetched so, an index cannot change under a fetch. */
  byHash: boolean;
  /** The files listed, by path (dists/SUITE/PATH). */
  files: ReadonlyMap<string, ChecksumLine>;
  /** Fingerprints of the keyring's keys whose signatures verified. */
  signers: string[];
}

/** How far in the future a release file's Date may be (clocks differ a little). */
export const CLOCK_SKEW_MS = 10 * 60 * 1000;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A release file's date (RFC 2822 in UTC, as Debian writes it: "Sat, 11 Jul 2026 10:16:37 UTC"). */
export function parseReleaseDate(value: string, what: string): Date {
  const m = /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (?:UTC|GMT|\+0000|Z)$/.exec(value.trim());
  const month = m === null ? -1 : MONTHS.indexOf(m[2]!);
  if (m === null || month < 0) throw new UpstreamError('MALFORMED', `${what}: expected a date like "Sat, 11 Jul 2026 10:16:37 UTC", found ${JSON.stringify(value.slice(0, 60))}`);
  const date = new Date(Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])));
  if (date.getUTCDate() !== Number(m[1]) || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 60) throw new UpstreamError('MALFORMED', `${what}: ${JSON.stringify(value)} is not a real date`);
  return date;
}

export interface ReleaseCheck {
  /** The keyring the archive is checked with (apt's for it). */
  keys: readonly PublicKey[];
  /** Now. */
  now: Date;
  /**
   * The newest Date seen before under a name (VerifiedRelease.seenAs), if any. A release file is
   * a rollback when it is older than what was seen under its Origin and Codename with *any* key of
   * the keyring: a mirror of the archive at another address is caught, and so is a file whose
   * other signatures were stripped; another archive, with keys of its own, cannot move the date.
   */
  lastSeen?: (name: string) => Date | undefined;
  /** The suite the file must be for (its Suite or Codename field). */
  suite: string;
  /**
   * 'fetched' (the default): the file was just fetched, and must be valid now. 'recorded': a file
   * kept since an import, verified again: its keys as of signing and not revoked now, its
   * Valid-Until not checked (it bounded how long a mirror may serve it, checked at the import).
   */
  source?: 'fetched' | 'recorded';
}

/** Verifies the InRelease file `file` (see the header); `what` names it in messages. */
export async function verifyInRelease(file: string, check: ReleaseCheck, what: string): Promise<VerifiedRelease> {
  // Signatures are checked as of now: a key that has expired or been revoked since no longer vouches for anything.
  const recorded = check.source === 'recorded';
  const { text, signers } = await verifyClearsigned(file, check.keys, check.now, what, { keysValidAt: recorded ? 'signing' : 'date' });
  const paragraphs = parseDeb822(text, what, { maxParagraphs: 1, maxFields: 100 });
  const release = paragraphs[0];
  if (release === undefined) throw new UpstreamError('MALFORMED', `${what}'s signed text has no fields`);
  // The suite: a release file of another suite (an old one, signed by the same key) served in its place is refused.
  const names = [release.get('Suite'), release.get('Codename')].filter((n): n is string => n !== undefined);
  if (!names.includes(check.suite)) throw new UpstreamError('MALFORMED', `${what} is the release file of ${names.join(' / ') || 'no named suite'}, not of ${check.suite}`);
  const date = parseReleaseDate(release.require('Date', what), `${what} Date`);
  if (date.getTime() > check.now.getTime() + CLOCK_SKEW_MS) throw new UpstreamError('EXPIRED', `${what} is dated ${date.toISOString()}, in the future (now ${check.now.toISOString()})`);
  const archive = `${release.get('Origin') ?? '(no origin)'} ${release.get('Codename') ?? release.get('Suite')}`;
  for (const key of check.keys) {
    const lastSeen = check.lastSeen?.(`${archive} ${key.getFingerprint()}`);
    if (lastSeen !== undefined && date.getTime() < lastSeen.getTime()) {
      throw new UpstreamError('DATE_ROLLBACK', `${what} is dated ${date.toISOString()}, older than the release file of ${archive} seen before (${lastSeen.toISOString()}, signed by ${key.getFingerprint()})`);
    }
  }
  const until = release.get('Valid-Until');
  const validUntil = until === undefined ? undefined : parseReleaseDate(until, `${what} Valid-Until`);
  if (!recorded && validUntil !== undefined && validUntil.getTime() < check.now.getTime()) throw new UpstreamError('EXPIRED', `${what} was valid until ${validUntil.toISOString()} (now ${check.now.toISOString()})`);
  const files = new Map<string, ChecksumLine>();
  for (const line of checksumLines(release.require('SHA256', what), `${what} SHA256`)) files.set(line.name, line);
  return { suite: check.suite, origin: release.get('Origin'), seenAs: signers.map((fp) => `${archive} ${fp}`), date, validUntil, byHash: (release.get('Acquire-By-Hash') ?? '').toLowerCase() === 'yes', files, signers };
}
