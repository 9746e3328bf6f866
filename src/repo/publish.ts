// repo/publish.ts: publishing the staged state to the served tree (TUF spec 1.0.x 6.1, 6.2
// "consistent snapshots", 4.4 snapshot, 4.6 timestamp). Every check comes first: each changed
// role must meet its threshold (a new root: both the old and the new root's threshold), and the
// snapshot and timestamp keys given must meet theirs; if any fails nothing is written. Then, in
// crash-safe order: target files, changed roles, root, snapshot, timestamp last; the workspace
// state (published snapshot/timestamp, root archive, cleared journal) after that. Only the roles
// listed in the journal are read, so publishing one target into a binned repository costs one
// bin, one snapshot and one timestamp whatever the number of targets. With meta hashes on (the
// default, and what a release log needs: docs/protocol.md section 5 "What a block commits to"),
// the snapshot gives the length and sha256 of every role; an entry an older snapshot listed by
// version alone is pinned from the published role file at the next publish.
import { link, mkdir, rename, stat, unlink, copyFile, open, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { MetadataKind, type MetaFile, type Metadata, type Root, type Snapshot, type Timestamp } from '@tufjs/models';
import type { JsonObject } from '../encoding/canonical-json.js';
import { sha256Hex } from '../crypto/hash.js';
import type { Signer } from '../crypto/signer.js';
import type { TufPublicKey } from '../crypto/public-key.js';
import { fsyncDirectory, writeFileAtomic } from '../io/atomic-write.js';
import { short, StorageError } from '../errors/index.js';
import { RepoError } from './errors.js';
import { checkDelegatedRoleName, SPEC_VERSION, tufTime } from './config.js';
import { publicTargetPath, repoLayout } from './layout.js';
import { buildMetadata, metadataBytes, parseRoot, parseTargets, parseTimestamp, readMetadataFile, stableJson, type AnyMetadata } from './metadata-file.js';
import { addSignature, evaluateSignatures, requireThreshold } from './signatures.js';
import { signatureReports } from './signing.js';
import { Workspace } from './workspace.js';

/** What a publish is about to write, handed to `beforeWrite` (the release log's proposal). */
export interface PendingRelease {
  /** New root documents in version order (empty when root is unchanged). */
  roots: Array<{ version: number; bytes: Uint8Array }>;
  /** The snapshot of the new state; `changed` is false when only the timestamp is renewed. */
  snapshot: { version: number; bytes: Uint8Array; changed: boolean };
  /** Targets roles (top-level and delegated) whose new version this publish writes. */
  targets: Array<{ role: string; version: number; bytes: Uint8Array }>;
  timestamp: { version: number; bytes: Uint8Array };
  /** Target files this publish places: path, blob digest, destination relative to public/targets. */
  targetFiles: Array<{ path: string; sha256: string; dest: string }>;
  /** Whether the root in force uses consistent snapshots (VERSION.NAME files). */
  consistent: boolean;
}

export interface PublishOptions {
  /** Keys for snapshot and timestamp (others are ignored). */
  signers: readonly Signer[];
  now?: Date;
  snapshotExpires?: Date;
  timestampExpires?: Date;
  /**
   * Runs after every check and signature, before anything is written: a repository with a
   * release log has the witnesses co-sign the new state here (docs/design.md "Skipchain release
   * log"). If it throws, publish writes nothing and rethrows.
   */
  beforeWrite?: (release: PendingRelease) => Promise<void>;
}

export interface PublishResult {
  rootVersion: number;
  snapshotVersion: number;
  timestampVersion: number;
  /** Roles whose new version was published (root, targets, delegated roles). */
  published: Array<{ role: string; version: number }>;
  targetFiles: number;
}

function metaFileJson(md: AnyMetadata, bytes: Buffer, withHashes: boolean): JsonObject {
  return withHashes ? { version: md.signed.version, length: bytes.length, hashes: { sha256: sha256Hex(bytes) } } : { version: md.signed.version };
}

/** Whether a snapshot entry gives a length and a sha256 (what a witnessed repository needs for every role). */
function isPinned(mf: MetaFile): boolean {
  return mf.length !== undefined && typeof mf.hashes?.sha256 === 'string';
}

/**
 * The snapshot entry of a role published earlier, pinned by length and sha256 of its published
 * bytes (`VERSION.ROLE.json` with consistent snapshots): how a repository whose snapshot listed
 * roles by version alone comes to pin them all (cairn repo enable-meta-hashes).
 */
async function pinnedEntry(publicMetadata: string, role: string, mf: MetaFile, consistent: boolean): Promise<JsonObject> {
  if (role !== 'targets') checkDelegatedRoleName(role);
  const path = join(publicMetadata, consistent ? `${mf.version}.${role}.json` : `${role}.json`);
  const published = await readMetadataFile(path, (bytes, what) => ({ bytes, md: parseTargets(bytes, what) }));
  if (!published || published.md.signed.version !== mf.version) {
    throw new RepoError('BAD_METADATA', `the published snapshot lists ${role} v${mf.version}, but ${path} ${published ? `is v${published.md.signed.version}` : 'does not exist'}: cannot pin it by its hash`);
  }
  return metaFileJson(published.md, published.bytes, true);
}

export async function publish(dir: string, options: PublishOptions): Promise<PublishResult> {
  const now = options.now ?? new Date();
  const ws = await Workspace.open(dir);
  const { layout, config } = ws;

  // ---- 1. checks; nothing is written before all of them pass ------------------------------
  const root = await ws.root();
  const oldRoot = await ws.publishedRoot();
  const rootChanged = !oldRoot || root.signed.version > oldRoot.signed.version;
  if (oldRoot && rootChanged && root.signed.version !== oldRoot.signed.version + 1) {
    throw new RepoError('BAD_METADATA', `staged root is version ${root.signed.version}, published is ${oldRoot.signed.version}; expected ${oldRoot.signed.version + 1}`);
  }
  const changed: Array<{ role: string; md: AnyMetadata; bytes: Buffer }> = [];
  if (rootChanged) {
    for (const report of await signatureReports(ws, 'root', root)) requireThreshold(report);
    if (root.signed.isExpired(now)) throw new RepoError('EXPIRED', `staged root expired at ${root.signed.expires}`);
    changed.push({ role: 'root', md: root, bytes: metadataBytes(root) });
  }
  const pendingRoles = new Set(ws.pending.roles);
  if (rootChanged) pendingRoles.add('targets'); // its keys may have changed with root: check again
  for (const role of [...pendingRoles].sort()) {
    if (role === 'root') continue;
    let md: AnyMetadata;
    try {
      md = await ws.targetsRole(role);
    } catch (e) {
      if (e instanceof RepoError && e.code === 'UNKNOWN_ROLE') continue; // journaled but never staged (crash)
      throw e;
    }
    const fresh = md.signed.version > (await ws.publishedVersion(role));
    for (const report of await signatureReports(ws, role, md)) requireThreshold(report, fresh ? '' : ' (already published, signed under the old keys)');
    if (!fresh) continue;
    if (md.signed.isExpired(now)) throw new RepoError('EXPIRED', `staged ${role} expired at ${md.signed.expires}`, { hint: `change it again with --expires` });
    changed.push({ role, md, bytes: metadataBytes(md) });
  }
  const targetFiles: PendingRelease['targetFiles'] = [];
  const consistent = root.signed.consistentSnapshot;
  for (const t of ws.pending.targets) {
    const blob = layout.blob(t.sha256);
    if (!(await stat(blob).then((s) => s.isFile(), () => false))) {
      throw new RepoError('MISSING_BLOB', `target ${t.path} (${short(t.sha256)}) has no blob at ${blob}`, { hint: 'add the file again with cairn repo add' });
    }
    targetFiles.push({ path: t.path, sha256: t.sha256, dest: publicTargetPath(t.path, t.sha256, consistent) });
  }

  // Snapshot (new when anything changed or none exists) and timestamp, signed with the keys given.
  const oldSnapshot = await ws.publishedSnapshot();
  const oldTimestamp = await ws.publishedTimestamp();
  const servedTimestamp = await readFile(join(layout.publicMetadata, 'timestamp.json')).then((b) => parseTimestamp(b, 'public timestamp.json'), () => undefined);
  const unpinned = config.metaHashes ? Object.entries(oldSnapshot?.signed.meta ?? {}).filter(([, mf]) => !isPinned(mf)) : [];
  const needSnapshot = !oldSnapshot || changed.length > 0 || unpinned.length > 0;
  let snapshot: Metadata<Snapshot> = oldSnapshot!;
  let snapshotBytes: Buffer;
  if (needSnapshot) {
    const meta: JsonObject = {};
    for (const [name, mf] of Object.entries(oldSnapshot?.signed.meta ?? {})) meta[name] = mf.toJSON();
    for (const [name, mf] of unpinned) meta[name] = await pinnedEntry(layout.publicMetadata, name.slice(0, -'.json'.length), mf, consistent);
    for (const c of changed) if (c.role !== 'root') meta[`${c.role}.json`] = metaFileJson(c.md, c.bytes, config.metaHashes);
    const version = Math.max(oldSnapshot?.signed.version ?? 0, servedTimestamp?.signed.snapshotMeta.version ?? 0) + 1;
    const expires = options.snapshotExpires ?? new Date(now.getTime() + config.expirySeconds.snapshot * 1000);
    snapshot = buildMetadata<Metadata<Snapshot>>(MetadataKind.Snapshot, { _type: 'snapshot', spec_version: SPEC_VERSION, version, expires: tufTime(expires), meta }, 'new snapshot');
    signTopLevel(snapshot, 'snapshot', root, options.signers);
    snapshotBytes = metadataBytes(snapshot);
  } else {
    snapshotBytes = metadataBytes(snapshot);
    // Root may have changed the snapshot keys: the old snapshot must still verify.
    requireThreshold(evaluateSignatures('snapshot', snapshot, await ws.roleKeys('snapshot')), ' (unchanged)');
  }
  const tsVersion = Math.max(oldTimestamp?.signed.version ?? 0, servedTimestamp?.signed.version ?? 0) + 1;
  const tsExpires = options.timestampExpires ?? new Date(now.getTime() + config.expirySeconds.timestamp * 1000);
  const timestamp = buildMetadata<Metadata<Timestamp>>(MetadataKind.Timestamp, {
    _type: 'timestamp', spec_version: SPEC_VERSION, version: tsVersion, expires: tufTime(tsExpires),
    meta: { 'snapshot.json': metaFileJson(snapshot, snapshotBytes, config.metaHashes) },
  }, 'new timestamp');
  signTopLevel(timestamp, 'timestamp', root, options.signers);
  const timestampBytes = metadataBytes(timestamp);

  const release: PendingRelease = {
    roots: changed.filter((c) => c.role === 'root').map((c) => ({ version: c.md.signed.version, bytes: c.bytes })),
    snapshot: { version: snapshot.signed.version, bytes: snapshotBytes, changed: needSnapshot },
    targets: changed.filter((c) => c.role !== 'root').map((c) => ({ role: c.role, version: c.md.signed.version, bytes: c.bytes })),
    timestamp: { version: tsVersion, bytes: timestampBytes },
    targetFiles,
    consistent,
  };
  if (options.beforeWrite) await options.beforeWrite(release);
  await writeRelease(dir, release);

  return {
    rootVersion: root.signed.version,
    snapshotVersion: snapshot.signed.version,
    timestampVersion: tsVersion,
    published: changed.map((c) => ({ role: c.role, version: c.md.signed.version })),
    targetFiles: targetFiles.length,
  };
}

/**
 * Writes a checked and signed release to the served tree, in an order that never leaves metadata
 * pointing at missing files (targets, changed roles, root, snapshot, timestamp last), then the
 * workspace state. `keepJournal` leaves the journal of staged changes as it is: a release saved
 * earlier (state/pending-release, completed after its block was co-signed) does not publish what
 * was staged after it.
 */
export async function writeRelease(dir: string, release: PendingRelease, options: { keepJournal?: boolean } = {}): Promise<void> {
  const layout = repoLayout(dir);
  const { consistent } = release;
  for (const t of release.targetFiles) await placeTarget(layout.blob(t.sha256), join(layout.publicTargets, t.dest), consistent);
  const metaDir = layout.publicMetadata;
  for (const r of release.roots) {
    await writeFileAtomic(join(metaDir, `${r.version}.root.json`), r.bytes);
    await writeFileAtomic(join(metaDir, 'root.json'), r.bytes);
  }
  for (const t of release.targets) {
    if (consistent) await writeFileAtomic(join(metaDir, `${t.version}.${t.role}.json`), t.bytes);
    await writeFileAtomic(join(metaDir, `${t.role}.json`), t.bytes);
  }
  const { snapshot, timestamp } = release;
  if (snapshot.changed) {
    if (consistent) await writeFileAtomic(join(metaDir, `${snapshot.version}.snapshot.json`), snapshot.bytes);
    await writeFileAtomic(join(metaDir, 'snapshot.json'), snapshot.bytes);
  }
  await writeFileAtomic(join(metaDir, 'timestamp.json'), timestamp.bytes);

  // Workspace state: what is now published.
  for (const r of release.roots) await writeFileAtomic(layout.archivedRoot(r.version), r.bytes);
  if (snapshot.changed) await writeFileAtomic(layout.staged('snapshot'), snapshot.bytes);
  await writeFileAtomic(layout.staged('timestamp'), timestamp.bytes);
  if (!options.keepJournal) await writeFileAtomic(layout.pending, stableJson({ roles: [], targets: [] }));
}

/**
 * A saved release's timestamp again, when it expired while the release waited for its block to be
 * co-signed (the timestamp is not in the block: the witnesses never saw it). Same version and
 * snapshot entry, fresh expiry, signed with the timestamp keys given. Returns the bytes unchanged
 * when the timestamp is still valid at `now`.
 */
export async function renewTimestamp(dir: string, release: PendingRelease, options: { signers: readonly Signer[]; now?: Date; timestampExpires?: Date }): Promise<{ bytes: Uint8Array; renewed: boolean }> {
  const now = options.now ?? new Date();
  const old = parseTimestamp(release.timestamp.bytes, 'saved timestamp');
  if (!old.signed.isExpired(now)) return { bytes: release.timestamp.bytes, renewed: false };
  const ws = await Workspace.open(dir);
  const lastRoot = release.roots[release.roots.length - 1];
  const root = lastRoot ? parseRoot(lastRoot.bytes, 'saved root') : await ws.publishedRoot();
  if (!root) throw new RepoError('BAD_METADATA', `${dir} has no published root to sign the renewed timestamp against`);
  const expires = options.timestampExpires ?? new Date(now.getTime() + ws.config.expirySeconds.timestamp * 1000);
  const meta: JsonObject = { 'snapshot.json': old.signed.snapshotMeta.toJSON() };
  const timestamp = buildMetadata<Metadata<Timestamp>>(MetadataKind.Timestamp, {
    _type: 'timestamp', spec_version: SPEC_VERSION, version: old.signed.version, expires: tufTime(expires), meta,
  }, 'renewed timestamp');
  signTopLevel(timestamp, 'timestamp', root, options.signers);
  return { bytes: metadataBytes(timestamp), renewed: true };
}

function signTopLevel(md: Metadata<Snapshot> | Metadata<Timestamp>, role: 'snapshot' | 'timestamp', root: Metadata<Root>, signers: readonly Signer[]): void {
  const r = root.signed.roles[role]!;
  const keys: Record<string, TufPublicKey> = {};
  for (const id of r.keyIDs) {
    const k = root.signed.keys[id];
    if (k) keys[id] = { keytype: k.keyType, scheme: k.scheme, keyval: { ...k.keyVal } as { public: string } };
  }
  for (const s of signers) if (r.keyIDs.includes(s.keyid)) addSignature(md, s);
  const report = evaluateSignatures(role, md, { keyids: [...r.keyIDs], threshold: r.threshold, keys });
  if (!report.met) {
    throw new RepoError('THRESHOLD_NOT_MET',
      `${role} version ${md.signed.version} has ${report.valid.length} valid signature(s) from the keys given, needs ${r.threshold}; ` +
      `missing keyids: ${report.missing.map((k) => short(k)).join(', ')}`, { hint: `pass the ${role} key files with --key FILE` });
  }
}

/** Puts a blob at `dest` atomically: hard link when possible, else copy + fsync; then rename. */
async function placeTarget(blob: string, dest: string, contentAddressed: boolean): Promise<void> {
  const existing = await stat(dest).catch(() => undefined);
  const size = (await stat(blob)).size;
  if (contentAddressed && existing?.isFile() && existing.size === size) return; // its name is its hash: already there
  await mkdir(dirname(dest), { recursive: true });
  const tmp = join(dirname(dest), `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    try {
      await link(blob, tmp);
    } catch {
      await copyFile(blob, tmp);
      const h = await open(tmp, 'r');
      await h.sync().finally(() => h.close());
    }
    await rename(tmp, dest);
    await fsyncDirectory(dirname(dest));
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new StorageError('WRITE_FAILED', `cannot publish target ${dest}: ${(e as Error).message}`);
  }
}

