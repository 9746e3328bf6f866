// repo/rotate.ts: root rotation (TUF spec 1.0.x 6.1 and 5.3.4): a new root version N+1 that
// changes the keys or thresholds of any top-level role. Publish accepts it only when it carries
// the threshold of signatures of both root N's root role and its own root role (repo sign).
import type { JsonObject, JsonValue } from '../encoding/canonical-json.js';
import type { TufPublicKey } from '../crypto/public-key.js';
import type { Signer } from '../crypto/signer.js';
import { TOP_LEVEL_ROLES, type TopLevelRole } from './config.js';
import { BUILD_POLICY_FIELD } from '../policy/index.js';
import { keySetOf, parseBuildPolicyJson } from './init.js';
import { Workspace, type RoleChange } from './workspace.js';

export interface RoleKeyChange {
  /** New key set (replaces the old one); omitted keeps the current keys. */
  keys?: TufPublicKey[];
  /** New threshold; omitted keeps the current one. */
  threshold?: number;
}

export interface RotateRootOptions {
  roles?: Partial<Record<TopLevelRole, RoleKeyChange>>;
  consistentSnapshot?: boolean;
  expires?: Date;
  signers?: readonly Signer[];
  now?: Date;
  /**
   * New build-verification policy (root's `x-cairn-build-policy`, from buildPolicyJson); null
   * removes it; omitted keeps the current one. It changes only with this root version, which
   * publish and the witnesses accept only when signed by the old and new root thresholds.
   */
  buildPolicy?: JsonObject | null;
}

export async function rotateRoot(dir: string, options: RotateRootOptions): Promise<RoleChange[]> {
  const ws = await Workspace.open(dir);
  const root = await ws.root();
  const keys: Record<string, TufPublicKey> = {};
  for (const [id, k] of Object.entries(root.signed.keys)) {
    keys[id] = { ...(k.unrecognizedFields ?? {}), keytype: k.keyType, scheme: k.scheme, keyval: { ...k.keyVal } as TufPublicKey['keyval'] };
  }
  const roles: JsonObject = {};
  let targetsKeysChanged = false;
  for (const role of TOP_LEVEL_ROLES) {
    const current = root.signed.roles[role]!;
    const change = options.roles?.[role];
    const roleKeys = change?.keys ?? current.keyIDs.map((id) => keys[id]!);
    const threshold = change?.threshold ?? current.threshold;
    const set = keySetOf(role, { keys: roleKeys, threshold });
    for (const [id, k] of Object.entries(set)) keys[id] = k;
    const keyids = Object.keys(set).sort();
    if (role === 'targets' && keyids.join() !== [...current.keyIDs].sort().join()) targetsKeysChanged = true;
    roles[role] = { keyids, threshold };
  }
  const used = new Set(Object.values(roles).flatMap((r) => (r as { keyids: string[] }).keyids));
  await ws.edit('root', (signed) => {
    signed.roles = roles;
    signed.keys = Object.fromEntries(Object.entries(keys).filter(([id]) => used.has(id)).map(([id, k]) => [id, k as unknown as JsonValue]));
    if (options.consistentSnapshot !== undefined) signed.consistent_snapshot = options.consistentSnapshot;
    if (options.buildPolicy === null) delete signed[BUILD_POLICY_FIELD];
    else if (options.buildPolicy !== undefined) signed[BUILD_POLICY_FIELD] = parseBuildPolicyJson(options.buildPolicy);
  });
  // Targets signed under old keys would not verify under the new root: it must be signed again.
  if (targetsKeysChanged) await ws.edit('targets', () => undefined);
  return ws.commit(options);
}
