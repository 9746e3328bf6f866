// witness/upstream-check.ts: the upstream rule (docs/design.md "What a witness checks": a source
// byte-identical to the upstream release it names; docs/upstream.md "Witnesses check the
// upstream"). For each artifact a block adds or changes whose declaration names the import its
// source came from (`upstream`: the import directory's URL and provenance.json's SHA-256), the
// witness verifies the recorded chain again with its own keyring or registry, fetching each file
// of the published import only when the chain reaches it (the signed bytes travel with the
// import, so an archive that has moved on does not matter); fetches the upstream file from its
// own configured sources where it still can; and refuses the block unless the declared source is
// exactly that upstream file. When the root's build policy says requireUpstreamFetch, a witness
// that could not fetch it refuses too; otherwise it co-signs on the verified chain and says it
// could not fetch. An npm import that nothing signed (the registry has no keys) is accepted only
// when this witness's own registry lists exactly it.
//
// Fetching is asynchronous and a witness decides synchronously: prepare() runs before the
// decision and leaves a verdict per import; check() is the rule over those verdicts. A verified
// chain is kept by its provenance.json's SHA-256 (where it was fetched from does not change what
// it proves); a refusal is kept a few minutes by address and digest; the same import (by digest,
// at whatever address) asked for by several requests at once is checked once; and a witness checks
// at most two imports at a time, whoever asks.
import { isCairnError, short } from '../errors/index.js';
import type { Fetcher } from '../io/index.js';
import type { BuildPolicy, ReleaseArtifact, UpstreamDeclaration } from '../policy/index.js';
import { fetchUpstreamFromOwnSources, publishedImport, verifyImportDirectory, type ImportCheckOptions, type ImportSummary, type UpstreamFetch } from '../upstream/index.js';
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

/** Limits on the work one block's imports cost a witness (docs/upstream.md "Witnesses check the upstream"). */
export const UPSTREAM_CHECK_LIMITS = {
  /** Distinct imports one block may name. */
  maxImportsPerBlock: 16,
  /** Verified chains kept (the oldest dropped first). */
  maxKept: 1024,
  /** How long a refusal is kept (the same import at the same address is refused again without fetching). */
  refusalTtlMs: 5 * 60_000,
  /** Imports checked at once by one witness (the others wait their turn). */
  maxConcurrentChecks: 2,
} as const;

/** What checking one import found: the upstream file it proves and whether this witness fetched it; or why it does not hold. */
export type UpstreamVerdict = { summary: ImportSummary; fetch: UpstreamFetch } | { refused: Error };

const addressOf = (u: UpstreamDeclaration): string => `${u.uri}\n${u.sha256}`;

export class UpstreamChecker {
  /** Verified chains by provenance.json's SHA-256, with the fetch once it succeeded. */
  private readonly kept = new Map<string, { summary: ImportSummary; fetched?: UpstreamFetch }>();
  private readonly refusals = new Map<string, { refused: Error; until: number }>();
  /** Checks under way, by provenance.json's SHA-256. */
  private readonly inFlight = new Map<string, Promise<UpstreamVerdict>>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly options: ImportCheckOptions;

  constructor(trust: UpstreamTrust = {}, fetcher?: Fetcher) {
    this.options = {
      ...(trust.aptDir === undefined ? {} : { etcApt: trust.aptDir }),
      ...(trust.origin === undefined ? {} : { origin: trust.origin }),
      ...(trust.npmRegistry === undefined ? {} : { npmRegistry: trust.npmRegistry }),
      ...(fetcher === undefined ? {} : { fetcher }),
    };
  }

  /** Checks the imports `artifacts` declare; returns the verdicts for check(), by import address. */
  async prepare(artifacts: readonly ReleaseArtifact[]): Promise<ReadonlyMap<string, UpstreamVerdict>> {
    const imports = new Map<string, UpstreamDeclaration>();
    for (const a of artifacts) if (a.declaration?.upstream !== undefined) imports.set(addressOf(a.declaration.upstream), a.declaration.upstream);
    const verdicts = new Map<string, UpstreamVerdict>();
    if (imports.size > UPSTREAM_CHECK_LIMITS.maxImportsPerBlock) {
      const refused = new WitnessError('UNCHECKED_PAYLOAD', `the block names ${imports.size} upstream imports; a witness checks at most ${UPSTREAM_CHECK_LIMITS.maxImportsPerBlock} in one block`, { hint: 'release them in several blocks' });
      for (const key of imports.keys()) verdicts.set(key, { refused });
      return verdicts;
    }
    for (const [key, upstream] of imports) verdicts.set(key, await this.verdict(key, upstream));
    return verdicts;
  }

