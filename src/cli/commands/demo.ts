// cli/commands/demo.ts: `cairn demo` (what `npm start` runs): the whole TUF flow on this machine
// with embedded defaults. A publisher makes a repository of real files with offline root keys
// (threshold 2), a delegated role and succinct hash bins; a mirror serves it on 127.0.0.1; a
// fresh client pins the first root, refreshes and downloads verified targets, printing what it
// checked at each step; then a malicious mirror and a frozen mirror are refused, and a second
// release with a root rotation is picked up.
import type { Command } from 'commander';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create as createTar } from 'tar';
import { generateEd25519, type Signer } from '../../crypto/signer.js';
import { writeKeyFile } from '../../crypto/key-file.js';
import { CairnError } from '../../errors/index.js';
import {
  addTargets, collectTargetSources, delegatePaths, delegateSuccinct, initRepository, publish, rotateRoot,
} from '../../repo/index.js';
import { startStaticServer, type RunningServer } from '../../server/static-server.js';
import { Updater, type RefreshReport } from '../../tuf/index.js';
import type { Output } from '../output.js';
import type { CliContext } from './types.js';

const PROJECT_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

interface DemoOptions {
  dir?: string;
  keep: boolean;
}

interface DemoSummary {
  workDir: string;
  mirror: string;
  downloaded: Array<{ target: string; length: number; sha256: string }>;
  refused: Array<{ attack: string; code: string }>;
  secondRelease: { rootVersions: number[]; target: string };
}

export function register(program: Command, context: CliContext): void {
  program
    .command('demo')
    .description('run the whole flow locally: publish a repository, serve it, verify downloads, refuse attacks')
    .option('--dir <dir>', 'work directory (default: a new temporary directory)')
    .option('--keep', 'keep the work directory afterwards', false)
    .action(async (opts: DemoOptions) => {
      const out = context.output();
      const workDir = opts.dir ? resolve(opts.dir) : await mkdtemp(join(tmpdir(), 'cairn-demo-'));
      try {
        const summary = await runDemo(workDir, out);
        out.result(summary, [
          '',
          `demo finished: ${summary.downloaded.length} targets verified and installed, ${summary.refused.length} attacks refused.`,
          opts.keep || opts.dir ? `work directory kept: ${workDir}` : 'work directory removed (use --keep to look at it).',
        ]);
      } finally {
        if (!opts.keep && !opts.dir) await rm(workDir, { recursive: true, force: true });
      }
    });
}

