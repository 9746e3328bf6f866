// store/resolve.ts: dependency resolution from verified metadata only (docs/packages.md
// "Dependencies"). Ranges have npm's semver semantics (the semver library); one version of each
// package per generation, as in apt and flatpak. The search is a depth-first walk over versions,
// newest first (an installed version first when it still satisfies and the package is not being
// updated), that backtracks on a conflict and stops after a fixed number of steps. A failure is
// explained: which package wants what of which other, and what versions exist; never guessed.
import semver from 'semver';
import { InstallError } from './install-errors.js';

/** What the resolver may ask of the verified metadata. */
export interface PackageCatalog {
  /** Versions published for `name` (UNKNOWN_PACKAGE when there is none). */
  versions(name: string): Promise<readonly string[]>;
  /** The dependencies of `name@version` from its verified manifest. */
  dependencies(name: string, version: string): Promise<Readonly<Record<string, string>>>;
}

/** One constraint: `wantedBy` (a package `name@version`, or "you" for a request) needs `name` in `range`. */
export interface Requirement {
  name: string;
  range: string;
  wantedBy: string;
}

export interface ResolveOptions {
  /** Versions to keep when they still satisfy (the installed ones), by package name. */
  prefer?: Readonly<Record<string, string>>;
  /** Packages whose preferred version is not kept (being updated): newest first. */
  updating?: ReadonlySet<string>;
  /** Versions tried before giving up (default 10,000). */
  maxSteps?: number;
}

interface Failure {
  name: string;
  requirements: Requirement[];
  available: readonly string[];
}

/** The chosen version of every package the requests need, by name. */
export async function resolveDependencies(
  requests: readonly Requirement[],
  catalog: PackageCatalog,
  options: ResolveOptions = {},
): Promise<Map<string, string>> {
  const maxSteps = options.maxSteps ?? 10_000;
  let steps = 0;
  let deepest: { depth: number; failure: Failure } | undefined;
  const versionsOf = memo((name: string) => catalog.versions(name));
  const depsOf = memo((key: string) => {
    const at = key.lastIndexOf('@');
    return catalog.dependencies(key.slice(0, at), key.slice(at + 1));
  });

  const fail = (depth: number, failure: Failure): undefined => {
    if (!deepest || depth >= deepest.depth) deepest = { depth, failure };
    return undefined;
  };

  const search = async (chosen: Map<string, string>, requirements: Requirement[], depth: number): Promise<Map<string, string> | undefined> => {
    const open = requirements.find((r) => !chosen.has(r.name));
    if (!open) return chosen;
    const wants = requirements.filter((r) => r.name === open.name);
    const available = await versionsOf(open.name);
    const candidates = orderCandidates(available, open.name, options).filter((v) => wants.every((r) => semver.satisfies(v, r.range)));
    if (candidates.length === 0) return fail(depth, { name: open.name, requirements: wants, available });
    for (const version of candidates) {
      if (++steps > maxSteps) {
        throw new InstallError('DEPENDENCY_CONFLICT', `dependency resolution gave up after ${maxSteps} versions tried`, { hint: 'ask for exact versions (cairn install NAME@VERSION) to narrow the search' });
      }
      const deps = await depsOf(`${open.name}@${version}`);
      const added = Object.entries(deps).map(([name, range]) => ({ name, range, wantedBy: `${open.name}@${version}` }));
      const clash = added.find((r) => chosen.has(r.name) && !semver.satisfies(chosen.get(r.name)!, r.range));
      if (clash) {
        const all = [...requirements.filter((r) => r.name === clash.name), clash];
        fail(depth + 1, { name: clash.name, requirements: all, available: await versionsOf(clash.name) });
        continue;
      }
      const next = new Map(chosen).set(open.name, version);
      const result = await search(next, [...requirements, ...added], depth + 1);
      if (result) return result;
    }
    return undefined;
  };

  for (const r of requests) {
    if (semver.validRange(r.range) === null) throw new InstallError('BAD_REQUEST', `${r.name}@${r.range}: "${r.range}" is not a version or semver range`, { hint: 'use NAME, NAME@1.2.3 or NAME@^1.2' });
  }
  const result = await search(new Map(), [...requests], 0);
  if (result) return result;
  throw explain(deepest!.failure);
}

/** Newest first; a preferred (installed) version that is not being updated goes first. */
function orderCandidates(available: readonly string[], name: string, options: ResolveOptions): string[] {
  const sorted = [...available].filter((v) => semver.valid(v) !== null).sort(semver.rcompare);
  const keep = options.prefer?.[name];
  if (keep === undefined || options.updating?.has(name) || !sorted.includes(keep)) return sorted;
  return [keep, ...sorted.filter((v) => v !== keep)];
}

function explain(f: Failure): InstallError {
  const wants = f.requirements.map((r) => `${r.wantedBy} wants ${f.name}@${r.range}`).join(', ');
  const available = f.available.length === 0 ? 'none' : [...f.available].sort(semver.compare).join(', ');
  if (f.requirements.length === 1) {
    return new InstallError('NO_MATCHING_VERSION', `${wants}, but no published version matches (available: ${available})`, {
      hint: `cairn info ${f.name} lists its versions`,
    });
  }
  return new InstallError('DEPENDENCY_CONFLICT', `no version of ${f.name} satisfies every package that needs it: ${wants} (available: ${available})`, {
    hint: 'install versions that agree, or ask the publishers to widen their ranges',
  });
}

function memo<T>(fn: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (key) => {
    let p = cache.get(key);
    if (!p) cache.set(key, (p = fn(key)));
    return p;
  };
}
