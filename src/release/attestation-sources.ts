// release/attestation-sources.ts: the publisher pulls the verifiers' attestations from the
// verifiers' own places (docs/verified-builds.md section 5 "Publishing attestations"). A verifier
// needs no write access to the publisher: it serves its attestation tree read-only (an HTTP base
// URL or a directory), and at release time the publisher fetches, for each new artifact and each
// configured source, the one file that verifier's attestation of that artifact has:
//   SOURCE/attestations/<target>/<sha256>.<verifier key ID>.dsse.json
// A source is bound to one verifier of the build policy (`KEYID=URL`). What it sends counts only
// as that verifier's attestation of that exact artifact: the envelope must be signed by that key
// and name that target and sha256, each file is read under the envelope cap, and the local path
// it is written to is computed here from the target, the sha256 and the source's key ID (never
// from anything the source sends), so a source can change nothing but its own verifier's
// attestations. Every file is checked before any is written: one hostile answer refuses the pull
// (AttestationError, naming the source) and nothing is written; the pulled files are written
// only once the witnesses co-signed the release (pipeline.ts), so a refused release leaves
// public/ as it was. A source that has no attestation yet is passed over with a warning, one that
// does not answer is passed over for the rest of the pull (a stalled source would otherwise hold
// the workspace lock for the fetch time limits once per artifact): the witnesses judge the quorum.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isCairnError, short, UsageError } from '../errors/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFileIfExists } from '../io/capped-file.js';
import { BoundedFetcher, fetchAll, FetchError, type Fetcher } from '../io/fetch.js';
import {
  ATTESTATION_LIMITS, AttestationError, attestationRelativePath, parseAttestation, verifyAttestation, type ReleaseArtifact,
} from '../policy/index.js';
import { repoLayout } from '../repo/index.js';
import { releaseArtifacts } from './attestations.js';
import type { ReleaseDocumentSource } from './documents.js';
import { SILENT, type ReleaseProgress } from './progress.js';

/** One verifier's published attestation tree: an http(s) base URL or a directory. */
export interface AttestationSource {
  /** Key ID of the verifier (a verifier of the build policy). */
  verifier: string;
  /** Base URL (http:, https:, file:) of the tree holding attestations/. */
  url: string;
}

/** Parses `KEYID=URL_OR_DIRECTORY` (the `--attestations-from` option). */
export function parseAttestationSource(spec: string): AttestationSource {
  const eq = spec.indexOf('=');
  const verifier = eq < 0 ? '' : spec.slice(0, eq);
  const location = spec.slice(eq + 1);
  if (!/^[0-9a-f]{64}$/.test(verifier) || location === '') {
    throw new UsageError('BAD_ARGUMENT', `attestation source ${JSON.stringify(spec.slice(0, 200))} is not KEYID=URL`, {
      hint: 'give the verifier\'s key ID (cairn key show KEYFILE) and the base URL or directory it serves its attestations from, e.g. KEYID=https://verifier.example/',
    });
  }
  const url = /^(https?|file):\/\//.test(location) ? location : pathToFileURL(location).href;
  return { verifier, url: url.endsWith('/') ? url : `${url}/` };
}

/** The URL of `source`'s attestation of one artifact (each path segment encoded). */
function attestationUrl(source: AttestationSource, relative: string): string {
  return source.url + relative.split('/').map(encodeURIComponent).join('/');
}

export interface PullOptions {
  sources: readonly AttestationSource[];
  fetcher?: Fetcher;
  progress?: ReleaseProgress;
}

/** A verifier's attestation of one artifact, pulled and checked, and where it goes under public/. */
export interface PulledAttestation {
  target: string;
  sha256: string;
  verifier: string;
  /** REPO/public/attestations/<target>/<sha256>.<verifier>.dsse.json */
  path: string;
  bytes: Buffer;
}

/**
 * Pulls, for each artifact the release `source` adds or changes, each source's attestation of it
 * and checks it; writes nothing (writePulledAttestations does, once the release is co-signed).
 * Nothing to pull without a build policy.
 */
