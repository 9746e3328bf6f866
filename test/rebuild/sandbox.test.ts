// test/rebuild/sandbox.test.ts: hostile recipes against the real verifier running as root
// (docs/verified-builds.md "The sandbox" and "Isolation levels"). The recipe is the publisher's
// code; the verifier holds a signing key. Each recipe tries one escape (remounting /usr
// writable, writing outside its scratch space, reading the verifier's key and state, reading
// /etc/shadow, the network, a fork bomb, filling the disk, running forever) in a real
// `cairn rebuild run` or `cairn rebuild serve` process. A recipe whose escape works writes what
// it got into its artifact, so a PASSED verdict for the published bytes "contained\n" proves the
// escape failed; the host files, the key and the state are checked unchanged, the build user
// has no process left, and the verifier then still rebuilds a normal artifact. The same
// key-reading recipe under the weaker --isolation none gets the state file: the test can fail.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, createWriteStream, openSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { hashFile, sha256Hex } from '../../src/crypto/index.js';
import { addTargets } from '../../src/repo/index.js';
import { declarationFileJson, declarationToCustom, parseAttestation, verifyAttestation, type ReleaseDeclaration } from '../../src/policy/index.js';
import { chooseIsolation, RebuildError, runRecipe, writeSourceArchive } from '../../src/rebuild/index.js';
import { BUILD_USER, NEEDS_BUBBLEWRAP, NEEDS_ROOT_SANDBOX } from '../fixtures/system-tools.js';
import { EPOCH, keyFile, publisherRepo, runCli, tempDir, type CliOptions, type CliResult, type KeyFile } from './fixtures.js';

const T = { timeout: 120_000, ...NEEDS_ROOT_SANDBOX };
const CONTAINED = 'contained\n';
let dir: string;
let cleanup: () => Promise<void>;
let verifier: KeyFile;
/** Verifier state readable by anyone on the host (mode 0644): only the mount namespace hides it. */
let stateFile: string;
/** A host file a recipe tries to overwrite. */
let hostFile: string;
let keyBytes: Buffer;

before(async () => {
  ({ dir, cleanup } = await tempDir('cairn-sandbox-'));
  await chmod(dir, 0o755);
  verifier = await keyFile(dir, 'verifier');
  keyBytes = await readFile(verifier.path);
  stateFile = join(dir, 'verifier-state.db');
  await writeFile(stateFile, 'VERIFIER-STATE-SECRET\n', { mode: 0o644 });
  hostFile = join(dir, 'host.txt');
  await writeFile(hostFile, 'host file\n', { mode: 0o666 });
});

// A sandbox that let the remount through would have written this on the host: the test fails, and the file goes.
after(async () => {
  await rm('/usr/cairn-escape', { force: true });
  await cleanup();
});

/** A declaration of the published bytes "contained\n" built by `script` (run as escape.sh). */
async function hostileDeclaration(name: string, script: string): Promise<{ declaration: ReleaseDeclaration; published: string; file: string }> {
  const src = join(dir, name);
  await mkdir(src);
  await writeFile(join(src, 'escape.sh'), script);
  const archive = join(dir, `${name}.src.tar`);
  const { sha256 } = await writeSourceArchive(src, archive, EPOCH);
  const published = join(dir, `${name}.published`);
  await writeFile(published, CONTAINED);
  const declaration: ReleaseDeclaration = {
    source: { uri: pathToFileURL(archive).href, sha256 },
    recipe: { builder: 'debian-12', command: 'sh escape.sh', output: 'out', sourceDateEpoch: EPOCH },
  };
  const file = join(dir, `${name}.declaration.json`);
  await writeFile(file, declarationFileJson({ target: `hostile/${name}`, artifact: { sha256: sha256Hex(Buffer.from(CONTAINED)), length: CONTAINED.length }, ...declaration }));
  return { declaration, published, file };
}

interface Run {
  r: CliResult;
  ms: number;
  attestation: string;
  json: { result?: string; isolation?: string; rebuilt?: { sha256: string } };
}

