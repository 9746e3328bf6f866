// apps/permissions.ts: what an installed app requests and what the user granted it (docs/apps.md
// "Grants"; the App-per-VM issue: "cairn permissions APP shows requested vs granted; cairn grant
// APP PERM, cairn revoke APP PERM"; "nothing requested is granted by installing, and nothing not
// requested can be granted without a loud confirmation"). What an app requests is the manifest the
// store recorded from verified metadata (the active generation's); what is granted is the audit
// trail's (grants-database.ts), kept per app and remote, so a same-named app of another remote
// inherits nothing. A grant stays until it is revoked, also when an update stops requesting it.
import { userInfo } from 'node:os';
import { describePermission, parsePermission } from '../package/permissions.js';
import { readCurrentGeneration } from '../store/current.js';
import type { GenerationPackage } from '../store/records.js';
import { AppError } from './errors.js';
import { withGrantsDatabase, type GrantEvent } from './grants-database.js';
import { runningApp, stopApp } from './running.js';

/** Names that stand for every requested permission of their family: `cairn grant APP network`. */
export const PERMISSION_FAMILIES: Readonly<Record<string, string>> = { network: 'network:', folder: 'folder:', device: 'device:' };

export interface PermissionState {
  permission: string;
  /** What it allows, in words. */
  description: string;
  requested: boolean;
  granted: boolean;
}

export interface AppPermissions {
  app: string;
  remote: string;
  version: string;
  /** Every permission the app requests, then any granted that it does not request. */
  permissions: PermissionState[];
}

export interface GrantChange {
  app: string;
  remote: string;
  /** The events appended (none when everything asked for already was so). */
  events: GrantEvent[];
  /** What is granted afterwards. */
  granted: string[];
}

/** An app as the active generation holds it, with what it requests, sorted. */
export interface InstalledApp extends GenerationPackage {
  name: string;
  requested: string[];
}

/** The app `app` of the active generation; NOT_INSTALLED when there is none. */
export async function installedApp(storeRoot: string, app: string): Promise<InstalledApp> {
  const current = await readCurrentGeneration(storeRoot);
  const p = current?.packages[app];
  if (p === undefined || !Object.hasOwn(current!.packages, app)) throw new AppError('NOT_INSTALLED', `${JSON.stringify(app.slice(0, 64))} is not installed in ${storeRoot}`);
  return { ...p, name: app, requested: [...p.permissions].sort() };
}

/** The user who appends an event: name and uid of this process. */
function actor(): string {
  const uid = process.getuid?.();
  try {
    return `${userInfo().username}${uid === undefined ? '' : ` (uid ${uid})`}`;
  } catch {
    return uid === undefined ? 'unknown' : `uid ${uid}`;
  }
}

/** Requested and granted permissions of an installed app. */
export async function appPermissions(storeRoot: string, app: string): Promise<AppPermissions> {
  const installed = await installedApp(storeRoot, app);
  const granted = withGrantsDatabase(storeRoot, (db) => db.granted(installed.name, installed.remote));
  const all = [...installed.requested, ...granted.filter((g) => !installed.requested.includes(g))];
  return {
    app: installed.name,
    remote: installed.remote,
    version: installed.version,
    permissions: all.map((permission) => ({ permission, description: describePermission(permission), requested: installed.requested.includes(permission), granted: granted.includes(permission) })),
  };
}

/**
 * The permissions `spec` names for an app that requests `requested`: a family name (network,
 * folder, device) stands for every requested permission of that family; anything else must be
 * one permission of the vocabulary (UNKNOWN_PERMISSION otherwise).
 */
function named(spec: string, requested: readonly string[]): { permissions: string[]; family: boolean } {
  const prefix = PERMISSION_FAMILIES[spec];
  if (prefix !== undefined && Object.hasOwn(PERMISSION_FAMILIES, spec)) return { permissions: requested.filter((p) => p.startsWith(prefix)), family: true };
  parsePermission(spec);
  return { permissions: [spec], family: false };
}

/**
 * Grants `spec` to an installed app. A permission it does not request is NOT_REQUESTED unless
 * `unrequested` (the command line asks for --unrequested and says so loudly); a family name
 * grants only what is requested. What is already granted is not granted again.
 */
export async function grantPermission(storeRoot: string, app: string, spec: string, options: { unrequested?: boolean } = {}): Promise<GrantChange> {
  const installed = await installedApp(storeRoot, app);
  const { permissions, family } = named(spec, installed.requested);
  if (permissions.length === 0) throw new AppError('NOT_REQUESTED', `${app} requests no ${spec} permission`);
  const unrequested = permissions.filter((p) => !installed.requested.includes(p));
  if (unrequested.length > 0 && (family || options.unrequested !== true)) {
    throw new AppError('NOT_REQUESTED', `${app} does not request ${unrequested.join(', ')}: it ${installed.requested.length === 0 ? 'requests nothing' : `requests ${installed.requested.join(', ')}`}`);
  }
  return withGrantsDatabase(storeRoot, (db) => {
    const appended = db.append(installed.name, installed.remote, actor(), (granted) =>
      permissions.filter((p) => !granted.includes(p)).map((permission) => ({ permission, action: 'grant' as const, requested: installed.requested.includes(permission) })));
    return { app: installed.name, remote: installed.remote, ...appended };
  });
}

/**
 * Revokes `spec` (a family name: every granted permission of it); NOT_GRANTED when nothing it
 * names is granted. A revocation takes effect at the app's next start, so for a running app it
 * is RUNNING unless `restart`, which stops the VM once the revocation is recorded.
 */
export async function revokePermission(storeRoot: string, app: string, spec: string, options: { restart?: boolean } = {}): Promise<GrantChange & { stopped: boolean }> {
  const installed = await installedApp(storeRoot, app);
  const running = await runningApp(storeRoot, installed.name);
  if (running !== undefined && options.restart !== true) throw new AppError('RUNNING', `${app} is running (pid ${running.pid}): a revocation would only take effect at its next start`);
  const change = withGrantsDatabase(storeRoot, (db) => {
    const appended = db.append(installed.name, installed.remote, actor(), (granted) => {
      const { permissions } = named(spec, granted);
      const revoked = permissions.filter((p) => granted.includes(p));
      if (revoked.length === 0) throw new AppError('NOT_GRANTED', `${app} has no ${spec} permission granted${granted.length === 0 ? ' (nothing is granted)' : `: granted are ${granted.join(', ')}`}`);
      return revoked.map((permission) => ({ permission, action: 'revoke' as const, requested: installed.requested.includes(permission) }));
    });
    return { app: installed.name, remote: installed.remote, ...appended };
  });
  if (running !== undefined) await stopApp(storeRoot, installed.name).catch((e: unknown) => {
    if (!(e instanceof AppError && e.code === 'NOT_RUNNING')) throw e;
  });
  return { ...change, stopped: running !== undefined };
}

/** The audit trail, checked whole, optionally only one app's events. */
export function auditTrail(storeRoot: string, app?: string): GrantEvent[] {
  return withGrantsDatabase(storeRoot, (db) => db.events().filter((e) => app === undefined || e.app === app));
}
