// package/archive-paths.ts: the rules for paths and links inside a package (docs/packages.md
// "Archive rules"), shared by pack (which refuses to write what extraction would refuse) and
// extraction: safe relative paths, the name key under which two names collide (case and Unicode
// normalization), and the resolution of a symbolic link against the archive's own links.

/** Longest path of an entry, in UTF-8 bytes (ustar holds at most 255; pax names are capped here). */
export const MAX_PATH_BYTES = 1024;
/** Longest single path component, in UTF-8 bytes (NAME_MAX of common file systems). */
export const MAX_COMPONENT_BYTES = 255;
/** Longest symbolic link target, in UTF-8 bytes. */
export const MAX_LINK_TARGET_BYTES = 1024;
/** Most links followed while resolving one link (the kernel's ELOOP limit is 40). */
export const MAX_LINK_HOPS = 40;

/** True when `text` holds a C0 control (NUL included), DEL or a C1 control. */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

/**
 * Why `path` is not a safe relative path of a package (undefined when it is): empty, absolute,
 * a "." or ".." or empty component, a backslash, a control character, or too long.
 */
export function unsafePathReason(path: string): string | undefined {
  if (path.length === 0) return 'the path is empty';
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) return `the path is longer than ${MAX_PATH_BYTES} bytes`;
  if (hasControlCharacter(path)) return 'the path holds a control character';
  if (path.startsWith('/')) return 'the path is absolute';
  if (path.includes('\\')) return 'the path holds a backslash';
  for (const segment of path.split('/')) {
    if (segment === '') return 'the path has an empty component';
    if (segment === '.' || segment === '..') return `the path has a "${segment}" component`;
    if (Buffer.byteLength(segment, 'utf8') > MAX_COMPONENT_BYTES) return `a path component is longer than ${MAX_COMPONENT_BYTES} bytes`;
  }
  return undefined;
}

/** Why `target` is not an acceptable symbolic link target text (undefined when it is); escapes are checked by resolveLink. */
export function unsafeLinkTargetReason(target: string): string | undefined {
  if (target.length === 0) return 'the link target is empty';
  if (Buffer.byteLength(target, 'utf8') > MAX_LINK_TARGET_BYTES) return `the link target is longer than ${MAX_LINK_TARGET_BYTES} bytes`;
  if (hasControlCharacter(target)) return 'the link target holds a control character';
  if (target.includes('\\')) return 'the link target holds a backslash';
  return undefined;
}

/** The key under which two names are the same on some file system: NFC-normalized, lowercase. */
export function collisionKey(path: string): string {
  return path.normalize('NFC').toLowerCase();
}

/** The parent directories of `path`, shortest first ('a/b/c' -> ['a', 'a/b']). */
export function ancestorsOf(path: string): string[] {
  const parts = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

/** Byte order of UTF-8 paths, directories compared as "dir/": the order of entries in a package. */
export function compareArchivePaths(a: { path: string; directory: boolean }, b: { path: string; directory: boolean }): number {
  return Buffer.compare(Buffer.from(a.directory ? `${a.path}/` : a.path, 'utf8'), Buffer.from(b.directory ? `${b.path}/` : b.path, 'utf8'));
}

/**
 * Resolves the symbolic link at `linkPath` (a safe relative path) with target `target` the way
 * the kernel would inside the package root, following the package's other links (`links`:
 * collisionKey(path) -> target, so that "A/x" goes through a link "a" as it would on a
 * case-insensitive file system) as it goes. Returns the package-relative path it resolves to ('' for the root), or
 * the reason it escapes: an absolute target, a ".." above the root (also after a link: 'a/l/..'
 * where a/l -> '..' leaves the root), more than MAX_LINK_HOPS links.
 */
/**
 * Path components all the links of one archive may walk when they are resolved: a small archive
 * of long chained links could otherwise cost minutes of CPU (each step also looks up the path
 * walked so far). A real package's links walk a few dozen components each.
 */
export const LINK_RESOLUTION_BUDGET = 1_000_000;

/** The work left for resolving links: `steps` components, each costing one more per character of the path so far / 64. */
export interface LinkBudget {
  steps: number;
}

export function resolveLink(linkPath: string, target: string, links: ReadonlyMap<string, string>, budget: LinkBudget = { steps: LINK_RESOLUTION_BUDGET }): { resolved: string } | { escapes: string } | { overBudget: true } {
  const stack = linkPath.split('/').slice(0, -1);
  // Components still to walk, in order; a link met on the way puts its target's components first.
  const pending: string[] = [];
  const start = (text: string): string | undefined => {
    if (text.startsWith('/')) return `it points to the absolute path ${JSON.stringify(text.slice(0, 80))}`;
    pending.unshift(...text.split('/'));
    return undefined;
  };
  const first = start(target);
  if (first) return { escapes: first };
  let hops = 1;
  let length = stack.join('/').length;
  while (pending.length > 0) {
    const c = pending.shift()!;
    budget.steps -= 1 + (length >> 6);
    if (budget.steps < 0) return { overBudget: true };
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (stack.length === 0) return { escapes: 'it resolves outside the package' };
      length -= stack.pop()!.length + 1;
      continue;
    }
    stack.push(c);
    length += c.length + 1;
    const next = links.get(collisionKey(stack.join('/')));
    if (next !== undefined) {
      if (++hops > MAX_LINK_HOPS) return { escapes: `more than ${MAX_LINK_HOPS} links are followed to resolve it` };
      length -= stack.pop()!.length + 1;
      const why = start(next);
      if (why) return { escapes: `it goes through ${stack.concat(c).join('/')}, where ${why}` };
    }
  }
  return { resolved: stack.join('/') };
}