/** `cairn rebuild run` (a real process, as root) of a hostile recipe. */
async function rebuildHostile(name: string, script: string, extra: string[] = [], leak?: CliOptions['leak']): Promise<Run> {
  const { published, file } = await hostileDeclaration(name, script);
  const attestation = join(dir, `${name}.dsse.json`);
  const started = Date.now();
  const r = await runCli(['--json', 'rebuild', 'run', '--allow-file-sources', '--declaration', file, '--artifact', published, '--out', attestation, '--key', verifier.path, ...extra], { timeoutMs: 90_000, ...(leak ? { leak } : {}) });
  const ms = Date.now() - started;
  return { r, ms, attestation, json: r.stdout.trim().startsWith('{') ? JSON.parse(r.stdout) as Run['json'] : {} };
}

/** The escape failed: PASSED for exactly "contained\n", under full isolation, and nothing of the host changed. */
async function assertContained(run: Run): Promise<void> {
  assert.equal(run.r.code, 0, run.r.stderr + run.r.stdout);
  assert.equal(run.json.result, 'PASSED', `the recipe escaped: it built other bytes than "contained" (${run.r.stdout})`);
  assert.equal(run.json.isolation, 'bubblewrap');
  const statement = verifyAttestation(parseAttestation(await readFile(run.attestation)), [verifier.signer.publicKey]).statement;
  assert.equal(statement.rebuild.isolation, 'bubblewrap', 'the attestation records the isolation level');
  await assertHostUnchanged();
}

async function assertHostUnchanged(): Promise<void> {
  assert.deepEqual(await readFile(verifier.path), keyBytes, 'the verifier key is unchanged');
  assert.equal(await readFile(stateFile, 'utf8'), 'VERIFIER-STATE-SECRET\n');
  assert.equal(await readFile(hostFile, 'utf8'), 'host file\n', 'the host file is unchanged');
  await assert.rejects(stat('/usr/cairn-escape'), 'nothing was written under the host /usr');
  assert.equal(buildUserProcesses(), 0, `no process of ${BUILD_USER} is left`);
}

/**
 * Live processes of the build user running this file's recipes (their command lines name
 * escape.sh or the bomb; other test files build as the same user at the same time). Zombies left
 * for a container's init to reap are not running.
 */
function buildUserProcesses(marker = /escape\.sh|bomb/): number {
  const r = spawnSync('ps', ['-u', BUILD_USER, '-o', 'stat=,args='], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('Z') && marker.test(line)).length;
}

/** Writes what the recipe got (or "contained") to out: any escape shows in the artifact. */
const VERDICT = 'if [ -s loot ]; then cp loot out; else printf "contained\\n" > out; fi\n';

test('a recipe that remounts /usr (or /) writable, directly or from a nested user namespace, is refused', T, async () => {
  const run = await rebuildHostile('remount', [
    'for m in /usr /; do',
    '  mount -o remount,rw $m 2>/dev/null && echo "remounted $m" >> loot',
    '  unshare -rm sh -c "mount -o remount,rw $m && touch $m/cairn-escape" 2>/dev/null && echo "remounted $m in a user namespace" >> loot',
    'done',
    'touch /usr/cairn-escape 2>/dev/null && echo "wrote /usr" >> loot',
    VERDICT,
  ].join('\n'));
  await assertContained(run);
});

test('a recipe that writes outside its scratch space (/usr, /, /etc, /dev, /dev/shm, a host path) is refused', T, async () => {
  const run = await rebuildHostile('write-outside', [
    `for f in /usr/cairn-escape /cairn-escape /etc/cairn-escape /dev/cairn-escape /dev/shm/cairn-escape ${hostFile} /proc/sys/kernel/hostname; do`,
    '  (echo pwned > "$f") 2>/dev/null && echo "wrote $f" >> loot',
    'done',
    // The host's /tmp is not the sandbox's: there, /tmp is the scratch tmpfs, so this writes only scratch.
    `mkdir -p ${dir} && echo pwned > ${hostFile}`,
    VERDICT,
  ].join('\n'));
  await assertContained(run);
});

