// policy/attestation-layout.ts: where rebuild attestations are published, relative to the
// repository's public root (docs/verified-builds.md section 5 "Layout"):
//   attestations/<target path>/<artifact sha256>.<verifier key ID>.dsse.json
// Paths are built only from safe target paths, SHA-256 digests and key IDs, so a hostile target
// name cannot point outside attestations/.
import { AttestationError } from './build-errors.js';

/**
 * Where a verifier's attestation for a target is published, relative to the repository's public
 * root (what mirrors serve): attestations/<target path>/<artifact sha256>.<verifier key ID>.dsse.json.
 * One file per (target path, artifact version, verifier): a new version never replaces the
 * attestations of the one clients have.
 */
export function attestationRelativePath(targetPath: string, artifactSha256: string, verifierKeyid: string): string {
  if (!/^[0-9a-f]{64}$/.test(verifierKeyid)) throw new AttestationError('BAD_ENVELOPE', `not a key ID: ${JSON.stringify(verifierKeyid)}`);
  return `${attestationDirectory(targetPath)}/${attestationFilePrefix(artifactSha256)}${verifierKeyid}.dsse.json`;
}

/**
 * The URL of a verifier's attestation of an artifact under a mirror's attestations/ directory
 * (`attestationsUrl`, ending in /), each path segment URL-encoded.
 */
export function attestationUrl(attestationsUrl: string, targetPath: string, artifactSha256: string, verifierKeyid: string): string {
  const relative = attestationRelativePath(targetPath, artifactSha256, verifierKeyid).slice('attestations/'.length);
  return new URL(relative.split('/').map(encodeURIComponent).join('/'), attestationsUrl).href;
}

/**
 * File names of the attestations about one artifact version start with its SHA-256: a rebuild of
 * a new version of a target never replaces the attestations of the version clients have.
 */
export function attestationFilePrefix(artifactSha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(artifactSha256)) throw new AttestationError('BAD_STATEMENT', `not a SHA-256: ${JSON.stringify(artifactSha256)}`);
  return `${artifactSha256}.`;
}

/** The directory holding every verifier's attestation for a target: attestations/<target path>. */
export function attestationDirectory(targetPath: string): string {
  const segments = targetPath.split('/');
  if (targetPath.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..') || targetPath.includes('\\') || targetPath.includes('\0')) {
    throw new AttestationError('BAD_STATEMENT', `unsafe target path ${JSON.stringify(targetPath)}`);
  }
  return `attestations/${targetPath}`;
}
