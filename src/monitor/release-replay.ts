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
// AttestationError). The block records the set of envelope digests relied on, not which artifact
// each belongs to, so an envelope is looked for at every artifact's paths; what is served there
// and does not parse is not one the block relied on. Nothing a recorded snapshot lists is fetched
// before the snapshot verifies, and within what a witness accepts in one request.
import { short } from '../errors/index.js';
import { FetchError, fetchAll, fetchIfPresent, type Fetcher } from '../io/fetch.js';
import { sha256Hex } from '../crypto/hash.js';
import type { Block } from '../log/index.js';
import {
  attestationManifestLogPath, attestationUrl, AttestationError, ATTESTATION_LIMITS, ATTESTATION_MANIFEST_LIMITS, checkGenesisState, checkJoinState,
  checkPayloadMatches, checkRecordedAttestations, checkSuccessorState, envelopeDigest, parseAttestation, parseAttestationManifest, DeclarationError, PolicyError,
  releaseBuildRule, type DsseEnvelope, type ReleaseBuildRule, type ReleaseDocuments, type ReleaseState,
} from '../policy/index.js';
import { checkLengthAndHashes, DEFAULT_UPDATER_CONFIG, describeUnpinnedRoles, metadataFileName, parseEnvelope, TufError, verifyThreshold } from '../tuf/index.js';
import { WIRE_LIMITS } from '../witness/index.js';

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
   * and SHA-256 the block records; the snapshot verified (signed at the threshold of the state's
   * root, pinning every role's length and SHA-256) before anything it lists is fetched; then each
   * targets role whose version it changed, each at most its pinned length and checked against its
   * pinned hashes as it arrives, at most as many and as large together as a witness accepts in one
   * request (WIRE_LIMITS). `roots` are the root versions new in this state (all from genesis on
   * for a state checked alone); `previous` the state before.
   */
  private async documents(block: Block, source: ReleaseSource, previous: ReleaseState | undefined, roots: Uint8Array[]): Promise<ReleaseDocuments> {
    const { snapshot: s, targets: t } = block.payload;
    const snapshot = await this.recorded(source, 'snapshot', s.version, s.sha256, DEFAULT_UPDATER_CONFIG.snapshotMaxLength, block.index);
    // The recorded bytes are what the witnesses co-signed: what is wrong with them is their fault.
    const committed = <T>(what: string, read: () => T): T => {
      try {
        return read();
      } catch (e) {
        if (e instanceof TufError) throw new PolicyError(e.code === 'THRESHOLD_NOT_MET' ? 'SIGNATURE_THRESHOLD' : 'BAD_DOCUMENT', `block ${block.index}: ${what}: ${e.message}`);
        throw e;
      }
    };
    const root = roots.length > 0 ? committed(`root of the state`, () => parseEnvelope('root', roots.at(-1)!, 'root')) : previous!.root;
    const envelope = committed(`snapshot v${s.version}`, () => {
      const parsed = parseEnvelope('snapshot', snapshot, `snapshot v${s.version}`);
      const role = root.signed.roles.snapshot;
      if (role === undefined) throw new TufError('BAD_METADATA', `root v${root.version} has no snapshot role`);
      verifyThreshold(parsed, 'snapshot', role, root.signed.keys, `root v${root.version}`);
      return parsed;
    });
    const unpinned = describeUnpinnedRoles(envelope);
    if (unpinned !== undefined) throw new PolicyError('UNPINNED_ROLE', `block ${block.index}: snapshot v${s.version} lists ${unpinned}`);
    const wanted = Object.entries(envelope.signed.meta)
      .map(([file, entry]) => ({ role: file.endsWith('.json') ? file.slice(0, -'.json'.length) : file, entry }))
      .filter(({ role, entry }) => previous?.targets.get(role)?.version !== entry.version);
    if (wanted.length > WIRE_LIMITS.maxDocuments) {
      throw new PolicyError('BAD_DOCUMENT', `block ${block.index}: snapshot v${s.version} changes ${wanted.length} targets roles; a witness accepts at most ${WIRE_LIMITS.maxDocuments} in one release`);
    }
    const targets: Record<string, Uint8Array> = {};
    let total = snapshot.length;
    for (const { role, entry } of wanted) {
      const cap = Math.min(entry.length ?? DEFAULT_UPDATER_CONFIG.targetsMaxLength, DEFAULT_UPDATER_CONFIG.targetsMaxLength);
      const bytes = role === 'targets'
        ? await this.recorded(source, 'targets', t.version, t.sha256, cap, block.index)
        : await fetchAll(source.fetcher, new URL(metadataFileName(role, entry.version), source.metadataUrl).href, cap);
      if (role !== 'targets') {
        try {
          checkLengthAndHashes(bytes, entry, `${role} v${entry.version}`);
        } catch (e) {
          if (e instanceof TufError) throw new MirrorDataError('HASH_MISMATCH', `${e.message} (snapshot v${s.version} pins it)`);
          throw e;
        }
      }
      total += bytes.length;
      if (total > WIRE_LIMITS.maxRequestBytes) {
        throw new PolicyError('BAD_DOCUMENT', `block ${block.index}: the targets roles snapshot v${s.version} changes pass ${WIRE_LIMITS.maxRequestBytes} bytes, more than a witness accepts in one release`);
      }
      targets[role] = bytes;
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
   * The build rule, as the witnesses apply it before co-signing (policy checkRecordedAttestations),
   * with the envelopes the recorded manifest lists: fetched only when the block records a digest
   * and some artifact needs attestations (else the rule decides on none).
   */
  private async checkBuildRule(block: Block, source: ReleaseSource, previous: ReleaseState, next: ReleaseState): Promise<void> {
    const recorded = block.payload.attestations;
    let rule;
    try {
      rule = releaseBuildRule(next.root, previous.targets, next.targets);
    } catch (e) {
      // Only committed documents are read here: a malformed declaration is the witnesses' fault.
      if (e instanceof DeclarationError) throw new AttestationError('NO_DECLARATION', `block ${block.index}: ${e.message}`);
      throw e;
    }
    const attestations = recorded === null || rule.policy === undefined || rule.artifacts.length === 0 ? {} : await this.reliedOn(block, source, recorded, rule);
    checkRecordedAttestations(recorded, rule, attestations, `block ${block.index}`);
  }

  /**
   * The envelopes of each artifact that the manifest of digest `recorded` lists. The digest covers
   * the SET of envelope digests only (not the manifest's mapping to artifacts), so each listed
   * envelope is looked for at every artifact's paths; a file there that is no envelope is not one
   * the block relied on. FetchError NOT_FOUND when a listed envelope is served nowhere.
   */
  private async reliedOn(block: Block, source: ReleaseSource, recorded: string, rule: ReleaseBuildRule): Promise<Record<string, DsseEnvelope[]>> {
    const manifestBytes = await fetchAll(source.fetcher, new URL(attestationManifestLogPath(recorded), source.logUrl).href, ATTESTATION_MANIFEST_LIMITS.maxBytes);
    let manifest;
    try {
      manifest = parseAttestationManifest(manifestBytes, `attestation manifest ${short(recorded)}`, recorded);
    } catch (e) {
      if (e instanceof AttestationError) throw new MirrorDataError(e.code, e.message);
      throw e;
    }
    const listed = new Set(manifest.artifacts.flatMap((a) => a.envelopes));
    const seen = new Set<string>();
    const attestations: Record<string, DsseEnvelope[]> = {};
    for (const artifact of rule.artifacts) {
      const found: DsseEnvelope[] = [];
      for (const keyid of Object.keys(rule.policy!.verifiers).sort()) {
        const url = attestationUrl(source.attestationsUrl, artifact.name, artifact.sha256, keyid);
        const bytes = await fetchIfPresent(source.fetcher, url, ATTESTATION_LIMITS.maxEnvelopeBytes);
        if (bytes === undefined) continue;
        let envelope: DsseEnvelope;
        try {
          envelope = parseAttestation(bytes, url);
        } catch (e) {
          if (e instanceof AttestationError) continue; // not an envelope the block relied on: the mirror's junk
          throw e;
        }
        const d = envelopeDigest(envelope);
        if (listed.has(d)) {
          found.push(envelope);
          seen.add(d);
        }
      }
      attestations[artifact.name] = found;
    }
    const missing = [...listed].filter((d) => !seen.has(d));
    if (missing.length > 0) throw new FetchError('NOT_FOUND', `block ${block.index} relied on ${missing.length} attestation(s) that ${source.attestationsUrl} does not serve`);
    return attestations;
  }
}
