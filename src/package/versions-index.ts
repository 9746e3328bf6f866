// package/versions-index.ts: the versions index, a small target a repository publishes per
// package (packages/NAME/versions.json, docs/packages.md "Target paths") so a client can list a
// package's versions without reading every target: { "name": NAME, "versions": { VERSION: PATH } }
// where each PATH is packageTargetPath(NAME, VERSION). Canonical JSON; parsing is strict and capped.
import { canonicalBytes, FieldReader, parseJsonBounded } from '../encoding/index.js';
import { PackageError } from './errors.js';
import { isStrictVersion, MANIFEST_LIMITS, packageTargetPath } from './manifest.js';
import { isValidName } from './permissions.js';

export interface VersionsIndex {
  name: string;
  /** Version -> target path of that version's archive. */
  versions: Record<string, string>;
}

export const VERSIONS_INDEX_LIMITS = {
  /** The document (about 100 bytes a version). */
  maxBytes: 2 * 1024 * 1024,
  /** Versions listed for one package. */
  maxVersions: 10_000,
} as const;

/** Parses an untrusted versions index; PackageError BAD_VERSIONS_INDEX on any departure from the format. */
export function parseVersionsIndex(bytes: Uint8Array, where: string): VersionsIndex {
  let value: unknown;
  try {
    value = parseJsonBounded(bytes, where, { maxBytes: VERSIONS_INDEX_LIMITS.maxBytes, maxDepth: 3, maxEntries: 2 * VERSIONS_INDEX_LIMITS.maxVersions + 8 });
  } catch (e) {
    throw new PackageError('BAD_VERSIONS_INDEX', (e as Error).message, { cause: e });
  }
  const r = new FieldReader((m) => new PackageError('BAD_VERSIONS_INDEX', m), where);
  const o = r.exact(value, '', ['name', 'versions']);
  const name = r.string(o.name, 'name', 64, { min: 1, valid: isValidName, expected: 'a package name' });
  const versions: Record<string, string> = {};
  for (const [version, path] of r.entries(o.versions, 'versions', VERSIONS_INDEX_LIMITS.maxVersions, MANIFEST_LIMITS.maxVersionChars)) {
    if (!isStrictVersion(version)) throw r.fail(`versions: ${JSON.stringify(version.slice(0, 64))} is not a strict semver version`);
    const expected = packageTargetPath(name, version);
    versions[version] = r.string(path, `versions.${version}`, expected.length, { valid: (p) => p === expected, expected: JSON.stringify(expected) });
  }
  return { name, versions };
}

/** The canonical bytes of a versions index. */
export function versionsIndexBytes(doc: VersionsIndex): Buffer {
  return canonicalBytes({ name: doc.name, versions: doc.versions });
}
