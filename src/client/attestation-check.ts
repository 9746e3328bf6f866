// client/attestation-check.ts: a client re-checks the rebuild attestations of the artifacts it
// accepts (docs/verified-builds.md section 8 "Clients re-check": attestations are published
// beside the targets and their digest goes into the block). For a target T with sha256 S, under
// the build policy of the trusted root:
//
// 1. fetch attestations/T/S.KEYID.dsse.json for every policy verifier (a missing one is absent);
// 2. checkAttestationQuorum: k PASSED from distinct policy verifiers for exactly T, S and its
//    declaration, no FAILED (AttestationError QUORUM_NOT_MET / REBUILD_FAILED);
// 3. find the witnessed block that released T@S: from the block the accepted state matched,
//    back through verified back links (each predecessor's hash is the back link of the block
//    after it), the first block whose attestation manifest (log/attestations/DIGEST.json, named
//    by the block's payload digest and checked against it by policy/attestation-manifest.ts)
//    lists T@S; every envelope that block relied on for T must be among those fetched and
//    counted in step 2.
//
// So the client sees exactly the verdicts the witnesses relied on, and a mirror that swaps an
// attestation file is caught. Everything fetched is capped.
import { short } from '../errors/index.js';
import { FetchError, fetchAll, fetchIfPresent, type Fetcher } from '../io/fetch.js';
import { fetchPredecessor, logDirectorySource, type Block } from '../log/index.js';
import {
  ATTESTATION_LIMITS, ATTESTATION_MANIFEST_LIMITS, AttestationError, attestationManifestLogPath, attestationUrl, checkAttestationQuorum,
  envelopeDigest, parseAttestation, parseAttestationManifest, type AttestationManifest, type BuildPolicy, type DsseEnvelope, type ReleaseDeclaration,
} from '../policy/index.js';
import { ClientError } from './errors.js';

/** Caps of the attestation check. */
export const ATTESTATION_CHECK_LIMITS = {
  /** Blocks walked back from the matched block to find the release of an artifact. */
  maxBlocksBack: 256,
} as const;

export interface AttestationCheckContext {
  fetcher: Fetcher;
  /** URL of the repository's attestations/ directory (default: beside the metadata URL). */
  attestationsUrl: string;
  /** URL of the log directory. */
  logUrl: string;
  /** The build policy of the trusted root. */
  policy: BuildPolicy & { readonly verifiers: Readonly<Record<string, unknown>> };
  /** The witnessed block whose state the client accepted. */
  matched: Block;
}

export interface TargetAttestationReport {
  target: string;
  sha256: string;
  /** Key IDs of the policy verifiers whose PASSED counted. */
  passed: string[];
  quorum: number;
  /** The block that released the artifact and its attestations digest. */
  block: { index: number; attestations: string };
}

export function defaultAttestationsUrl(metadataBaseUrl: string): string {
  const base = metadataBaseUrl.endsWith('/') ? metadataBaseUrl : `${metadataBaseUrl}/`;
  return new URL('../attestations/', base).href;
}

/** Checks targets' attestations against the policy and the log; caches blocks and manifests across calls. */
export class AttestationChecker {
  private readonly blocks = new Map<number, Block>();
  private readonly manifests = new Map<string, AttestationManifest>();

  constructor(private readonly ctx: AttestationCheckContext) {
    this.blocks.set(ctx.matched.index, ctx.matched);
  }

  async check(target: { name: string; sha256: string; declaration?: ReleaseDeclaration }): Promise<TargetAttestationReport> {
    const { policy } = this.ctx;
    const envelopes: DsseEnvelope[] = [];
    for (const keyid of Object.keys(policy.verifiers).sort()) {
      const url = attestationUrl(this.ctx.attestationsUrl, target.name, target.sha256, keyid);
      const bytes = await fetchIfPresent(this.ctx.fetcher, url, ATTESTATION_LIMITS.maxEnvelopeBytes);
      if (bytes !== undefined) envelopes.push(parseAttestation(bytes, url));
    }
    const report = checkAttestationQuorum(target, envelopes, policy);
    const ignored = new Set(report.ignored.map((i) => i.index));
    const counted = new Set(envelopes.filter((_, i) => !ignored.has(i)).map(envelopeDigest));
    const found = await this.findRelease(target.name, target.sha256);
    const missing = found.envelopes.filter((d) => !counted.has(d));
    if (missing.length > 0) {
      throw new ClientError('NOT_WITNESSED', `${target.name} (sha256 ${short(target.sha256)}): block ${found.block.index} relied on attestation(s) ${missing.map((d) => short(d)).join(', ')}, which the mirror does not serve or which do not count under the policy`, {
        hint: 'the mirror serves other attestations than the witnesses checked; try another mirror',
      });
    }
    return { target: target.name, sha256: target.sha256, passed: [...report.passed], quorum: policy.quorum, block: { index: found.block.index, attestations: found.block.payload.attestations! } };
  }

  /** The block that released name@sha256 and the envelope digests it relied on for it. */
  private async findRelease(name: string, sha256: string): Promise<{ block: Block; envelopes: string[] }> {
    let block = this.ctx.matched;
    for (let steps = 0; ; steps++) {
      const digest = block.payload.attestations;
      if (digest !== null) {
        const manifest = await this.manifest(digest);
        const entry = manifest.artifacts.find((a) => a.target === name);
        if (entry && entry.sha256 === sha256) return { block, envelopes: [...entry.envelopes] };
      }
      if (block.index === 0 || steps >= ATTESTATION_CHECK_LIMITS.maxBlocksBack) {
        throw new ClientError('NOT_WITNESSED', `no witnessed block from ${this.ctx.matched.index} back to ${block.index} records attestations for ${name} (sha256 ${short(sha256)})`, {
          hint: 'the artifact was released without a build policy, or more than 256 blocks ago',
        });
      }
      block = await this.predecessor(block);
    }
  }

  private async predecessor(block: Block): Promise<Block> {
    const index = block.index - 1;
    const cached = this.blocks.get(index);
    if (cached) return cached;
    const pred = await fetchPredecessor(logDirectorySource(this.ctx.fetcher, this.ctx.logUrl), block);
    if (pred === undefined) throw new FetchError('NOT_FOUND', `${this.ctx.logUrl}blocks/${index}.json is not published: block ${index} is needed to find the attestations a later block relied on`);
    this.blocks.set(index, pred);
    return pred;
  }

  /** The manifest of `digest`, checked: its envelope digests hash to the name the block records. */
  private async manifest(digest: string): Promise<AttestationManifest> {
    const cached = this.manifests.get(digest);
    if (cached) return cached;
    const url = `${this.ctx.logUrl}${attestationManifestLogPath(digest)}`;
    const bytes = await fetchAll(this.ctx.fetcher, url, ATTESTATION_MANIFEST_LIMITS.maxBytes);
    let manifest: AttestationManifest;
    try {
      manifest = parseAttestationManifest(bytes, url, digest);
    } catch (e) {
      // A manifest the block does not vouch for: the mirror serves something the witnesses never relied on.
      if (e instanceof AttestationError) throw new ClientError('NOT_WITNESSED', e.message, { cause: e });
      throw e;
    }
    this.manifests.set(digest, manifest);
    return manifest;
  }
}
