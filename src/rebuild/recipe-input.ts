// rebuild/recipe-input.ts: the recipe of `cairn build` as a publisher gives it (docs/verified-builds.md
// section 1): a recipe file ({ builder, command, output, sourceDateEpoch }), fields that override
// it, $SOURCE_DATE_EPOCH, and this machine's builder identity by default; checked with the rules
// verifiers apply to a declared recipe.
import { parseJsonObject } from '../encoding/bounded-json.js';
import { UsageError } from '../errors/index.js';
import { readCappedFile, tooLargeIsFormatError } from '../io/capped-file.js';
import { parseReleaseDeclaration, type BuildRecipe } from '../policy/index.js';
import { builderEnvironment } from './isolation.js';

export interface RecipeInput {
  /** A recipe file; the fields below override its fields. */
  file?: string;
  command?: string;
  output?: string;
  builder?: string;
  sourceDateEpoch?: number;
}

const RECIPE_FILE_LIMITS = { maxBytes: 64 * 1024, maxDepth: 4, maxEntries: 100 };

/** The recipe of `input` (SOURCE_DATE_EPOCH from `env` when neither the file nor the fields give it). */
export async function readRecipe(input: RecipeInput, env: NodeJS.ProcessEnv = process.env): Promise<BuildRecipe> {
  let base: Partial<BuildRecipe> = {};
  if (input.file !== undefined) {
    base = parseJsonObject(await readCappedFile(input.file, RECIPE_FILE_LIMITS.maxBytes, { refuse: tooLargeIsFormatError }), input.file, RECIPE_FILE_LIMITS) as Partial<BuildRecipe>;
  }
  const envEpoch = env.SOURCE_DATE_EPOCH;
  if (envEpoch !== undefined && envEpoch !== '' && !/^\d{1,15}$/.test(envEpoch)) {
    throw new UsageError('BAD_ARGUMENT', `SOURCE_DATE_EPOCH must be a non-negative integer (seconds since 1970), not "${envEpoch}"`);
  }
  const sourceDateEpoch = input.sourceDateEpoch ?? base.sourceDateEpoch ?? (envEpoch !== undefined && envEpoch !== '' ? Number(envEpoch) : undefined);
  const command = input.command ?? base.command;
  const output = input.output ?? base.output;
  if (command === undefined) throw new UsageError('MISSING_ARGUMENT', 'no build command', { hint: 'pass --command CMD (e.g. make) or --recipe FILE' });
  if (output === undefined) throw new UsageError('MISSING_ARGUMENT', 'no output path', { hint: 'pass --output PATH, the artifact\'s path in the source tree after the build' });
  if (sourceDateEpoch === undefined) {
    throw new UsageError('MISSING_ARGUMENT', 'no SOURCE_DATE_EPOCH', { hint: 'pass --source-date-epoch N (e.g. the release commit time: git log -1 --format=%ct)' });
  }
  const recipe = { builder: input.builder ?? base.builder ?? builderEnvironment(), command, output, sourceDateEpoch };
  // The rules verifiers apply (a placeholder source block satisfies the parser).
  parseReleaseDeclaration({ source: { uri: 'file:///recipe', sha256: '0'.repeat(64) }, recipe }, 'recipe');
  return recipe;
}
