// monitor/release-replay.ts: the monitor applies the witnesses' release rules again to every
// block (docs/transparency.md "Monitors", "Releases"; docs/design.md "What a witness checks before
// it co-signs a block"; docs/verified-builds.md "The quorum rule"): the TUF state the block
// records follows its predecessor's (policy/release-state.ts checkSuccessorState: signatures,
// no rollback, no removed role, every role delegated) and is exactly the recorded one; and, under
// the root's build policy, every artifact the state adds or changes has its quorum of rebuild
// attestations, exactly those the log's attestation manifest says the witnesses relied on. So a
// colluding threshold of witnesses that co-signs a release without its rebuild quorum is caught.
//
// Who is at fault is kept apart: documents a mirror serves that are not the ones the block records
// (by version and SHA-256, or a delegated role not matching the snapshot's hashes), or a manifest
// that is not the recorded digest, are the mirror's (MirrorDataError); a state that breaks the
// rules although its documents are the recorded ones is the witnesses' (PolicyError,
// AttestationError).
import { short } from '../errors/index.js';
import { FetchError, fetchAll, type Fetcher } from '../io/fetch.js';
import { sha256Hex } from '../crypto/hash.js';
import type { Block } from '../log/index.js';
import {
  attestationManifestLogPath, attestationRelativePath, AttestationError, ATTESTATION_LIMITS, ATTESTATION_MANIFEST_LIMITS, buildPolicyOf, changedArtifacts,
  checkGenesisState, checkJoinState, checkPayloadMatches, checkReleaseAttestations, checkSuccessorState, envelopeDigest, parseAttestation, parseAttestationManifest,
  PolicyError, type DsseEnvelope, type ReleaseDocuments, type ReleaseState,
} from '../policy/index.js';
import { DEFAULT_UPDATER_CONFIG, metadataFileName, parseEnvelope } from '../tuf/index.js';

/** A mirror serves documents that are not the ones a block records: the mirror's fault, not the witnesses'. */
export class MirrorDataError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** Where one mirror serves the repository beside its log. */
export interface ReleaseSource {
  fetcher: Fetcher;
  /** The mirror's metadata/ directory. */
  metadataUrl: string;
  /** The mirror's attestations/ directory. */
  attestationsUrl: string;
  /** The mirror's log/ directory (attestation manifests). */
  logUrl: string;
}

/** The TUF state at the last block replayed, to check the next one against. */
export class ReleaseReplay {
  private state: { index: number; release: ReleaseState } | undefined;

  /**
   * Checks the release `block` records, as the successor of `previous` (the block before it; a
   * state not replayed yet, after a restart, is first read again at `previous` and checked alone).
   * `roots` are the root documents the monitor verified (TUF 5.3.4), in version order from the
   * genesis block's, up to the one `block` records. Throws MirrorDataError, FetchError (a
   * document not served), PolicyError or AttestationError.
   */
  async check(block: Block, previous: Block | undefined, source: ReleaseSource, roots: ReadonlyArray<{ version: number; bytes: Uint8Array }>): Promise<void> {
    if (previous === undefined) {
      const release = checkGenesisState(await this.documents(block, source, undefined, [roots.at(-1)!.bytes]), this.timeOf(block));
      checkPayloadMatches(block.payload, release);
      this.state = { index: block.index, release };
      return;
    }
    if (this.state?.index !== previous.index) {
      const upTo = roots.filter((r) => r.version <= previous.payload.root.version).map((r) => r.bytes);
      const joined = checkJoinState(await this.documents(previous, source, undefined, upTo), this.timeOf(previous));
      checkPayloadMatches(previous.payload, joined);
      this.state = { index: previous.index, release: joined };
    }
    const before = this.state.release;
    const newer = roots.filter((r) => r.version > before.root.version).map((r) => r.bytes);
    const release = checkSuccessorState(before, await this.documents(block, source, before, newer), this.timeOf(block));
    checkPayloadMatches(block.payload, release);
    await this.checkBuildRule(block, source, before, release);
    this.state = { index: block.index, release };
  }

  /** Documents are judged (expiry) at the time the block records, when the witnesses co-signed it. */
  private timeOf(block: Block): Date {
    return new Date(Date.parse(block.payload.time));
  }

