// repo/status.ts: what a publisher needs to know before a release (TUF spec 1.0.x 6.1): per role
// its version (staged and published), expiry and whether it is within the warning window, the
// threshold, which keys have signed validly and which are missing, and the staged changes not
// yet published. Reads every role file, so it is the one operation that scales with the repo.
import { short } from '../errors/index.js';
import { RepoError } from './errors.js';
import { signatureReports } from './signing.js';
import { evaluateSignatures, type SignatureReport } from './signatures.js';
import { isTopLevel, Workspace } from './workspace.js';

export interface RoleStatus {
  role: string;
  delegator: string;
  version: number;
  publishedVersion: number;
  /** Staged with a version not yet published. */
  staged: boolean;
  expires: string;
  expired: boolean;
  expiresSoon: boolean;
  threshold: number;
  targets?: number;
  /** One report per threshold that applies (root being rotated: new root and old root). */
  signatures: SignatureReport[];
  ready: boolean;
}

export interface RepoStatus {
  dir: string;
  consistentSnapshot: boolean;
  roles: RoleStatus[];
  pendingRoles: string[];
  pendingTargets: number;
  /** What is wrong now (an expired role): clients refuse the repository until it is fixed. Empty when healthy. */
  problems: string[];
}

export interface StatusOptions {
  now?: Date;
  /** Warning window before expiry in seconds; default a quarter of each role's configured lifetime. */
  warnSeconds?: number;
}

export async function repoStatus(dir: string, options: StatusOptions = {}): Promise<RepoStatus> {
  const now = options.now ?? new Date();
  const ws = await Workspace.open(dir);
  const root = await ws.root();
  const names = ['root', ...(await ws.targetsRoleNames()), 'snapshot', 'timestamp'];
  const roles: RoleStatus[] = [];
  for (const role of names) {
    let md;
    try {
      md = await ws.role(role);
    } catch (e) {
      if (e instanceof RepoError && e.code === 'UNKNOWN_ROLE' && (role === 'snapshot' || role === 'timestamp')) continue;
      throw e;
    }
    const signatures = role === 'snapshot' || role === 'timestamp'
      ? [evaluateSignatures(role, md, await ws.roleKeys(role))]
      : await signatureReports(ws, role, md);
    const expiresAt = Date.parse(md.signed.expires);
    const lifetime = ws.config.expirySeconds[isTopLevel(role) ? role : 'targets'];
    const warn = (options.warnSeconds ?? lifetime / 4) * 1000;
    const publishedVersion = await ws.publishedVersion(role);
    roles.push({
      role,
      delegator: await ws.delegatorOf(role),
      version: md.signed.version,
      publishedVersion,
      staged: md.signed.version > publishedVersion,
      expires: md.signed.expires,
      expired: expiresAt <= now.getTime(),
      expiresSoon: expiresAt - now.getTime() < warn,
      threshold: signatures[0]!.threshold,
      ...('targets' in md.signed ? { targets: Object.keys(md.signed.targets).length } : {}),
      signatures,
      ready: signatures.every((s) => s.met),
    });
  }
  return {
    dir,
    consistentSnapshot: root.signed.consistentSnapshot,
    roles,
    pendingRoles: ws.pending.roles,
    pendingTargets: ws.pending.targets.length,
    problems: roles.filter((r) => r.expired).map((r) => `${r.role} v${r.version} expired at ${r.expires}: renew it (cairn repo refresh ${dir} --role ${r.role}, or publish for snapshot and timestamp)`),
  };
}

/** Human lines for a status (the CLI prints these). */
export function formatStatus(status: RepoStatus): string[] {
  const lines = [`repository ${status.dir} (consistent snapshots: ${status.consistentSnapshot ? 'on' : 'off'})`];
  for (const r of status.roles) {
    const flags = [r.staged ? `staged, published v${r.publishedVersion}` : '', r.expired ? 'EXPIRED' : r.expiresSoon ? 'expires soon' : '']
      .filter((f) => f !== '').join(', ');
    lines.push(`${r.role} v${r.version}${flags ? ` (${flags})` : ''}  expires ${r.expires}` + (r.targets !== undefined ? `  targets ${r.targets}` : ''));
    for (const s of r.signatures) {
      lines.push(`  ${s.role}: ${s.distinctKeys}/${s.threshold} signatures${s.distinctKeys < s.valid.length ? ` (${s.valid.length} key IDs: a key is listed more than once)` : ''}` +
        (s.missing.length > 0 ? `; missing ${s.missing.map((k) => short(k)).join(', ')}` : '') +
        (s.ignored.length > 0 ? `; not counted ${s.ignored.map((k) => short(k)).join(', ')}` : ''));
    }
  }
  lines.push(status.pendingRoles.length > 0 || status.pendingTargets > 0
    ? `staged, not published: roles ${status.pendingRoles.join(', ') || '(none)'}; ${status.pendingTargets} new target file(s)`
    : 'nothing staged');
  for (const p of status.problems) lines.push(`PROBLEM: ${p}`);
  return lines;
}
