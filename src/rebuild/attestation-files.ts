// rebuild/attestation-files.ts: the attestation files verifiers publish beside the targets
// (docs/verified-builds.md section 5 "Layout": PUBLIC/attestations/TARGET/SHA256.KEYID.dsse.json),
// found and checked the way witnesses check them: at most the policy's cap of files per artifact,
// each at most the envelope cap, only the files of the exact artifact sha256.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { TufPublicKey } from '../crypto/public-key.js';
import { UsageError } from '../errors/index.js';
import { CappedFileError, readCappedFile, tooLargeIsFormatError } from '../io/capped-file.js';
import {
  ATTESTATION_LIMITS, BUILD_POLICY_LIMITS, attestationDirectory, attestationFilePrefix, attestationRelativePath, checkAttestationQuorum, type QuorumReport,
} from '../policy/index.js';
import { readPublicKey, repoLayout } from '../repo/index.js';
import { RebuildError } from './errors.js';
import { findDeclaredArtifact } from './repo-scan.js';

/** Path of a verifier's attestation for an artifact inside a repository workspace. */
export function attestationFile(repoDir: string, target: string, sha256: string, keyid: string): string {
  return join(repoLayout(repoDir).publicDir, attestationRelativePath(target, sha256, keyid));
}

/**
 * The attestation files published under `publicDir` for artifact `target` with `sha256`, sorted
 * by name: at most BUILD_POLICY_LIMITS.maxAttestationsPerArtifact, each a regular file of at most
 * ATTESTATION_LIMITS.maxEnvelopeBytes (others are passed over).
 */
async function listPublishedAttestations(publicDir: string, target: string, sha256: string): Promise<string[]> {
  const dir = join(publicDir, attestationDirectory(target));
  const prefix = attestationFilePrefix(sha256);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(prefix) && n.endsWith('.dsse.json')).sort();
  const out: string[] = [];
  for (const name of names.slice(0, BUILD_POLICY_LIMITS.maxAttestationsPerArtifact)) {
    const path = join(dir, name);
    const st = await stat(path);
    if (st.isFile() && st.size <= ATTESTATION_LIMITS.maxEnvelopeBytes) out.push(path);
  }
  return out;
}

/**
 * The bytes of the attestation files of listPublishedAttestations, each read under the envelope
 * cap on the open file: one that grew or was replaced since it was listed is passed over too.
 */
export async function readPublishedAttestations(publicDir: string, target: string, sha256: string): Promise<Uint8Array[]> {
  const read = (path: string): Promise<Buffer | undefined> => readCappedFile(path, ATTESTATION_LIMITS.maxEnvelopeBytes).catch((e: unknown) => {
    if (e instanceof CappedFileError) return undefined;
    throw e;
  });
  const files = await Promise.all((await listPublishedAttestations(publicDir, target, sha256)).map(read));
  return files.filter((bytes): bytes is Buffer => bytes !== undefined);
}

export interface AttestationCheckRequest {
  /** Target path (the attestations' subject name). */
  target: string;
  /** The artifact's sha256; default with `repo`: from the repository's targets metadata. */
  sha256?: string;
  /** A repository workspace: its published attestations of the artifact are checked too. */
  repo?: string;
  /** Attestation files given one by one. */
  files: readonly string[];
  /** Public (or private) key files of the policy's verifiers. */
  verifierKeyFiles: readonly string[];
  quorum: number;
  /** Count only attestations made under full isolation (the build policy's requireFullIsolation). */
  requireFullIsolation?: boolean;
}

/**
 * `cairn rebuild check`: the witnesses' rule (checkAttestationQuorum: `quorum` PASSED attestations
 * from distinct policy verifiers for the exact sha256, no FAILED) over attestation files.
 */
export async function checkAttestationFiles(request: AttestationCheckRequest): Promise<QuorumReport & { sha256: string; files: string[] }> {
  let sha256 = request.sha256;
  const files = [...request.files];
  if (request.repo !== undefined) {
    if (sha256 === undefined) {
      const found = await findDeclaredArtifact(request.repo, request.target);
      if (!found) throw new RebuildError('ARTIFACT_NOT_FOUND', `${request.repo} has no declared target ${request.target}`);
      sha256 = found.sha256;
    }
    files.push(...(await listPublishedAttestations(repoLayout(request.repo).publicDir, request.target, sha256)));
  }
  if (sha256 === undefined) throw new UsageError('MISSING_ARGUMENT', 'the artifact\'s sha256 is needed', { hint: 'pass --sha256 HEX or --repo DIR' });
  const verifiers: TufPublicKey[] = [];
  for (const f of request.verifierKeyFiles) verifiers.push((await readPublicKey(f)).key);
  const envelopes = await Promise.all(files.map((f) => readCappedFile(f, ATTESTATION_LIMITS.maxEnvelopeBytes, { what: `attestation ${f}`, refuse: tooLargeIsFormatError })));
  const report = checkAttestationQuorum({ name: request.target, sha256 }, envelopes, { verifiers, quorum: request.quorum, requireFullIsolation: request.requireFullIsolation ?? false });
  return { ...report, sha256, files };
}
