// release/attestations.ts: where a release meets the verifiers' attestations (docs/verified-builds.md
// section 7; docs/protocol.md section 8). When the root of the new state has a build policy
// (policy/build-policy.ts), the leader's proposal carries, for every artifact the state adds or
// changes, the attestation files under REPO/public/attestations/<target>/ (first pulled from the
// verifiers' own sources when the publisher names them: attestation-sources.ts),
// and the block payload records the digest of those that count. The leader holds no trust and
// judges nothing: an artifact without its quorum is still proposed, and the witnesses refuse it
// naming the artifact and verifiers.
//
// Beside the log it writes the attestation manifest log/attestations/<digest>.json, which tells
// a client which envelopes a block relied on (client/attestation-check.ts); its name is the
// digest the co-signed block records, so it is authenticated by the block.
import { join } from 'node:path';
import { isCairnError, short } from '../errors/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import {
  attestationManifestPath, attestationsDigest, buildAttestationManifest, buildPolicyOf, changedArtifacts, checkReleaseAttestations, serializeAttestationManifest,
  type DsseEnvelope, type ReleaseArtifact,
} from '../policy/index.js';
import { parseEnvelope, type TargetsEnvelope } from '../tuf/index.js';
import { readPublishedAttestations } from '../rebuild/index.js';
import { repoLayout } from '../repo/index.js';
import { readPublishedIfExists, type ReleaseDocumentSource } from './documents.js';
import { SILENT, type ReleaseProgress } from './progress.js';
import type { PulledAttestation } from './attestation-sources.js';

/** The build policy of the new state's root and the artifacts the release adds or changes; undefined without a policy. */
export async function releaseArtifacts(dir: string, source: ReleaseDocumentSource): Promise<{ policy: NonNullable<ReturnType<typeof buildPolicyOf>>; artifacts: ReleaseArtifact[] } | undefined> {
  const root = parseEnvelope('root', await source.root(source.rootVersion), `${source.rootVersion}.root.json`);
  const policy = buildPolicyOf(root);
  if (!policy) return undefined;
  const publishedBytes = await readPublishedIfExists(dir, 'snapshot.json');
  const published = publishedBytes === undefined ? undefined : parseEnvelope('snapshot', publishedBytes, 'published snapshot.json');
  const next = parseEnvelope('snapshot', source.snapshot, 'new snapshot.json');
  const previous = new Map<string, TargetsEnvelope>();
  const changed = new Map<string, TargetsEnvelope>();
  for (const [file, m] of Object.entries(next.signed.meta)) {
    if (!file.endsWith('.json')) continue;
    const role = file.slice(0, -5);
    const before = published?.signed.meta[file];
    if (before?.version === m.version) continue;
    changed.set(role, parseEnvelope('targets', await source.targets(role), `${role}.json`));
    if (before) {
      const old = await readPublishedIfExists(dir, file);
      if (old) previous.set(role, parseEnvelope('targets', old, `published ${file}`));
    }
  }
  return { policy, artifacts: changedArtifacts(published ? previous : undefined, changed) };
}

/**
 * `source` with its attestations when the new root has a build policy: the changed artifacts
 * (against the published state), their published attestation files (and those `pulled` from the
 * verifiers' sources, not yet written), and the digest of those that count. Writes the manifest
 * of that digest. Unchanged `source` when the root has no policy.
 */
export async function withReleaseAttestations(dir: string, source: ReleaseDocumentSource, progress: ReleaseProgress = SILENT, pulled: readonly PulledAttestation[] = []): Promise<ReleaseDocumentSource> {
  const release = await releaseArtifacts(dir, source);
  if (!release) return source;
  const { policy, artifacts } = release;
  const { publicDir } = repoLayout(dir);
  const incoming = new Map(pulled.map((p) => [p.path, p.bytes]));
  const files: Record<string, string[]> = {};
  const relied: DsseEnvelope[] = [];
  const entries: Array<{ target: string; sha256: string; envelopes: readonly DsseEnvelope[] }> = [];
  for (const artifact of artifacts) {
    const found = await readPublishedAttestations(publicDir, artifact.name, artifact.sha256, incoming);
    files[artifact.name] = found.map((b) => Buffer.from(b).toString('base64'));
    try {
      const r = checkReleaseAttestations([artifact], { [artifact.name]: found }, policy).artifacts[0]!;
      relied.push(...r.relied);
      entries.push({ target: artifact.name, sha256: artifact.sha256, envelopes: r.relied });
      progress.info(`${artifact.name} (sha256 ${short(artifact.sha256)}): PASSED by ${r.report.passed.length} policy verifier(s), quorum ${policy.quorum}`);
    } catch (e) {
      if (!isCairnError(e)) throw e;
      // The witnesses decide; say now what they will see.
      progress.warn(`${artifact.name}: ${e.code}: ${e.message}`);
    }
  }
  const digest = artifacts.length === 0 ? null : attestationsDigest(relied);
  // The manifest only for a release the witnesses can accept (it names a digest a block records).
  if (digest !== null && entries.length === artifacts.length) {
    const manifest = buildAttestationManifest(entries);
    await writeFileAtomic(join(publicDir, attestationManifestPath(manifest.digest)), serializeAttestationManifest(manifest), { mkdirs: true });
  }
  return { ...source, attestations: { digest, files } };
}
