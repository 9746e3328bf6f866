// cli/commands/build.ts: `cairn build`, the publisher's reproducible build (docs/design.md "Build
// verification"; docs/verified-builds.md): source tree -> deterministic source archive ->
// recipe run in the verifiers' isolation -> artifact plus its declaration, in one step.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { describeDifferences } from '../../policy/index.js';
import { buildArtifact, DEFAULT_EXCLUDES, importedSource, readRecipe } from '../../rebuild/index.js';
import { UsageError } from '../../errors/index.js';
import { importSummaryLines } from './import.js';
import { collect, epochSeconds, secondsOption } from '../options.js';
import { sandboxOf, sandboxOptions, type SandboxOpts } from './rebuild.js';
import type { CliContext } from './types.js';

interface BuildOpts extends SandboxOpts {
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
  timeout?: number;
  check: boolean;
  import?: string;
  importUri?: string;
  aptDir?: string;
}

export function register(program: Command, context: CliContext): void {
  sandboxOptions(program.command('build')).description('build an artifact reproducibly from a source tree: source archive, artifact and release declaration in one step')
    .argument('[source]', 'source directory (or an existing tar/tar.gz source archive); not with --import')
    .option('--import <dir>', 'build from an upstream import (cairn import): its upstream file, as released, is the source; the declaration names the import for the witnesses')
    .option('--import-uri <url>', 'with --import: the http(s) URL where you publish the import directory, for witnesses to fetch (default its file: URL)')
    .option('--apt-dir <dir>', 'with --import: apt\'s configuration, whose keyring the import is verified with again (default /etc/apt)')
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
    .option('--timeout <seconds>', 'time limit of the build', secondsOption('--timeout'))
    .option('--check', 'build twice and report any difference (a non-reproducible recipe) before publishing', false)
    .action(async (source: string | undefined, opts: BuildOpts) => {
      const out = context.output();
      if ((source === undefined) === (opts.import === undefined)) throw new UsageError('MISSING_ARGUMENT', 'give either a source or --import DIR', { hint: 'cairn build SOURCE_DIR --out DIR ..., or cairn build --import DIR (from cairn import) --out DIR ...' });
      if (opts.import !== undefined && (opts.sourceUri !== undefined || opts.sourceArchive !== undefined)) throw new UsageError('CONFLICT', '--import sets the source: leave out --source-uri and --source-archive');
      const imported = opts.import === undefined ? undefined : await importedSource(opts.import, {
        ...(opts.importUri === undefined ? {} : { uri: opts.importUri }), ...(opts.aptDir === undefined ? {} : { etcApt: resolve(opts.aptDir) }),
      });
      if (imported !== undefined) {
        for (const line of importSummaryLines(imported.summary)) out.info(line);
        if (opts.importUri === undefined) out.warn(`the declaration names the import at ${imported.upstream.uri}: witnesses on other machines cannot read it; publish the directory and pass --import-uri URL`);
      }
      const sourceDateEpoch = opts.sourceDateEpoch ?? (imported !== undefined && process.env.SOURCE_DATE_EPOCH === undefined ? imported.releasedAt : undefined);
      const recipe = await readRecipe({
        ...(opts.recipe === undefined ? {} : { file: opts.recipe }), ...(opts.command === undefined ? {} : { command: opts.command }),
        ...(opts.output === undefined ? {} : { output: opts.output }), ...(opts.builder === undefined ? {} : { builder: opts.builder }),
        ...(sourceDateEpoch === undefined ? {} : { sourceDateEpoch }),
      });
      const result = await buildArtifact({
        ...(imported === undefined
          ? { source: source!, sourceUri: opts.sourceUri, sourceArchiveName: opts.sourceArchive }
          : { source: imported.source, sourceUri: imported.sourceUri, sourceArchiveName: imported.sourceArchiveName, upstream: imported.upstream }),
        outDir: opts.out, recipe, target: opts.target,
        excludes: opts.exclude.length > 0 ? opts.exclude : DEFAULT_EXCLUDES, isolation: sandboxOf(opts),
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
