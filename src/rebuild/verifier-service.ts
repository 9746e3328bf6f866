// rebuild/verifier-service.ts: `cairn rebuild serve`, a build verifier that watches a repository
// (docs/design.md "Build verification"; CHAINIAC section 5; docs/verified-builds.md: rebuild every
// new artifact, queue and results in SQLite, surviving restarts without redoing or losing work). Each poll scans the
// staged and published targets roles (repo-scan.ts), queues every new (target, sha256) with a
// declaration, and works the queue one job at a time. Each verdict is published beside the
// targets, at REPO/public/<attestationRelativePath(target, keyid)>, i.e.
//   REPO/public/attestations/<target path>/<verifier key ID>.dsse.json
// written atomically before the job is marked done. A job whose attestation file already holds
// this verifier's valid verdict for the same sha256 (written just before a crash) is adopted,
// not rebuilt.
import type { Signer } from '../crypto/signer.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFile } from '../io/capped-file.js';
import type { Fetcher } from '../io/fetch.js';
import { isCairnError } from '../errors/index.js';
import {
  ATTESTATION_LIMITS, describeDifferences, parseAttestation, serializeAttestation, verifyAttestation, type VerificationResult,
} from '../policy/index.js';
import { attestationFile } from './attestation-files.js';
import { RebuildError } from './errors.js';
import { chooseIsolation, type IsolationPreference, type SandboxOptions } from './isolation.js';
import { RebuildQueue, type RebuildJob } from './queue.js';
import { locateArtifactBytes, scanRepository } from './repo-scan.js';
import { rebuildAndAttest } from './verify.js';

export interface VerifierServiceOptions {
  readonly repoDir: string;
  readonly signer: Signer;
  /** SQLite file of the queue. */
  readonly dbPath: string;
  readonly pollMs?: number;
  /** The sandbox (default: full isolation; a weaker level only when named). */
  readonly isolation?: SandboxOptions | IsolationPreference;
  /** Allow declared sources at file: URLs (tests, local examples); default http(s) only. */
  readonly allowFileSources?: boolean;
  /** Stop when nothing is left to do instead of polling forever. */
  readonly once?: boolean;
  /** Attempts before a job without verdict is given up (state error). */
  readonly maxAttempts?: number;
  readonly retryDelayMs?: number;
  readonly timeoutMs?: number;
  readonly fetcher?: Fetcher;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
  readonly onEvent?: (event: VerifierEvent) => void;
}

export type VerifierEvent =
  | { type: 'start'; isolation: string; warning?: string; recovered: number }
  | { type: 'queued'; added: number; problems: string[] }
  | { type: 'claimed'; target: string; sha256: string; attempt: number }
  | { type: 'attested'; target: string; sha256: string; result: VerificationResult; attestation: string; summary?: string; buildMs: number; totalMs: number }
  | { type: 'adopted'; target: string; sha256: string; result: VerificationResult; attestation: string }
  | { type: 'error'; target: string; sha256: string; code: string; message: string; final: boolean };

/** Runs until `signal` aborts (or, with `once`, until the queue is empty). Returns jobs finished. */
export async function runVerifierService(options: VerifierServiceOptions): Promise<{ finished: number }> {
  const now = options.now ?? Date.now;
  const emit = options.onEvent ?? ((): void => undefined);
  const isolation = chooseIsolation(options.isolation);
  const queue = new RebuildQueue(options.dbPath);
  const seenProblems = new Set<string>();
  let finished = 0;
  try {
    const recovered = queue.recoverInterrupted();
    emit({ type: 'start', isolation: isolation.kind, ...(isolation.warning ? { warning: isolation.warning } : {}), recovered });
    while (!options.signal?.aborted) {
      const scan = await scanRepository(options.repoDir);
      const added = queue.enqueue(scan.artifacts, now());
      const problems = scan.problems.filter((p) => !seenProblems.has(p));
      for (const p of problems) seenProblems.add(p);
      if (added > 0 || problems.length > 0) emit({ type: 'queued', added, problems });
      for (let job = queue.claim(now()); job && !options.signal?.aborted; job = queue.claim(now())) {
        emit({ type: 'claimed', target: job.target, sha256: job.sha256, attempt: job.attempts });
        if (await processJob(job, queue, isolation, options, now, emit)) finished++;
      }
      if (options.once && queue.pending() === 0) break;
      let wait = options.pollMs ?? 10_000;
      const due = queue.nextDue();
      if (options.once && due !== undefined) wait = Math.max(0, Math.min(wait, due - now()));
      await sleep(wait, options.signal);
    }
  } finally {
    queue.close();
  }
  return { finished };
}

async function processJob(
  job: RebuildJob, queue: RebuildQueue, isolation: ReturnType<typeof chooseIsolation>, options: VerifierServiceOptions, now: () => number, emit: (e: VerifierEvent) => void,
): Promise<boolean> {
  const file = attestationFile(options.repoDir, job.target, job.sha256, options.signer.keyid);
  const existing = await existingVerdict(file, job, options.signer);
  if (existing) {
    queue.finish(job.id, existing, file, now());
    emit({ type: 'adopted', target: job.target, sha256: job.sha256, result: existing, attestation: file });
    return true;
  }
  try {
    const artifactFile = await locateArtifactBytes(options.repoDir, job.target, job.sha256);
    if (!artifactFile) throw new RebuildError('ARTIFACT_NOT_FOUND', `no bytes for ${job.target} (sha256 ${job.sha256.slice(0, 12)}) in ${options.repoDir}`);
    const outcome = await rebuildAndAttest({
      target: job.target, artifactFile, expectedSha256: job.sha256, declaration: job.declaration, signer: options.signer,
      isolation, fetcher: options.fetcher, timeoutMs: options.timeoutMs, allowFileSources: options.allowFileSources,
    });
    await writeFileAtomic(file, serializeAttestation(outcome.envelope));
    queue.finish(job.id, outcome.result, file, now());
    emit({
      type: 'attested', target: job.target, sha256: job.sha256, result: outcome.result, attestation: file, buildMs: outcome.buildMs, totalMs: outcome.totalMs,
      ...(outcome.differences ? { summary: describeDifferences(outcome.differences) } : {}),
    });
    return true;
  } catch (e) {
    if (!isCairnError(e)) throw e;
    const final = job.attempts >= (options.maxAttempts ?? 3);
    queue.fail(job.id, `${e.code}: ${e.message}`, now(), final ? undefined : now() + (options.retryDelayMs ?? 60_000) * job.attempts);
    emit({ type: 'error', target: job.target, sha256: job.sha256, code: e.code, message: e.message, final });
    return false;
  }
}

/** The verdict already published by this verifier for exactly this job, if any. */
async function existingVerdict(file: string, job: RebuildJob, signer: Signer): Promise<VerificationResult | undefined> {
  try {
    const verified = verifyAttestation(parseAttestation(await readCappedFile(file, ATTESTATION_LIMITS.maxEnvelopeBytes)), [signer.publicKey]);
    const s = verified.statement;
    return s.subjects.some((x) => x.name === job.target && x.sha256 === job.sha256) ? s.result : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