  /**
   * The rule over prepared verdicts: refuses (with the refusal's own code) an import that does
   * not verify, a declared source other than the upstream file, an unsigned npm import this
   * witness could not confirm with its registry, and, under requireUpstreamFetch, an upstream
   * this witness could not fetch. Returns what it says about each import.
   */
  check(artifacts: readonly ReleaseArtifact[], verdicts: ReadonlyMap<string, UpstreamVerdict>, policy: BuildPolicy | undefined): string[] {
    const notes: string[] = [];
    for (const a of artifacts) {
      const declaration = a.declaration;
      if (declaration?.upstream === undefined) continue;
      const verdict = verdicts.get(addressOf(declaration.upstream));
      if (verdict === undefined) throw new WitnessError('UNCHECKED_PAYLOAD', `${a.name}: the import ${declaration.upstream.uri} was not checked before this decision (the state changed meanwhile); send the round again`);
      if ('refused' in verdict) throw verdict.refused;
      const { summary, fetch } = verdict;
      if (declaration.source.sha256 !== summary.upstream.sha256) {
        throw new WitnessError('NOT_UPSTREAM', `${a.name} declares source ${short(declaration.source.sha256)}, but the import it names (${declaration.upstream.uri}) proves upstream file ${summary.upstream.file} ${short(summary.upstream.sha256)}: the source is not the upstream's`);
      }
      if ('unreachable' in fetch) {
        if (policy?.requireUpstreamFetch === true) {
          throw new WitnessError('UPSTREAM_NOT_FETCHED', `${a.name}: this witness could not fetch ${summary.upstream.file} from its own sources (${fetch.unreachable}), and the build policy requires each co-signer to have fetched it`);
        }
        if (summary.kind === 'npm' && summary.archiveSigners.length === 0) {
          throw new WitnessError('UPSTREAM_NOT_FETCHED', `${a.name}: nothing signed vouches for ${summary.name}@${summary.version} (its registry has no keys), and this witness could not confirm it with its own registry (${fetch.unreachable})`);
        }
      }
      const signer = summary.upstreamSigner ?? summary.archiveSigners[0];
      notes.push(`${a.name}: upstream ${summary.upstream.file} verified${signer === undefined ? '' : ` (signed by ${signer.toUpperCase()})`}, ${'fetchedFrom' in fetch ? `fetched from ${fetch.fetchedFrom}` : `NOT fetched here: ${fetch.unreachable}`}`);
    }
    return notes;
  }

  /** The verdict on one import: a kept chain (fetching again only if the last fetch failed), a kept refusal, or a check (one at a time per import). */
  private async verdict(key: string, upstream: UpstreamDeclaration): Promise<UpstreamVerdict> {
    const kept = this.kept.get(upstream.sha256);
    if (kept?.fetched !== undefined) return { summary: kept.summary, fetch: kept.fetched };
    const refusal = this.refusals.get(key);
    if (refusal !== undefined && refusal.until > Date.now()) return { refused: refusal.refused };
    let running = this.inFlight.get(upstream.sha256);
    if (running === undefined) {
      running = this.inTurn(() => this.checkImport(upstream, kept?.summary)).finally(() => this.inFlight.delete(upstream.sha256));
      this.inFlight.set(upstream.sha256, running);
    }
    return running;
  }

  /** Runs `work` once fewer than maxConcurrentChecks others run. */
  private async inTurn<T>(work: () => Promise<T>): Promise<T> {
    while (this.running >= UPSTREAM_CHECK_LIMITS.maxConcurrentChecks) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async checkImport(upstream: UpstreamDeclaration, verified: ImportSummary | undefined): Promise<UpstreamVerdict> {
    const key = addressOf(upstream);
    try {
      const url = new URL(upstream.uri);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new WitnessError('UNCHECKED_PAYLOAD', `the import ${upstream.uri} is not at an http(s) address; a witness does not read files named by a release`, { hint: 'publish the import directory and build with cairn build --import DIR --import-uri URL' });
      }
      const summary = verified ?? (await verifyImportDirectory(publishedImport(upstream.uri, upstream.sha256, this.options.fetcher), this.options));
      const fetch = await fetchUpstreamFromOwnSources(summary, this.options);
      // An unreachable source is tried again next time: only a fetch that succeeded is kept.
      this.keep(upstream.sha256, { summary, ...('fetchedFrom' in fetch ? { fetched: fetch } : {}) });
      this.refusals.delete(key);
      return { summary, fetch };
    } catch (e) {
      const refused = isCairnError(e) ? e : new WitnessError('UNCHECKED_PAYLOAD', `checking the import ${upstream.uri} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      this.refusals.set(key, { refused, until: Date.now() + UPSTREAM_CHECK_LIMITS.refusalTtlMs });
      if (this.refusals.size > UPSTREAM_CHECK_LIMITS.maxKept) this.refusals.delete(this.refusals.keys().next().value!);
      return { refused };
    }
  }

  private keep(sha256: string, entry: { summary: ImportSummary; fetched?: UpstreamFetch }): void {
    this.kept.delete(sha256);
    this.kept.set(sha256, entry);
    if (this.kept.size > UPSTREAM_CHECK_LIMITS.maxKept) this.kept.delete(this.kept.keys().next().value!);
  }
}
