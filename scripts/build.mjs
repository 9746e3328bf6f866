// scripts/build.mjs: compiles src/ into dist/ with tsc (tsconfig.build.json, incremental), which
// is what bin/cairn.js runs. `npm install` and `npm ci` run it (the `prepare` script), and so does
// `npm run build`.
//
// A test or benchmark that spawns `cairn` must never run a stale build, so everything that spawns
// it calls buildIfStale() first (scripts/run-tests.mjs before the test files; test/fixtures/cairn-process.ts,
// through which every test and benchmark finds bin/cairn.js, when it is loaded). That rebuilds
// only when a file under src/ (or a tsconfig) changed since the last build: dist/.source-stamp
// records the sources the build was made from (their names and the newest modification time, read
// before tsc ran), so checking costs a few stat calls and an edit during a build is seen next time.
// A lock directory keeps test processes that start together from building at the same time.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');
const STAMP = join(DIST, '.source-stamp');
const LOCK = join(DIST, '.build-lock');
/** A lock older than this was left by a build that died; tsc takes well under a minute here. */
const STALE_LOCK_MS = 5 * 60_000;
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];

function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else out.push(path);
  }
  return out;
}

/** What the build depends on: the sorted source names and the newest modification time. */
function sourceState() {
  const files = [...sourceFiles(SRC), ...CONFIGS.map((c) => join(ROOT, c))];
  const newest = Math.max(...files.map((f) => statSync(f).mtimeMs));
  return JSON.stringify({ files: files.map((f) => relative(ROOT, f)).sort(), newest });
}

function builtFrom() {
  try {
    return readFileSync(STAMP, 'utf8');
  } catch {
    return undefined;
  }
}

/** Removes outputs whose source is gone (tsc never deletes), so dist/ holds only what src/ has. */
function removeOrphans(dir = DIST) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      removeOrphans(path);
      continue;
    }
    if (!entry.name.endsWith('.js')) continue;
    const source = join(SRC, relative(DIST, path)).replace(/\.js$/, '.ts');
    try {
      statSync(source);
    } catch {
      rmSync(path);
    }
  }
}

/** Runs tsc on tsconfig.build.json (incremental) and records the sources it compiled. */
export function build() {
  const state = sourceState();
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`build: tsc -p tsconfig.build.json failed (exit ${result.status ?? result.signal})`);
  removeOrphans();
  writeFileSync(STAMP, state);
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Builds unless dist/ was built from the current sources; returns whether it built. */
export function buildIfStale() {
  if (builtFrom() === sourceState()) return false;
  mkdirSync(DIST, { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const age = Date.now() - statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs;
      if (age > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      else sleep(200);
    }
  }
  try {
    // Another process may have built while this one waited.
    if (builtFrom() === sourceState()) return false;
    process.stderr.write('build: src/ changed since the last build, compiling into dist/\n');
    build();
    return true;
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    if (process.argv.includes('--if-stale')) buildIfStale();
    else build();
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
