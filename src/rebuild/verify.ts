// rebuild/verify.ts: one verifier's rebuild of one artifact (docs/design.md "Build verification";
// CHAINIAC section 5, verified builds): fetch the declared source (bounded, sha256 checked),
// check the archive, run the recipe isolated, compare the bytes with the published artifact, and
// sign an in-toto Statement (SLSA VSA) in DSSE: PASSED when bit-identical, FAILED with a summary
// of the difference otherwise.
//
// No verdict is signed when the verifier could not reach one: a source whose bytes are not the
// declared ones (a mirror or the network may be lying; a signed FAILED would let whoever controls
// the verifier's network block a release), a corrupt archive, a recipe that does not run. Those
// are RebuildErrors; the caller retries or reports them.
import { open, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Signer } from '../crypto/signer.js';
import { hashFile } from '../crypto/hash.js';
import { BoundedFetcher, type Fetcher } from '../io/fetch.js';
import { short } from '../errors/index.js';
import {
  createAttestation, type DifferenceSummary, type DsseEnvelope, type IsolationKind, type ReleaseDeclaration, type SourceDeclaration, type VerificationResult,
} from '../policy/index.js';
import { checkSourceArchive } from './archive.js';
import { compareArtifacts } from './compare.js';
import { RebuildError } from './errors.js';
import { builderEnvironment, freshOutputDir, resolveIsolation, runRecipe, type Isolation, type IsolationPreference, type SandboxOptions } from './isolation.js';

export const SOURCE_LIMITS = {
  /** Largest source archive fetched (a full distribution package source is far below this). */
  maxSourceBytes: 2 * 1024 * 1024 * 1024,
} as const;

export interface RebuildRequest {
  /** Target path: the subject name of the attestation. */
  readonly target: string;
  /** Host path of the published artifact's bytes. */
  readonly artifactFile: string;
  /** The sha256 TUF metadata gives for the artifact; the file must match it. */
  readonly expectedSha256?: string;
  /** Where the artifact was read from, for the attestation (default: the target path). */
  readonly resourceUri?: string;
  readonly declaration: ReleaseDeclaration;
  readonly signer: Signer;
  readonly isolation?: Isolation | SandboxOptions | IsolationPreference;
  readonly fetcher?: Fetcher;
  readonly maxSourceBytes?: number;
  readonly timeoutMs?: number;
  /** Fetch a declared source at a file: URL too (the operator's choice: tests, local examples); default http(s) only. */
  readonly allowFileSources?: boolean;
  /** Parent directory of the temporary directories (default: the system one). */
  readonly tempDir?: string;
  readonly now?: () => Date;
  /** Called with warnings (weak isolation, builder identity mismatch). */
  readonly onWarning?: (message: string) => void;
}

export interface RebuildOutcome {
  readonly envelope: DsseEnvelope;
  readonly result: VerificationResult;
  readonly artifact: { readonly sha256: string; readonly length: number };
  readonly rebuilt: { readonly sha256: string; readonly length: number };
  readonly isolation: IsolationKind;
  readonly differences?: DifferenceSummary;
  /** Time of the build alone, and of the whole verification. */
  readonly buildMs: number;
  readonly totalMs: number;
}