test('a recipe that reads the verifier key and state is refused: they are not in the sandbox (and --isolation none, named, exposes the state)', T, async () => {
  const script = [
    `for f in ${verifier.path} ${stateFile} /proc/1/root${verifier.path} /proc/1/root${stateFile}; do cat "$f" >> loot 2>/dev/null; done`,
    'find / -xdev \\( -name "*.key" -o -name "verifier-state*" \\) -type f -exec cat {} + >> loot 2>/dev/null',
    VERDICT,
  ].join('\n');
  await assertContained(await rebuildHostile('read-key', script));
  // The control: the same recipe with no isolation, named by the operator, reads the world-readable state.
  const weak = await rebuildHostile('read-key-weak', script, ['--isolation', 'none']);
  assert.equal(weak.r.code, 1, weak.r.stderr);
  assert.equal(weak.json.result, 'FAILED', 'without the sandbox the recipe gets the state into its artifact');
  assert.equal(weak.json.isolation, 'none');
  assert.match(weak.r.stderr, /--isolation none/);
  assert.equal(verifyAttestation(parseAttestation(await readFile(weak.attestation)), [verifier.signer.publicKey]).statement.rebuild.isolation, 'none');
});

test('a recipe that uses a descriptor the verifier inherited (a host directory) gets nothing: the build holds only stdin, stdout and stderr', T, async () => {
  // The verifier as a supervisor or a careless shell may start it: holding fd 100 open on a host directory.
  const held = openSync(dir, 'r');
  const run = await rebuildHostile('inherited-fd', [
    // ls lists what the shell handed it: 0-2, its own directory, and any descriptor the build inherited.
    'ls /proc/self/fd > fds',
    'for n in $(cat fds); do',
    '  case $n in 0|1|2) continue ;; esac',
    '  [ -e /proc/$$/fd/$n ] || continue',
    '  echo "fd $n -> $(readlink /proc/$$/fd/$n)" >> loot',
    // Through a directory descriptor, the host: the verifier state (0644) and a host file (0666).
    '  cat /proc/$$/fd/$n/verifier-state.db >> loot 2>/dev/null',
    '  (echo pwned > /proc/$$/fd/$n/host.txt) 2>/dev/null && echo "wrote host.txt through fd $n" >> loot',
    'done',
    VERDICT,
  ].join('\n'), [], { fd: held, at: 100 }).finally(() => closeSync(held));
  await assertContained(run);
});

test('a recipe whose log carries terminal control sequences (clipboard write, screen clear, carriage return) fails without any reaching the operator\'s terminal', T, async () => {
  const { published, file } = await hostileDeclaration('terminal', [
    // OSC 52 puts a command on the operator's clipboard; CSI 2J clears the screen; \r overwrites the line; 0x9b is a one-byte CSI.
    'printf "\\033]52;c;cm0gLXJmIH4K\\007\\033[2J\\rPASSED\\302\\233" >&2',
    'exit 1',
  ].join('\n'));
  const attestation = join(dir, 'terminal.dsse.json');
  // Not --json (which escapes anyway): the human form is what a terminal shows.
  const human = await runCli(['rebuild', 'run', '--allow-file-sources', '--declaration', file, '--artifact', published, '--out', attestation, '--key', verifier.path], { timeoutMs: 90_000 });
  assert.equal(human.code, 69, human.stderr);
  assert.match(human.stderr, /BUILD_FAILED/);
  assert.match(human.stderr, /\\u001b\]52;c;cm0gLXJmIH4K\\u0007\\u001b\[2J\\u000dPASSED\\u009b/, 'the log is shown, its controls as escapes');
  assert.doesNotMatch(human.stderr + human.stdout, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/, 'no control character reaches the terminal');
  await assert.rejects(stat(attestation), 'no verdict is signed');
  await assertHostUnchanged();
});

test('a recipe that reads /etc/shadow is refused: /etc in the sandbox holds only generated passwd and group and a toolchain\'s files', T, async () => {
  const run = await rebuildHostile('read-shadow', [
    'for f in /etc/shadow /etc/gshadow /proc/1/root/etc/shadow /etc/sudoers; do cat "$f" >> loot 2>/dev/null; done',
    'grep -v "^build:" /etc/passwd >> loot 2>/dev/null',
    VERDICT,
  ].join('\n'));
  await assertContained(run);
});

