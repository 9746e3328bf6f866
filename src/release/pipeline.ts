// release/pipeline.ts: the publisher's release pipeline over a repository workspace
// (docs/architecture.md "Data flow: publishing"; docs/protocol.md sections 5-8; docs/witness.md
// "Failure handling and recovery"). A repository with a release log never shows clients a state
// the witnesses did not co-sign: a publish checks and signs the new state (src/repo), collects
// the build attestations of its new artifacts (attestations.ts), saves the pending release
// (REPO/state/pending-release/), has the witnesses co-sign its block (leader.ts), and only then
// writes the TUF files, the timestamp last. The leader's state is REPO/state/log.json; the log
// files go to REPO/public/log/.
//
// Whatever failed or crashed, the next publish, roster change or `cairn log retry` first settles
// a saved release (settlePendingRelease): it proposes exactly that block again (or finds it
// already logged), writes the saved TUF files with the timestamp last, and only then goes on.
// public/ never shows TUF metadata that neither the head block nor its predecessor records.
import { join } from 'node:path';
import { sha256Hex } from '../crypto/hash.js';
import type { Signer } from '../crypto/signer.js';
import {
  clearPendingRelease, completePendingRelease, pendingReleaseDir, publish, readPendingRelease, repoLayout, RepoError, savePendingRelease, Workspace, type PublishResult,
} from '../repo/index.js';
import { describeUnpinnedRoles, parseEnvelope } from '../tuf/index.js';
import { withReleaseAttestations } from './attestations.js';
import { pullAttestations, writeProposalAttestations, writePulledAttestations, type PullOptions } from './attestation-sources.js';
import type { RoundReport } from './cosigning-round.js';
import { publishedDocuments, readPublishedIfExists } from './documents.js';
import { LeaderError } from './errors.js';
import { initLog } from './genesis.js';
import { hasLog } from './leader-files.js';
import { LogLeader, type BlockReport, type LeaderOptions } from './leader.js';
import { SILENT, type ReleaseProgress } from './progress.js';
import { genesisAuthorizationChain, type RosterAuthorizationRequest } from '../log/index.js';
import {
  authorizedRoster, defaultWitnessThreshold, nextRosterPosition, rootRoleOfSource, rosterRequest, writeRosterRequest, type RosterAuthority, type RosterPosition,
} from './roster-authorization.js';
import { DEFAULT_CALL_TIMEOUT_MS } from './witness-connection.js';

/** REPO/state/log.json: the leader's pointer to the head of the repository's log. */
export function logStateFile(dir: string): string {
  return repoLayout(dir).logState;
}

/** The leader options of repository `dir`: its public tree, state file and proposal file. */
export function leaderOptions(dir: string, progress: ReleaseProgress = SILENT, extra: Partial<LeaderOptions> = {}): LeaderOptions {
  return {
    publicDir: repoLayout(dir).publicDir,
    stateFile: logStateFile(dir),
    proposalFile: join(pendingReleaseDir(dir), 'proposal.json'),
    progress: (line) => progress.info(line),
    ...extra,
  };
}

/** What every log operation of a repository takes besides its own arguments. */
export interface LogOperationOptions {
  /** Options of the leader (deadlines; tests inject faults). */
  leader?: Partial<LeaderOptions>;
  progress?: ReleaseProgress;
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
  progress?: ReleaseProgress;
}

