// cli/release-log.ts: where the publisher's repository (src/repo) meets the log leader
// (src/witness/leader.ts). The leader reads TUF documents through a ReleaseDocumentSource; here
// that source is the repository's published metadata (REPO/public/metadata, plain names hold the
// latest version of each role, N.root.json every root), overlaid with what a publish is about to
// write. The leader's state is REPO/state/log.json; the log files go to REPO/public/log/.
//
// A release is saved (REPO/state/pending-release/, src/repo/pending-release.ts) before its block's
// first round, and the leader saves the block beside it. Whatever failed or crashed, the next
// publish, roster change or `cairn log retry` first settles it (settlePendingRelease): it proposes
// exactly that block again (or finds it already logged), writes the saved TUF files with the
// timestamp last, and only then goes on. public/ never shows TUF metadata that neither the head
// block nor its predecessor records.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Output } from './output.js';
import {
  clearPendingRelease, completePendingRelease, pendingReleaseDir, publish, readPendingRelease, repoLayout, RepoError, savePendingRelease,
  type PendingRelease, type PublishResult,
} from '../repo/index.js';
import { parseEnvelope } from '../tuf/index.js';
import { sha256Hex } from '../crypto/hash.js';
import type { Signer } from '../crypto/signer.js';
import { StorageError } from '../errors/index.js';
import { LeaderError } from '../witness/errors.js';
import { hasLog, LogLeader, type BlockReport, type LeaderOptions, type ReleaseDocumentSource, type RoundReport } from '../witness/leader.js';

/** REPO/state/log.json: the leader's pointer to the head of the repository's log. */
export function logStateFile(dir: string): string {
  return join(dir, 'state', 'log.json');
}

export function leaderOptions(dir: string, out: Output, extra: Partial<LeaderOptions> = {}): LeaderOptions {
  return {
    publicDir: join(dir, 'public'),
    stateFile: logStateFile(dir),
    proposalFile: join(pendingReleaseDir(dir), 'proposal.json'),
    progress: (line) => out.info(line),
    ...extra,
  };
}

async function readPublished(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new StorageError('NOT_FOUND', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: 'publish the repository first (cairn repo publish)' });
  }
}

/** The documents of the published state, with `pending` (a publish in progress) on top. */
export async function releaseSource(dir: string, pending?: PendingRelease): Promise<ReleaseDocumentSource> {
  const meta = repoLayout(dir).publicMetadata;
  const newRoots = new Map((pending?.roots ?? []).map((r) => [r.version, r.bytes]));
  const newTargets = new Map((pending?.targets ?? []).map((t) => [t.role, t.bytes]));
  const lastNewRoot = pending?.roots[pending.roots.length - 1];
  const rootVersion = lastNewRoot?.version ?? parseEnvelope('root', await readPublished(join(meta, 'root.json')), 'root.json').version;
  const snapshot = pending?.snapshot.bytes ?? (await readPublished(join(meta, 'snapshot.json')));
  return {
    rootVersion,
    snapshot,
    root: async (v) => newRoots.get(v) ?? readPublished(join(meta, `${v}.root.json`)),
    targets: async (role) => {
      if (role.includes('/') || role.includes('\\') || role.startsWith('.')) throw new StorageError('UNSAFE_PATH', `role name ${JSON.stringify(role)} is not a file name`);
      return newTargets.get(role) ?? readPublished(join(meta, `${role}.json`));
    },
  };
}

/** The leader of `dir`'s log, or undefined when the repository has no log. */
export async function openLeaderIfAny(dir: string, out: Output, extra: Partial<LeaderOptions> = {}): Promise<LogLeader | undefined> {
  if (!(await hasLog(logStateFile(dir)))) return undefined;
  return LogLeader.open(leaderOptions(dir, out, extra));
}

export function roundLines(rounds: readonly RoundReport[]): string[] {
  return rounds.map((r) => `${r.what}: co-signed by ${r.cosigners.length} (${r.cosigners.join(', ')})${r.missing.length > 0 ? `; without ${r.missing.map((m) => `${m.name} (${m.code ?? m.status})`).join(', ')}` : ''}${r.attempts > 1 ? ` after ${r.attempts} attempts` : ''}`);
}

export function blockLines(report: BlockReport): string[] {
  return [
    `block ${report.index} ${report.hash} co-signed and logged`,
    ...roundLines(report.rounds),
    ...report.missingLinks.map((m) => `forward link ${m.fromIndex} level ${m.level} missing: ${m.reason}`),
  ];
}

/** What settling a saved release did. */
export interface SettledRelease {
  /** The saved block, now the head of the log. */
  index: number;
  hash: string;
  /** 'reproposed': its round ran again and succeeded; 'logged': a crash had left it logged already. */
  how: 'reproposed' | 'logged';
  /** The new round (when re-proposed). */
  report?: BlockReport;
  /** Whether it carried TUF files (a roster change carries none) and its timestamp was signed again. */
  wroteRelease: boolean;
  renewedTimestamp: boolean;
}

export interface SettleOptions {
  /** Timestamp keys, to sign the saved timestamp again if it expired meanwhile. */
  signers: readonly Signer[];
  now?: Date;
  timestampExpires?: Date;
}

