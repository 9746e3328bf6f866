// witness/upstream-check.ts: the upstream rule (docs/design.md "What a witness checks": a source
// byte-identical to the upstream release it names; docs/upstream.md "Witnesses check the
// upstream"). For each artifact a block adds or changes whose declaration names the import its
// source came from (`upstream`: the import directory's URL and provenance.json's SHA-256), the
// witness fetches that directory (every file by its recorded hash), verifies the recorded chain
// again with its own keyring or registry (the signed bytes travel in the directory, so an archive
// that has moved on does not matter), fetches the upstream file from its own configured sources
// where it still can, and refuses the block unless the declared source is exactly that upstream
// file. When the root's build policy says requireUpstreamFetch, a witness that could not fetch it
// refuses too; otherwise it co-signs on the verified chain and says it could not fetch.
//
// Fetching is asynchronous and a witness decides synchronously: prepare() runs before the
// decision and leaves a verdict per import; check() is the rule over those verdicts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCairnError, short } from '../errors/index.js';
import type { Fetcher } from '../io/index.js';
import type { BuildPolicy, ReleaseArtifact, UpstreamDeclaration } from '../policy/index.js';
import { fetchImportDirectory, fetchUpstreamFromOwnSources, verifyImportDirectory, type ImportCheckOptions, type UpstreamFetch } from '../upstream/index.js';
import { WitnessError } from './errors.js';

/** A witness's own trust for imports (witness.json "upstream"; each absent means the default). */
export interface UpstreamTrust {
  /** apt's configuration directory: the archives' keyrings and this witness's own mirrors (default /etc/apt). */
  aptDir?: string;
  /** The signed Origin an imported Debian source's archive must have (default "Debian"). */
  origin?: string;
  /** The npm registry imported npm packages must come from (default the one npm is configured with). */
  npmRegistry?: string;
}

/** What checking one import found: the upstream file it proves and whether this witness fetched it; or why it does not hold. */
type Verdict = { upstreamSha256: string; upstreamFile: string; signer: string | null; fetch: UpstreamFetch } | { refused: Error };

/** Verdicts kept between rounds (a retried round, the same import in later blocks): successes only, the oldest dropped first. */
const MAX_KEPT_VERDICTS = 1024;

const keyOf = (u: UpstreamDeclaration): string => `${u.uri}\n${u.sha256}`;

export class UpstreamChecker {
  private readonly kept = new Map<string, Verdict>();
  private readonly options: ImportCheckOptions;

  constructor(trust: UpstreamTrust = {}, fetcher?: Fetcher) {
    this.options = {
      ...(trust.aptDir === undefined ? {} : { etcApt: trust.aptDir }),
      ...(trust.origin === undefined ? {} : { origin: trust.origin }),
      ...(trust.npmRegistry === undefined ? {} : { npmRegistry: trust.npmRegistry }),
      ...(fetcher === undefined ? {} : { fetcher }),
    };
  }

  /** Checks the imports `artifacts` declare (those not checked before); returns the verdicts for check(). */
  async prepare(artifacts: readonly ReleaseArtifact[]): Promise<ReadonlyMap<string, Verdict>> {
    const verdicts = new Map<string, Verdict>();
    for (const a of artifacts) {
      const upstream = a.declaration?.upstream;
      if (upstream === undefined) continue;
      const key = keyOf(upstream);
      if (verdicts.has(key)) continue;
      const verdict = this.kept.get(key) ?? (await this.checkImport(upstream));
      verdicts.set(key, verdict);
      if (!('refused' in verdict)) {
        this.kept.delete(key);
        this.kept.set(key, verdict);
        if (this.kept.size > MAX_KEPT_VERDICTS) this.kept.delete(this.kept.keys().next().value!);
      }
    }
    return verdicts;
  }

  /**
   * The rule over prepared verdicts: refuses (with the refusal's own code) an import that does
   * not verify, a declared source other than the upstream file, and, under requireUpstreamFetch,
   * an upstream this witness could not fetch. Returns what it says about each import.
   */
  check(artifacts: readonly ReleaseArtifact[], verdicts: ReadonlyMap<string, Verdict>, policy: BuildPolicy | undefined): string[] {
    const notes: string[] = [];
    for (const a of artifacts) {
      const declaration = a.declaration;
      if (declaration?.upstream === undefined) continue;
      const verdict = verdicts.get(keyOf(declaration.upstream));
      if (verdict === undefined) throw new WitnessError('UNCHECKED_PAYLOAD', `${a.name}: the import ${declaration.upstream.uri} was not checked before this decision (the state changed meanwhile); send the round again`);
      if ('refused' in verdict) throw verdict.refused;
      if (declaration.source.sha256 !== verdict.upstreamSha256) {
        throw new WitnessError('NOT_UPSTREAM', `${a.name} declares source ${short(declaration.source.sha256)}, but the import it names (${declaration.upstream.uri}) proves upstream file ${verdict.upstreamFile} ${short(verdict.upstreamSha256)}: the source is not the upstream's`);
      }
      if ('unreachable' in verdict.fetch && policy?.requireUpstreamFetch === true) {
        throw new WitnessError('UPSTREAM_NOT_FETCHED', `${a.name}: this witness could not fetch ${verdict.upstreamFile} from its own sources (${verdict.fetch.unreachable}), and the build policy requires each co-signer to have fetched it`);
      }
      notes.push(`${a.name}: upstream ${verdict.upstreamFile} verified${verdict.signer === null ? '' : ` (signed by ${verdict.signer.toUpperCase()})`}, ${'fetchedFrom' in verdict.fetch ? `fetched from ${verdict.fetch.fetchedFrom}` : `NOT fetched here: ${verdict.fetch.unreachable}`}`);
    }
    return notes;
  }

  private async checkImport(upstream: UpstreamDeclaration): Promise<Verdict> {
    const dir = await mkdtemp(join(tmpdir(), 'cairn-witness-import-'));
    try {
      const url = new URL(upstream.uri);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new WitnessError('UNCHECKED_PAYLOAD', `the import ${upstream.uri} is not at an http(s) address; a witness does not read files named by a release`, { hint: 'publish the import directory and build with cairn build --import DIR --import-uri URL' });
      }
      await fetchImportDirectory(upstream.uri, upstream.sha256, dir, this.options.fetcher);
      const summary = await verifyImportDirectory(dir, this.options);
      const fetch = await fetchUpstreamFromOwnSources(summary, this.options);
      return { upstreamSha256: summary.upstream.sha256, upstreamFile: summary.upstream.file, signer: summary.upstreamSigner, fetch };
    } catch (e) {
      if (!isCairnError(e)) throw e;
      return { refused: e };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
