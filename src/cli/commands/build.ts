// cli/commands/build.ts: `cairn build`, the publisher's reproducible build (docs/design.md "Build
// verification"; docs/verified-builds.md): source tree -> deterministic source archive ->
// recipe run in the verifiers' isolation -> artifact plus its declaration, in one step.
import type { Command } from 'commander';
import { parseJsonObject } from '../../encoding/bounded-json.js';
import { UsageError } from '../../errors/index.js';
import { readCappedFile, tooLargeIsFormatError } from '../../io/capped-file.js';
import { describeDifferences, parseReleaseDeclaration, type BuildRecipe } from '../../policy/index.js';
import { buildArtifact, builderEnvironment, DEFAULT_EXCLUDES, ISOLATION_PREFERENCES, type IsolationPreference } from '../../rebuild/index.js';
import { collect, epochSeconds, oneOf, secondsOption } from '../options.js';
import type { CliContext } from './types.js';


interface BuildOpts {
  out: string;
  recipe?: string;
  command?: string;
  output?: string;
  builder?: string;
  sourceDateEpoch?: number;
  target?: string;
  sourceUri?: string;
  sourceArchive?: string;
  exclude: string[];
  isolation: IsolationPreference;
  timeout?: number;
  check: boolean;
}

export function register(program: Command, context: CliContext): void {
  program.command('build').description('build an artifact reproducibly from a source tree: source archive, artifact and release declaration in one step')
    .argument('<source>', 'source directory (or an existing tar/tar.gz source archive)')
    .requiredOption('--out <dir>', 'directory for the source archive, the artifact and its declaration')
    .option('--recipe <file>', 'recipe as JSON {builder, command, output, sourceDateEpoch} (flags override its fields)')
    .option('--command <cmd>', 'build command, run with /bin/sh -c at the root of the extracted source')
    .option('--output <path>', 'path of the artifact relative to the source root after the command ran')
    .option('--builder <id>', 'builder environment identity (default: this machine, e.g. debian-12)')
    .option('--source-date-epoch <seconds>', 'SOURCE_DATE_EPOCH for the build and the source archive\'s mtimes (default: $SOURCE_DATE_EPOCH)', epochSeconds('--source-date-epoch'))
    .option('--target <path>', 'target path the artifact will be published under (default: basename of --output)')
    .option('--source-uri <uri>', 'where verifiers will fetch the source archive (default: its file: URL in --out)')
    .option('--source-archive <name>', 'file name of the source archive in --out (default: NAME.src.tar)')
    .option('--exclude <name>', `file or directory name left out of the source archive (repeatable; default ${DEFAULT_EXCLUDES.join(', ')})`, collect, [])
    .option('--isolation <kind>', `sandbox: ${ISOLATION_PREFERENCES.join(', ')}`, oneOf('--isolation', ISOLATION_PREFERENCES), 'auto')
    .option('--timeout <seconds>', 'time limit of the build', secondsOption('--timeout'))
    .option('--check', 'build twice and report any difference (a non-reproducible recipe) before publishing', false)
    .action(async (source: string, opts: BuildOpts) => {
      const out = context.output();
      const recipe = await recipeFrom(opts);
      const result = await buildArtifact({
        source, outDir: opts.out, recipe, target: opts.target, sourceUri: opts.sourceUri, sourceArchiveName: opts.sourceArchive,
        excludes: opts.exclude.length > 0 ? opts.exclude : DEFAULT_EXCLUDES, isolation: opts.isolation,
        timeoutMs: opts.timeout === undefined ? undefined : opts.timeout * 1000, checkReproducible: opts.check, onWarning: (w) => out.warn(w),
      });
      const d = result.declaration;
      const lines = [
        `built ${d.target}: ${d.artifact.length} bytes, sha256 ${d.artifact.sha256} (${result.isolation} isolation, ${(result.buildMs / 1000).toFixed(1)} s)`,
        `source archive ${result.sourceArchivePath}: sha256 ${d.source.sha256}`,
        `artifact ${result.artifactPath}`,
        `declaration ${result.declarationPath}`,
      ];
      if (opts.check) {
        lines.push(result.secondBuildDifferences ? `NOT REPRODUCIBLE: a second build differs: ${describeDifferences(result.secondBuildDifferences)}` : 'reproducible: a second build gave identical bytes');
        if (result.secondBuildDifferences) context.setExitCode(1);
      }
      lines.push(`next: cairn repo add REPO ${result.artifactPath} --path ${d.target} --declaration ${result.declarationPath}`);
      out.result({ ...result, reproducible: opts.check ? result.secondBuildDifferences === undefined : undefined }, lines);
    });
}

async function recipeFrom(opts: BuildOpts): Promise<BuildRecipe> {
  let base: Partial<BuildRecipe> = {};
  if (opts.recipe !== undefined) {
    const limits = { maxBytes: 64 * 1024, maxDepth: 4, maxEntries: 100 };
    const o = parseJsonObject(await readCappedFile(opts.recipe, limits.maxBytes, { refuse: tooLargeIsFormatError }), opts.recipe, limits);
    base = { ...o } as Partial<BuildRecipe>;
  }
  const envEpoch = process.env.SOURCE_DATE_EPOCH;
  const sourceDateEpoch = opts.sourceDateEpoch ?? base.sourceDateEpoch ?? (envEpoch !== undefined && envEpoch !== '' ? epochSeconds('SOURCE_DATE_EPOCH')(envEpoch) : undefined);
  const command = opts.command ?? base.command;
  const output = opts.output ?? base.output;
  if (command === undefined) throw new UsageError('MISSING_ARGUMENT', 'no build command', { hint: 'pass --command CMD (e.g. make) or --recipe FILE' });
  if (output === undefined) throw new UsageError('MISSING_ARGUMENT', 'no output path', { hint: 'pass --output PATH, the artifact\'s path in the source tree after the build' });
  if (sourceDateEpoch === undefined) {
    throw new UsageError('MISSING_ARGUMENT', 'no SOURCE_DATE_EPOCH', { hint: 'pass --source-date-epoch N (e.g. the release commit time: git log -1 --format=%ct)' });
  }
  const recipe = { builder: opts.builder ?? base.builder ?? builderEnvironment(), command, output, sourceDateEpoch };
  // Validate with the same rules verifiers apply (a fake source block satisfies the parser).
  parseReleaseDeclaration({ source: { uri: 'file:///recipe', sha256: '0'.repeat(64) }, recipe }, 'recipe');
  return recipe;
}
