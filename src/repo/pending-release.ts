// repo/pending-release.ts: a release waiting for its block to be co-signed (docs/protocol.md
// section 5; docs/witness.md "Failure handling and recovery"). A witness that answered a round
// for block n never co-signs another block at n, so a publisher whose round failed after some
// witnesses answered must propose exactly that block again, and then write exactly the TUF files
// that block records. Before the first round, the release is saved here, with every file written
// through writeFileAtomic:
//
//   REPO/state/pending-release/release.json    { format, roots, snapshot, targets, timestamp,
//                                               targetFiles, consistent }: versions and file names
//   REPO/state/pending-release/root.N.json     exact bytes of each new root
//   REPO/state/pending-release/targets.I.json  exact bytes of the I-th changed targets role
//   REPO/state/pending-release/snapshot.json   exact bytes of the snapshot
//   REPO/state/pending-release/timestamp.json  the timestamp signed with it (not in the block)
//   REPO/state/pending-release/proposal.json   the proposed block (the log leader writes it last,
//                                               before the first round: it marks the release pending)
//
// release.json without proposal.json is a publish that stopped before any round: nothing to keep.
// Target blobs stay in REPO/blobs (content-addressed); only their digests and destinations are saved.
import { rm, unlink, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import type { Signer } from '../crypto/signer.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFile, readCappedFileIfExists } from '../io/capped-file.js';
import { RepoError } from './errors.js';
import { repoLayout } from './layout.js';
import { stableJson } from './metadata-file.js';
import { renewTimestamp, writeRelease, type PendingRelease } from './publish.js';

export const PENDING_RELEASE_FORMAT = 'cairn/pending-release/v1';

/** Caps for release.json (written by this tool, but read back as untrusted disk data). */
const RELEASE_LIMITS = { maxBytes: 64 << 20, maxDepth: 8, maxEntries: 2_000_000 };

/** REPO/state/pending-release/: the release kept while its block is co-signed. */
export function pendingReleaseDir(dir: string): string {
  return repoLayout(dir).pendingReleaseDir;
}

/** Saves `release` (replacing any earlier one); the leader's proposal.json comes after. */
export async function savePendingRelease(dir: string, release: PendingRelease): Promise<void> {
  const out = pendingReleaseDir(dir);
  await clearPendingRelease(dir);
  await mkdir(out, { recursive: true });
  const roots = [];
  for (const r of release.roots) {
    const file = `root.${r.version}.json`;
    await writeFileAtomic(join(out, file), r.bytes);
    roots.push({ version: r.version, file });
  }
  const targets = [];
  for (const [i, t] of release.targets.entries()) {
    const file = `targets.${i}.json`;
    await writeFileAtomic(join(out, file), t.bytes);
    targets.push({ role: t.role, version: t.version, file });
  }
  await writeFileAtomic(join(out, 'snapshot.json'), release.snapshot.bytes);
  await writeFileAtomic(join(out, 'timestamp.json'), release.timestamp.bytes);
  await writeFileAtomic(join(out, 'release.json'), stableJson({
    format: PENDING_RELEASE_FORMAT,
    roots,
    targets,
    snapshot: { version: release.snapshot.version, changed: release.snapshot.changed, file: 'snapshot.json' },
    timestamp: { version: release.timestamp.version, file: 'timestamp.json' },
    targetFiles: release.targetFiles,
    consistent: release.consistent,
  }));
}

/** File names release.json may name (all in the pending-release directory). */
const FILE_NAME = /^[a-z]+(?:\.\d{1,9})?\.json$/;
/** A targets role name: no path separators, not hidden. */
const ROLE_NAME = /^[^./\\][^/\\]*$/;

/** The saved release, or undefined when there is none. */
export async function readPendingRelease(dir: string): Promise<PendingRelease | undefined> {
  const base = pendingReleaseDir(dir);
  const what = join(base, 'release.json');
  const bytes = await readCappedFileIfExists(what, RELEASE_LIMITS.maxBytes);
  if (bytes === undefined) return undefined;
  const r = new FieldReader((detail) => new RepoError('BAD_METADATA', `${what} is not a ${PENDING_RELEASE_FORMAT} file: ${detail}`, { hint: 'restore it, or remove the directory if no witness answered its round' }));
  const o = parseJsonObject(bytes, what, RELEASE_LIMITS);
  r.literal(o.format, 'format', PENDING_RELEASE_FORMAT);
  const read = async (file: unknown, field: string): Promise<Uint8Array> =>
    readCappedFile(join(base, r.string(file, field, 64, { pattern: FILE_NAME, expected: 'a file name of the pending release' })), RELEASE_LIMITS.maxBytes);
  const list = (v: unknown, field: string): Array<Record<string, unknown>> => r.array(v, field, RELEASE_LIMITS.maxEntries).map((x, i) => r.object(x, `${field}[${i}]`));
  const roots: PendingRelease['roots'] = [];
  for (const [i, e] of list(o.roots, 'roots').entries()) {
    roots.push({ version: r.integer(e.version, `roots[${i}].version`, 1), bytes: await read(e.file, `roots[${i}].file`) });
  }
  const targets: PendingRelease['targets'] = [];
  for (const [i, t] of list(o.targets, 'targets').entries()) {
    const role = r.string(t.role, `targets[${i}].role`, 255, { min: 1, pattern: ROLE_NAME, expected: 'a role name without path separators, not starting with "."' });
    targets.push({ role, version: r.integer(t.version, `targets[${i}].version`, 1), bytes: await read(t.file, `targets[${i}].file`) });
  }
  const snapshot = r.object(o.snapshot, 'snapshot');
  const timestamp = r.object(o.timestamp, 'timestamp');
  const snapshotVersion = r.integer(snapshot.version, 'snapshot.version', 1);
  const changed = r.boolean(snapshot.changed, 'snapshot.changed');
  const timestampVersion = r.integer(timestamp.version, 'timestamp.version', 1);
  const targetFiles: PendingRelease['targetFiles'] = list(o.targetFiles, 'targetFiles').map((f, i) => ({
    path: r.string(f.path, `targetFiles[${i}].path`, 4096),
    sha256: r.hex(f.sha256, `targetFiles[${i}].sha256`),
    dest: r.string(f.dest, `targetFiles[${i}].dest`, 4096, { valid: isSafeRelativePath, expected: 'a relative path without empty, "." or ".." segments' }),
  }));
  const consistent = r.boolean(o.consistent, 'consistent');
  return {
    roots,
    targets,
    snapshot: { version: snapshotVersion, changed, bytes: await read(snapshot.file, 'snapshot.file') },
    timestamp: { version: timestampVersion, bytes: await read(timestamp.file, 'timestamp.file') },
    targetFiles,
    consistent,
  };
}

function isSafeRelativePath(path: string): boolean {
  return !path.includes('\\') && !path.split('/').some((part) => part === '' || part === '.' || part === '..');
}

/** Removes the saved release: the proposal (its marker) first, then the rest. */
export async function clearPendingRelease(dir: string): Promise<void> {
  const base = pendingReleaseDir(dir);
  await unlink(join(base, 'proposal.json')).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
  await rm(base, { recursive: true, force: true });
}

export interface CompletedRelease {
  /** The timestamp had expired while the release waited; it was signed again. */
  renewedTimestamp: boolean;
  /**
   * Roles staged since the release was saved with the version it published but other contents:
   * publish would take them for published; they must be staged again (cairn repo refresh).
   */
  divergent: string[];
}

/**
 * Writes a saved release whose block is now co-signed and logged: targets, roles, root, snapshot,
 * then the timestamp (renewed with `signers` when it expired). The journal of staged changes is
 * kept: what was staged after the release is published by the next publish.
 */
export async function completePendingRelease(dir: string, release: PendingRelease, options: { signers: readonly Signer[]; now?: Date; timestampExpires?: Date }): Promise<CompletedRelease> {
  const { bytes, renewed } = await renewTimestamp(dir, release, options);
  await writeRelease(dir, { ...release, timestamp: { version: release.timestamp.version, bytes } }, { keepJournal: true });
  const layout = repoLayout(dir);
  const divergent: string[] = [];
  for (const t of release.targets) {
    const staged = await readCappedFileIfExists(layout.staged(t.role), RELEASE_LIMITS.maxBytes);
    if (staged === undefined || Buffer.from(t.bytes).equals(staged)) continue;
    const version = (parseJsonObject(staged, t.role, RELEASE_LIMITS).signed as { version?: unknown } | undefined)?.version;
    if (version === t.version) divergent.push(t.role);
  }
  return { renewedTimestamp: renewed, divergent };
}