export async function pullAttestations(dir: string, source: ReleaseDocumentSource, options: PullOptions): Promise<PulledAttestation[]> {
  const release = options.sources.length === 0 ? undefined : await releaseArtifacts(dir, source);
  if (!release) return [];
  const { policy: { verifiers }, artifacts } = release;
  const progress = options.progress ?? SILENT;
  const fetcher = options.fetcher ?? new BoundedFetcher();
  const { publicDir } = repoLayout(dir);
  for (const s of options.sources) {
    if (!Object.hasOwn(verifiers, s.verifier)) {
      throw new UsageError('BAD_ARGUMENT', `attestation source ${s.url} is for key ${short(s.verifier)}, which is not a verifier of the build policy`, { hint: 'cairn repo status DIR shows the policy; name a policy verifier\'s key ID' });
    }
  }
  const pulled: PulledAttestation[] = [];
  // A source that failed to answer is not asked again in this pull: each question may take up to
  // the fetch time limits, with the workspace lock held.
  const silent = new Set<AttestationSource>();
  for (const artifact of artifacts) {
    for (const source of options.sources) {
      if (silent.has(source)) continue;
      const relative = attestationRelativePath(artifact.name, artifact.sha256, source.verifier);
      const url = attestationUrl(source, relative);
      let bytes: Buffer;
      try {
        bytes = await fetchAll(fetcher, url, ATTESTATION_LIMITS.maxEnvelopeBytes);
      } catch (e) {
        if (e instanceof FetchError && e.code === 'NOT_FOUND') {
          progress.info(`verifier ${short(source.verifier)} has no attestation of ${artifact.name} (sha256 ${short(artifact.sha256)}) at ${source.url} yet`);
          continue;
        }
        if (!isCairnError(e) || (e instanceof FetchError && (e.code === 'TOO_LARGE' || e.code === 'NOT_REGULAR_FILE'))) throw refusal(source, artifact, e);
        progress.warn(`verifier ${short(source.verifier)} at ${source.url}: ${e.code}: ${e.message}; passed over for the rest of this publish`);
        silent.add(source);
        continue;
      }
      try {
        const verified = verifyAttestation(parseAttestation(bytes, url), new Map([[source.verifier, verifiers[source.verifier]!]]));
        const subjects = verified.statement.subjects;
        if (!subjects.some((x) => x.name === artifact.name && x.sha256 === artifact.sha256)) {
          throw new AttestationError('SUBJECT_MISMATCH', `it attests ${subjects.map((x) => `${x.name} (sha256 ${short(x.sha256)})`).join(', ')}, not ${artifact.name} (sha256 ${short(artifact.sha256)})`);
        }
      } catch (e) {
        throw refusal(source, artifact, e);
      }
      pulled.push({ target: artifact.name, sha256: artifact.sha256, verifier: source.verifier, path: join(publicDir, relative), bytes });
    }
  }
  if (pulled.length > 0) progress.info(`pulled ${pulled.length} attestation(s) from the verifiers' sources`);
  return pulled;
}

/**
 * Writes pulled attestations under public/ (those already there with the same bytes, or with any
 * bytes when `keepExisting`, are left alone); returns the paths written.
 */
export async function writePulledAttestations(pulled: readonly PulledAttestation[], options: { keepExisting?: boolean } = {}): Promise<string[]> {
  const written: string[] = [];
  for (const p of pulled) {
    const existing = await readCappedFileIfExists(p.path, ATTESTATION_LIMITS.maxEnvelopeBytes).catch(() => undefined);
    if (existing !== undefined && (options.keepExisting === true || Buffer.compare(existing, p.bytes) === 0)) continue;
    await writeFileAtomic(p.path, p.bytes, { mkdirs: true });
    written.push(p.path);
  }
  return written;
}

/**
 * The attestations a logged block's proposal carried (`files`: target -> base64 envelopes), put
 * under public/ where missing: those pulled for a release whose block was logged by a later retry,
 * or just before a crash. Each goes to the path of the policy verifier whose valid signature it
 * bears and the subject it names; others are passed over (the witnesses relied only on valid ones).
 */
export async function writeProposalAttestations(dir: string, source: ReleaseDocumentSource, files: Readonly<Record<string, readonly string[]>>): Promise<string[]> {
  const release = await releaseArtifacts(dir, source);
  if (!release) return [];
  const keys = new Map(Object.entries(release.policy.verifiers));
  const { publicDir } = repoLayout(dir);
  const pulled: PulledAttestation[] = [];
  for (const [target, envelopes] of Object.entries(files)) {
    for (const b64 of envelopes) {
      const bytes = Buffer.from(b64, 'base64');
      try {
        const { statement } = verifyAttestation(parseAttestation(bytes), keys);
        const subject = statement.subjects.find((x) => x.name === target);
        if (subject) pulled.push({ target, sha256: subject.sha256, verifier: statement.verifier, path: join(publicDir, attestationRelativePath(target, subject.sha256, statement.verifier)), bytes });
      } catch (e) {
        if (!isCairnError(e)) throw e;
      }
    }
  }
  return writePulledAttestations(pulled, { keepExisting: true });
}

/** A source's answer refused: its verifier's attestation of this artifact it is not. */
function refusal(source: AttestationSource, artifact: ReleaseArtifact, e: unknown): AttestationError {
  const code = e instanceof AttestationError ? e.code : 'BAD_ENVELOPE'; // over the cap, not a regular file, or not JSON
  const detail = e instanceof Error ? e.message : String(e);
  return new AttestationError(code, `attestation source ${source.url} (verifier ${short(source.verifier)}) sent for ${artifact.name} (sha256 ${short(artifact.sha256)}) what is not that verifier's attestation of it: ${detail}`, {
    cause: e, hint: 'nothing was pulled or written; ask that verifier\'s operator, or publish without its source',
  });
}
