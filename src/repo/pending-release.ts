// repo/pending-release.ts: a release waiting for its block to be co-signed (DESIGN.md "Skipchain
// release log"; docs/witness.md "Failure handling and recovery"). A witness that answered a round
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
import { readFile, rm, unlink, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJsonObject } from '../encoding/bounded-json.js';
import type { Signer } from '../crypto/signer.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { RepoError } from './errors.js';
import { repoLayout } from './layout.js';
import { stableJson } from './metadata-file.js';
import { renewTimestamp, writeRelease, type PendingRelease } from './publish.js';

export const PENDING_RELEASE_FORMAT = 'cairn/pending-release/v1';

/** Caps for release.json (written by this tool, but read back as untrusted disk data). */
const RELEASE_LIMITS = { maxBytes: 64 << 20, maxDepth: 8, maxEntries: 2_000_000 };

export function pendingReleaseDir(dir: string): string {
  return join(dir, 'state', 'pending-release');
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

const isVersion = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
const isFileName = (v: unknown): v is string => typeof v === 'string' && /^[a-z]+(?:\.\d{1,9})?\.json$/.test(v);

/** The saved release, or undefined when there is none. */
export async function readPendingRelease(dir: string): Promise<PendingRelease | undefined> {
  const base = pendingReleaseDir(dir);
  let bytes: Buffer;
  try {
    bytes = await readFile(join(base, 'release.json'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const what = join(base, 'release.json');
  const bad = (detail: string): RepoError => new RepoError('BAD_METADATA', `${what} is not a ${PENDING_RELEASE_FORMAT} file: ${detail}`, { hint: 'restore it, or remove the directory if no witness answered its round' });
  const o = parseJsonObject(bytes, what, RELEASE_LIMITS);
  if (o.format !== PENDING_RELEASE_FORMAT) throw bad(`format ${JSON.stringify(o.format)}`);
  const read = async (file: unknown): Promise<Uint8Array> => {
    if (!isFileName(file)) throw bad(`file name ${JSON.stringify(file)}`);
    return readFile(join(base, file));
  };
  const list = (v: unknown, name: string): Array<Record<string, unknown>> => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'object' && x !== null && !Array.isArray(x))) throw bad(`${name} is not a list of objects`);
    return v as Array<Record<string, unknown>>;
  };
  const roots: PendingRelease['roots'] = [];
  for (const r of list(o.roots, 'roots')) {
    if (!isVersion(r.version)) throw bad('a root version');
    roots.push({ version: r.version, bytes: await read(r.file) });
  }
  const targets: PendingRelease['targets'] = [];
  for (const t of list(o.targets, 'targets')) {
    if (typeof t.role !== 'string' || t.role.length === 0 || t.role.length > 255 || /[/\\]/.test(t.role) || t.role.startsWith('.') || !isVersion(t.version)) throw bad('a targets entry');
    targets.push({ role: t.role, version: t.version, bytes: await read(t.file) });
  }
  const snapshot = o.snapshot as Record<string, unknown> | undefined;
  const timestamp = o.timestamp as Record<string, unknown> | undefined;
  if (!snapshot || !isVersion(snapshot.version) || typeof snapshot.changed !== 'boolean') throw bad('snapshot');
  if (!timestamp || !isVersion(timestamp.version)) throw bad('timestamp');
  const targetFiles: PendingRelease['targetFiles'] = [];
  for (const f of list(o.targetFiles, 'targetFiles')) {
    if (typeof f.path !== 'string' || typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256) || typeof f.dest !== 'string'
      || f.dest.split('/').some((part) => part === '' || part === '.' || part === '..') || f.dest.includes('\\')) throw bad('a target file');
    targetFiles.push({ path: f.path, sha256: f.sha256, dest: f.dest });
  }
  if (typeof o.consistent !== 'boolean') throw bad('consistent');
  return {
    roots,
    targets,
    snapshot: { version: snapshot.version, changed: snapshot.changed, bytes: await read(snapshot.file) },
    timestamp: { version: timestamp.version, bytes: await read(timestamp.file) },
    targetFiles,
    consistent: o.consistent,
  };
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
    const staged = await readFile(layout.staged(t.role)).catch(() => undefined);
    if (staged === undefined || Buffer.from(t.bytes).equals(staged)) continue;
    const version = (parseJsonObject(staged, t.role, RELEASE_LIMITS).signed as { version?: unknown } | undefined)?.version;
    if (version === t.version) divergent.push(t.role);
  }
  return { renewedTimestamp: renewed, divergent };
}