async function runDemo(work: string, out: Output): Promise<DemoSummary> {
  const say = (line = ''): void => out.info(line);
  const step = (title: string): void => say(`\n== ${title}`);

  step('1. publisher: keys');
  const keys = { root: [key(), key()], targets: key(), snapshot: key(), timestamp: key(), apps: key(), bins: key() };
  await mkdir(join(work, 'keys'), { recursive: true });
  for (const [name, k] of Object.entries(keys)) {
    for (const [i, one] of (Array.isArray(k) ? k : [k]).entries()) {
      const file = join(work, 'keys', `${name}${Array.isArray(k) ? `-${i + 1}` : ''}.json`);
      await writeKeyFile(file, one.privateKey);
      say(`  ${file.slice(work.length + 1).padEnd(20)} Ed25519 ${one.signer.keyid.slice(0, 16)}  (mode 0600)`);
    }
  }

  step('2. publisher: a repository of real files');
  const repo = join(work, 'repo');
  const signer = (k: { signer: Signer }): Signer => k.signer;
  await initRepository(repo, {
    roles: {
      root: { keys: keys.root.map((k) => k.signer.publicKey), threshold: 2 },
      targets: { keys: [keys.targets.signer.publicKey], threshold: 1 },
      snapshot: { keys: [keys.snapshot.signer.publicKey], threshold: 1 },
      timestamp: { keys: [keys.timestamp.signer.publicKey], threshold: 1 },
    },
    signers: [...keys.root.map(signer), signer(keys.targets)],
  });
  say('  root: 2 offline keys, threshold 2; targets, snapshot, timestamp: one key each; consistent snapshots');
  await delegatePaths(repo, 'apps', ['apps/*/*'], { keys: [keys.apps.signer.publicKey], threshold: 1, terminating: true, signers: [signer(keys.targets), signer(keys.apps)] });
  await delegateSuccinct(repo, 'apps-bin', 4, { from: 'apps', keys: [keys.bins.signer.publicKey], threshold: 1, signers: [signer(keys.apps), signer(keys.bins)] });
  say('  targets delegates apps/*/* to role "apps" (terminating); apps spreads its targets over 16 succinct hash bins (TAP 15)');

  const src = join(work, 'release-1');
  await mkdir(join(src, 'apps', 'cairn'), { recursive: true });
  await createTar({ gzip: true, portable: true, mtime: new Date(0), cwd: PROJECT_ROOT, file: join(src, 'apps', 'cairn', 'cairn-src.tar.gz') }, ['src']);
  await cp(join(PROJECT_ROOT, 'README.md'), join(src, 'README.md'));
  await cp(join(PROJECT_ROOT, 'docs', 'architecture.md'), join(src, 'apps', 'cairn', 'architecture.md'));
  await cp(join(PROJECT_ROOT, 'package.json'), join(src, 'apps', 'cairn', 'package.json'));
  const { sources } = await collectTargetSources([src], { baseDir: src });
  const { added } = await addTargets(repo, sources, {
    custom: { release: '1' },
    signers: [signer(keys.targets), signer(keys.apps), signer(keys.bins)],
  });
  for (const t of added) say(`  added ${t.path.padEnd(32)} ${String(t.length).padStart(8)} bytes -> role ${t.role}`);
  const first = await publish(repo, { signers: [signer(keys.snapshot), signer(keys.timestamp)] });
  say(`  published: root v${first.rootVersion}, snapshot v${first.snapshotVersion}, timestamp v${first.timestampVersion}, ${first.published.length} roles, ${first.targetFiles} target files`);

  step('3. mirror: serve repo/public read-only on loopback');
  const mirror = await startStaticServer({ root: join(repo, 'public') });
  const servers: RunningServer[] = [mirror];
  try {
    say(`  ${mirror.url}  (mirrors are untrusted: the client checks everything)`);

    step('4. client: pin the first root, refresh, download');
    const clientDir = join(work, 'client');
    const rootV1 = await readFile(join(repo, 'public', 'metadata', '1.root.json'));
    await Updater.initTrustedRoot(join(clientDir, 'metadata'), rootV1);
    say('  trust anchor: 1.root.json (self-signed by 2 of 2 root keys)');
    const client = (url: string): Updater =>
      new Updater({ metadataDir: join(clientDir, 'metadata'), metadataBaseUrl: `${url}/metadata`, targetBaseUrl: `${url}/targets`, targetDir: join(clientDir, 'targets') });
    const updater = client(mirror.url);
    printRefresh(say, await updater.refresh());
    const downloaded: DemoSummary['downloaded'] = [];
    for (const t of added) {
      const info = await updater.getTargetInfo(t.path);
      if (!info) throw new Error(`demo: ${t.path} not found`);
      const path = await updater.downloadTarget(info);
      downloaded.push({ target: t.path, length: info.length, sha256: info.hashes.sha256! });
      say(`  ok  ${t.path.padEnd(32)} found via ${t.role === 'targets' ? 'targets' : `targets -> apps -> ${t.role}`}; length ${info.length} and sha256 ${info.hashes.sha256!.slice(0, 12)} verified -> ${path.slice(work.length + 1)}`);
    }

    step('5. attacks: a malicious mirror and a frozen mirror');
    const before = await fingerprint(clientDir);
    const refused: DemoSummary['refused'] = [];
    const evil = join(work, 'evil-mirror');
    await cp(join(repo, 'public'), evil, { recursive: true });
    const tarball = added.find((t) => t.path.endsWith('.tar.gz'))!;
    const evilFile = join(evil, 'targets', 'apps', 'cairn', `${tarball.sha256}.cairn-src.tar.gz`);
    const bytes = await readFile(evilFile);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    await writeFile(evilFile, bytes);
    const evilServer = await startStaticServer({ root: evil });
    servers.push(evilServer);
    const attempt = async (attack: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
        throw new Error(`demo: the client accepted ${attack}`);
      } catch (e) {
        if (!(e instanceof CairnError)) throw e;
        refused.push({ attack, code: e.code });
        say(`  refused  ${attack}: [${e.code}] ${e.message}`);
      }
    };
    await attempt('a tarball with one byte flipped', async () => {
      const u = client(evilServer.url);
      await u.downloadTarget((await u.getTargetInfo(tarball.path))!, join(clientDir, 'evil-download'));
    });
    await attempt('a freeze (the same metadata replayed 30 days later)', () =>
      new Updater({ metadataDir: join(clientDir, 'metadata'), metadataBaseUrl: `${mirror.url}/metadata`, now: () => new Date(Date.now() + 30 * 86_400_000) }).refresh(),
    );
    const timestampPath = join(evil, 'metadata', 'timestamp.json');
    const forged = JSON.parse(await readFile(timestampPath, 'utf8')) as { signed: { version: number } };
    forged.signed.version += 1;
    await writeFile(timestampPath, JSON.stringify(forged));
    await attempt('a timestamp altered after signing', () => client(evilServer.url).refresh());
    if ((await fingerprint(clientDir)) !== before) throw new Error('demo: a refused attack changed the client\'s files');
    say('  checked: the client\'s trusted metadata and installed files are byte-identical to before the attacks');

    step('6. second release with a root rotation');
    const newRoot = [key(), key()];
    await rotateRoot(repo, { roles: { root: { keys: newRoot.map((k) => k.signer.publicKey), threshold: 2 } }, signers: [...keys.root, ...newRoot].map(signer) });
    say('  root v2: new root keys, signed by 2 of 2 old AND 2 of 2 new root keys');
    const src2 = join(work, 'release-2');
    await mkdir(join(src2, 'apps', 'cairn'), { recursive: true });
    await writeFile(join(src2, 'apps', 'cairn', 'CHANGES.txt'), 'release 2: rotated root keys\n');
    const second = await addTargets(repo, (await collectTargetSources([src2], { baseDir: src2 })).sources, { custom: { release: '2' }, signers: [signer(keys.bins)] });
    await publish(repo, { signers: [signer(keys.snapshot), signer(keys.timestamp)] });
    const next = client(mirror.url);
    const report = await next.refresh();
    printRefresh(say, report);
    const changes = second.added[0]!;
    const info = (await next.getTargetInfo(changes.path))!;
    await next.downloadTarget(info);
    say(`  ok  ${changes.path}: verified with the rotated root`);

    return {
      workDir: work,
      mirror: mirror.url,
      downloaded,
      refused,
      secondRelease: { rootVersions: report.rootVersions, target: changes.path },
    };
  } finally {
    for (const s of servers) await s.close();
  }
}

/** SHA-256 over every file name and content under `dir`, to show that a refusal wrote nothing. */
async function fingerprint(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const entries = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  for (const e of entries.map((x) => join(x.parentPath, x.name)).sort()) hash.update(e).update(await readFile(e));
  return hash.digest('hex');
}

function key(): ReturnType<typeof generateEd25519> {
  return generateEd25519();
}

function printRefresh(say: (line: string) => void, report: RefreshReport): void {
  say(`  refresh at ${report.referenceTime}:`);
  for (const s of report.steps) say(`    ok  ${s}`);
}
