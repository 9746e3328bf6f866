// tuf/delegation-search.ts: the search for a target's metadata through the delegation graph (TUF
// spec 1.0.x 5.6.7): pre-order depth-first from the top-level targets role, delegations in order
// of appearance (tuf/delegation.ts decides which roles a path belongs to). A role visited before
// is skipped (cycles, 5.6.7.1), a terminating delegation ends the search below it (5.6.7.2.1),
// and at most maxDelegations roles are visited, so a repository cannot make a search endless.
import type { TargetFile } from '@tufjs/models';
import { rolesForTarget } from './delegation.js';
import type { TargetsRoles } from './targets-update.js';

/** 5.6.7: the metadata of `targetPath` from the first role in pre-order that lists it; undefined if none does. */
export async function searchDelegations(roles: TargetsRoles, targetPath: string, maxDelegations: number): Promise<TargetFile | undefined> {
  const toVisit: Array<[role: string, delegator: string]> = [['targets', 'root']];
  const visited = new Set<string>();
  while (toVisit.length > 0 && visited.size <= maxDelegations) {
    const [role, delegator] = toVisit.pop()!;
    if (visited.has(role)) continue;
    const envelope = await roles.get(role, delegator);
    const target = envelope.signed.targets[targetPath];
    if (target) return target;
    visited.add(role);
    const delegations = envelope.signed.delegations;
    if (!delegations) continue;
    const children: Array<[string, string]> = [];
    for (const match of rolesForTarget(delegations, targetPath)) {
      children.push([match.role, role]);
      if (match.terminating) {
        toVisit.length = 0;
        break;
      }
    }
    for (let i = children.length - 1; i >= 0; i--) toVisit.push(children[i]!);
  }
  return undefined;
}