/** Refuses to go on when the head block does not record the published snapshot (LOG_STATE). */
async function requirePublishedHead(dir: string, leader: LogLeader): Promise<void> {
  const published = await readPublishedIfExists(dir, 'snapshot.json');
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
async function settlePendingRelease(dir: string, leader: LogLeader, options: SettleOptions): Promise<SettledRelease | undefined> {
  const progress = options.progress ?? SILENT;
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
    progress.info(`block ${head.index} ${head.hash.slice(0, 12)} is logged; finishing its release`);
    await leader.ensureHeadStatement();
    how = 'logged';
  } else if (proposal.block.index === head.index + 1) {
    progress.info(`proposing again block ${proposal.block.index} ${proposal.hash.slice(0, 12)}, saved when its round failed`);
    report = await leader.reproposeBlock(await publishedDocuments(dir, release), proposal);
    how = 'reproposed';
  } else {
    throw new LeaderError('LOG_STATE', `the saved proposal is block ${proposal.block.index} ${proposal.hash.slice(0, 12)}, the head is block ${head.index} ${head.hash.slice(0, 12)}: it neither is the head nor extends it`, {
      hint: `inspect ${pendingReleaseDir(dir)}; no block conflicting with it is proposed while it is there`,
    });
  }
  // The attestations its proposal carried (pulled from the verifiers, not yet written) go beside it.
  if (release && proposal.attestations) await writeProposalAttestations(dir, await publishedDocuments(dir, release), proposal.attestations.files);
  const completed = release ? await completePendingRelease(dir, release, options) : undefined;
  await requirePublishedHead(dir, leader);
  if (completed && completed.divergent.length > 0) {
    throw new RepoError('BAD_METADATA', `block ${proposal.block.index} and its release are published, but the staged ${completed.divergent.join(', ')} changed since at the published version`, {
      hint: `stage ${completed.divergent.length > 1 ? 'them' : 'it'} again with a new version (cairn repo refresh ${dir} --role ROLE --key KEY), then publish`,
    });
  }
  await clearPendingRelease(dir);
  if (completed?.renewedTimestamp) progress.info('the saved timestamp had expired: signed again with a fresh expiry (the timestamp is not in the block)');
  return { index: proposal.block.index, hash: proposal.hash, how, ...(report ? { report } : {}), wroteRelease: release !== undefined, renewedTimestamp: completed?.renewedTimestamp ?? false };
}

export interface PublishReleaseOptions extends LogOperationOptions {
  signers: readonly Signer[];
  /** The verifiers' attestation sources to pull the new artifacts' attestations from (attestation-sources.ts). */
  attestationsFrom?: Omit<PullOptions, 'progress'>;
  snapshotExpires?: Date;
  timestampExpires?: Date;
  now?: Date;
}

export interface PublishedRelease {
  result: PublishResult;
  /** The new state's block, when the repository has a log and the state changed. */
  logged?: BlockReport;
  /** A release saved earlier that was settled first. */
  settled?: SettledRelease;
}

/**
 * `cairn repo publish`: on a repository with a log, settles a saved release first, then saves the
 * new release and has the witnesses co-sign its block (with the build attestations of its new
 * artifacts) before anything of it is written. Without a log, a plain TUF publish.
 */
export async function publishRelease(dir: string, options: PublishReleaseOptions): Promise<PublishedRelease> {
  const progress = options.progress ?? SILENT;
  const withLog = await hasLog(logStateFile(dir));
  if (withLog) await requireMetaHashes(dir);
  const leader = withLog ? await LogLeader.open(leaderOptions(dir, progress, options.leader)) : undefined;
  const dates = { ...(options.now ? { now: options.now } : {}), ...(options.timestampExpires ? { timestampExpires: options.timestampExpires } : {}) };
  const settled = leader ? await settlePendingRelease(dir, leader, { signers: options.signers, progress, ...dates }) : undefined;
  let logged: BlockReport | undefined;
  const result = await publish(dir, {
    signers: options.signers,
    ...(options.now ? { now: options.now } : {}),
    snapshotExpires: options.snapshotExpires,
    timestampExpires: options.timestampExpires,
    beforeWrite: (leader || (options.attestationsFrom?.sources.length ?? 0) > 0) ? async (release) => {
      if (!release.snapshot.changed && release.roots.length === 0) return; // only the timestamp is renewed: no new state to log
      // Pulled and checked before anything of the release is saved: a hostile source leaves nothing behind.
      const documents = await publishedDocuments(dir, release);
      const pulled = options.attestationsFrom ? await pullAttestations(dir, documents, { ...options.attestationsFrom, progress }) : [];
      if (leader) {
        await savePendingRelease(dir, release);
        logged = await leader.appendBlock(await withReleaseAttestations(dir, documents, progress, pulled));
      }
      // Written once the witnesses co-signed the release (before its TUF files): a refused one
      // leaves public/ as it was; a block logged later (retry, crash) gets them from its saved proposal.
      await writePulledAttestations(pulled);
    } : undefined,
  });
  if (leader && logged) await clearPendingRelease(dir);
  return { result, ...(logged ? { logged } : {}), ...(settled ? { settled } : {}) };
}

