// repo/config.ts: the workspace configuration (DIR/cairn-repo.json), expiry durations and the
// naming rules for roles and target paths (TUF spec 1.0.x 4.4 "targets", 4.5 delegations).
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { FormatError } from '../errors/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFile, tooLargeIsFormatError } from '../io/capped-file.js';
import { RepoError } from './errors.js';
import { stableJson } from './metadata-file.js';
import { repoLayout, type RepoLayout } from './layout.js';

export const CONFIG_FORMAT = 'cairn/repo/v1';
export const TOP_LEVEL_ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
export type TopLevelRole = (typeof TOP_LEVEL_ROLES)[number];
export const SPEC_VERSION = '1.0.31';

const DAY = 86_400;
export const DEFAULT_EXPIRY_SECONDS: Record<TopLevelRole, number> = {
  root: 365 * DAY,
  targets: 90 * DAY,
  snapshot: 7 * DAY,
  timestamp: 1 * DAY,
};

export interface RepoConfig {
  format: typeof CONFIG_FORMAT;
  consistentSnapshot: boolean;
  /** Seconds from signing to expiry per top-level role; delegated roles use `targets`. */
  expirySeconds: Record<TopLevelRole, number>;
  /**
   * Put length and sha256 of each role into snapshot (and of snapshot into timestamp). On by
   * default; a repository with a release log needs it (docs/protocol.md section 5 "What a block
   * commits to"): without it a block would not commit to the bytes of delegated roles.
   */
  metaHashes: boolean;
}

const SMALL_JSON = { maxBytes: 1 << 20, maxDepth: 8, maxEntries: 10_000 };

export async function readConfig(layout: RepoLayout): Promise<RepoConfig> {
  let bytes: Buffer;
  try {
    bytes = await readCappedFile(layout.config, SMALL_JSON.maxBytes, { refuse: tooLargeIsFormatError });
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new RepoError('NOT_A_REPOSITORY', `${layout.dir} is not a cairn repository (no ${layout.config})`, {
      cause: e,
      hint: `create one with: cairn repo init ${layout.dir} --root-key FILE ...`,
    });
  }
  const json = parseJsonObject(bytes, layout.config, SMALL_JSON);
  if (json.format !== CONFIG_FORMAT) throw new RepoError('BAD_CONFIG', `${layout.config} is not a ${CONFIG_FORMAT} configuration`);
  const r = new FieldReader((message) => new RepoError('BAD_CONFIG', message), layout.config);
  const expiry = r.object(json.expirySeconds, 'expirySeconds');
  const expirySeconds = { ...DEFAULT_EXPIRY_SECONDS };
  for (const role of TOP_LEVEL_ROLES) {
    if (expiry[role] !== undefined) expirySeconds[role] = r.integer(expiry[role], `expirySeconds.${role}`, 1);
  }
  return { format: CONFIG_FORMAT, consistentSnapshot: r.boolean(json.consistentSnapshot, 'consistentSnapshot'), metaHashes: r.boolean(json.metaHashes, 'metaHashes'), expirySeconds };
}

export async function writeConfig(layout: RepoLayout, config: RepoConfig): Promise<void> {
  await writeFileAtomic(layout.config, stableJson(config));
}

/** TUF expiry form: ISO 8601 in UTC without fractional seconds (spec 4.2 "expires"). */
export function tufTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Delegated role names become file names (VERSION.NAME.json), so they are restricted. */
export function checkDelegatedRoleName(name: string): void {
  if (!ROLE_NAME.test(name) || (TOP_LEVEL_ROLES as readonly string[]).includes(name) || name.endsWith('.json')) {
    throw new RepoError('BAD_ROLE_NAME', `"${name}" is not a usable delegated role name: use letters, digits, '.', '_' and '-', at most 128, not a top-level role name`);
  }
}

/** A target path as TUF spells it: relative, '/'-separated, no empty, '.' or '..' segments. */
export function checkTargetPath(path: string): void {
  const bad =
    path.length === 0 || path.length > 1024 || path.startsWith('/') || path.includes('\\') ||
    /[\u0000-\u001f\u007f]/.test(path) ||
    path.split('/').some((s) => s === '' || s === '.' || s === '..');
  if (bad) {
    throw new RepoError('BAD_TARGET_PATH', `"${path}" is not a valid target path: it must be relative, use '/' and contain no empty, '.' or '..' segments`);
  }
}

/**
 * `cairn repo enable-meta-hashes`: turns meta hashes on in the configuration of `dir`; the next
 * publish writes a snapshot that pins every role by length and sha256 (repo/publish.ts). Returns
 * false when they were on already.
 */
export async function enableMetaHashes(dir: string): Promise<boolean> {
  const layout = repoLayout(dir);
  const config = await readConfig(layout);
  if (config.metaHashes) return false;
  await writeConfig(layout, { ...config, metaHashes: true });
  return true;
}
