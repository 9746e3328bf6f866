// cli/declaration-options.ts: the release-declaration options of `cairn repo add` (docs/design.md
// "Build verification"; repo/declaration-input.ts turns them into the target's custom metadata):
// a declaration file from `cairn build`, or its fields one by one.
import type { Command } from 'commander';

/** Adds the options; commander gives them as repo's DeclarationInput (a declaration file, or the fields one by one). */
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
