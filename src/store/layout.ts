// store/layout.ts: where the store keeps what (docs/store.md "Layout"; docs/design.md "Client
// store"), the store ID of a package build, the rules for the names that become
// path components, and the caps on everything the store reads back from disk.
import { join } from 'node:path';
import { StoreError } from './errors.js';

/** The paths of one store root (one per scope: system or user). */
export interface StoreLayout {
  root: string;
  /** One lock: two cairn processes never interleave (io/lock-file.ts). */
  lock: string;
  /** ROOT/store/ID/ (read-only trees) and ROOT/store/ID.json (their records). */
  store: string;
  /** ROOT/generations/N/ (manifest.json, bin/). */
  generations: string;
  /** Symlink to generations/N, switched with rename(2). */
  current: string;
  /** Staging on the same file system, and leftovers of interrupted operations. */
  tmp: string;
  /** One directory per remote (store/remotes.ts). */
  remotes: string;
  /** The updates the last background update held (store/install.ts). */
  heldUpdates: string;
}

export function storeLayout(root: string): StoreLayout {
  return {
    root,
    lock: join(root, 'lock'),
    store: join(root, 'store'),
    generations: join(root, 'generations'),
    current: join(root, 'current'),
    tmp: join(root, 'tmp'),
    remotes: join(root, 'remotes'),
    heldUpdates: join(root, 'held-updates.json'),
  };
}

/** Caps on what the store reads back (its files may have been changed by anyone with access). */
export const STORE_LIMITS = {
  /** A record lists every file of one package: 100,000 entries of a few hundred bytes. */
  maxRecordBytes: 48 * 1024 * 1024,
  /** A generation manifest lists packages, not files. */
  maxGenerationManifestBytes: 8 * 1024 * 1024,
  /** Files, directories and links in one store path. */
  maxFilesPerPackage: 100_000,
  /** Packages in one generation. */
  maxPackagesPerGeneration: 10_000,
  /** Entry points of one package. */
  maxEntryPointsPerPackage: 1_000,
  /** Permissions one package requests. */
  maxPermissionsPerPackage: 1_000,
  /** Generations listed in ROOT/generations (far more than any sane history). */
  maxGenerations: 100_000,
  /** Characters of a path inside a package (PATH_MAX). */
  maxPathChars: 4096,
  /** Characters of a package name, a version, a command name. */
  maxNameChars: 214,
  /** Characters of a remote name, a target path, a reason, a permission. */
  maxTextChars: 4096,
  /** Nesting of JSON read back. */
  maxJsonDepth: 16,
} as const;

/** A package name or a command name: one path component, no leading dot, no separator. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
/** A version: one path component (semver's characters). */
export const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+-]*$/;
/** A store ID: 32 hex of the archive's sha256, name, version. */
export const STORE_ID_PATTERN = /^[0-9a-f]{32}-[A-Za-z0-9][A-Za-z0-9._+-]*$/;
/** A generation's directory name. */
export const GENERATION_PATTERN = /^[1-9][0-9]{0,15}$/;

/** The store ID of a package build: first 32 hex of the archive's sha256, '-', name, '-', version. */
export function storeId(targetSha256: string, name: string, version: string): string {
  checkName(name, 'package name');
  checkVersion(version);
  if (!/^[0-9a-f]{64}$/.test(targetSha256)) throw new StoreError('BAD_PLAN', `the archive digest of ${name} ${version} must be 64 lowercase hex digits (sha256)`);
  return `${targetSha256.slice(0, 32)}-${name}-${version}`;
}

export function checkName(name: string, what: string): void {
  if (typeof name !== 'string' || name.length > STORE_LIMITS.maxNameChars || !NAME_PATTERN.test(name)) {
    throw new StoreError('BAD_PLAN', `${what} ${JSON.stringify(String(name).slice(0, 64))} is not a valid name (letters, digits, . _ + -, starting with a letter or digit, at most ${STORE_LIMITS.maxNameChars} characters)`);
  }
}

export function checkVersion(version: string): void {
  if (typeof version !== 'string' || version.length > STORE_LIMITS.maxNameChars || !VERSION_PATTERN.test(version)) {
    throw new StoreError('BAD_PLAN', `version ${JSON.stringify(String(version).slice(0, 64))} is not valid (letters, digits, . + -, starting with a letter or digit)`);
  }
}

/**
 * True for a relative path inside a package: components separated by '/', none empty, '.' or
 * '..', no NUL, within the length cap.
 */
export function isPackagePath(path: string): boolean {
  if (typeof path !== 'string' || path.length === 0 || path.length > STORE_LIMITS.maxPathChars || path.includes('\0')) return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** The target of the bin link ROOT/generations/N/bin/CMD for entry point PATH of store path ID. */
export function binLinkTarget(id: string, path: string): string {
  return `../../../store/${id}/${path}`;
}

/** The target of ROOT/current for generation N. */
export function currentLinkTarget(number: number): string {
  return `generations/${number}`;
}
