// tuf/delegation.ts: which delegated roles a target path belongs to (TUF spec 1.0.x 5.6.7 and
// section 4.5 "paths", "path_hash_prefixes", TAP 15 succinct hash bins). Same semantics as
// python-tuf: a "paths" pattern matches when it has as many '/'-separated segments as the path
// and each segment matches as a shell glob (fnmatch: *, ?, [seq], [!seq]). The path's SHA-256
// is computed once per lookup, not once per role, and glob patterns are compiled once.
import { createHash } from 'node:crypto';
import type { Targets } from '@tufjs/models';

type Delegations = NonNullable<Targets['delegations']>;

export interface DelegationMatch {
  readonly role: string;
  readonly terminating: boolean;
}

const compiled = new Map<string, RegExp[]>();
const COMPILED_LIMIT = 10_000;

/** The roles of `delegations` that are trusted for `targetPath`, in order of appearance. */
export function rolesForTarget(delegations: Delegations, targetPath: string): DelegationMatch[] {
  let pathHash: string | undefined;
  const hashOf = (): string => (pathHash ??= createHash('sha256').update(targetPath).digest('hex'));
  const out: DelegationMatch[] = [];
  if (delegations.roles) {
    let targetParts: string[] | undefined;
    for (const role of Object.values(delegations.roles)) {
      let matches = false;
      if (role.paths) {
        targetParts ??= targetPath.split('/');
        for (const pattern of role.paths) {
          if (pathMatches(targetParts, pattern)) {
            matches = true;
            break;
          }
        }
      } else if (role.pathHashPrefixes) {
        const h = hashOf();
        matches = role.pathHashPrefixes.some((prefix) => h.startsWith(prefix));
      }
      if (matches) out.push({ role: role.name, terminating: role.terminating });
    }
  } else if (delegations.succinctRoles) {
    out.push({ role: delegations.succinctRoles.getRoleForTarget(targetPath), terminating: true });
  }
  return out;
}

function pathMatches(targetParts: readonly string[], pattern: string): boolean {
  let regexes = compiled.get(pattern);
  if (!regexes) {
    regexes = pattern.split('/').map(globToRegExp);
    if (compiled.size >= COMPILED_LIMIT) compiled.clear();
    compiled.set(pattern, regexes);
  }
  if (regexes.length !== targetParts.length) return false;
  for (let i = 0; i < regexes.length; i++) {
    if (!regexes[i]!.test(targetParts[i]!)) return false;
  }
  return true;
}

/** fnmatch-style glob (one path segment) to an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      body = body.replace(/\\/g, '\\\\').replace(/\^/g, '\\^');
      re += `[${negate ? '^' : ''}${body}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** Every role `delegations` delegates to, with the keys and threshold it must be signed with. */
export function* rolesOf(delegations: Delegations): Generator<{ name: string; role: { keyIDs: readonly string[]; threshold: number } }> {
  for (const role of Object.values(delegations.roles ?? {})) yield { name: role.name, role };
  const succinct = delegations.succinctRoles;
  if (succinct) for (const name of succinct.getRoles()) yield { name, role: succinct };
}
