// repo/packages.ts: publishing packages (docs/packages.md "Publishing"). A package archive made
// by `cairn pack` is checked as a client will check it (package/extract.ts: every hostile-archive
// rule, the manifest canonical and valid), then added as the target
// packages/NAME/NAME-VERSION.tar with its manifest in the target's custom metadata (field
// cairnPackage, beside a release declaration if one is given); the package's versions index
// packages/NAME/versions.json is rewritten to list it, and the repository's package index
// packages/index.json (what `cairn search` reads) to show it when it is the newest version. A published version is never replaced by
// other bytes: clients pin what they installed by hash.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject } from '../encoding/canonical-json.js';
import { hashFile } from '../crypto/hash.js';
import { readCappedFile } from '../io/capped-file.js';
import {
  CUSTOM_FIELD, PACKAGE_INDEX_LIMITS, PACKAGE_INDEX_PATH, extractPackage, packageIndexBytes, packageTargetPath, parsePackageIndex, parseVersionsIndex, versionsIndexBytes,
  versionsTargetPath, withPackage, type PackageIndex, type PackageManifest, type VersionsIndex,
} from '../package/index.js';
import { RepoError } from './errors.js';
import { addTargets, roleForTarget, type AddTargetsOptions, type AddedTarget } from './targets.js';
import { Workspace, type RoleChange } from './workspace.js';

/** Largest versions index read back from the workspace. */
const VERSIONS_INDEX_MAX_BYTES = 1024 * 1024;

export interface AddPackageOptions extends Omit<AddTargetsOptions, 'custom'> {
  /** Custom metadata beside the manifest (a release declaration: repo/declaration-input.ts). */
  custom?: JsonObject;
}

/** Publishes one package archive: its target with the manifest, and its versions index. */
export async function addPackage(dir: string, archive: string, options: AddPackageOptions = {}): Promise<{ manifest: PackageManifest; added: AddedTarget[]; changes: RoleChange[] }> {
  const scratch = await mkdtemp(join(tmpdir(), 'cairn-package-'));
  try {
    const { manifest } = await extractPackage(archive, join(scratch, 'tree'));
    const archivePath = packageTargetPath(manifest.name, manifest.version);
    const indexPath = versionsTargetPath(manifest.name);
    const ws = await Workspace.open(dir);
    const sha256 = (await hashFile(archive, ['sha256'])).hashes.sha256!;
    const index = await readVersionsIndex(ws, indexPath, manifest.name, options.role);
    const existing = await targetEntry(ws, archivePath, options.role);
    if (existing !== undefined && existing !== sha256) {
      throw new RepoError('VERSION_EXISTS', `${manifest.name} ${manifest.version} is published with other bytes (sha256 ${existing.slice(0, 12)}, this archive ${sha256.slice(0, 12)})`, {
        hint: 'a published version never changes: raise the version in cairn-package.json and pack again',
      });
    }
    index.versions[manifest.version] = archivePath;
    const indexFile = join(scratch, 'versions.json');
    await writeFile(indexFile, versionsIndexBytes(index));
    const searchIndexFile = join(scratch, 'index.json');
    await writeFile(searchIndexFile, packageIndexBytes(withPackage(await readPackageIndex(ws, options.role), manifest)));
    const { added, changes } = await addTargets(dir, [
      { file: archive, path: archivePath, custom: { ...(options.custom ?? {}), [CUSTOM_FIELD]: manifest as unknown as JsonObject } },
      { file: indexFile, path: indexPath },
      { file: searchIndexFile, path: PACKAGE_INDEX_PATH },
    ], withoutCustom(options));
    return { manifest, added, changes };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function withoutCustom(options: AddPackageOptions): AddTargetsOptions {
  const { custom: _custom, ...rest } = options;
  return rest;
}

/** The sha256 the workspace lists for `path` in the role it is added to (`explicit`, else where delegations route it). */
async function targetEntry(ws: Workspace, path: string, explicit: string | undefined): Promise<string | undefined> {
  const role = await roleForTarget(ws, path, explicit);
  const targets = ((await ws.role(role)).signed as unknown as JsonObject).targets as Record<string, { hashes?: { sha256?: string } }> | undefined;
  return targets?.[path]?.hashes?.sha256;
}

async function readPackageIndex(ws: Workspace, role: string | undefined): Promise<PackageIndex> {
  const sha256 = await targetEntry(ws, PACKAGE_INDEX_PATH, role);
  if (sha256 === undefined) return { packages: {} };
  return parsePackageIndex(await readCappedFile(ws.layout.blob(sha256), PACKAGE_INDEX_LIMITS.maxBytes), PACKAGE_INDEX_PATH);
}

async function readVersionsIndex(ws: Workspace, path: string, name: string, role: string | undefined): Promise<VersionsIndex> {
  const sha256 = await targetEntry(ws, path, role);
  if (sha256 === undefined) return { name, versions: {} };
  return parseVersionsIndex(await readCappedFile(ws.layout.blob(sha256), VERSIONS_INDEX_MAX_BYTES), path);
}
