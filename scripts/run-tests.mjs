// scripts/run-tests.mjs: runs every test/**/*.test.ts with node:test through tsx.
// Node 20's runner does not expand globs and passes silently on an empty list, so the
// list is built here and an empty one is an error. Arguments filter by substring.
// Tests that spawn `cairn` run the compiled dist/, so the build is brought up to date first
// (incrementally: nothing to do when src/ has not changed; see scripts/build.mjs).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildIfStale } from './build.mjs';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect('test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
try {
  buildIfStale();
} catch (e) {
  console.error(`run-tests: ${e.message}`);
  process.exit(1);
}
const concurrency = process.env.CAIRN_TEST_CONCURRENCY ?? '2';
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
