// test/cli/log-roster-offline.test.ts: roster authorizations signed by root key holders on their
// own machines (docs/cli.md "Roster changes with offline root keys"; docs/protocol.md section 4),
// with real `cairn` processes and three witness processes on 127.0.0.1. The root role needs 2 of
// 3 keys. `log init --prepare` writes the request, two holders sign it with `log sign-roster`, the
// publisher merges the files; likewise for a roster change. Each attack is refused with its typed
// error before anything is written: one signature (below threshold), a signature by a key that is
// not a root key, the same holder's signature twice, a signature over another request, a request
// altered after it was signed, a signature file whose bytes are not the named key's signature,
// and a request the log has moved past.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { treeSnapshot } from '../repo/fixtures.js';
import { keyFile, type KeyFile } from '../rebuild/fixtures.js';
import { startCluster, tempRoot, type Cluster } from '../witness/cluster.js';
import { runCli, type CliResult } from '../fixtures/cairn-process.js';

const T = { timeout: 180_000 };
let root: { dir: string; cleanup: () => Promise<void> };
let cluster: Cluster | undefined;
let repo: string;
let holders: KeyFile[];
let notRoot: KeyFile;

const ok = (r: CliResult, what: string): void => assert.equal(r.code, 0, `${what}: ${r.stdout}\n${r.stderr}`);
const cli = (args: string[]): Promise<CliResult> => runCli(['--json', ...args], { timeoutMs: 60_000 });
const path = (name: string): string => join(root.dir, name);