/** Rebuilds one artifact and signs the verdict. */
export async function rebuildAndAttest(req: RebuildRequest): Promise<RebuildOutcome> {
  const started = Date.now();
  const artifactHash = await hashFile(req.artifactFile, ['sha256']);
  const artifact = { sha256: artifactHash.hashes.sha256!, length: artifactHash.length };
  if (req.expectedSha256 !== undefined && artifact.sha256 !== req.expectedSha256) {
    throw new RebuildError('ARTIFACT_MISMATCH', `${req.artifactFile} has sha256 ${short(artifact.sha256)}, the metadata of ${req.target} says ${short(req.expectedSha256)}`);
  }
  const isolation = resolveIsolation(req.isolation);
  if (isolation.warning) req.onWarning?.(isolation.warning);
  const environment = builderEnvironment();
  const { recipe, source } = req.declaration;
  if (!recipe.builder.startsWith(environment)) {
    req.onWarning?.(`the recipe names builder ${recipe.builder}; this verifier runs ${environment} (the attestation records both)`);
  }
  checkSourceScheme(source.uri, req.allowFileSources ?? false);
  const temp = await freshOutputDir(req.tempDir);
  try {
    const sourceFile = join(temp, 'source.tar');
    await fetchSource(source, sourceFile, req.fetcher ?? new BoundedFetcher(), req.maxSourceBytes ?? SOURCE_LIMITS.maxSourceBytes);
    await checkSourceArchive(sourceFile, `source archive ${source.uri}`);
    const outDir = await freshOutputDir(temp);
    const built = await runRecipe({ sourceArchive: sourceFile, recipe, outDir, isolation, timeoutMs: req.timeoutMs });
    const rebuiltHash = await hashFile(built.artifact, ['sha256']);
    const rebuilt = { sha256: rebuiltHash.hashes.sha256!, length: rebuiltHash.length };
    const differences = rebuilt.sha256 === artifact.sha256 ? undefined : await compareArtifacts(req.artifactFile, built.artifact);
    // Equal digests and a byte difference cannot both hold; a difference with equal digests would be a bug.
    const result: VerificationResult = differences === undefined && rebuilt.sha256 === artifact.sha256 ? 'PASSED' : 'FAILED';
    const envelope = createAttestation(req.signer, {
      subject: { name: req.target, sha256: artifact.sha256 },
      result,
      timeVerified: (req.now ?? (() => new Date()))(),
      resourceUri: req.resourceUri ?? req.target,
      rebuild: {
        source, recipe, rebuilt, isolation: built.isolation, environment,
        ...(differences ? { differences } : {}),
      },
    });
    return { envelope, result, artifact, rebuilt, isolation: built.isolation, ...(differences ? { differences } : {}), buildMs: built.durationMs, totalMs: Date.now() - started };
  } finally {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * The publisher declares where its source is; the verifier fetches it only over http(s), so a
 * declaration cannot make the verifier read its own files (file:) or use another scheme, unless
 * the operator allows file: sources (docs/verified-builds.md "The sandbox").
 */
function checkSourceScheme(uri: string, allowFile: boolean): void {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https' || (allowFile && scheme === 'file')) return;
  throw new RebuildError('SOURCE_REFUSED', `the declared source ${uri} is ${scheme === undefined ? 'not a URL' : `a ${scheme}: URL`}; this verifier fetches sources over http or https${allowFile ? ' or from file: URLs' : ''}; no verdict signed`, {
    hint: scheme === 'file' ? 'publish the source archive at an http(s) URL (cairn build --source-uri); an operator may allow file: sources with --allow-file-sources' : 'publish the source archive at an http(s) URL (cairn build --source-uri)',
  });
}

/** Streams the declared source into `dest` with a byte cap; RebuildError SOURCE_MISMATCH unless its sha256 is the declared one. */
export async function fetchSource(source: SourceDeclaration, dest: string, fetcher: Fetcher, maxBytes: number): Promise<void> {
  const hash = createHash('sha256');
  const handle = await open(dest, 'w', 0o644);
  try {
    for await (const chunk of fetcher.stream(source.uri, maxBytes)) {
      hash.update(chunk);
      await handle.write(chunk);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  const actual = hash.digest('hex');
  if (actual !== source.sha256) {
    throw new RebuildError('SOURCE_MISMATCH', `the source archive at ${source.uri} has sha256 ${short(actual)}, the declaration says ${short(source.sha256)}; no verdict signed`, {
      hint: 'the publisher declared another source than the one served there, or the transfer was tampered with',
    });
  }
}
