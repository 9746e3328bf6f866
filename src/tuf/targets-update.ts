// tuf/targets-update.ts: updating the targets roles (TUF spec 1.0.x 5.6), the top-level one
// during a refresh and delegated ones on demand during a delegation search (5.6.7). A still-valid
// local copy is used as it is; else the version the trusted snapshot lists is fetched (5.6.1:
// VERSION.ROLE.json with consistent snapshots, at most the length the snapshot lists), checked by
// TrustedSet (5.6.2-5.6.5) and persisted (5.6.6). A role that several searches need at the same
// time through the same delegator is fetched and verified once; a role reached through another
// delegator (a diamond) is checked again against that delegator's keys and threshold
// (docs/protocol.md "Delegations reached through several delegators").
import { TufError } from './errors.js';
import type { UpdaterConfig } from './config.js';
import type { TargetsEnvelope } from './metadata.js';
import { metadataFileName, quoteName, type MetadataFiles } from './metadata-files.js';
import type { RoleSource } from './timestamp-snapshot-update.js';
import type { TrustedSet } from './trusted-set.js';

/** The targets roles of one refresh, loaded into its trusted set. */
export class TargetsRoles {
  private readonly loading = new Map<string, Promise<TargetsEnvelope>>();

  constructor(
    readonly trusted: TrustedSet,
    private readonly files: MetadataFiles,
    private readonly config: UpdaterConfig,
  ) {}

  /** 5.6: loads `role`, delegated by `delegator` (already trusted), into the trusted set: the local copy if still valid, else the remote one. */
  async update(role: string, delegator: string): Promise<RoleSource> {
    const trusted = this.trusted;
    if (trusted.delegatedTargets(role, delegator)) return 'cache';
    const local = await this.files.readLocal(role, this.config.targetsMaxLength);
    if (local) {
      try {
        trusted.updateDelegatedTargets(local, role, delegator, `local ${quoteName(role)}.json`);
        return 'cache';
      } catch {
        // not valid any more: fetch the version snapshot names
      }
    }
    const meta = trusted.snapshot?.signed.meta[`${role}.json`];
    if (!meta) throw new TufError('MISSING_ROLE', `${role} is delegated but the trusted snapshot does not list ${role}.json`);
    const version = trusted.root.signed.consistentSnapshot ? meta.version : undefined;
    const bytes = await this.files.fetch(role, meta.length ?? this.config.targetsMaxLength, version);
    trusted.updateDelegatedTargets(bytes, role, delegator, metadataFileName(role, version));
    await this.files.persistTargetsRole(role, bytes);
    return 'remote';
  }

  /**
   * The trusted metadata of `role` as `delegator` delegates it, loaded (once per delegator,
   * however many callers wait for it) if it is not yet. Throws THRESHOLD_NOT_MET when the role
   * was loaded through another delegator and does not meet this one's keys and threshold.
   */
  async get(role: string, delegator: string): Promise<TargetsEnvelope> {
    const have = this.trusted.delegatedTargets(role, delegator);
    if (have) return have;
    const key = `${delegator}\u0000${role}`;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.update(role, delegator).then(() => this.trusted.delegatedTargets(role, delegator)!);
      this.loading.set(key, pending);
      pending.catch(() => this.loading.delete(key));
    }
    return pending;
  }
}
