// repo/declaration-input.ts: the release declaration of a target being added (docs/design.md
// "Build verification"; docs/verified-builds.md section 1; policy/declaration.ts): from a
// declaration file written by `cairn build` (checked to describe the very file being added), or
// from its fields one by one. The declaration goes into the target's custom metadata, beside any
// other custom fields; verifiers and witnesses read it from there.
import { hashFile } from '../crypto/hash.js';
import type { JsonObject } from '../encoding/canonical-json.js';
import { UsageError, short } from '../errors/index.js';
import { readCappedFile, tooLargeIsFormatError } from '../io/capped-file.js';
import { DECLARATION_LIMITS, DeclarationError, declarationToCustom, parseDeclarationFile, parseReleaseDeclaration, type ReleaseDeclaration } from '../policy/index.js';
import type { TargetSource } from './targets.js';

/** A declaration as a publisher gives it: `declaration` (a file), or the fields. */
export interface DeclarationInput {
  declaration?: string;
  sourceUri?: string;
  sourceSha256?: string;
  recipeBuilder?: string;
  recipeCommand?: string;
  recipeOutput?: string;
  sourceDateEpoch?: string;
}

/**
 * The custom metadata for `repo add`: `custom` with the declaration merged in, or `custom`
 * unchanged when no declaration option is given. A declaration file must describe the one file
 * being added (its sha256 is checked).
 */
export async function customWithDeclaration(opts: DeclarationInput, sources: readonly TargetSource[], custom: JsonObject | undefined): Promise<JsonObject | undefined> {
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
