// repo/workspace.ts: the publisher workspace as the other modules see it (layout in layout.ts;
// TUF spec 1.0.x section 6.1 "repository operations"). It loads only the roles an operation
// touches, tracks which ones changed, and commits them: each changed role gets version
// "published + 1" (so several changes in one publish cycle bump it once), a fresh expiry,
// its old signatures dropped, and the signatures of the given keys that may sign it.
import { readdir } from 'node:fs/promises';
import { MetadataKind, type Key, type Metadata, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { parseJsonObject } from '../encoding/bounded-json.js';
import type { JsonObject } from '../encoding/canonical-json.js';
import type { Signer } from '../crypto/signer.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFileIfExists } from '../io/capped-file.js';
import { RepoError } from './errors.js';
import { readConfig, tufTime, TOP_LEVEL_ROLES, type RepoConfig, type TopLevelRole } from './config.js';
import { repoLayout, type RepoLayout } from './layout.js';
import {
  buildMetadata, signedJson, parseRoot, parseSnapshot, parseTargets, parseTimestamp, readMetadataFile, stableJson, tufKeyOf,
  writeMetadataFile, type AnyMetadata,
} from './metadata-file.js';
import { addSignature, type RoleKeys } from './signatures.js';

/** Changes staged since the last publish (DIR/state/pending.json). */
export interface PendingJournal {
  roles: string[];
  /** Target blobs to copy into public/targets at the next publish. */
  targets: Array<{ path: string; sha256: string }>;
}

/** What a commit did to one role. */
export interface RoleChange {
  role: string;
  version: number;
  expires: string;
  signedBy: string[];
}

export interface CommitOptions {
  now?: Date;
  /** Expiry of every role changed by this commit, instead of the configured duration. */
  expires?: Date;
  signers?: readonly Signer[];
}

const STATE_LIMITS = { maxBytes: 256 * 1024 * 1024, maxDepth: 8, maxEntries: 20_000_000 };

export function isTopLevel(role: string): role is TopLevelRole {
  return (TOP_LEVEL_ROLES as readonly string[]).includes(role);
}

export class Workspace {
  private readonly targetsCache = new Map<string, Metadata<Targets>>();
  private readonly edits = new Map<string, JsonObject>();
  private rootCache: Metadata<Root> | undefined;
  private publishedRootCache: Metadata<Root> | null | undefined;
  private snapshotCache: Metadata<Snapshot> | null | undefined;
  private delegatorMap: Record<string, string> | undefined;
  private delegatorMapChanged = false;
  private readonly newTargets: PendingJournal['targets'] = [];

  private constructor(readonly layout: RepoLayout, readonly config: RepoConfig, readonly pending: PendingJournal) {}

  static async open(dir: string): Promise<Workspace> {
    const layout = repoLayout(dir);
    const config = await readConfig(layout);
    return new Workspace(layout, config, await readPending(layout));
  }

  /** For repo init: a workspace over a configuration that is not on disk yet. */
  static create(dir: string, config: RepoConfig): Workspace {
    const ws = new Workspace(repoLayout(dir), config, { roles: [], targets: [] });
    ws.delegatorMap = {};
    ws.delegatorMapChanged = true;
    ws.publishedRootCache = null;
    ws.snapshotCache = null;
    return ws;
  }

  // ---- reading -------------------------------------------------------------------------------

  /** The working root (latest staged version). */
  async root(): Promise<Metadata<Root>> {
    const edited = this.edits.get('root');
    if (edited) return buildMetadata<Metadata<Root>>(MetadataKind.Root, edited, 'staged root');
    if (!this.rootCache) {
      const md = await readMetadataFile(this.layout.staged('root'), parseRoot);
      if (!md) throw new RepoError('NOT_A_REPOSITORY', `${this.layout.dir} has no staged root (${this.layout.staged('root')})`);
      this.rootCache = md;
    }
    return this.rootCache;
  }

  /** The newest root that was published (the one a staged root must also be signed by), if any. */
  async publishedRoot(): Promise<Metadata<Root> | undefined> {
    if (this.publishedRootCache === undefined) {
      let versions: number[] = [];
      try {
        versions = (await readdir(this.layout.rootsDir)).map((n) => /^(\d+)\.root\.json$/.exec(n)?.[1]).filter((v) => v !== undefined).map(Number);
      } catch {
        versions = [];
      }
      const latest = versions.length === 0 ? undefined : Math.max(...versions);
      this.publishedRootCache = latest === undefined ? null : ((await readMetadataFile(this.layout.archivedRoot(latest), parseRoot)) ?? null);
    }
    return this.publishedRootCache ?? undefined;
  }

  /** The last published snapshot, whose meta holds the published version of every targets role. */
  async publishedSnapshot(): Promise<Metadata<Snapshot> | undefined> {
    if (this.snapshotCache === undefined) {
      this.snapshotCache = (await readMetadataFile(this.layout.staged('snapshot'), parseSnapshot)) ?? null;
    }
    return this.snapshotCache ?? undefined;
  }

  async publishedTimestamp(): Promise<Metadata<Timestamp> | undefined> {
    return readMetadataFile(this.layout.staged('timestamp'), parseTimestamp);
  }

  /** Version of `role` in the last publish, 0 if never published. */
  async publishedVersion(role: string): Promise<number> {
    if (role === 'root') return (await this.publishedRoot())?.signed.version ?? 0;
    if (role === 'snapshot') return (await this.publishedSnapshot())?.signed.version ?? 0;
    if (role === 'timestamp') return (await this.publishedTimestamp())?.signed.version ?? 0;
    return (await this.publishedSnapshot())?.signed.meta[`${role}.json`]?.version ?? 0;
  }

  /** Name -> delegating role, for every delegated role. */
  async delegators(): Promise<Record<string, string>> {
    if (!this.delegatorMap) {
      const bytes = await readCappedFileIfExists(this.layout.delegations, STATE_LIMITS.maxBytes);
      const json: JsonObject = bytes === undefined ? {} : parseJsonObject(bytes, this.layout.delegations, STATE_LIMITS);
      const map: Record<string, string> = {};
      for (const [k, v] of Object.entries(json)) if (typeof v === 'string') map[k] = v;
      this.delegatorMap = map;
    }
    return this.delegatorMap;
  }

  /** All targets roles: 'targets' and every delegated role. */
  async targetsRoleNames(): Promise<string[]> {
    return ['targets', ...Object.keys(await this.delegators()).sort()];
  }

  async delegatorOf(role: string): Promise<string> {
    if (isTopLevel(role)) return 'root';
    const d = (await this.delegators())[role];
    if (d === undefined) {
      throw new RepoError('UNKNOWN_ROLE', `role "${role}" is neither a top-level role nor delegated in this repository`, {
        hint: 'cairn repo status DIR lists the roles',
      });
    }
    return d;
  }

  /** The working copy of a targets role ('targets' or a delegated role). */
  async targetsRole(role: string): Promise<Metadata<Targets>> {
    if (role !== 'targets') await this.delegatorOf(role);
    const edited = this.edits.get(role);
    if (edited) return buildMetadata<Metadata<Targets>>(MetadataKind.Targets, edited, `staged ${role}`);
    let md = this.targetsCache.get(role);
    if (!md) {
      md = await readMetadataFile(this.layout.staged(role), parseTargets);
      if (!md) throw new RepoError('UNKNOWN_ROLE', `role "${role}" has no staged metadata (${this.layout.staged(role)})`);
      this.targetsCache.set(role, md);
    }
    return md;
  }

  async role(role: string): Promise<AnyMetadata> {
    if (role === 'root') return this.root();
    if (role === 'snapshot' || role === 'timestamp') {
      const md = role === 'snapshot' ? await this.publishedSnapshot() : await this.publishedTimestamp();
      if (!md) throw new RepoError('UNKNOWN_ROLE', `${role} has not been published yet (it is made by cairn repo publish)`);
      return md;
    }
    return this.targetsRole(role);
  }

  /** Keys and threshold that may sign `role`, per its staged delegator (root for top-level roles). */
  async roleKeys(role: string, rootOverride?: Metadata<Root>): Promise<RoleKeys> {
    const delegator = await this.delegatorOf(role);
    if (delegator === 'root') {
      const root = rootOverride ?? (await this.root());
      const r = root.signed.roles[role];
      if (!r) throw new RepoError('BAD_METADATA', `root has no ${role} role`);
      return { keyids: [...r.keyIDs], threshold: r.threshold, keys: keyMap(root.signed.keys, r.keyIDs) };
    }
    const parent = await this.targetsRole(delegator);
    const d = parent.signed.delegations;
    const r = d?.roles?.[role] ?? (d?.succinctRoles?.isDelegatedRole(role) ? d.succinctRoles : undefined);
    if (!d || !r) throw new RepoError('UNKNOWN_ROLE', `${delegator} does not delegate to "${role}"`);
    return { keyids: [...r.keyIDs], threshold: r.threshold, keys: keyMap(d.keys, r.keyIDs) };
  }

  /** Keys that may sign `role`: for root, the keys of the new and of the previously published root. */
  async signingKeyids(role: string): Promise<Set<string>> {
    const ids = new Set((await this.roleKeys(role)).keyids);
    if (role === 'root') {
      const old = await this.publishedRoot();
      if (old) for (const k of (await this.roleKeys('root', old)).keyids) ids.add(k);
    }
    return ids;
  }

  // ---- changing ------------------------------------------------------------------------------

  /** Edits the `signed` part of a role in memory; the change is written by commit(). */
  async edit(role: string, change: (signed: JsonObject) => void): Promise<void> {
    let json = this.edits.get(role);
    if (!json) {
      json = signedJson(role === 'root' ? await this.root() : await this.targetsRole(role));
    }
    change(json);
    this.edits.set(role, json);
  }

  /** Stages a brand-new role (e.g. a new delegation's empty targets). */
  stageNew(role: string, signed: JsonObject, delegator?: string): void {
    this.edits.set(role, signed);
    if (delegator !== undefined) {
      this.delegatorMap![role] = delegator;
      this.delegatorMapChanged = true;
    }
  }

  async registerDelegated(role: string, delegator: string): Promise<void> {
    (await this.delegators())[role] = delegator;
    this.delegatorMapChanged = true;
  }

  /** Marks a target blob for copying into public/targets at the next publish. */
  addPendingTarget(path: string, sha256: string): void {
    this.newTargets.push({ path, sha256 });
  }

  changedRoles(): string[] {
    return [...this.edits.keys()];
  }

  /**
   * Writes every edited role: version = published + 1, expiry renewed, old signatures dropped,
   * new signatures from `signers` where authorized. The journal is written first, so a crash
   * leaves the change either not staged or fully listed as pending.
   */
  async commit(options: CommitOptions = {}): Promise<RoleChange[]> {
    const now = options.now ?? new Date();
    const built: Array<[string, AnyMetadata]> = [];
    for (const [role, json] of this.edits) {
      const published = await this.publishedVersion(role);
      const seconds = this.config.expirySeconds[isTopLevel(role) ? role : 'targets'];
      json.version = published + 1;
      json.expires = tufTime(options.expires ?? new Date(now.getTime() + seconds * 1000));
      const kind = role === 'root' ? MetadataKind.Root : MetadataKind.Targets;
      built.push([role, buildMetadata<AnyMetadata>(kind, json, `staged ${role}`)]);
    }
    // Install the built roles first so that key lookups (delegations, a new root) see them.
    for (const [role, md] of built) {
      if (role === 'root') this.rootCache = md as Metadata<Root>;
      else this.targetsCache.set(role, md as Metadata<Targets>);
    }
    this.edits.clear();
    const changes: RoleChange[] = [];
    for (const [role, md] of built) {
      const signedBy: string[] = [];
      const allowed = await this.signingKeyids(role);
      for (const signer of options.signers ?? []) {
        if (allowed.has(signer.keyid) && !signedBy.includes(signer.keyid)) {
          addSignature(md, signer);
          signedBy.push(signer.keyid);
        }
      }
      changes.push({ role, version: md.signed.version, expires: md.signed.expires, signedBy });
    }
    const roles = new Set([...this.pending.roles, ...built.map(([r]) => r)]);
    this.pending.roles = [...roles].sort();
    this.pending.targets.push(...this.newTargets);
    this.newTargets.length = 0;
    await writeFileAtomic(this.layout.pending, stableJson(this.pending));
    if (this.delegatorMapChanged) {
      await writeFileAtomic(this.layout.delegations, stableJson(this.delegatorMap ?? {}));
      this.delegatorMapChanged = false;
    }
    for (const [role, md] of built) await writeMetadataFile(this.layout.staged(role), md);
    return changes;
  }

  /** Rewrites a staged role after signatures were added (its `signed` part is unchanged). */
  async saveSignatures(role: string, md: AnyMetadata): Promise<void> {
    await writeMetadataFile(this.layout.staged(role), md);
    if (role === 'root') this.rootCache = md as Metadata<Root>;
    else if (!isTopLevel(role) || role === 'targets') this.targetsCache.set(role, md as Metadata<Targets>);
  }
}

function keyMap(keys: Record<string, Key>, keyids: readonly string[]): RoleKeys['keys'] {
  const out: RoleKeys['keys'] = {};
  for (const id of keyids) {
    const k = keys[id];
    if (k) out[id] = tufKeyOf(k);
  }
  return out;
}

async function readPending(layout: RepoLayout): Promise<PendingJournal> {
  const bytes = await readCappedFileIfExists(layout.pending, STATE_LIMITS.maxBytes);
  if (bytes === undefined) return { roles: [], targets: [] };
  const json = parseJsonObject(bytes, layout.pending, STATE_LIMITS);
  const roles = Array.isArray(json.roles) ? json.roles.filter((r): r is string => typeof r === 'string') : [];
  const targets: PendingJournal['targets'] = [];
  if (Array.isArray(json.targets)) {
    for (const t of json.targets) {
      if (t !== null && typeof t === 'object' && !Array.isArray(t) && typeof t.path === 'string' && typeof t.sha256 === 'string') {
        targets.push({ path: t.path, sha256: t.sha256 });
      }
    }
  }
  return { roles, targets };
}