  /**
   * The documents of the state `block` records: the snapshot and top-level targets by the version
   * and SHA-256 the block records, and each targets role whose version the snapshot changed (its
   * bytes are checked against the snapshot's hashes by checkSuccessorState).
   */
  private async documents(block: Block, source: ReleaseSource, previous: ReleaseState | undefined, roots: Uint8Array[]): Promise<ReleaseDocuments> {
    const { snapshot: s, targets: t } = block.payload;
    const snapshot = await this.recorded(source, 'snapshot', s.version, s.sha256, DEFAULT_UPDATER_CONFIG.snapshotMaxLength, block.index);
    const meta = parseEnvelope('snapshot', snapshot, `snapshot v${s.version}`).signed.meta;
    const targets: Record<string, Uint8Array> = {};
    for (const [file, entry] of Object.entries(meta)) {
      const role = file.endsWith('.json') ? file.slice(0, -'.json'.length) : file;
      if (previous?.targets.get(role)?.version === entry.version) continue;
      targets[role] = role === 'targets'
        ? await this.recorded(source, 'targets', t.version, t.sha256, DEFAULT_UPDATER_CONFIG.targetsMaxLength, block.index)
        : await fetchAll(source.fetcher, new URL(metadataFileName(role, entry.version), source.metadataUrl).href, entry.length ?? DEFAULT_UPDATER_CONFIG.targetsMaxLength);
    }
    return { roots, snapshot, targets };
  }

  /** A document by the version and SHA-256 block `index` records for it. */
  private async recorded(source: ReleaseSource, role: string, version: number, sha256: string, maxBytes: number, index: number): Promise<Uint8Array> {
    const bytes = await fetchAll(source.fetcher, new URL(metadataFileName(role, version), source.metadataUrl).href, maxBytes);
    if (sha256Hex(bytes) !== sha256) throw new MirrorDataError('HASH_MISMATCH', `${role} v${version} is not the document block ${index} records (sha256 ${short(sha256)})`);
    return bytes;
  }

  /**
   * The build rule (as witness/release-documents.ts checks it before co-signing): under the root's
   * build policy, the new or changed artifacts have their quorum, with exactly the envelopes the
   * recorded manifest lists, and the payload records their digest; without artifacts or without a
   * policy, the payload records null.
   */
  private async checkBuildRule(block: Block, source: ReleaseSource, previous: ReleaseState, next: ReleaseState): Promise<void> {
    const recorded = block.payload.attestations;
    const policy = buildPolicyOf(next.root);
    const artifacts = policy === undefined ? [] : changedArtifacts(previous.targets, next.targets);
    if (artifacts.length === 0) {
      if (recorded !== null) throw new PolicyError('PAYLOAD_MISMATCH', `block ${block.index} records attestations ${short(recorded)} but adds no artifact a build policy covers`);
      return;
    }
    if (recorded === null) {
      throw new AttestationError('QUORUM_NOT_MET', `block ${block.index} adds ${artifacts.map((a) => a.name).join(', ')} under the build policy (quorum ${policy!.quorum}) and records no attestations`);
    }
    const manifestBytes = await fetchAll(source.fetcher, new URL(attestationManifestLogPath(recorded), source.logUrl).href, ATTESTATION_MANIFEST_LIMITS.maxBytes);
    let manifest;
    try {
      manifest = parseAttestationManifest(manifestBytes, `attestation manifest ${short(recorded)}`, recorded);
    } catch (e) {
      if (e instanceof AttestationError) throw new MirrorDataError(e.code, e.message);
      throw e;
    }
    const attestations: Record<string, DsseEnvelope[]> = {};
    for (const artifact of artifacts) {
      const relied = new Set(manifest.artifacts.find((a) => a.target === artifact.name && a.sha256 === artifact.sha256)?.envelopes ?? []);
      const found: DsseEnvelope[] = [];
      for (const keyid of Object.keys(policy!.verifiers).sort()) {
        const path = attestationRelativePath(artifact.name, artifact.sha256, keyid).split('/').map(encodeURIComponent).join('/').replace(/^attestations\//, '');
        let bytes: Buffer;
        try {
          bytes = await fetchAll(source.fetcher, new URL(path, source.attestationsUrl).href, ATTESTATION_LIMITS.maxEnvelopeBytes);
        } catch (e) {
          if (e instanceof FetchError && e.code === 'NOT_FOUND') continue;
          throw e;
        }
        const envelope = parseAttestation(bytes, path);
        if (relied.delete(envelopeDigest(envelope))) found.push(envelope);
      }
      if (relied.size > 0) throw new FetchError('NOT_FOUND', `block ${block.index} relied on ${relied.size} attestation(s) of ${artifact.name} that ${source.attestationsUrl} does not serve`);
      attestations[artifact.name] = found;
    }
    const { digest } = checkReleaseAttestations(artifacts, attestations, policy!);
    if (digest !== recorded) throw new PolicyError('PAYLOAD_MISMATCH', `block ${block.index} records attestations ${short(recorded)}; those its manifest lists that count have digest ${short(digest ?? 'none')}`);
  }
}
