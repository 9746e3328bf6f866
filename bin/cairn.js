#!/usr/bin/env node
// bin/cairn.js: the `cairn` executable. Runs the command line compiled from src/ into dist/ by
// `npm install` / `npm ci` (the `prepare` script) or `npm run build`: no TypeScript at run time.
// Without the build it says what to run, with exit code 70 (docs/cli.md "Global options").
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const message = `cairn is not built (${fileURLToPath(entry)} is missing): run \`npm run build\` in ${root}`;
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ error: 'NotBuilt', code: 'NOT_BUILT', message }) + '\n');
  else process.stderr.write(`error [NOT_BUILT]: ${message}\n`);
  process.exit(70);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
