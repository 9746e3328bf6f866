// client/witnessed-report.ts: what a witnessed refresh checked (docs/protocol.md section 9
// "Clients and the log"), as data for progress output: the log check (catch-up, head
// statement, the witnessed block the accepted state matched), the root bootstrap, and the TUF
// workflow's report, with its steps as data, log first.
import { decodeBitmap, countParticipants } from '../cosi/index.js';
import { blockHash, chainIdOf, parseUtcTime, type Block, type CatchUpResult } from '../log/index.js';
import type { RefreshReport, RefreshStep } from '../tuf/index.js';
import type { WitnessedClientConfig } from './config.js';
import type { RootBootstrapReport } from './root-bootstrap.js';
import type { WitnessedBlock } from './witness-check.js';

/** What the log check did, for progress output. */
export interface LogReport {
  logUrl: string;
  chain: string;
  /** The trusted block the catch-up started from. */
  from: { index: number; hash: string };
  head: {
    index: number;
    hash: string;
    /** Time of the head statement. */
    time: string;
    /** Seconds between the head statement and this refresh's reference time. */
    ageSeconds: number;
    maxAgeSeconds: number;
    /** Witnesses that co-signed the head statement, the head roster's size and threshold. */
    signers: number;
    witnesses: number;
    threshold: number;
  };
  /** head.index - from.index. */
  blocksCaughtUp: number;
  /** Forward links fetched and verified, and planned ones that were not published. */
  links: number;
  missingLinks: number;
  /** New rosters met on the way (fetched by hash). */
  rosters: number;
  /** Blocks fetched: the head block, the predecessor in a publish window, an anchor block not yet stored. */
  blocksFetched: number;
  /** Every byte of the log read from the mirror, head.json included. */
  bytes: number;
  /** The witnessed block whose state TUF accepted. */
  matched: { index: number; which: WitnessedBlock['which']; root: number; snapshot: number; targets: number };
}

/** The TUF report plus the log check; `steps` lists both, log first. */
export interface WitnessedRefreshReport extends RefreshReport {
  log: LogReport;
  rootBootstrap: RootBootstrapReport | null;
  /** Root documents fetched in this refresh: the bootstrap's and the TUF workflow's together. */
  rootsFetched: number;
}

/** What one witnessed refresh did, gathered by its steps. */
export interface WitnessedRefresh {
  now: Date;
  logUrl: string;
  config: WitnessedClientConfig;
  trustedBlock: Block;
  caught: CatchUpResult;
  /** What the refresh read from the mirror's log besides the catch-up's blocks (client/mirror-log.ts). */
  mirrorLog: { blocksFetched: number; bytes: number };
  rootBootstrap: RootBootstrapReport | null;
  tuf: RefreshReport;
  matched: WitnessedBlock;
  /** Root documents the TUF workflow fetched (each matched against the log). */
  tufRootsFetched: number;
}

export function witnessedRefreshReport(r: WitnessedRefresh): WitnessedRefreshReport {
  const { caught, trustedBlock, matched, rootBootstrap, tuf } = r;
  const head = caught.head;
  const statement = caught.headFile.statement;
  const ageSeconds = Math.max(0, Math.round(r.now.getTime() / 1000 - parseUtcTime(statement.time)!));
  const signers = countParticipants(decodeBitmap(caught.headFile.cosignature.bitmap, caught.roster.witnesses.length));
  const log: LogReport = {
    logUrl: r.logUrl,
    chain: chainIdOf(head),
    from: { index: trustedBlock.index, hash: blockHash(trustedBlock) },
    head: {
      index: head.index,
      hash: statement.hash,
      time: statement.time,
      ageSeconds,
      maxAgeSeconds: r.config.maxHeadAgeSeconds,
      signers,
      witnesses: caught.roster.witnesses.length,
      threshold: caught.roster.threshold,
    },
    blocksCaughtUp: head.index - trustedBlock.index,
    links: caught.stats.links,
    missingLinks: caught.stats.missingLinks,
    rosters: caught.stats.rosters,
    blocksFetched: r.mirrorLog.blocksFetched + caught.stats.blocks,
    bytes: r.mirrorLog.bytes,
    matched: {
      index: matched.block.index,
      which: matched.which,
      root: matched.block.payload.root.version,
      snapshot: matched.block.payload.snapshot.version,
      targets: matched.block.payload.targets.version,
    },
  };
  const links = `${log.links} forward link${log.links === 1 ? '' : 's'}`;
  const steps: RefreshStep[] = [
    {
      check: 'log-catch-up', spec: 'protocol 5', passed: ['each forward link co-signed by its source block\'s roster threshold', 'each new roster the one its link names'],
      text: `log: caught up ${log.blocksCaughtUp} block${log.blocksCaughtUp === 1 ? '' : 's'} (${log.from.index} -> ${head.index}) via ${links}, ` +
        `each co-signed by its source block's roster threshold; ${log.rosters} roster change${log.rosters === 1 ? '' : 's'} crossed, ${log.bytes} bytes`,
    },
    {
      check: 'log-head', spec: 'protocol 6', passed: ['co-signed by the head block\'s roster threshold', 'fresh', 'not older than the last accepted head'],
      text: `log: head block ${head.index} signed by ${signers} of ${log.head.witnesses} witnesses (threshold ${log.head.threshold}) at ${statement.time}, ` +
        `${formatAge(ageSeconds)} old (max ${formatAge(log.head.maxAgeSeconds)}), not older than the last accepted head`,
    },
    ...(rootBootstrap === null ? [] : [{
      check: 'root-bootstrap', spec: 'protocol 9', passed: ['sha256 of the root the witnessed block records'],
      text: `root bootstrap: root v${rootBootstrap.from} -> v${rootBootstrap.to} installed from the witnessed block (sha256 matches, ${rootBootstrap.rootsFetched} root fetched)`,
    }]),
    ...tuf.steps,
    {
      check: 'witnessed', spec: 'protocol 9', passed: ['root, snapshot and targets are those a witnessed block records'],
      text: `witnessed: root v${tuf.root.version}, snapshot v${log.matched.snapshot} and targets v${log.matched.targets} are those block ${matched.block.index} (${matched.which}) records`,
    },
  ];
  return {
    ...tuf,
    steps,
    log,
    rootBootstrap,
    rootsFetched: (rootBootstrap?.rootsFetched ?? 0) + r.tufRootsFetched,
  };
}

function formatAge(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
