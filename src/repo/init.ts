// repo/init.ts: creating a repository (TUF spec 1.0.x 6.1): root version 1 naming the keys and
// thresholds of the four top-level roles, and an empty targets version 1. Snapshot and
// timestamp metadata are made by the first publish. Only public keys are needed; root is
// signed by its holders afterwards (repo sign) or by keys passed here as signers.
import { mkdir, stat } from 'node:fs/promises';
import type { JsonObject } from '../encoding/canonical-json.js';
import { keyIdOf, type TufPublicKey } from '../crypto/public-key.js';
import type { Signer } from '../crypto/signer.js';
import { UsageError } from '../errors/index.js';
import { BUILD_POLICY_FIELD, parseBuildPolicy } from '../policy/index.js';
import { RepoError } from './errors.js';
import { CONFIG_FORMAT, DEFAULT_EXPIRY_SECONDS, SPEC_VERSION, TOP_LEVEL_ROLES, writeConfig, type RepoConfig, type TopLevelRole } from './config.js';
import { repoLayout } from './layout.js';
import { Workspace, type RoleChange } from './workspace.js';

export interface RoleKeySpec {
  keys: TufPublicKey[];
  threshold: number;
}

export interface InitOptions {
  roles: Record<TopLevelRole, RoleKeySpec>;
  expirySeconds?: Partial<Record<TopLevelRole, number>>;
  consistentSnapshot?: boolean;
  /** Length and sha256 of each role in snapshot (default true; a release log refuses a repository without). */
  metaHashes?: boolean;
  signers?: readonly Signer[];
  now?: Date;
  /**
   * The build-verification policy recorded in root (docs/verified-builds.md section 6; policy/build-policy.ts): the
   * value of root's `x-cairn-build-policy`, made with buildPolicyJson. Omitted: none.
   */
  buildPolicy?: JsonObject;
}

/** Checks a key set and threshold, returning keyid -> key (threshold 1..number of distinct keys). */
export function keySetOf(role: string, spec: RoleKeySpec): Record<string, TufPublicKey> {
  const keys: Record<string, TufPublicKey> = {};
  for (const k of spec.keys) keys[keyIdOf(k)] = k;
  const n = Object.keys(keys).length;
  if (n === 0) throw new UsageError('MISSING_ARGUMENT', `role ${role} needs at least one key`, { hint: `pass --${role}-key FILE` });
  if (!Number.isSafeInteger(spec.threshold) || spec.threshold < 1 || spec.threshold > n) {
    throw new RepoError('BAD_THRESHOLD', `role ${role}: threshold ${spec.threshold} must be between 1 and its ${n} distinct key(s)`);
  }
  return keys;
}

/** Wire form of root `signed` with the given roles (version and expiry are set by commit). */
function rootSigned(roles: Record<TopLevelRole, RoleKeySpec>, consistentSnapshot: boolean): JsonObject {
  const keys: JsonObject = {};
  const roleJson: JsonObject = {};
  for (const role of TOP_LEVEL_ROLES) {
    const set = keySetOf(role, roles[role]);
    for (const [id, k] of Object.entries(set)) keys[id] = k as unknown as JsonObject;
    roleJson[role] = { keyids: Object.keys(set).sort(), threshold: roles[role].threshold };
  }
  return { _type: 'root', spec_version: SPEC_VERSION, version: 1, expires: '1970-01-01T00:00:00Z', consistent_snapshot: consistentSnapshot, keys, roles: roleJson };
}

export function emptyTargetsSigned(): JsonObject {
  return { _type: 'targets', spec_version: SPEC_VERSION, version: 1, expires: '1970-01-01T00:00:00Z', targets: {} };
}

export async function initRepository(dir: string, options: InitOptions): Promise<RoleChange[]> {
  const layout = repoLayout(dir);
  const exists = await stat(layout.config).then(() => true, () => false);
  if (exists) throw new RepoError('ALREADY_EXISTS', `${dir} already holds a cairn repository (${layout.config})`);
  const config: RepoConfig = {
    format: CONFIG_FORMAT,
    consistentSnapshot: options.consistentSnapshot ?? true,
    metaHashes: options.metaHashes ?? true,
    expirySeconds: { ...DEFAULT_EXPIRY_SECONDS, ...options.expirySeconds },
  };
  const root = rootSigned(options.roles, config.consistentSnapshot); // validates before any write
  if (options.buildPolicy !== undefined) root[BUILD_POLICY_FIELD] = parseBuildPolicyJson(options.buildPolicy);
  await mkdir(layout.stagedDir, { recursive: true });
  await mkdir(layout.blobsDir, { recursive: true });
  const ws = Workspace.create(dir, config);
  ws.stageNew('root', root);
  ws.stageNew('targets', emptyTargetsSigned());
  const changes = await ws.commit({ now: options.now, signers: options.signers });
  await writeConfig(layout, config); // last: its presence marks a complete repository
  return changes;
}

/** Validates a build policy value (AttestationError BAD_POLICY) and returns it unchanged. */
export function parseBuildPolicyJson(value: JsonObject): JsonObject {
  parseBuildPolicy(value, BUILD_POLICY_FIELD);
  return value;
}
