// test/cli/pack.test.ts: `cairn pack` (docs/packages.md): it writes the same archive as the
// package layer's packDirectory, prints what to publish, and turns a refused manifest into exit
// code 3 with the error's code under --json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COMMAND_GROUPS, main } from '../../src/cli/index.js';
import { packDirectory } from '../../src/package/index.js';
import { withTempDir } from '../fixtures/temp-dir.js';

const PACK_GROUP = COMMAND_GROUPS.find((g) => g.name === 'pack')!;
const T = { timeout: 60_000 };

const MANIFEST = { name: 'hello', version: '2.0.0', entryPoints: { hello: 'bin/hello' }, dependencies: {}, permissions: ['network:outbound:example.org:443'] };

/** Runs `cairn ARGV` in this process; returns its exit code and what it printed. */
async function cairn(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const write = { out: process.stdout.write, err: process.stderr.write };
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += chunk.toString()), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += chunk.toString()), true)) as typeof process.stderr.write;
  try {
    const code = await main(argv, [PACK_GROUP]);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
}

async function packageSource(dir: string, manifest: unknown = MANIFEST): Promise<string> {
  const src = join(dir, 'src');
  await mkdir(join(src, 'bin'), { recursive: true });
  await writeFile(join(src, 'bin', 'hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
  await writeFile(join(src, 'cairn-package.json'), JSON.stringify(manifest, null, 2));
  return src;
}

test('cairn pack writes the archive packDirectory writes and says how to publish it', T, () => withTempDir('cli-pack', async (dir) => {
  const src = await packageSource(dir);
  const human = await cairn(['pack', src, '--out', join(dir, 'hello.tar'), '--source-date-epoch', '1700000000']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^packed hello 2\.0\.0: .*hello\.tar, \d+ bytes, 3 entries, sha256 [0-9a-f]{64}$/m);
  assert.match(human.stdout, /^permission network:outbound:example\.org:443: send network traffic to example\.org port 443$/m);
  assert.match(human.stdout, /^next: cairn repo add-package REPO .* \(publishes it as packages\/hello\/hello-2\.0\.0\.tar/m);
  const expected = await packDirectory(src, join(dir, 'direct.tar'), { sourceDateEpoch: 1_700_000_000 });
  assert.ok((await readFile(join(dir, 'hello.tar'))).equals(await readFile(join(dir, 'direct.tar'))));

  const json = await cairn(['--json', 'pack', src, '--out', join(dir, 'again.tar'), '--source-date-epoch', '1700000000']);
  assert.equal(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout) as { sha256: string; target: string; custom: { cairnPackage: unknown } };
  assert.equal(doc.sha256, expected.sha256);
  assert.equal(doc.target, 'packages/hello/hello-2.0.0.tar');
  assert.deepEqual(doc.custom.cairnPackage, MANIFEST);
}));

test('cairn pack refuses a bad manifest with exit code 3 and its code', T, () => withTempDir('cli-pack', async (dir) => {
  const src = await packageSource(dir, { ...MANIFEST, version: 'v2' });
  const r = await cairn(['--json', 'pack', src, '--out', join(dir, 'x.tar')]);
  assert.equal(r.code, 3);
  assert.equal((JSON.parse(r.stdout) as { code: string }).code, 'BAD_MANIFEST');
}));
