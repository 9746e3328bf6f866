// release/documents.ts: the TUF documents of the repository state a block records (docs/protocol.md
// section 5 "Payload", section 8 "documents"). The leader reads them through a
// ReleaseDocumentSource: the repository's published metadata (REPO/public/metadata: plain names
// hold the latest version of each role, N.root.json every root), overlaid with what a publish is
// about to write. From a source come the block payload (versions and SHA-256 of the exact bytes)
// and, per witness, the documents its recorded state lacks.
import { join } from 'node:path';
import { StorageError } from '../errors/index.js';
import { readCappedFileIfExists, tooLargeIsFormatError } from '../io/capped-file.js';
import type { BlockPayload } from '../log/index.js';
import { stateDigest } from '../policy/index.js';
import { repoLayout, type PendingRelease } from '../repo/index.js';
import { parseEnvelope } from '../tuf/index.js';
import type { InfoAnswer, WireDocuments } from '../witness/index.js';

/** The TUF documents of the repository state a block records, read on demand. */
export interface ReleaseDocumentSource {
  /** Version of the root in force in this state. */
  rootVersion: number;
  /** Exact bytes of root version `version` (1 .. rootVersion). */
  root(version: number): Promise<Uint8Array>;
  /** Exact bytes of the snapshot of this state. */
  snapshot: Uint8Array;
  /** Exact bytes of a targets role (top-level or delegated) at the version the snapshot lists. */
  targets(role: string): Promise<Uint8Array>;
  /**
   * Rebuild attestations of the artifacts this state adds or changes (docs/protocol.md section
   * 8; docs/verified-builds.md section 7): the digest the payload records and the files sent to
   * each witness by target path (base64 of their exact bytes). Absent: the payload records null.
   */
  attestations?: { digest: string | null; files: Record<string, string[]> };
}

/**
 * Largest published metadata file read back (the publisher's own output, read as disk data): a
 * role of this size is far beyond any repository cairn writes (hash bins keep roles small).
 */
const PUBLISHED_METADATA_MAX_BYTES = 64 * 1024 * 1024;

/** A published metadata file of `dir`, or undefined when it is not published (only a missing file: other faults are errors). */
export function readPublishedIfExists(dir: string, name: string): Promise<Buffer | undefined> {
  return readCappedFileIfExists(join(repoLayout(dir).publicMetadata, name), PUBLISHED_METADATA_MAX_BYTES, { what: `published ${name}`, refuse: tooLargeIsFormatError });
}

/** A published metadata file; a missing one means the repository was never published. */
async function readPublished(dir: string, name: string): Promise<Uint8Array> {
  const bytes = await readPublishedIfExists(dir, name);
  if (bytes === undefined) throw new StorageError('NOT_FOUND', `${join(repoLayout(dir).publicMetadata, name)} does not exist`, { hint: 'publish the repository first (cairn repo publish)' });
  return bytes;
}

/** The documents of `dir`'s published state, with `pending` (a publish in progress) on top. */
export async function publishedDocuments(dir: string, pending?: PendingRelease): Promise<ReleaseDocumentSource> {
  const newRoots = new Map((pending?.roots ?? []).map((r) => [r.version, r.bytes]));
  const newTargets = new Map((pending?.targets ?? []).map((t) => [t.role, t.bytes]));
  const lastNewRoot = pending?.roots[pending.roots.length - 1];
  const rootVersion = lastNewRoot?.version ?? parseEnvelope('root', await readPublished(dir, 'root.json'), 'root.json').version;
  const snapshot = pending?.snapshot.bytes ?? (await readPublished(dir, 'snapshot.json'));
  return {
    rootVersion,
    snapshot,
    root: async (v) => newRoots.get(v) ?? readPublished(dir, `${v}.root.json`),
    targets: async (role) => {
      if (role.includes('/') || role.includes('\\') || role.startsWith('.')) throw new StorageError('UNSAFE_PATH', `role name ${JSON.stringify(role)} is not a file name`);
      return newTargets.get(role) ?? readPublished(dir, `${role}.json`);
    },
  };
}

/** Memoizes a source's reads (each witness needs a subset of the same documents). */
export function cachedSource(source: ReleaseDocumentSource): ReleaseDocumentSource {
  const roots = new Map<number, Promise<Uint8Array>>();
  const targets = new Map<string, Promise<Uint8Array>>();
  return {
    rootVersion: source.rootVersion,
    snapshot: source.snapshot,
    ...(source.attestations ? { attestations: source.attestations } : {}),
    root: (v) => {
      let p = roots.get(v);
      if (!p) roots.set(v, (p = source.root(v)));
      return p;
    },
    targets: (r) => {
      let p = targets.get(r);
      if (!p) targets.set(r, (p = source.targets(r)));
      return p;
    },
  };
}

/** The payload recording a state: versions and SHA-256 of the exact bytes (protocol.md 5). */
export async function payloadOf(source: ReleaseDocumentSource, time: string): Promise<BlockPayload> {
  const targetsBytes = await source.targets('targets');
  const digest = stateDigest(
    { version: source.rootVersion, bytes: await source.root(source.rootVersion) },
    { version: parseEnvelope('targets', targetsBytes, 'targets.json').version, bytes: targetsBytes },
    { version: parseEnvelope('snapshot', source.snapshot, 'snapshot.json').version, bytes: source.snapshot },
  );
  return { time, ...digest, attestations: source.attestations?.digest ?? null };
}

/** Targets roles of a snapshot with their versions. */
function snapshotRoles(source: ReleaseDocumentSource): Map<string, number> {
  const snapshot = parseEnvelope('snapshot', source.snapshot, 'snapshot.json');
  const roles = new Map<string, number>();
  for (const [file, meta] of Object.entries(snapshot.signed.meta)) if (file.endsWith('.json')) roles.set(file.slice(0, -5), meta.version);
  return roles;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** Documents for a witness whose recorded state is `state` (null: everything, from root `fromRoot`). */
export async function documentsFor(source: ReleaseDocumentSource, state: InfoAnswer['state'], fromRoot: number): Promise<WireDocuments> {
  const roots: string[] = [];
  const firstRoot = state === null ? fromRoot : state.root + 1;
  for (let v = firstRoot; v <= source.rootVersion; v++) roots.push(b64(await source.root(v)));
  const targets: Record<string, string> = {};
  for (const [role, version] of snapshotRoles(source)) {
    if (state === null || state.roles[role] !== version) targets[role] = b64(await source.targets(role));
  }
  return { roots, snapshot: b64(source.snapshot), targets };
}