/** Refuses to go on when the head block does not record the published snapshot (LOG_STATE). */
async function requirePublishedHead(dir: string, leader: LogLeader): Promise<void> {
  const published = await readFile(join(repoLayout(dir).publicMetadata, 'snapshot.json')).catch(() => undefined);
  const head = leader.head;
  if (published !== undefined && sha256Hex(published) !== head.block.payload.snapshot.sha256) {
    throw new LeaderError('LOG_STATE', `the head block ${head.index} records snapshot v${head.block.payload.snapshot.version} ${head.block.payload.snapshot.sha256.slice(0, 12)}, but public/metadata/snapshot.json is ${sha256Hex(published).slice(0, 12)} and no saved release explains it`, {
      hint: `restore ${pendingReleaseDir(dir)} (the release of block ${head.index}) or the published metadata it records; never publish past it`,
    });
  }
}

/**
 * Settles a release saved before a round that failed or a crash: proposes exactly its block again
 * (never a conflicting one), or finds it logged already; then writes its saved TUF files, the
 * timestamp last. Returns undefined when nothing was pending.
 */
export async function settlePendingRelease(dir: string, leader: LogLeader, out: Output, options: SettleOptions): Promise<SettledRelease | undefined> {
  const proposal = await leader.savedProposal();
  const release = await readPendingRelease(dir);
  if (!proposal) {
    await requirePublishedHead(dir, leader);
    if (release) await clearPendingRelease(dir); // a publish that stopped before any round
    return undefined;
  }
  const head = leader.head;
  let how: SettledRelease['how'];
  let report: BlockReport | undefined;
  if (proposal.hash === head.hash) {
    // Logged, then a crash before the TUF files: the head statement must name the block before
    // clients can be shown its state.
    out.info(`block ${head.index} ${head.hash.slice(0, 12)} is logged; finishing its release`);
    await leader.ensureHeadStatement();
    how = 'logged';
  } else if (proposal.block.index === head.index + 1) {
    out.info(`proposing again block ${proposal.block.index} ${proposal.hash.slice(0, 12)}, saved when its round failed`);
    report = await leader.reproposeBlock(await releaseSource(dir, release), proposal);
    how = 'reproposed';
  } else {
    throw new LeaderError('LOG_STATE', `the saved proposal is block ${proposal.block.index} ${proposal.hash.slice(0, 12)}, the head is block ${head.index} ${head.hash.slice(0, 12)}: it neither is the head nor extends it`, {
      hint: `inspect ${pendingReleaseDir(dir)}; no block conflicting with it is proposed while it is there`,
    });
  }
  const completed = release ? await completePendingRelease(dir, release, options) : undefined;
  await requirePublishedHead(dir, leader);
  if (completed && completed.divergent.length > 0) {
    throw new RepoError('BAD_METADATA', `block ${proposal.block.index} and its release are published, but the staged ${completed.divergent.join(', ')} changed since at the published version`, {
      hint: `stage ${completed.divergent.length > 1 ? 'them' : 'it'} again with a new version (cairn repo refresh ${dir} --role ROLE --key KEY), then publish`,
    });
  }
  await clearPendingRelease(dir);
  if (completed?.renewedTimestamp) out.info('the saved timestamp had expired: signed again with a fresh expiry (the timestamp is not in the block)');
  return { index: proposal.block.index, hash: proposal.hash, how, ...(report ? { report } : {}), wroteRelease: release !== undefined, renewedTimestamp: completed?.renewedTimestamp ?? false };
}

export function settledLines(settled: SettledRelease): string[] {
  return [
    settled.how === 'reproposed' ? `saved block ${settled.index} ${settled.hash} proposed again, co-signed and logged` : `saved block ${settled.index} ${settled.hash} was logged already`,
    ...(settled.report ? roundLines(settled.report.rounds) : []),
    ...(settled.wroteRelease ? [`its saved release is published${settled.renewedTimestamp ? ' (timestamp signed again)' : ''}`] : []),
  ];
}

export interface LoggedPublishOptions {
  signers: readonly Signer[];
  snapshotExpires?: Date;
  timestampExpires?: Date;
  now?: Date;
  /** Options of the leader (deadlines; tests inject faults). */
  leader?: Partial<LeaderOptions>;
  /** Completes the source of a new release before it is proposed (its build attestations). */
  decorateSource?: (source: ReleaseDocumentSource) => Promise<ReleaseDocumentSource>;
}

/**
 * `cairn repo publish`: on a repository with a log, settles a saved release first, then saves the
 * new release and has the witnesses co-sign its block before anything of it is written.
 */
export async function publishWithLog(dir: string, out: Output, options: LoggedPublishOptions): Promise<{ result: PublishResult; logged?: BlockReport; settled?: SettledRelease }> {
  const leader = await openLeaderIfAny(dir, out, options.leader);
  const settled = leader ? await settlePendingRelease(dir, leader, out, { signers: options.signers, ...(options.now ? { now: options.now } : {}), ...(options.timestampExpires ? { timestampExpires: options.timestampExpires } : {}) }) : undefined;
  let logged: BlockReport | undefined;
  const result = await publish(dir, {
    signers: options.signers,
    ...(options.now ? { now: options.now } : {}),
    snapshotExpires: options.snapshotExpires,
    timestampExpires: options.timestampExpires,
    beforeWrite: leader && (async (release) => {
      if (!release.snapshot.changed && release.roots.length === 0) return; // only the timestamp is renewed: no new state to log
      await savePendingRelease(dir, release);
      const source = await releaseSource(dir, release);
      logged = await leader.appendBlock(options.decorateSource ? await options.decorateSource(source) : source);
    }),
  });
  if (leader && logged) await clearPendingRelease(dir);
  return { result, ...(logged ? { logged } : {}), ...(settled ? { settled } : {}) };
}
