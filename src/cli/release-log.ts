// cli/release-log.ts: where the publisher's repository (src/repo) meets the log leader
// (src/witness/leader.ts). The leader reads TUF documents through a ReleaseDocumentSource; here
// that source is the repository's published metadata (REPO/public/metadata, plain names hold the
// latest version of each role, N.root.json every root), overlaid with what a publish is about to
// write. The leader's state is REPO/state/log.json; the log files go to REPO/public/log/.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Output } from './output.js';
import { repoLayout, type PendingRelease } from '../repo/index.js';
import { parseEnvelope } from '../tuf/index.js';
import { StorageError } from '../errors/index.js';
import { hasLog, LogLeader, type BlockReport, type LeaderOptions, type ReleaseDocumentSource, type RoundReport } from '../witness/leader.js';

/** REPO/state/log.json: the leader's pointer to the head of the repository's log. */
export function logStateFile(dir: string): string {
  return join(dir, 'state', 'log.json');
}

export function leaderOptions(dir: string, out: Output, extra: Partial<LeaderOptions> = {}): LeaderOptions {
  return {
    publicDir: join(dir, 'public'),
    stateFile: logStateFile(dir),
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
