// client/operations.ts: what a person or a script does with a client, one function each (the
// `cairn tuf` commands; TUF spec section 5; docs/protocol.md section 9): trust a first root (and
// pin a log block, so that only witnessed releases are accepted), refresh, download verified
// targets, re-check the build attestations of targets. A metadata directory with a log anchor
// selects the witnessed client, one without it the plain TUF client.
import { LOG_FILE_LIMITS } from '../log/index.js';
import { readCappedFile, tooLargeIsFormatError } from '../io/capped-file.js';
import { UsageError } from '../errors/index.js';
import { DEFAULT_UPDATER_CONFIG, TufError, Updater, type RefreshReport, type TargetFile } from '../tuf/index.js';
import { hasLogAnchor, initLogAnchor, parseAnchorArgument, prepareLogAnchor, type LogAnchor } from './anchor.js';
import type { TargetAttestationReport } from './attestation-check.js';
import { ClientError } from './errors.js';
import { createUpdater, WitnessedUpdater, type TargetUpdater, type WitnessedUpdaterOptions } from './witnessed-updater.js';

export interface TrustInit {
  /** The first trusted root.json. */
  rootFile: string;
  /** A log block to pin: HASH (the genesis block) or INDEX:HASH (a later checkpoint). */
  logAnchor?: string;
  /** The anchored block's file, checked against `logAnchor` now, with no network. */
  logBlock?: string;
}

/**
 * Stores the first trusted root (checked to be a root signed by its own threshold) and, with
 * `logAnchor`, pins the trusted log block. Every check comes before the first write: a refused
 * anchor or root leaves the directory as it was.
 */
export async function initClientTrust(metadataDir: string, init: TrustInit): Promise<{ logAnchor?: LogAnchor; blockChecked: boolean }> {
  if (init.logBlock !== undefined && init.logAnchor === undefined) {
    throw new UsageError('MISSING_ARGUMENT', '--log-block needs --log-anchor: the hash is what you pin, the block is checked against it');
  }
  const pinned = init.logAnchor === undefined ? undefined : parseAnchorArgument(init.logAnchor);
  const anchorInit = pinned === undefined ? undefined : {
    hash: pinned.hash,
    ...(init.logAnchor!.includes(':') ? { index: pinned.index } : {}),
    ...(init.logBlock === undefined ? {} : { block: await readCappedFile(init.logBlock, LOG_FILE_LIMITS.block.maxBytes, { refuse: tooLargeIsFormatError }) }),
  };
  if (anchorInit !== undefined) prepareLogAnchor(anchorInit);
  await Updater.initTrustedRoot(metadataDir, await readCappedFile(init.rootFile, DEFAULT_UPDATER_CONFIG.rootMaxLength, { refuse: tooLargeIsFormatError }));
  if (anchorInit === undefined) return { blockChecked: false };
  return { logAnchor: await initLogAnchor(metadataDir, anchorInit), blockChecked: anchorInit.block !== undefined };
}

/** A refresh of the client in `options.metadataDir` (witnessed when it holds a log anchor). */
export async function refreshClient(options: WitnessedUpdaterOptions): Promise<RefreshReport> {
  return (await createUpdater(options)).updater.refresh();
}

export interface DownloadedTarget {
  target: string;
  path: string;
  /** Already in the target directory with the right length and hashes: not downloaded again. */
  cached: boolean;
  info: TargetFile;
}

/** The trusted target info of `name` (UNKNOWN_TARGET when no trusted targets role lists it). */
async function targetInfo(updater: TargetUpdater, name: string): Promise<TargetFile> {
  const info = await updater.getTargetInfo(name);
  if (!info) throw new TufError('UNKNOWN_TARGET', `target ${name} is not listed by any trusted targets role`);
  return info;
}

/**
 * Refreshes, then downloads and verifies each target in order (TUF spec 5.7), stopping at the
 * first failure; `onRefresh` and `onTarget` are told as each step is done.
 */
export async function downloadVerifiedTargets(
  options: WitnessedUpdaterOptions,
  names: readonly string[],
  progress: { onRefresh?: (report: RefreshReport) => void; onTarget?: (target: DownloadedTarget) => void } = {},
): Promise<{ refresh: RefreshReport; downloaded: DownloadedTarget[] }> {
  if (names.length === 0) throw new UsageError('MISSING_ARGUMENT', '--target-name is required for download');
  const { updater } = await createUpdater(options);
  const refresh = await updater.refresh();
  progress.onRefresh?.(refresh);
  const downloaded: DownloadedTarget[] = [];
  for (const name of names) {
    const info = await targetInfo(updater, name);
    const cached = await updater.findCachedTarget(info);
    const target = { target: name, path: cached ?? (await updater.downloadTarget(info)), cached: cached !== undefined, info };
    downloaded.push(target);
    progress.onTarget?.(target);
  }
  return { refresh, downloaded };
}

/**
 * Refreshes the witnessed client, then re-checks each target's rebuild attestations: the quorum of
 * the trusted root's build policy, and that they are those the witnessed block relied on
 * (docs/verified-builds.md section 8).
 */
export async function verifyTargetsAttestations(
  options: WitnessedUpdaterOptions,
  names: readonly string[],
  progress: { onRefresh?: (report: RefreshReport) => void; onTarget?: (report: TargetAttestationReport) => void } = {},
): Promise<{ refresh: RefreshReport; attestations: TargetAttestationReport[] }> {
  if (names.length === 0) throw new UsageError('MISSING_ARGUMENT', '--target-name is required for verify-attestations');
  if (!(await hasLogAnchor(options.metadataDir))) {
    throw new ClientError('NOT_ANCHORED', `${options.metadataDir} has no log anchor: attestations are checked against the witnessed log`, {
      hint: 'pin a trusted block: cairn tuf --metadata-dir DIR init ROOT_FILE --log-anchor HASH',
    });
  }
  const updater = new WitnessedUpdater(options);
  const refresh = await updater.refresh();
  progress.onRefresh?.(refresh);
  const attestations: TargetAttestationReport[] = [];
  for (const name of names) {
    const report = await updater.verifyTargetAttestations(await targetInfo(updater, name));
    attestations.push(report);
    progress.onTarget?.(report);
  }
  return { refresh, attestations };
}
