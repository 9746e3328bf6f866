// test/repo/fixtures.ts: keys, temporary repositories and an independent verifier of the served
// tree built on @tufjs/models alone (Metadata.verifyDelegate, root -> timestamp -> snapshot ->
// targets -> delegated roles), used by the repository tests.
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createHash } from 'node:crypto';
import { Metadata, MetadataKind, type Root, type Targets } from '@tufjs/models';
import { generateEd25519, type Signer } from '../../src/crypto/index.js';
import { initRepository, type TopLevelRole } from '../../src/repo/index.js';

export async function tempDir(prefix = 'cairn-repo-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function signers(n: number): Signer[] {
  return Array.from({ length: n }, () => generateEd25519().signer);
}

export interface TestKeys {
  root: Signer[];
  targets: Signer[];
  snapshot: Signer[];
  timestamp: Signer[];
}

export function testKeys(counts: Partial<Record<TopLevelRole, number>> = {}): TestKeys {
  return { root: signers(counts.root ?? 1), targets: signers(counts.targets ?? 1), snapshot: signers(counts.snapshot ?? 1), timestamp: signers(counts.timestamp ?? 1) };
}

/** A repository with the given keys; thresholds default to 1; root (and targets) signed by all given keys. */
export async function makeRepo(dir: string, keys: TestKeys, opts: { thresholds?: Partial<Record<TopLevelRole, number>>; consistentSnapshot?: boolean; metaHashes?: boolean; sign?: boolean } = {}): Promise<void> {
  const t = opts.thresholds ?? {};
  await initRepository(dir, {
    roles: {
      root: { keys: keys.root.map((s) => s.publicKey), threshold: t.root ?? 1 },
      targets: { keys: keys.targets.map((s) => s.publicKey), threshold: t.targets ?? 1 },
      snapshot: { keys: keys.snapshot.map((s) => s.publicKey), threshold: t.snapshot ?? 1 },
      timestamp: { keys: keys.timestamp.map((s) => s.publicKey), threshold: t.timestamp ?? 1 },
    },
    consistentSnapshot: opts.consistentSnapshot,
    metaHashes: opts.metaHashes,
    signers: opts.sign === false ? [] : [...keys.root, ...keys.targets],
  });
}

export async function writeSource(dir: string, rel: string, content: string): Promise<string> {
  const p = join(dir, rel);
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, content);
  return p;
}

/** Every file under `dir` with its bytes (for "nothing was written" checks). */
export async function treeSnapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(p, createHash('sha256').update(await readFile(p)).digest('hex'));
    }
  };
  await walk(dir);
  return out;
}

async function json(path: string): Promise<Record<string, never>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, never>;
}

/**
 * Verifies the served tree as a client would, with @tufjs/models only: the root chain from
 * 1.root.json, then timestamp, snapshot, targets and every delegated role reachable from it,
 * with versions cross-checked against snapshot meta (only `onlyRoles` among delegated roles, if
 * given). Returns the verified targets roles.
 */
export async function verifyPublished(dir: string, onlyRoles?: readonly string[]): Promise<{ root: Metadata<Root>; roles: Map<string, Metadata<Targets>> }> {
  const meta = join(dir, 'public', 'metadata');
  let root = Metadata.fromJSON(MetadataKind.Root, await json(join(meta, '1.root.json')));
  root.verifyDelegate('root', root);
  for (let v = 2; ; v++) {
    let next;
    try {
      next = Metadata.fromJSON(MetadataKind.Root, await json(join(meta, `${v}.root.json`)));
    } catch {
      break;
    }
    root.verifyDelegate('root', next); // old root's threshold
    next.verifyDelegate('root', next); // new root's threshold
    if (next.signed.version !== v) throw new Error(`root ${v} has version ${next.signed.version}`);
    root = next;
  }
  const timestamp = Metadata.fromJSON(MetadataKind.Timestamp, await json(join(meta, 'timestamp.json')));
  root.verifyDelegate('timestamp', timestamp);
  const consistent = root.signed.consistentSnapshot;
  const snapVersion = timestamp.signed.snapshotMeta.version;
  const snapshot = Metadata.fromJSON(MetadataKind.Snapshot, await json(join(meta, consistent ? `${snapVersion}.snapshot.json` : 'snapshot.json')));
  root.verifyDelegate('snapshot', snapshot);
  if (snapshot.signed.version !== snapVersion) throw new Error('snapshot version differs from timestamp');
  const roles = new Map<string, Metadata<Targets>>();
  const load = async (name: string): Promise<Metadata<Targets>> => {
    const mf = snapshot.signed.meta[`${name}.json`];
    if (!mf) throw new Error(`snapshot does not list ${name}`);
    const bytes = await readFile(join(meta, consistent ? `${mf.version}.${name}.json` : `${name}.json`));
    mf.verify(bytes);
    const md = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(bytes.toString('utf8')) as Record<string, never>);
    if (md.signed.version !== mf.version) throw new Error(`${name} version ${md.signed.version} differs from snapshot ${mf.version}`);
    return md;
  };
  const targets = await load('targets');
  root.verifyDelegate('targets', targets);
  roles.set('targets', targets);
  const queue: Array<Metadata<Targets>> = [targets];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    const d = parent.signed.delegations;
    if (!d) continue;
    const names = d.succinctRoles ? [...d.succinctRoles.getRoles()] : Object.keys(d.roles ?? {});
    for (const name of names) {
      if (onlyRoles !== undefined && !onlyRoles.includes(name)) continue;
      const child = await load(name);
      parent.verifyDelegate(name, child);
      roles.set(name, child);
      queue.push(child);
    }
  }
  return { root, roles };
}
