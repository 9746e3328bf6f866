// rebuild/run.ts: `cairn rebuild run`, one verifier's rebuild of one artifact named the way an
// operator names it (docs/verified-builds.md section 4): a declared target of a
// repository workspace (its declaration and bytes are read there, the attestation goes beside the
// targets), or a declaration file from `cairn build` with the published artifact as a file or a
// file:, http: or https: URL (fetched with a cap and checked against the declared sha256). The
// verdict (verify.ts) is written atomically to the attestation file.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Signer } from '../crypto/signer.js';
import { short, UsageError } from '../errors/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFile, tooLargeIsFormatError } from '../io/capped-file.js';
import { BoundedFetcher } from '../io/fetch.js';
import { DECLARATION_LIMITS, parseDeclarationFile, serializeAttestation, type ReleaseDeclaration } from '../policy/index.js';
import { attestationFile } from './attestation-files.js';
import { RebuildError } from './errors.js';
import { freshOutputDir, type IsolationPreference, type SandboxOptions } from './isolation.js';
import { findDeclaredArtifact, locateArtifactBytes } from './repo-scan.js';
import { fetchSource, rebuildAndAttest, type RebuildOutcome } from './verify.js';

/** Largest published artifact fetched by URL for comparison. */
const MAX_ARTIFACT_BYTES = 4 * 1024 * 1024 * 1024;

/** What to rebuild: a declared target of a repository workspace, or a declaration file and the published artifact. */
export type RebuildSubject =
  | { repo: string; target: string }
  | { declarationFile: string; artifact: string };

export interface RunRebuildRequest {
  subject: RebuildSubject;
  signer: Signer;
  /** Attestation file; default for a repository target: REPO/public/attestations/TARGET/SHA256.KEYID.dsse.json. */
  out?: string;
  /** The sandbox (default: full isolation; a weaker level only when named). */
  isolation?: SandboxOptions | IsolationPreference;
  /** Fetch a declared source at a file: URL too (tests, local examples); default http(s) only. */
  allowFileSources?: boolean;
  timeoutMs?: number;
  onWarning?: (message: string) => void;
}

export interface RunRebuildResult extends RebuildOutcome {
  target: string;
  /** Where the signed attestation was written. */
  attestation: string;
}

interface ResolvedSubject {
  target: string;
  declaration: ReleaseDeclaration;
  artifactFile: string;
  expectedSha256: string;
  resourceUri: string;
  out: string;
  /** A temporary directory holding a fetched artifact, removed afterwards. */
  temp?: string;
}

async function resolveSubject(request: RunRebuildRequest): Promise<ResolvedSubject> {
  const { subject } = request;
  if ('repo' in subject) {
    const found = await findDeclaredArtifact(subject.repo, subject.target);
    if (!found) {
      throw new RebuildError('ARTIFACT_NOT_FOUND', `${subject.repo} has no target ${subject.target} with a release declaration`, {
        hint: 'add it with cairn repo add ... --declaration FILE (from cairn build)',
      });
    }
    const bytes = await locateArtifactBytes(subject.repo, found.target, found.sha256);
    if (!bytes) throw new RebuildError('ARTIFACT_NOT_FOUND', `${subject.repo} holds no bytes for ${found.target} (sha256 ${short(found.sha256)})`);
    return {
      target: found.target, declaration: found.declaration, artifactFile: bytes, expectedSha256: found.sha256, resourceUri: found.target,
      out: request.out ?? attestationFile(subject.repo, found.target, found.sha256, request.signer.keyid),
    };
  }
  if (request.out === undefined) throw new UsageError('MISSING_ARGUMENT', 'a rebuild from a declaration file needs the attestation file to write (--out FILE)');
  const file = parseDeclarationFile(await readCappedFile(subject.declarationFile, DECLARATION_LIMITS.maxFileBytes, { refuse: tooLargeIsFormatError }), subject.declarationFile);
  const resolved = { target: file.target, declaration: file, expectedSha256: file.artifact.sha256, resourceUri: subject.artifact, out: request.out };
  if (!/^(https?|file):/.test(subject.artifact)) return { ...resolved, artifactFile: subject.artifact };
  const temp = await freshOutputDir();
  const artifactFile = join(temp, 'artifact');
  // fetchSource streams with a cap and checks the digest: the same rule for the artifact.
  await fetchSource({ uri: subject.artifact, sha256: file.artifact.sha256 }, artifactFile, new BoundedFetcher(), MAX_ARTIFACT_BYTES).catch(async (e: unknown) => {
    await rm(temp, { recursive: true, force: true });
    if (e instanceof RebuildError && e.code === 'SOURCE_MISMATCH') {
      throw new RebuildError('ARTIFACT_MISMATCH', `${subject.artifact} does not have the sha256 ${short(file.artifact.sha256)} the declaration names`);
    }
    throw e;
  });
  return { ...resolved, artifactFile, temp };
}

/** Rebuilds the subject in isolation, compares with the published bytes, and writes the signed verdict. */
export async function runRebuild(request: RunRebuildRequest): Promise<RunRebuildResult> {
  const subject = await resolveSubject(request);
  try {
    const outcome = await rebuildAndAttest({
      target: subject.target, artifactFile: subject.artifactFile, expectedSha256: subject.expectedSha256, resourceUri: subject.resourceUri,
      declaration: subject.declaration, signer: request.signer, isolation: request.isolation, allowFileSources: request.allowFileSources ?? false,
      ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
      ...(request.onWarning ? { onWarning: request.onWarning } : {}),
    });
    await writeFileAtomic(subject.out, serializeAttestation(outcome.envelope));
    return { ...outcome, target: subject.target, attestation: subject.out };
  } finally {
    if (subject.temp) await rm(subject.temp, { recursive: true, force: true });
  }
}