export interface CreateLogOptions extends LogOperationOptions, RosterAuthority {}

/** The position of the next roster block: the genesis of a new log, or after the head (and a saved release) of `leader`. */
async function rosterPosition(dir: string, leader: LogLeader | undefined): Promise<RosterPosition> {
  if (leader) return nextRosterPosition(leader);
  if (await hasLog(logStateFile(dir))) throw new LeaderError('LOG_EXISTS', `${logStateFile(dir)} exists: this repository already has a log`, { hint: `change its roster with cairn log roster ${dir}` });
  const source = await publishedDocuments(dir);
  return { chain: genesisAuthorizationChain(sha256Hex(await source.root(source.rootVersion))), index: 0 };
}

/**
 * `--prepare OUT` of `cairn log init` (no `leader`) and `cairn log roster`: the request for the
 * roster of the given witnesses at the log's next roster block, written to `out` for the root
 * key holders to sign offline (`cairn log sign-roster`). Changes nothing in the workspace.
 */
export async function prepareRosterChange(dir: string, options: LogOperationOptions & { witnesses: readonly string[]; threshold?: number; out: string; newLog: boolean }): Promise<RosterAuthorizationRequest> {
  const leader = options.newLog ? undefined : await LogLeader.open(leaderOptions(dir, options.progress, options.leader));
  const position = await rosterPosition(dir, leader);
  const request = await rosterRequest(options.witnesses, options.threshold ?? defaultWitnessThreshold(options.witnesses.length), position, options.leader?.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
  await writeRosterRequest(request, options.out);
  return request;
}

/** `cairn log init`: the genesis block of the published state, co-signed head; returns the chain ID. */
export async function createReleaseLog(dir: string, options: CreateLogOptions): Promise<{ genesis: string; report: BlockReport }> {
  await requireMetaHashes(dir);
  const source = await publishedDocuments(dir);
  const unpinned = describeUnpinnedRoles(parseEnvelope('snapshot', source.snapshot, 'published snapshot.json'));
  if (unpinned !== undefined) {
    throw new LeaderError('META_HASHES_OFF', `the published snapshot of ${dir} lists ${unpinned}: a block would not commit to their bytes`, {
      hint: `publish once more before creating the log: cairn repo publish ${dir} --key FILE... (it pins every role)`,
    });
  }
  const position = await rosterPosition(dir, undefined);
  const leader = leaderOptions(dir, options.progress, options.leader);
  const authorized = await authorizedRoster(options, position, await rootRoleOfSource(source), leader.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
  const { genesis, report } = await initLog({ ...leader, ...authorized, source });
  return { genesis, report };
}

/**
 * A release log needs a snapshot that pins every role by length and sha256 (docs/protocol.md
 * section 5 "What a block commits to"): refuses, before any round, a repository configured
 * without meta hashes (one created before they became the default, or with --no-meta-hashes).
 */
async function requireMetaHashes(dir: string): Promise<void> {
  const { config } = await Workspace.open(dir);
  if (config.metaHashes) return;
  throw new LeaderError('META_HASHES_OFF', `${dir} lists roles in snapshot by version alone (meta hashes off in ${repoLayout(dir).config}): a block of its release log would not commit to the bytes of its delegated roles and hash bins, and witnesses refuse it`, {
    hint: `turn them on, then publish: cairn repo enable-meta-hashes ${dir} && cairn repo publish ${dir} --key FILE...`,
  });
}

/** `cairn log head`: a fresh co-signed head statement (run periodically: clients refuse a stale head). */
export async function cosignHead(dir: string, options: LogOperationOptions = {}): Promise<{ head: { index: number; hash: string }; round: RoundReport }> {
  const leader = await LogLeader.open(leaderOptions(dir, options.progress, options.leader));
  const round = await leader.headRound();
  return { head: { index: leader.head.index, hash: leader.head.hash }, round };
}

/** `cairn log checkpoint`: the head as a C2SP checkpoint cosigned by the roster's witnesses, written to public/log/checkpoint. */
export async function writeCheckpoint(dir: string, options: LogOperationOptions = {}): ReturnType<LogLeader['checkpoint']> {
  const leader = await LogLeader.open(leaderOptions(dir, options.progress, options.leader));
  return leader.checkpoint();
}

export interface ReleaseLogStatus {
  chain: string;
  head: { index: number; hash: string; time: string };
  threshold: number;
  witnesses: Awaited<ReturnType<LogLeader['witnessStatus']>>;
  /** Witnesses that answer and follow this chain (they can co-sign), against the threshold. */
  quorum: { available: number; threshold: number; met: boolean };
}

/** `cairn log status`: the head of the log and what each witness of its roster says. */
export async function releaseLogStatus(dir: string, options: LogOperationOptions = {}): Promise<ReleaseLogStatus> {
  const leader = await LogLeader.open(leaderOptions(dir, options.progress, options.leader));
  const roster = await leader.headRoster();
  const witnesses = await leader.witnessStatus();
  const head = leader.head;
  const available = witnesses.filter((w) => w.reachable && w.head !== null).length;
  return {
    chain: leader.chain, head: { index: head.index, hash: head.hash, time: head.block.payload.time }, threshold: roster.threshold, witnesses,
    quorum: { available, threshold: roster.threshold, met: available >= roster.threshold },
  };
}

/**
 * `cairn log roster`: a block with a new roster, authorized by the root keys and approved by the
 * old roster. A release saved when its round failed comes first: its block holds the next index.
 */
export async function changeWitnessRoster(dir: string, options: CreateLogOptions): Promise<{ report: BlockReport; settled?: SettledRelease }> {
  const progress = options.progress ?? SILENT;
  await requireMetaHashes(dir);
  const leader = await LogLeader.open(leaderOptions(dir, progress, options.leader));
  // Checked before anything is written, a saved release included: the request names the index after it.
  const position = await nextRosterPosition(leader);
  const authorized = await authorizedRoster(options, position, await rootRoleOfSource(await publishedDocuments(dir)), options.leader?.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
  const settled = await settlePendingRelease(dir, leader, { signers: options.rootSigners ?? [], progress });
  const report = await leader.changeRoster({ ...authorized, source: await publishedDocuments(dir) });
  await clearPendingRelease(dir);
  return { report, ...(settled ? { settled } : {}) };
}

/**
 * `cairn log retry`: proposes again the block of a release (or roster change) whose round failed
 * after witnesses answered, then publishes that release. `settled` is undefined when nothing was
 * saved.
 */
export async function retryPendingRelease(dir: string, options: LogOperationOptions & { signers: readonly Signer[] }): Promise<{ settled?: SettledRelease; head: { index: number; hash: string } }> {
  const leader = await LogLeader.open(leaderOptions(dir, options.progress, options.leader));
  const settled = await settlePendingRelease(dir, leader, { signers: options.signers, ...(options.progress ? { progress: options.progress } : {}) });
  return { ...(settled ? { settled } : {}), head: { index: leader.head.index, hash: leader.head.hash } };
}
