// rebuild/build.ts: `cairn build`, the publisher's side of verified builds (docs/design.md "Build
// verification"; docs/verified-builds.md: an artifact plus its release declaration from a source
// tree in one step, reproducibly). From a source tree it writes the deterministic source archive
// (archive.ts), runs the recipe in the same isolation verifiers use (isolation.ts), and writes
// the artifact and its declaration file. Two runs on the same tree give identical bytes, so the
// publisher builds exactly what verifiers will rebuild.
//
// Output directory:
//   OUT/NAME.src.tar              the source archive (declared by sha256; publish it at --source-uri)
//   OUT/BASENAME                  the artifact (BASENAME of the target path)
//   OUT/BASENAME.declaration.json the declaration: format, target, artifact sha256/length, source, recipe
import { copyFile, lstat, mkdir, rename, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hashFile } from '../crypto/hash.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { StorageError } from '../errors/index.js';
import { checkOutputPath, declarationFileJson, parseDeclarationFile, type BuildRecipe, type DeclarationFile, type DifferenceSummary, type IsolationKind, type UpstreamDeclaration } from '../policy/index.js';
import { checkSourceArchive, writeSourceArchive, DEFAULT_EXCLUDES } from './archive.js';
import { compareArtifacts } from './compare.js';
import { freshOutputDir, resolveIsolation, runRecipe, type Isolation, type IsolationPreference, type SandboxOptions } from './isolation.js';

export interface BuildRequest {
  /** A source directory, or an existing tar/tar.gz source archive. */
  readonly source: string;
  readonly outDir: string;
  readonly recipe: BuildRecipe;
  /** Target path the artifact will be published under (default: basename of recipe.output). */
  readonly target?: string;
  /** Where verifiers will fetch the source archive (default: file: URL of OUT/NAME.src.tar). */
  readonly sourceUri?: string;
  /** File name of the source archive in OUT (default: BASENAME.src.tar). */
  readonly sourceArchiveName?: string;
  /** The import the source is the upstream file of (imported-source.ts), recorded in the declaration. */
  readonly upstream?: UpstreamDeclaration;
  readonly excludes?: readonly string[];
  readonly isolation?: Isolation | SandboxOptions | IsolationPreference;
  readonly timeoutMs?: number;
  /** Build a second time and compare (reports a non-reproducible recipe before publishing). */
  readonly checkReproducible?: boolean;
  readonly onWarning?: (message: string) => void;
}

export interface BuildOutcome {
  readonly artifactPath: string;
  readonly declarationPath: string;
  readonly sourceArchivePath: string;
  readonly declaration: DeclarationFile;
  readonly isolation: IsolationKind;
  readonly buildMs: number;
  /** With checkReproducible: undefined when the second build was identical, else what differed. */
  readonly secondBuildDifferences?: DifferenceSummary;
}

export async function buildArtifact(req: BuildRequest): Promise<BuildOutcome> {
  const outDir = resolve(req.outDir);
  checkOutputPath(req.recipe.output, '--output');
  const target = req.target ?? basename(req.recipe.output);
  const name = basename(target);
  await mkdir(outDir, { recursive: true });
  const isolation = resolveIsolation(req.isolation);
  if (isolation.warning) req.onWarning?.(isolation.warning);

  const sourceArchivePath = join(outDir, req.sourceArchiveName ?? `${name}.src.tar`);
  const info = await lstat(req.source).catch(() => undefined);
  if (!info) throw new StorageError('NOT_FOUND', `${req.source} does not exist`);
  if (info.isDirectory()) {
    const tmp = `${sourceArchivePath}.tmp`;
    await writeSourceArchive(req.source, tmp, req.recipe.sourceDateEpoch, req.excludes ?? DEFAULT_EXCLUDES);
    await rename(tmp, sourceArchivePath);
  } else if (resolve(req.source) !== sourceArchivePath) {
    await copyFile(req.source, sourceArchivePath);
  }
  await checkSourceArchive(sourceArchivePath);
  const sourceSha = (await hashFile(sourceArchivePath, ['sha256'])).hashes.sha256!;

  const temp = await freshOutputDir(outDir);
  try {
    const first = await runRecipe({ sourceArchive: sourceArchivePath, recipe: req.recipe, outDir: await freshOutputDir(temp), isolation, timeoutMs: req.timeoutMs });
    let secondBuildDifferences: DifferenceSummary | undefined;
    if (req.checkReproducible) {
      const second = await runRecipe({ sourceArchive: sourceArchivePath, recipe: req.recipe, outDir: await freshOutputDir(temp), isolation, timeoutMs: req.timeoutMs });
      secondBuildDifferences = await compareArtifacts(first.artifact, second.artifact);
    }
    const artifactPath = join(outDir, name);
    await copyFile(first.artifact, `${artifactPath}.tmp`);
    await rename(`${artifactPath}.tmp`, artifactPath);
    const hashed = await hashFile(artifactPath, ['sha256']);
    const json = declarationFileJson({
      target,
      artifact: { sha256: hashed.hashes.sha256!, length: hashed.length },
      source: { uri: req.sourceUri ?? pathToFileURL(sourceArchivePath).href, sha256: sourceSha },
      recipe: req.recipe,
      ...(req.upstream === undefined ? {} : { upstream: req.upstream }),
    });
    const declaration = parseDeclarationFile(json, 'declaration');
    const declarationPath = join(outDir, `${name}.declaration.json`);
    await writeFileAtomic(declarationPath, json);
    return {
      artifactPath, declarationPath, sourceArchivePath, declaration, isolation: first.isolation, buildMs: first.durationMs,
      ...(secondBuildDifferences ? { secondBuildDifferences } : {}),
    };
  } finally {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
  }
}