test('a recipe that uses the network reaches nothing: a server on the host loopback sees no request', T, async () => {
  let requests = 0;
  const server: Server = createServer((_req, res) => {
    requests++;
    res.end('secret from the network\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const run = await rebuildHostile('network', [
      `node -e "require('http').get('http://127.0.0.1:${port}/', (r) => r.pipe(process.stdout)).on('error', () => {})" >> loot 2>/dev/null`,
      `curl -sf http://127.0.0.1:${port}/ >> loot 2>/dev/null`,
      VERDICT,
    ].join('\n'));
    await assertContained(run);
    assert.equal(requests, 0, 'the host server was never reached');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a recipe that fills its scratch space stops at the cap (ENOSPC), and the host disk is untouched', T, async () => {
  const run = await rebuildHostile('fill-disk', [
    'dd if=/dev/zero of=big bs=1M count=256 2>/dev/null && echo "wrote 256 MiB" >> loot',
    'rm -f big',
    VERDICT,
  ].join('\n'), ['--max-scratch', '32']);
  await assertContained(run);
});

test('a recipe that runs forever is killed at the time limit with nothing left running', T, async () => {
  const run = await rebuildHostile('forever', 'sleep 100000 & sleep 100000\n', ['--timeout', '3']);
  assert.equal(run.r.code, 69, run.r.stderr);
  assert.match(run.r.stdout + run.r.stderr, /BUILD_TIMEOUT/);
  assert.ok(run.ms < 20_000, `the verifier gave up after ${run.ms} ms`);
  await assert.rejects(stat(run.attestation), 'no verdict is signed for a build that did not finish');
  await assertHostUnchanged();
});

test('under --isolation unshare a process the recipe detaches from its group (setsid, descriptors closed) dies with the build', T, async () => {
  const run = await rebuildHostile('unshare-detach', [
    'setsid sh -c "exec 0<&- 1>&- 2>&-; exec sleep 98765" &',
    'printf "contained\\n" > out',
  ].join('\n'), ['--isolation', 'unshare']);
  assert.equal(run.r.code, 0, run.r.stderr + run.r.stdout);
  assert.equal(run.json.result, 'PASSED');
  assert.equal(run.json.isolation, 'unshare');
  const left = spawnSync('pgrep', ['-u', BUILD_USER, '-f', '^sleep 98765$'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l !== '');
  // A process that escaped would outlive the verifier: ended here by its id, and the test fails.
  for (const pid of left) process.kill(Number(pid), 'SIGKILL');
  assert.deepEqual(left, [], 'the detached process outlived the build');
  await assertHostUnchanged();
});

test('a fork bomb under rebuild serve is held to the process cap and killed; the verifier goes on and attests the next artifact', { ...T, timeout: 180_000 }, async (t) => {
  const repo = join(dir, 'repo');
  const publisher = await keyFile(dir, 'publisher');
  await publisherRepo(repo, publisher.signer);
  // bash retries a fork that fails (dash gives up), so the bomb keeps pressing against the cap.
  const bomb = await hostileDeclaration('fork-bomb', 'bash -c \'bomb() { bomb | bomb & }; bomb\'\nsleep 100000\n');
  const normal = await hostileDeclaration('normal', 'printf "contained\\n" > out\n');
  await addTargets(repo, [{ file: bomb.published, path: 'hostile/a-fork-bomb' }], { custom: declarationToCustom(bomb.declaration), signers: [publisher.signer] });
  await addTargets(repo, [{ file: normal.published, path: 'hostile/b-normal' }], { custom: declarationToCustom(normal.declaration), signers: [publisher.signer] });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, buildUserProcesses(/bomb/))), 200);
  const started = Date.now();
  let r: CliResult;
  try {
    r = await runCli(['--json', 'rebuild', 'serve', '--allow-file-sources', '--repo', repo, '--out', join(dir, 'verifier-out'), '--key', verifier.path, '--db', join(dir, 'queue.db'), '--once',
      '--max-attempts', '1', '--timeout', '6', '--max-processes', '64'], { timeoutMs: 120_000 });
  } finally {
    clearInterval(sampler);
  }
  const ms = Date.now() - started;
  t.diagnostic(`fork bomb: at most ${peak} of its processes seen (cap 64); serve finished in ${ms} ms`);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; target?: string; code?: string; result?: string });
  assert.ok(events.some((e) => e.type === 'error' && e.target === 'hostile/a-fork-bomb' && e.code === 'BUILD_TIMEOUT'), r.stdout);
  assert.ok(events.some((e) => e.type === 'attested' && e.target === 'hostile/b-normal' && e.result === 'PASSED'), r.stdout);
  // The cap counts every process of the build (the driver's and bwrap's inside the namespace too).
  assert.ok(peak <= 64, `the bomb ran ${peak} processes, the cap is 64`);
  assert.ok(peak >= 32, `the bomb forked (${peak} processes seen)`);
  assert.ok(ms < 60_000, `the bomb held the verifier ${ms} ms`);
  await assertHostUnchanged();
});

