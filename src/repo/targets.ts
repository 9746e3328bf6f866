// repo/targets.ts: adding and removing targets (TUF spec 1.0.x 4.5 "targets", 6.1). Content is
// copied into the content-addressed blob area (DIR/blobs) and described by length, SHA-256 and
// optional custom metadata in the targets role that clients will consult for its path: the role
// named with --role, or else the one found by walking delegations from top-level targets as a
// client would (hash bins, succinct hash bins, path patterns), so bins are filled automatically.
import { copyFile, lstat, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { JsonObject } from '../encoding/canonical-json.js';
import { hashFile } from '../crypto/hash.js';
import type { Signer } from '../crypto/signer.js';
import { fsyncDirectory } from '../io/atomic-write.js';
import { StorageError, UsageError } from '../errors/index.js';
import { RepoError } from './errors.js';
import { checkTargetPath } from './config.js';
import type { RepoLayout } from './layout.js';
import { Workspace, type RoleChange } from './workspace.js';

export interface TargetSource {
  /** File on disk to publish. */
  file: string;
  /** Target path clients will ask for. */
  path: string;
  /** Custom metadata of this target alone (else the options' custom, for every target). */
  custom?: JsonObject;
}

export interface CollectOptions {
  /** For a single file: its target path; for a directory: a prefix for its files' paths. */
  path?: string;
  /** Target paths are the files' paths relative to this directory. */
  baseDir?: string;
}

/** Expands files and directories (recursively) into target sources; symlinks and specials are skipped. */
export async function collectTargetSources(inputs: readonly string[], options: CollectOptions = {}): Promise<{ sources: TargetSource[]; skipped: string[] }> {
  const sources: TargetSource[] = [];
  const skipped: string[] = [];
  const base = options.baseDir === undefined ? undefined : resolve(options.baseDir);
  const toTarget = (file: string, root: string): string => {
    const rel = relative(base ?? root, file).split(sep).join('/');
    if (base !== undefined && (rel.startsWith('../') || rel === '..')) {
      throw new UsageError('BAD_ARGUMENT', `${file} is not inside the base directory ${base}`);
    }
    return options.path !== undefined && base === undefined ? `${options.path.replace(/\/+$/, '')}/${rel}` : rel;
  };
  for (const input of inputs) {
    const abs = resolve(input);
    let info;
    try {
      info = await lstat(abs);
    } catch {
      throw new StorageError('NOT_FOUND', `${input} does not exist`);
    }
    if (info.isFile()) {
      const path = base !== undefined ? toTarget(abs, dirname(abs)) : (options.path ?? basename(abs));
      if (options.path !== undefined && inputs.length > 1 && base === undefined) {
        throw new UsageError('CONFLICT', '--path names one target; with several inputs use --base or a directory');
      }
      sources.push({ file: abs, path });
    } else if (info.isDirectory()) {
      const stack = [abs];
      while (stack.length > 0) {
        const d = stack.pop()!;
        for (const entry of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
          const full = join(d, entry.name);
          if (entry.isDirectory()) stack.push(full);
          else if (entry.isFile()) sources.push({ file: full, path: toTarget(full, abs) });
          else skipped.push(full);
        }
      }
    } else {
      skipped.push(abs);
    }
  }
  for (const s of sources) checkTargetPath(s.path);
  return { sources, skipped };
}

/** Copies `file` into the blob area under its SHA-256 (hashing the copy, not the source). */
async function storeBlob(layout: RepoLayout, file: string): Promise<{ sha256: string; length: number }> {
  await mkdir(layout.blobsDir, { recursive: true });
  const tmp = join(layout.blobsDir, `.incoming.${randomBytes(6).toString('hex')}`);
  try {
    await copyFile(file, tmp);
    const { length, hashes } = await hashFile(tmp, ['sha256']);
    const sha256 = hashes.sha256!;
    const dest = layout.blob(sha256);
    const existing = await stat(dest).catch(() => undefined);
    if (existing?.size === length) {
      await unlink(tmp);
    } else {
      await mkdir(dirname(dest), { recursive: true });
      const h = await open(tmp, 'r');
      await h.sync().finally(() => h.close());
      await rename(tmp, dest);
      await fsyncDirectory(dirname(dest));
    }
    return { sha256, length };
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    if (e instanceof StorageError) throw e;
    throw new StorageError('WRITE_FAILED', `cannot store ${file} in ${layout.blobsDir}: ${(e as Error).message}`);
  }
}

/**
 * The role a target path belongs in. With `explicit`, checks that every delegation from
 * top-level targets down to it covers the path (else clients could never find the target).
 * Without, walks delegations as a client's preorder search would and takes the deepest match.
 */
export async function roleForTarget(ws: Workspace, path: string, explicit?: string): Promise<string> {
  if (explicit !== undefined) {
    let role = explicit;
    for (let depth = 0; role !== 'targets'; depth++) {
      const parentName = await ws.delegatorOf(role);
      if (parentName === 'root' || depth > 32) throw new RepoError('UNKNOWN_ROLE', `role "${explicit}" is not a targets role`);
      const d = (await ws.targetsRole(parentName)).signed.delegations;
      const covered = d?.succinctRoles ? d.succinctRoles.getRoleForTarget(path) === role : d?.roles?.[role]?.isDelegatedPath(path) === true;
      if (!covered) {
        throw new RepoError('PATH_NOT_DELEGATED', `${parentName} does not delegate "${path}" to ${role}, so clients would never find it there`, {
          hint: 'leave out --role to let cairn choose the role, or change the delegation',
        });
      }
      role = parentName;
    }
    return explicit;
  }
  let current = 'targets';
  const seen = new Set<string>([current]);
  for (;;) {
    const d = (await ws.targetsRole(current)).signed.delegations;
    if (!d) return current;
    let next: string | undefined;
    if (d.succinctRoles) next = d.succinctRoles.getRoleForTarget(path);
    else next = Object.values(d.roles ?? {}).find((r) => r.isDelegatedPath(path))?.name;
    if (next === undefined || seen.has(next) || seen.size > 32) return current;
    seen.add(next);
    current = next;
  }
}

export interface AddTargetsOptions {
  role?: string;
  custom?: JsonObject;
  expires?: Date;
  signers?: readonly Signer[];
  now?: Date;
}

export interface AddedTarget {
  path: string;
  role: string;
  length: number;
  sha256: string;
}

export async function addTargets(dir: string, sources: readonly TargetSource[], options: AddTargetsOptions = {}): Promise<{ added: AddedTarget[]; changes: RoleChange[] }> {
  if (sources.length === 0) throw new UsageError('MISSING_ARGUMENT', 'no target files to add');
  const ws = await Workspace.open(dir);
  const added: AddedTarget[] = [];
  const byRole = new Map<string, Array<[string, JsonObject]>>();
  for (const source of sources) {
    checkTargetPath(source.path);
    const role = await roleForTarget(ws, source.path, options.role);
    const { sha256, length } = await storeBlob(ws.layout, source.file);
    const entry: JsonObject = { length, hashes: { sha256 } };
    const custom = source.custom ?? options.custom;
    if (custom !== undefined) entry.custom = custom;
    let list = byRole.get(role);
    if (!list) byRole.set(role, (list = []));
    list.push([source.path, entry]);
    ws.addPendingTarget(source.path, sha256);
    added.push({ path: source.path, role, length, sha256 });
  }
  for (const [role, entries] of byRole) {
    await ws.edit(role, (signed) => {
      const targets = (signed.targets ?? {}) as JsonObject;
      for (const [path, entry] of entries) targets[path] = entry;
      signed.targets = targets;
    });
  }
  const changes = await ws.commit(options);
  return { added, changes };
}

export interface RemoveTargetsOptions {
  role?: string;
  /** Treat each path as a directory: remove every target under `path/` (all roles are read). */
  recursive?: boolean;
  expires?: Date;
  signers?: readonly Signer[];
  now?: Date;
}

export async function removeTargets(dir: string, paths: readonly string[], options: RemoveTargetsOptions = {}): Promise<{ removed: Array<{ path: string; role: string }>; changes: RoleChange[] }> {
  const ws = await Workspace.open(dir);
  const removed: Array<{ path: string; role: string }> = [];
  for (const path of paths) {
    const cleaned = path.replace(/\/+$/, '');
    checkTargetPath(cleaned);
    if (options.recursive) {
      const roles = options.role !== undefined ? [options.role] : await ws.targetsRoleNames();
      const prefix = `${cleaned}/`;
      for (const role of roles) {
        const hits = Object.keys((await ws.targetsRole(role)).signed.targets).filter((p) => p.startsWith(prefix) || p === cleaned);
        if (hits.length === 0) continue;
        await ws.edit(role, (signed) => {
          const t = signed.targets as JsonObject;
          for (const p of hits) delete t[p];
        });
        for (const p of hits) removed.push({ path: p, role });
      }
      continue;
    }
    const candidates = options.role !== undefined ? [options.role] : [...new Set([await roleForTarget(ws, cleaned), 'targets'])];
    let found = false;
    for (const role of candidates) {
      if ((await ws.targetsRole(role)).signed.targets[cleaned] === undefined) continue;
      await ws.edit(role, (signed) => {
        delete (signed.targets as JsonObject)[cleaned];
      });
      removed.push({ path: cleaned, role });
      found = true;
      break;
    }
    if (!found) throw new RepoError('TARGET_NOT_FOUND', `no target "${cleaned}" in ${candidates.join(' or ')}`);
  }
  if (removed.length === 0) throw new RepoError('TARGET_NOT_FOUND', `no targets under ${paths.join(', ')}`);
  return { removed, changes: await ws.commit(options) };
}
