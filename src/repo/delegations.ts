// repo/delegations.ts: delegating trust from a targets role to other roles (TUF spec 1.0.x 4.5
// "delegations"): path-pattern delegations, classic hash-bin delegations (path_hash_prefixes over
// the SHA-256 of the target path) and succinct hash bins (TAP 15, `succinct_roles`). Each new
// delegated role starts as empty targets metadata, version 1, staged for its key holders to sign.
import type { JsonObject, JsonValue } from '../encoding/canonical-json.js';
import type { TufPublicKey } from '../crypto/public-key.js';
import type { Signer } from '../crypto/signer.js';
import { RepoError } from './errors.js';
import { checkDelegatedRoleName } from './config.js';
import { emptyTargetsSigned, keySetOf } from './init.js';
import { Workspace, type RoleChange } from './workspace.js';

export interface DelegateOptions {
  /** The delegating role (default: top-level targets). */
  from?: string;
  keys: TufPublicKey[];
  threshold: number;
  terminating?: boolean;
  expires?: Date;
  signers?: readonly Signer[];
  now?: Date;
}

export interface DelegationResult {
  roles: string[];
  changes: RoleChange[];
}

/** Classic hash bins (as in python-tuf's hashed-bin example): names and path_hash_prefixes. */
export function hashBinPrefixes(numberOfBins: number, namePrefix: string): Array<{ name: string; prefixes: string[] }> {
  if (!Number.isSafeInteger(numberOfBins) || numberOfBins < 2 || numberOfBins > 65536 || (numberOfBins & (numberOfBins - 1)) !== 0) {
    throw new RepoError('BAD_DELEGATION', `number of hash bins must be a power of two between 2 and 65536, not ${numberOfBins}`);
  }
  const prefixLen = (numberOfBins - 1).toString(16).length;
  const numberOfPrefixes = 16 ** prefixLen;
  const binSize = numberOfPrefixes / numberOfBins;
  const hex = (i: number): string => i.toString(16).padStart(prefixLen, '0');
  const bins: Array<{ name: string; prefixes: string[] }> = [];
  for (let low = 0; low < numberOfPrefixes; low += binSize) {
    const high = low + binSize - 1;
    const prefixes: string[] = [];
    for (let i = low; i <= high; i++) prefixes.push(hex(i));
    bins.push({ name: binSize === 1 ? `${namePrefix}-${hex(low)}` : `${namePrefix}-${hex(low)}-${hex(high)}`, prefixes });
  }
  return bins;
}

async function delegate(
  dir: string,
  options: DelegateOptions,
  entries: (keyids: string[]) => { roles?: JsonObject[]; succinct?: JsonObject },
): Promise<DelegationResult> {
  const ws = await Workspace.open(dir);
  const from = options.from ?? 'targets';
  await ws.targetsRole(from); // must exist and be a targets role
  const keySet = keySetOf('delegation', { keys: options.keys, threshold: options.threshold });
  const keyids = Object.keys(keySet).sort();
  const { roles = [], succinct } = entries(keyids);
  const existing = (await ws.targetsRole(from)).signed.delegations;
  const names: string[] = roles.map((r) => r.name as string);
  if (succinct && existing?.roles && Object.keys(existing.roles).length > 0) {
    throw new RepoError('BAD_DELEGATION', `${from} already delegates to named roles; succinct hash bins cannot be combined with them (TAP 15)`);
  }
  if (!succinct && existing?.succinctRoles) {
    throw new RepoError('BAD_DELEGATION', `${from} delegates with succinct hash bins; named delegations cannot be added to it (TAP 15)`);
  }
  const known = await ws.delegators();
  await ws.edit(from, (signed) => {
    const d = (signed.delegations ?? { keys: {}, roles: [] }) as JsonObject;
    const keys = { ...(d.keys as JsonObject) };
    for (const [id, k] of Object.entries(keySet)) keys[id] = k as unknown as JsonValue;
    if (succinct) {
      delete d.roles;
      d.succinct_roles = succinct;
    } else {
      const list = ((d.roles ?? []) as JsonObject[]).filter((r) => !names.includes(r.name as string));
      d.roles = [...list, ...roles];
    }
    // Drop keys no delegation uses any more.
    const used = new Set<string>();
    for (const r of (d.roles ?? []) as JsonObject[]) for (const k of r.keyids as string[]) used.add(k);
    if (d.succinct_roles) for (const k of (d.succinct_roles as JsonObject).keyids as string[]) used.add(k);
    d.keys = Object.fromEntries(Object.entries(keys).filter(([id]) => used.has(id)));
    signed.delegations = d;
  });
  const delegated = succinct ? [...(await ws.targetsRole(from)).signed.delegations!.succinctRoles!.getRoles()] : names;
  for (const name of delegated) {
    const owner = known[name];
    if (owner !== undefined && owner !== from) throw new RepoError('BAD_DELEGATION', `role ${name} is already delegated by ${owner}`);
    if (owner === undefined) {
      ws.stageNew(name, emptyTargetsSigned());
      await ws.registerDelegated(name, from);
    } else {
      await ws.edit(name, () => undefined); // its keys may have changed: it must be signed again
    }
  }
  return { roles: delegated, changes: await ws.commit(options) };
}

/** Delegates `paths` (TUF path patterns) from `options.from` to the role `name`. */
export async function delegatePaths(dir: string, name: string, paths: readonly string[], options: DelegateOptions): Promise<DelegationResult> {
  checkDelegatedRoleName(name);
  if (paths.length === 0) throw new RepoError('BAD_DELEGATION', `delegation to ${name} needs at least one path pattern`);
  return delegate(dir, options, (keyids) => ({
    roles: [{ name, keyids, threshold: options.threshold, terminating: options.terminating ?? false, paths: [...paths] }],
  }));
}

/** Classic hash bins: `numberOfBins` roles named `${namePrefix}-XX[-YY]` with path_hash_prefixes. */
export async function delegateHashBins(dir: string, namePrefix: string, numberOfBins: number, options: DelegateOptions): Promise<DelegationResult> {
  const bins = hashBinPrefixes(numberOfBins, namePrefix);
  for (const b of bins) checkDelegatedRoleName(b.name);
  return delegate(dir, options, (keyids) => ({
    roles: bins.map((b) => ({ name: b.name, keyids, threshold: options.threshold, terminating: options.terminating ?? true, path_hash_prefixes: b.prefixes })),
  }));
}

/** Succinct hash bins (TAP 15): 2^bitLength roles `${namePrefix}-HEX` sharing keys and threshold. */
export async function delegateSuccinct(dir: string, namePrefix: string, bitLength: number, options: DelegateOptions): Promise<DelegationResult> {
  if (!Number.isSafeInteger(bitLength) || bitLength < 1 || bitLength > 16) {
    throw new RepoError('BAD_DELEGATION', `succinct bit_length must be 1..16 (at most 65,536 bins), not ${bitLength}`);
  }
  checkDelegatedRoleName(`${namePrefix}-0`);
  return delegate(dir, options, (keyids) => ({
    succinct: { keyids, threshold: options.threshold, bit_length: bitLength, name_prefix: namePrefix },
  }));
}