test('after every hostile recipe the verifier still rebuilds a normal artifact PASSED', T, async () => {
  await assertContained(await rebuildHostile('after', 'printf "contained\\n" > out\n'));
});

/**
 * A tar.gz that inflates to `gib` GiB: one file's ustar header (size in base-256), then the same
 * gzip member of 256 MiB of zeros over and over (gzip readers inflate concatenated members). At
 * level 1 the ratio is about 230:1, under the 1000:1 at which node-tar refuses an archive: a
 * 4 GiB artifact of this kind stands for about a TiB.
 */
async function gzipBomb(path: string, gib: number): Promise<void> {
  const size = BigInt(gib) * 1024n ** 3n;
  const header = Buffer.alloc(512);
  header.write('bomb', 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header[124] = 0x80;
  for (let i = 0; i < 11; i++) header[135 - i] = Number((size >> BigInt(8 * i)) & 0xffn);
  header.write('00000000000\0', 136);
  header.fill(0x20, 148, 156);
  header.write('0', 156);
  header.write('ustar\u000000', 257);
  header.write(header.reduce((sum, b) => sum + b, 0).toString(8).padStart(6, '0') + '\0 ', 148);
  const zeros = gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 1 });
  const out = createWriteStream(path);
  out.write(gzipSync(header));
  for (let i = 0; i < gib * 4; i++) if (!out.write(zeros)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

test('a publisher whose artifact is a gzip bomb (300 MB inflating to 64 GiB) holds the verifier only until the archive cap: FAILED with a byte summary', { ...T, timeout: 180_000 }, async (t) => {
  const src = join(dir, 'bomb-src');
  await mkdir(src);
  await writeFile(join(src, 'build.sh'), 'printf x > f && tar -czf out f\n');
  const archive = join(dir, 'bomb.src.tar');
  const { sha256 } = await writeSourceArchive(src, archive, EPOCH);
  const published = join(dir, 'bomb.published.tar.gz');
  await gzipBomb(published, 64);
  const artifact = await hashFile(published, ['sha256']);
  const file = join(dir, 'bomb.declaration.json');
  await writeFile(file, declarationFileJson({
    target: 'hostile/bomb.tar.gz', artifact: { sha256: artifact.hashes.sha256!, length: artifact.length },
    source: { uri: pathToFileURL(archive).href, sha256 },
    recipe: { builder: 'debian-12', command: 'sh build.sh', output: 'out', sourceDateEpoch: EPOCH },
  }));
  const attestation = join(dir, 'bomb.dsse.json');
  const started = Date.now();
  const r = await runCli(['--json', 'rebuild', 'run', '--allow-file-sources', '--declaration', file, '--artifact', published, '--out', attestation, '--key', verifier.path], { timeoutMs: 150_000 });
  const ms = Date.now() - started;
  t.diagnostic(`a ${artifact.length}-byte bomb of 64 GiB held the verifier ${ms} ms`);
  await rm(published);
  assert.equal(r.code, 1, r.stderr + r.stdout);
  const json = JSON.parse(r.stdout) as { result: string; differences: { kind: string } };
  assert.equal(json.result, 'FAILED');
  assert.equal(json.differences.kind, 'bytes', 'past the cap the archive is not listed, the bytes are compared');
  // Inflating all 64 GiB took 74 s here; stopping at the 4 GiB cap, a few seconds.
  assert.ok(ms < 50_000, `the bomb held the verifier ${ms} ms`);
});

test('a declared source at a file: URL is refused unsigned unless the operator allows file: sources; --isolation auto no longer exists', NEEDS_BUBBLEWRAP, async () => {
  const { published, file } = await hostileDeclaration('file-source', 'printf "contained\\n" > out\n');
  const attestation = join(dir, 'file-source.dsse.json');
  const refused = await runCli(['--json', 'rebuild', 'run', '--declaration', file, '--artifact', published, '--out', attestation, '--key', verifier.path], { timeoutMs: 60_000 });
  assert.equal(refused.code, 6, refused.stderr);
  assert.match(refused.stdout + refused.stderr, /SOURCE_REFUSED/);
  await assert.rejects(stat(attestation), 'no verdict is signed');
  const auto = await runCli(['rebuild', 'run', '--isolation', 'auto', '--allow-file-sources', '--declaration', file, '--artifact', published, '--out', attestation, '--key', verifier.path]);
  assert.equal(auto.code, 2, auto.stderr);
  await assert.rejects(stat(attestation));
});

test('a verifier running as root without its build user refuses to build (never as root), naming the command that creates it', T, async () => {
  const { published, file } = await hostileDeclaration('no-build-user', 'printf "contained\\n" > out\n');
  const attestation = join(dir, 'no-build-user.dsse.json');
  const r = await runCli(['rebuild', 'run', '--allow-file-sources', '--build-user', 'cairn-no-such-user', '--declaration', file, '--artifact', published, '--out', attestation, '--key', verifier.path]);
  assert.equal(r.code, 69, r.stderr);
  assert.match(r.stderr, /ISOLATION_UNAVAILABLE/);
  assert.match(r.stderr, /useradd --system .* cairn-no-such-user/);
  const root = await runCli(['rebuild', 'run', '--allow-file-sources', '--build-user', 'root', '--declaration', file, '--artifact', published, '--out', attestation, '--key', verifier.path]);
  assert.equal(root.code, 69, root.stderr);
  assert.match(root.stderr, /never runs as root/);
  await assert.rejects(stat(attestation), 'nothing is signed');
});

test('a verifier whose key or queue lies where every build can read it (/usr) refuses to build, before anything is signed', T, async () => {
  const { published, file } = await hostileDeclaration('key-in-usr', 'cat /usr/local/lib/cairn-test-*/verifier.json > loot 2>/dev/null || true\n' + VERDICT);
  const exposed = await mkdtemp('/usr/local/lib/cairn-test-');
  try {
    const exposedKey = join(exposed, 'verifier.json');
    await copyFile(verifier.path, exposedKey);
    const attestation = join(dir, 'key-in-usr.dsse.json');
    const r = await runCli(['--json', 'rebuild', 'run', '--allow-file-sources', '--declaration', file, '--artifact', published, '--out', attestation, '--key', exposedKey]);
    assert.equal(r.code, 69, r.stdout + r.stderr);
    const err = JSON.parse(r.stdout) as { code: string; message: string; hint: string };
    assert.equal(err.code, 'PRIVATE_FILE_IN_SANDBOX');
    assert.match(err.message, /is under \/usr, which every build can read/);
    assert.match(err.hint, /\/var\/lib\/cairn-verifier/);
    await assert.rejects(stat(attestation), 'nothing is signed');
    // The queue too: rebuild serve with its database under /usr.
    const serve = await runCli(['--json', 'rebuild', 'serve', '--allow-file-sources', '--repo', dir, '--out', join(dir, 'key-in-usr.out'), '--key', verifier.path, '--db', join(exposed, 'queue.db'), '--once']);
    assert.equal(serve.code, 69, serve.stdout + serve.stderr);
    assert.equal((JSON.parse(serve.stdout.trim().split('\n').at(-1)!) as { code: string }).code, 'PRIVATE_FILE_IN_SANDBOX');
    await assert.rejects(stat(join(exposed, 'queue.db')), 'no queue was created');
  } finally {
    await rm(exposed, { recursive: true, force: true });
  }
});

test('a recipe whose artifact is over the output cap is stopped: OUTPUT_TOO_LARGE, and no more than the cap reaches the host', NEEDS_BUBBLEWRAP, async () => {
  const src = join(dir, 'big-output');
  await mkdir(src);
  await writeFile(join(src, 'build.sh'), 'head -c 8388608 /dev/zero > out\n');
  const archive = join(dir, 'big-output.src.tar');
  await writeSourceArchive(src, archive, EPOCH);
  const outDir = join(dir, 'big-output.out');
  await mkdir(outDir);
  await assert.rejects(runRecipe({
    sourceArchive: archive, outDir, isolation: chooseIsolation(), maxOutputBytes: 1024 * 1024,
    recipe: { builder: 'debian-12', command: 'sh build.sh', output: 'out', sourceDateEpoch: EPOCH },
  }), (e: unknown) => e instanceof RebuildError && e.code === 'OUTPUT_TOO_LARGE');
  assert.ok((await stat(join(outDir, 'artifact'))).size <= 1024 * 1024, 'the host got at most the cap');
});