/** Runs `args`, expects exit `code` with error `errorCode`, and that the workspace is unchanged. */
async function refused(args: string[], code: number, errorCode: string, message?: RegExp): Promise<{ message: string; hint?: string }> {
  const before = await treeSnapshot(repo);
  const r = await cli(args);
  assert.equal(r.code, code, `${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
  const err = JSON.parse(r.stdout) as { code: string; message: string; hint?: string };
  assert.equal(err.code, errorCode, err.message);
  if (message) assert.match(err.message, message);
  assert.deepEqual(await treeSnapshot(repo), before, 'nothing written');
  return err;
}

async function sign(request: string, holder: KeyFile, out: string): Promise<string> {
  ok(await cli(['log', 'sign-roster', request, '--key', holder.path, '--out', path(out)]), `sign-roster ${out}`);
  return path(out);
}

before(async () => {
  root = await tempRoot('cairn-roster-offline-');
  holders = await Promise.all(['root1', 'root2', 'root3'].map((n) => keyFile(root.dir, n)));
  notRoot = await keyFile(root.dir, 'other');
  const [targets, snapshot, timestamp] = await Promise.all(['targets', 'snapshot', 'timestamp'].map((n) => keyFile(root.dir, n)));
  repo = path('repo');
  ok(await cli(['repo', 'init', repo, ...holders.flatMap((h) => ['--root-key', h.pub]), '--root-threshold', '2', '--targets-key', targets!.pub,
    '--snapshot-key', snapshot!.pub, '--timestamp-key', timestamp!.pub, '--key', holders[0]!.path, '--key', holders[1]!.path, '--key', targets!.path]), 'repo init');
  ok(await cli(['repo', 'publish', repo, '--key', snapshot!.path, '--key', timestamp!.path]), 'publish');
  cluster = await startCluster(root.dir, 3, { rootKeys: holders.map((h) => h.signer.publicKey), threshold: 2 });
});

after(async () => {
  await cluster?.stopAll();
  await root?.cleanup();
});

test('log init and log roster with root keys kept offline: prepare, sign on each holder\'s machine, merge; forged, partial and stale authorizations refused', T, async () => {
  const [w1, w2, w3] = cluster!.urls as [string, string, string];
  const first = ['--witness', w1, '--witness', w2, '--threshold', '2'];

  // Without root keys the hint names the offline flow.
  const missing = await refused(['log', 'init', repo, ...first], 2, 'MISSING_ARGUMENT');
  assert.match(missing.hint ?? '', /cairn log init REPO|--prepare DOC/);
  assert.match(missing.hint ?? '', /cairn log sign-roster DOC --key ROOTKEY --out SIG/);
  await refused(['log', 'init', repo, ...first, '--prepare', path('x.json'), '--key', holders[0]!.path], 2, 'CONFLICT');

  const genesisRequest = path('genesis-request.json');
  const before = await treeSnapshot(repo);
  ok(await cli(['log', 'init', repo, ...first, '--prepare', genesisRequest]), 'log init --prepare');
  assert.deepEqual(await treeSnapshot(repo), before, '--prepare changes nothing in the workspace');
  const request = JSON.parse(await readFile(genesisRequest, 'utf8')) as { format: string; chain: string; index: number; roster: { threshold: number; witnesses: unknown[] } };
  assert.equal(request.format, 'cairn/roster-authorization-request/v1');
  // A genesis request names the repository by its root (no chain ID exists yet).
  assert.match(request.chain, /^genesis-of-root:[0-9a-f]{64}$/);
  assert.deepEqual([request.index, request.roster.threshold, request.roster.witnesses.length], [0, 2, 2]);

  const g1 = await sign(genesisRequest, holders[0]!, 'g1.sig');
  const g2 = await sign(genesisRequest, holders[1]!, 'g2.sig');
  const gOther = await sign(genesisRequest, notRoot, 'g-other.sig');
  const lead = ['--leader-key', cluster!.leaderKeyFile];
  const init = (sigs: string[]): string[] => ['log', 'init', repo, '--authorization', genesisRequest, ...sigs.flatMap((s) => ['--signature', s]), ...lead];
  await refused(init([g1]), 6, 'ROSTER_NOT_AUTHORIZED', /authorized by 1 root keys, the root role needs 2/);
  await refused(init([g1, g1]), 6, 'ROSTER_NOT_AUTHORIZED', /authorized by 1 root keys/);
  await refused(init([g1, gOther]), 6, 'ROSTER_NOT_AUTHORIZED', /is not a key of the root role in force/);
  // A signature file naming root key 2 whose signature is another key's.
  const forged = JSON.parse(await readFile(gOther, 'utf8')) as Record<string, unknown>;
  forged.keyid = holders[1]!.signer.keyid;
  await writeFile(path('g-forged.sig'), JSON.stringify(forged));
  await refused(init([g1, path('g-forged.sig')]), 6, 'ROSTER_NOT_AUTHORIZED', /does not verify/);

  // The same root key holders govern another repository: their genesis authorization of this
  // one does not start that one's log (witnesses pinned to their keys would follow it first).
  const other = path('other-repo');
  const otherTargets = await keyFile(root.dir, 'other-targets');
  ok(await cli(['repo', 'init', other, ...holders.flatMap((h) => ['--root-key', h.pub]), '--root-threshold', '2', '--targets-key', otherTargets.pub,
    '--snapshot-key', otherTargets.pub, '--timestamp-key', otherTargets.pub, '--key', holders[0]!.path, '--key', holders[1]!.path, '--key', otherTargets.path]), 'repo init other');
  ok(await cli(['repo', 'publish', other, '--key', otherTargets.path]), 'publish other');
  const otherBefore = await treeSnapshot(other);
  const crossed = await cli(['log', 'init', other, '--authorization', genesisRequest, '--signature', g1, '--signature', g2, ...lead]);
  assert.equal(crossed.code, 6, crossed.stdout + crossed.stderr);
  assert.equal((JSON.parse(crossed.stdout) as { code: string }).code, 'STALE_AUTHORIZATION');
  assert.deepEqual(await treeSnapshot(other), otherBefore, 'nothing written to the other repository');
  for (const url of cluster!.urls) assert.equal(((await (await fetch(`${url}/v1/info`)).json()) as { chain: string | null }).chain, null, 'no witness follows a chain');

  const created = await cli(init([g1, g2]));
  ok(created, 'log init --authorization');
  const genesis = (JSON.parse(created.stdout) as { genesis: string }).genesis;

  // A roster change: three witnesses.
  const changeRequest = path('change-request.json');
  ok(await cli(['log', 'roster', repo, '--witness', w1, '--witness', w2, '--witness', w3, '--threshold', '2', '--prepare', changeRequest]), 'log roster --prepare');
  const change = JSON.parse(await readFile(changeRequest, 'utf8')) as { chain: string; index: number };
  assert.deepEqual([change.chain, change.index], [genesis, 1]);
  const c1 = await sign(changeRequest, holders[0]!, 'c1.sig');
  const c3 = await sign(changeRequest, holders[2]!, 'c3.sig');
  const roster = (request: string, sigs: string[]): string[] => ['log', 'roster', repo, '--authorization', request, ...sigs.flatMap((s) => ['--signature', s]), ...lead];
  // A holder's signature over another request (the genesis one) does not count for this one.
  await refused(roster(changeRequest, [c1, g2]), 6, 'STALE_AUTHORIZATION', /not this request/);
  // The request altered after it was signed (threshold 1): the signatures cover the original.
  const altered = JSON.parse(await readFile(changeRequest, 'utf8')) as { roster: { threshold: number } };
  altered.roster.threshold = 1;
  await writeFile(path('altered-request.json'), JSON.stringify(altered));
  await refused(roster(path('altered-request.json'), [c1, c3]), 6, 'STALE_AUTHORIZATION', /not this request/);

  const changed = await cli(roster(changeRequest, [c1, c3]));
  ok(changed, 'log roster --authorization');
  assert.equal((JSON.parse(changed.stdout) as { index: number }).index, 1);
  const status = await cli(['log', 'status', repo]);
  ok(status, 'log status');
  assert.equal((JSON.parse(status.stdout) as { witnesses: unknown[] }).witnesses.length, 3);

  // The same authorization again: the log has moved past the block it names.
  await refused(roster(changeRequest, [c1, c3]), 6, 'STALE_AUTHORIZATION', /requests the roster of block 1 .* the log needs block 2/);
});
