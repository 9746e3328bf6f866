// rebuild/imported-source.ts: building from an upstream import (docs/upstream.md "From import to
// release"): the import is verified again with this machine's own trust, and its upstream file,
// exactly as the upstream released it, is the declared source (at the address the archive or
// registry serves it, by its hash); the declaration names the import (`upstream`: where its
// directory is published and its provenance.json's SHA-256), so that witnesses can check it.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sha256Hex } from '../crypto/index.js';
import type { UpstreamDeclaration } from '../policy/index.js';
import { verifyImportDirectory, type ImportCheckOptions, type ImportSummary } from '../upstream/index.js';

/** What buildArtifact takes from an import, and the time it was released (a default SOURCE_DATE_EPOCH). */
export interface ImportedSource {
  readonly summary: ImportSummary;
  readonly source: string;
  readonly sourceUri: string;
  readonly sourceArchiveName: string;
  readonly upstream: UpstreamDeclaration;
  /** The upstream's signing time (Debian), else its publication time (npm) or the archive's release date, in seconds. */
  readonly releasedAt: number;
}

/**
 * Verifies the import in `dir` and returns the source declaration of a build from it. `uri` is
 * where the publisher publishes the import directory (witnesses fetch it from there; default
 * its file: URL, which only a witness on this machine could read).
 */
export async function importedSource(dir: string, options: ImportCheckOptions & { uri?: string } = {}): Promise<ImportedSource> {
  const absolute = resolve(dir);
  const summary = await verifyImportDirectory(absolute, options);
  const provenance = await readFile(join(absolute, 'provenance.json'));
  const base = options.uri ?? pathToFileURL(absolute).href;
  const p = summary.provenance;
  const time = p.kind === 'debian' ? ('signedAt' in p.signature ? p.signature.signedAt : p.release.date) : p.publishedAt ?? p.importedAt;
  return {
    summary,
    source: join(absolute, summary.upstream.file),
    sourceUri: summary.upstream.uri,
    sourceArchiveName: summary.upstream.file,
    upstream: { uri: base.endsWith('/') ? base : `${base}/`, sha256: sha256Hex(provenance) },
    releasedAt: Math.floor(Date.parse(time) / 1000),
  };
}
