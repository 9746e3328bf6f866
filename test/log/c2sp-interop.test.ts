// test/log/c2sp-interop.test.ts: cairn's RFC 6962 tree and C2SP checkpoint notes checked by an
// independent implementation, Go's golang.org/x/mod/sumdb (tlog, note) from Debian's packages
// (test/log/c2sp-check.go): the same root hashes for every size, the same inclusion and
// consistency proofs (and tlog accepts cairn's), tlog's tile reader proving from cairn's tiles,
// note.Open verifies a checkpoint cairn signed, and
// cairn verifies one Go signed. Skipped, with the install command, where Go or the package is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateEd25519 } from '../../src/crypto/index.js';
import {
  checkpointText, consistencyProof, formatNote, inclusionProof, leafHash, NOTE_SIGNATURE_TYPE, noteKeyId, parseCheckpoint, parseNote, signNoteText, treeHash, treeTiles, verifyNoteSignature,
} from '../../src/log/index.js';
import { needsTool } from '../fixtures/system-tools.js';

const GOPATH = '/usr/share/gocode';
const INSTALL = 'sudo apt-get install golang-go golang-golang-x-mod-dev';
const NEEDS_GO = needsTool('go', INSTALL).skip !== undefined ? needsTool('go', INSTALL)
  : process.env.CI === 'true' || existsSync(join(GOPATH, 'src/golang.org/x/mod/sumdb/tlog')) ? {} : { skip: `Go's x/mod is not installed; install it with: ${INSTALL}` };

test('Go\'s sumdb tlog and note agree with cairn: root hashes, proofs, and checkpoint notes both ways', { timeout: 300_000, ...NEEDS_GO }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-c2sp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const blocks = Array.from({ length: 21 }, (_, i) => createHash('sha256').update(`block ${i}`).digest());
  const leaves = blocks.map(leafHash);
  const b64 = (b: Buffer): string => b.toString('base64');
  const roots: Record<string, string> = {};
  const inclusion = [];
  const consistency = [];
  for (let n = 1; n <= blocks.length; n++) {
    roots[String(n)] = b64(treeHash(leaves, 0, n));
    for (let i = 0; i < n; i++) inclusion.push({ Index: i, Size: n, Proof: inclusionProof(leaves, i, n).map(b64) });
    for (let m = 1; m < n; m++) consistency.push({ First: m, Second: n, Proof: consistencyProof(leaves, m, n).map(b64) });
  }
  const origin = 'cairn.example/log';
  const log = generateEd25519();
  const publicKey = Buffer.from(log.signer.publicKey.keyval.public, 'hex');
  const text = checkpointText({ origin, size: blocks.length, rootHash: treeHash(leaves), extensions: [] });
  const note = formatNote({ text, signatures: [signNoteText(text, origin, log.signer)] });
  const vkey = `${origin}+${noteKeyId(origin, NOTE_SIGNATURE_TYPE.ed25519, publicKey).toString('hex')}+${b64(Buffer.concat([Buffer.from([NOTE_SIGNATURE_TYPE.ed25519]), publicKey]))}`;
  // Tiles of a tree with full and partial tiles at level 0 and a partial tile at level 1.
  const tileBlocks = Array.from({ length: 531 }, (_, i) => createHash('sha256').update(`tiled block ${i}`).digest());
  const tileDir = join(dir, 'log');
  for (const tile of treeTiles(tileBlocks)) {
    await mkdir(dirname(join(tileDir, tile.path)), { recursive: true });
    await writeFile(join(tileDir, tile.path), tile.bytes);
  }
  const input = join(dir, 'input.json');
  await writeFile(input, JSON.stringify({
    Leaves: blocks.map(b64), Roots: roots, Inclusion: inclusion, Consistency: consistency, Note: note, Vkey: vkey, Origin: origin,
    TileDir: tileDir, TileLeaves: tileBlocks.map(b64), TileRoot: b64(treeHash(tileBlocks.map(leafHash))),
  }));

  const program = fileURLToPath(new URL('./c2sp-check.go', import.meta.url));
  const run = spawnSync('go', ['run', program, input], {
    encoding: 'utf8', timeout: 240_000,
    env: { ...process.env, GO111MODULE: 'off', GOPATH, GOCACHE: join(dir, 'go-cache'), GOFLAGS: '' },
  });
  assert.equal(run.status, 0, `${run.stderr}${run.stdout}`);
  const fromGo = JSON.parse(run.stdout) as { note: string; vkey: string };
  // Go's note: its key from its verifier key (NAME+KEYID+base64(type || key)), verified by cairn.
  // A key name holds no "+"; the base64 key may.
  const [, name, keyId, key] = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(fromGo.vkey) as unknown as [string, string, string, string];
  const goKey = Buffer.from(key, 'base64');
  assert.equal(goKey[0], NOTE_SIGNATURE_TYPE.ed25519);
  assert.equal(noteKeyId(name, NOTE_SIGNATURE_TYPE.ed25519, goKey.subarray(1)).toString('hex'), keyId, 'the same key ID');
  const parsed = parseNote(fromGo.note);
  verifyNoteSignature(parsed, { name, publicKey: goKey.subarray(1) });
  assert.deepEqual(parseCheckpoint(parsed.text), { origin, size: blocks.length, rootHash: treeHash(leaves), extensions: [] });
});
