// cli/declaration-options.ts: the release-declaration options of `cairn repo add` (docs/design.md
// "Build verification"; policy/declaration.ts): a declaration file from `cairn build`, or its
// fields one by one. The declaration goes into the target's custom metadata, beside any --custom
// fields; verifiers and witnesses read it from there.
import type { Command } from 'commander';
import { hashFile } from '../crypto/hash.js';
import type { JsonObject } from '../encoding/canonical-json.js';
import { UsageError, short } from '../errors/index.js';
import { readCappedFile, tooLargeIsFormatError } from '../io/capped-file.js';
import { DECLARATION_LIMITS, DeclarationError, declarationToCustom, parseDeclarationFile, parseReleaseDeclaration, type ReleaseDeclaration } from '../policy/index.js';
import type { TargetSource } from '../repo/index.js';

export interface DeclarationOpts {
  declaration?: string;
  sourceUri?: string;
  sourceSha256?: string;
  recipeBuilder?: string;
  recipeCommand?: string;
  recipeOutput?: string;
  sourceDateEpoch?: string;
}

export function addDeclarationOptions(command: Command): Command {
  return command
    .option('--declaration <file>', 'release declaration from `cairn build` (source and recipe; checked against the file added)')
    .option('--source-uri <uri>', 'declaration: where the source archive is (file:, http:, https:)')
    .option('--source-sha256 <hex>', 'declaration: sha256 of the source archive')
    .option('--recipe-builder <id>', 'declaration: builder environment identity (e.g. debian-12/gcc-12)')
    .option('--recipe-command <cmd>', 'declaration: build command, run with /bin/sh -c at the source root')
    .option('--recipe-output <path>', 'declaration: path of the artifact in the source tree after the build')
    .option('--source-date-epoch <seconds>', 'declaration: SOURCE_DATE_EPOCH of the build');
}

/**
 * The custom metadata for `repo add`: `custom` with the declaration merged in, or `custom`
 * unchanged when no declaration option is given. A declaration file must describe the one file
 * being added (its sha256 is checked).
 */
export async function customWithDeclaration(opts: DeclarationOpts, sources: readonly TargetSource[], custom: JsonObject | undefined): Promise<JsonObject | undefined> {
  const fields = [opts.sourceUri, opts.sourceSha256, opts.recipeBuilder, opts.recipeCommand, opts.recipeOutput, opts.sourceDateEpoch];
  const anyField = fields.some((f) => f !== undefined);
  if (opts.declaration === undefined && !anyField) return custom;
  if (sources.length !== 1) throw new UsageError('CONFLICT', `a declaration describes one artifact; ${sources.length} files were given`);
  let declaration: ReleaseDeclaration;
  if (opts.declaration !== undefined) {
    if (anyField) throw new UsageError('CONFLICT', 'give --declaration or the --source-*/--recipe-* options, not both');
    const file = parseDeclarationFile(await readCappedFile(opts.declaration, DECLARATION_LIMITS.maxFileBytes, { refuse: tooLargeIsFormatError }), opts.declaration);
    const actual = (await hashFile(sources[0]!.file, ['sha256'])).hashes.sha256!;
    if (actual !== file.artifact.sha256) {
      throw new DeclarationError('ARTIFACT_MISMATCH', `${opts.declaration} declares artifact sha256 ${short(file.artifact.sha256)}, ${sources[0]!.file} has ${short(actual)}`, {
        hint: 'add the artifact that `cairn build` wrote beside this declaration',
      });
    }
    declaration = file;
  } else {
    const epoch = opts.sourceDateEpoch === undefined ? undefined : Number(opts.sourceDateEpoch);
    declaration = parseReleaseDeclaration({
      source: { uri: opts.sourceUri ?? null, sha256: opts.sourceSha256 ?? null },
      recipe: { builder: opts.recipeBuilder ?? null, command: opts.recipeCommand ?? null, output: opts.recipeOutput ?? null, sourceDateEpoch: epoch ?? null },
    }, 'declaration options');
  }
  return declarationToCustom(declaration, custom ?? {});
}
