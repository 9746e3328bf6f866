// package/manifest.ts: the package manifest, cairn-package.json at the root of a package archive
// and, byte for byte, the custom metadata of the package's TUF target (docs/packages.md
// "Manifest"). Parsing is strict: unknown fields are refused and every field is checked.
import { valid, validRange } from 'semver';
import { canonicalBytes, FieldReader } from '../encoding/index.js';
import { hasControlCharacter, unsafePathReason } from './archive-paths.js';
import { PackageError } from './errors.js';
import { NAME_PATTERN, isValidName, parsePermission } from './permissions.js';

export const MANIFEST_FILE = 'cairn-package.json';
/** The field of a target's custom metadata that holds the manifest. */
export const CUSTOM_FIELD = 'cairnPackage';

export interface PackageManifest {
  /** /^[a-z0-9][a-z0-9._-]{0,63}$/, not '.' or '..'. */
  name: string;
  /** Strict semver (semver.valid(v) === v). */
  version: string;
  description?: string;
  /** Command name -> relative path of a regular file in the archive. */
  entryPoints: Record<string, string>;
  /** Package name -> semver range. */
  dependencies: Record<string, string>;
  /** Sorted, no duplicates, each in the vocabulary of permissions.ts. */
  permissions: string[];
  /**
   * The runtime (guest kernel and initramfs) the app's VM boots: one of `dependencies`, so it is
   * resolved, verified and installed like any package and pinned by that dependency's range
   * (docs/apps.md "Runtime").
   */
  runtime?: string;
}

export const MANIFEST_LIMITS = {
  /** The manifest file (in a package or a source tree): small by design. */
  maxBytes: 64 * 1024,
  /** A version string (semver sets no limit; npm's is 256). */
  maxVersionChars: 256,
  maxDescriptionChars: 1024,
  maxEntryPoints: 64,
  maxDependencies: 256,
  /** A dependency's range. */
  maxRangeChars: 256,
  maxPermissions: 256,
} as const;

const NAME_RULE = { min: 1, pattern: NAME_PATTERN, valid: isValidName, expected: 'a name of 1 to 64 characters [a-z0-9._-] starting with a letter or digit' };

/** A strict semver version: semver.valid(v) === v (no 'v' prefix, no spaces). */
export function isStrictVersion(v: string): boolean {
  return v.length <= MANIFEST_LIMITS.maxVersionChars && valid(v) === v;
}

/**
 * Parses an untrusted manifest value (already JSON-parsed with caps). `where` names it in
 * messages. Throws PackageError BAD_MANIFEST naming the field, or UNKNOWN_PERMISSION.
 */
export function parseManifest(value: unknown, where: string): PackageManifest {
  const r = new FieldReader((m) => new PackageError('BAD_MANIFEST', m), where);
  const o = r.exact(value, '', ['name', 'version', 'entryPoints', 'dependencies', 'permissions'], ['description', 'runtime']);
  const name = r.string(o.name, 'name', 64, NAME_RULE);
  const version = r.string(o.version, 'version', MANIFEST_LIMITS.maxVersionChars, { min: 1, valid: isStrictVersion, expected: 'a strict semver version such as "1.2.3"' });
  const manifest: PackageManifest = { name, version, entryPoints: {}, dependencies: {}, permissions: [] };
  if (o.description !== undefined) {
    manifest.description = r.string(o.description, 'description', MANIFEST_LIMITS.maxDescriptionChars, { valid: (t) => !hasControlCharacter(t), expected: 'text without control characters' });
  }
  for (const [command, path] of r.entries(o.entryPoints, 'entryPoints', MANIFEST_LIMITS.maxEntryPoints, 64)) {
    r.string(command, 'entryPoints: a command name', 64, NAME_RULE);
    manifest.entryPoints[command] = r.string(path, `entryPoints.${command}`, 1024, {
      min: 1, valid: (p) => unsafePathReason(p) === undefined, expected: 'a normalized relative path inside the package (no "..", no leading "/")',
    });
  }
  for (const [dependency, range] of r.entries(o.dependencies, 'dependencies', MANIFEST_LIMITS.maxDependencies, 64)) {
    r.string(dependency, 'dependencies: a package name', 64, NAME_RULE);
    manifest.dependencies[dependency] = r.string(range, `dependencies.${dependency}`, MANIFEST_LIMITS.maxRangeChars, {
      min: 1, valid: (t) => !hasControlCharacter(t) && validRange(t) !== null, expected: 'a semver range such as "^1.2.0"',
    });
  }
  const permissions = r.array(o.permissions, 'permissions', MANIFEST_LIMITS.maxPermissions);
  permissions.forEach((p, i) => {
    const text = r.string(p, `permissions[${i}]`, 300, { min: 1 });
    try {
      parsePermission(text);
    } catch (e) {
      if (e instanceof PackageError) throw new PackageError('UNKNOWN_PERMISSION', `${where}: permissions[${i}]: ${e.message}`, { hint: e.hint });
      throw e;
    }
    if (i > 0 && Buffer.compare(Buffer.from(permissions[i - 1] as string), Buffer.from(text)) >= 0) {
      throw r.fail(`permissions must be sorted without duplicates, found ${JSON.stringify(text)} after ${JSON.stringify(permissions[i - 1])}`);
    }
    manifest.permissions.push(text);
  });
  if (o.runtime !== undefined) {
    const runtime = r.string(o.runtime, 'runtime', 64, NAME_RULE);
    if (!Object.hasOwn(manifest.dependencies, runtime)) throw r.fail(`runtime ${JSON.stringify(runtime)} must also be one of the dependencies (its range pins the runtime)`);
    manifest.runtime = runtime;
  }
  return manifest;
}

/** The canonical bytes of a manifest (canonical JSON, no trailing newline): what pack writes and what the target's custom metadata must equal. */
export function manifestBytes(m: PackageManifest): Buffer {
  return canonicalBytes({
    name: m.name, version: m.version, ...(m.description === undefined ? {} : { description: m.description }),
    entryPoints: m.entryPoints, dependencies: m.dependencies, permissions: m.permissions,
    ...(m.runtime === undefined ? {} : { runtime: m.runtime }),
  });
}

/** The target path of a package's archive: packages/NAME/NAME-VERSION.tar. */
export function packageTargetPath(name: string, version: string): string {
  return `packages/${name}/${name}-${version}.tar`;
}

/** The target path of a package's versions index: packages/NAME/versions.json. */
export function versionsTargetPath(name: string): string {
  return `packages/${name}/versions.json`;
}
