// rebuild/repo-scan.ts: what a verifier finds to rebuild in a repository (docs/design.md "Build
// verification": a verifier watches a repository or its staging area). It reads the targets roles
// of a publisher workspace (staged/metadata/NAME.json, the roles being prepared) and of its
// published tree (public/metadata/NAME.json, plain names), and lists every target whose custom
// metadata carries a release declaration (policy/declaration.ts). Layout: src/repo/layout.ts.
//
// A verifier need not trust these files: an attestation only says "these bytes rebuild from
// that declared source", which is true or false whatever signed the metadata. Files are still
// parsed with caps, and a malformed declaration is reported, never rebuilt.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJsonObject } from '../encoding/bounded-json.js';
import type { JsonObject } from '../encoding/canonical-json.js';
import { isCairnError } from '../errors/index.js';
import { readCappedFile } from '../io/capped-file.js';
import { declarationFromCustom, type ReleaseDeclaration } from '../policy/index.js';
import { publicTargetPath, repoLayout } from '../repo/index.js';

export const SCAN_LIMITS = {
  /** One targets role file (hash bins keep each one small; this allows very large roles). */
  maxRoleBytes: 64 * 1024 * 1024,
  /** Role files read per scan. */
  maxRoles: 100_000,
} as const;

const NOT_TARGETS = new Set(['root', 'snapshot', 'timestamp']);

export interface DeclaredArtifact {
  readonly target: string;
  readonly sha256: string;
  readonly length: number;
  readonly declaration: ReleaseDeclaration;
  readonly role: string;
  readonly origin: 'staged' | 'published';
}

export interface ScanResult {
  readonly artifacts: DeclaredArtifact[];
  /** Targets that could not be considered (malformed role file or declaration), one line each. */
  readonly problems: string[];
}

/** Every (target, sha256) with a declaration, staged or published, each listed once. */
export async function scanRepository(repoDir: string): Promise<ScanResult> {
  const layout = repoLayout(repoDir);
  const artifacts = new Map<string, DeclaredArtifact>();
  const problems: string[] = [];
  for (const [dir, origin] of [[layout.stagedDir, 'staged'], [layout.publicMetadata, 'published']] as const) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.json') && !/^\d+\./.test(n) && !n.startsWith('.')).sort();
    } catch {
      continue;
    }
    for (const file of names.slice(0, SCAN_LIMITS.maxRoles)) {
      const role = file.slice(0, -'.json'.length);
      if (NOT_TARGETS.has(role)) continue;
      let signed: JsonObject;
      try {
        const path = join(dir, file);
        const doc = parseJsonObject(await readCappedFile(path, SCAN_LIMITS.maxRoleBytes), `${origin} ${file}`);
        const s = doc.signed;
        if (s === null || typeof s !== 'object' || Array.isArray(s) || s._type !== 'targets') continue;
        signed = s;
      } catch (e) {
        problems.push(`${origin} ${file}: ${(e as Error).message}`);
        continue;
      }
      const targets = signed.targets;
      if (targets === null || typeof targets !== 'object' || Array.isArray(targets)) continue;
      for (const [target, entry] of Object.entries(targets)) {
        if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) continue;
        const hashes = entry.hashes;
        const sha256 = hashes !== null && typeof hashes === 'object' && !Array.isArray(hashes) ? hashes.sha256 : undefined;
        const length = entry.length;
        const custom = entry.custom;
        if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256) || typeof length !== 'number') continue;
        if (custom === null || typeof custom !== 'object' || Array.isArray(custom)) continue;
        let declaration: ReleaseDeclaration | undefined;
        try {
          declaration = declarationFromCustom(custom, `${target} custom`);
        } catch (e) {
          if (!isCairnError(e)) throw e;
          problems.push(`${origin} ${role}: ${e.message}`);
          continue;
        }
        if (!declaration) continue;
        const key = `${target}\u0000${sha256}`;
        if (!artifacts.has(key)) artifacts.set(key, { target, sha256, length, declaration, role, origin });
      }
    }
  }
  return { artifacts: [...artifacts.values()].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : a.sha256 < b.sha256 ? -1 : 1)), problems };
}

/** The declared artifact for `target` (staged preferred over published), or undefined. */
export async function findDeclaredArtifact(repoDir: string, target: string): Promise<DeclaredArtifact | undefined> {
  const { artifacts } = await scanRepository(repoDir);
  const hits = artifacts.filter((a) => a.target === target);
  return hits.find((a) => a.origin === 'staged') ?? hits[0];
}

/** A file holding the artifact's bytes: the workspace blob, else the published target file. */
export async function locateArtifactBytes(repoDir: string, target: string, sha256: string): Promise<string | undefined> {
  const layout = repoLayout(repoDir);
  const candidates = [
    layout.blob(sha256),
    join(layout.publicTargets, publicTargetPath(target, sha256, true)),
    join(layout.publicTargets, publicTargetPath(target, sha256, false)),
  ];
  for (const c of candidates) {
    const info = await stat(c).catch(() => undefined);
    if (info?.isFile()) return c;
  }
  return undefined;
}
