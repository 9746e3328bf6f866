// package/package-index.ts: the package index, one small target per repository
// (packages/index.json, docs/packages.md "Target paths") that `cairn search` reads: each package's
// name, newest version and description. It is what a search shows, never what an install trusts:
// installs read each package's versions index and the manifest in its archive's metadata.
// Canonical JSON; parsing is strict and capped.
import semver from 'semver';
import { canonicalBytes, FieldReader, parseJsonBounded } from '../encoding/index.js';
import { PackageError } from './errors.js';
import { isStrictVersion, MANIFEST_LIMITS, type PackageManifest } from './manifest.js';
import { isValidName } from './permissions.js';
import { hasControlCharacter } from './archive-paths.js';

export const PACKAGE_INDEX_PATH = 'packages/index.json';

export interface PackageIndexEntry {
  version: string;
  description?: string;
}

export interface PackageIndex {
  packages: Record<string, PackageIndexEntry>;
}

export const PACKAGE_INDEX_LIMITS = {
  /** The document (about 150 bytes a package, up to 1 KiB with a long description). */
  maxBytes: 64 * 1024 * 1024,
  maxPackages: 1_000_000,
} as const;

/** Parses an untrusted package index; PackageError BAD_VERSIONS_INDEX on any departure from the format. */
export function parsePackageIndex(bytes: Uint8Array, where: string): PackageIndex {
  let value: unknown;
  try {
    value = parseJsonBounded(bytes, where, { maxBytes: PACKAGE_INDEX_LIMITS.maxBytes, maxDepth: 4, maxEntries: 4 * PACKAGE_INDEX_LIMITS.maxPackages + 8 });
  } catch (e) {
    throw new PackageError('BAD_VERSIONS_INDEX', (e as Error).message, { cause: e });
  }
  const r = new FieldReader((m) => new PackageError('BAD_VERSIONS_INDEX', m), where);
  const o = r.exact(value, '', ['packages']);
  const packages: Record<string, PackageIndexEntry> = {};
  for (const [name, entry] of r.entries(o.packages, 'packages', PACKAGE_INDEX_LIMITS.maxPackages, 64)) {
    if (!isValidName(name)) throw r.fail(`packages: ${JSON.stringify(name.slice(0, 64))} is not a package name`);
    const e = r.exact(entry, `packages.${name}`, ['version'], ['description']);
    const version = r.string(e.version, `packages.${name}.version`, MANIFEST_LIMITS.maxVersionChars, { valid: isStrictVersion, expected: 'a strict semver version' });
    packages[name] = {
      version,
      ...(e.description === undefined ? {} : { description: r.string(e.description, `packages.${name}.description`, MANIFEST_LIMITS.maxDescriptionChars, { valid: (t) => !hasControlCharacter(t), expected: 'text without control characters' }) }),
    };
  }
  return { packages };
}

/** The index with `manifest` listed, if it is the package's newest version. */
export function withPackage(index: PackageIndex, manifest: PackageManifest): PackageIndex {
  const current = index.packages[manifest.name];
  if (current !== undefined && !semver.gt(manifest.version, current.version)) return index;
  const entry: PackageIndexEntry = { version: manifest.version, ...(manifest.description === undefined ? {} : { description: manifest.description }) };
  return { packages: { ...index.packages, [manifest.name]: entry } };
}

export function packageIndexBytes(index: PackageIndex): Buffer {
  return canonicalBytes(index as unknown as Parameters<typeof canonicalBytes>[0]);
}
