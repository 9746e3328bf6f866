// repo/refresh.ts: re-issuing a role without changing its content (TUF spec 1.0.x 6.1): a new
// version with a new expiry, to be signed again; used before metadata expires.
import type { Signer } from '../crypto/signer.js';
import { RepoError } from './errors.js';
import { Workspace, type RoleChange } from './workspace.js';

export interface RefreshOptions {
  expires?: Date;
  signers?: readonly Signer[];
  now?: Date;
}

/** Stages `role` (root, targets or a delegated role) again: version published + 1, new expiry, no signatures. */
export async function refreshRole(dir: string, role: string, options: RefreshOptions = {}): Promise<RoleChange[]> {
  if (role === 'snapshot' || role === 'timestamp') {
    throw new RepoError('UNKNOWN_ROLE', `${role} is re-issued by every publish`, { hint: `run: cairn repo publish DIR --key FILE --${role}-expires WHEN` });
  }
  const ws = await Workspace.open(dir);
  await ws.edit(role, () => undefined);
  return ws.commit(options);
}
