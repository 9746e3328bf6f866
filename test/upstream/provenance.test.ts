// test/upstream/provenance.test.ts: an import verified again from its directory alone, as a
// witness does (docs/upstream.md "Verifying an import again"): after the archive is gone, with the
// verifier's own keyring; each recorded link tampered with is refused with its code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { importDebianSource, UpstreamError, verifyDebianProvenance, type DebianProvenance } from '../../src/upstream/index.js';
import { archiveKeys, serveFixtureArchive } from '../fixtures/debian-archive.js';

const keys = await archiveKeys();
const work = await mkdtemp(join(tmpdir(), 'cairn-provenance-'));
const imported = join(work, 'imported');
{
  const archive = await serveFixtureArchive(keys);
  await importDebianSource({ source: 'greeting', out: imported, seenReleasesFile: join(work, 'seen.json'), cacheDir: join(work, 'cache'), etcApt: archive.etcApt, now: new Date('2026-07-12T00:00:00Z') });
  await archive.close(); // the archive has moved on: everything below is offline
}
const archiveKeyring = [keys.archive.toPublic()];
test.after(() => rm(work, { recursive: true, force: true }));

let copies = 0;
/** A copy of the import, changed by `change` (which may rewrite provenance.json through `edit`). */
async function tampered(change: (dir: string, edit: (f: (p: DebianProvenance) => void) => Promise<void>) => Promise<void>): Promise<string> {
  const dir = join(work, `copy-${copies++}`);
  await cp(imported, dir, { recursive: true });
  await change(dir, async (f) => {
    const p = JSON.parse(await readFile(join(dir, 'provenance.json'), 'utf8')) as DebianProvenance;
    f(p);
    await writeFile(join(dir, 'provenance.json'), JSON.stringify(p));
  });
  return dir;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function refused(dir: string, code: string, pattern: RegExp, keyring = archiveKeyring): Promise<void> {
  await assert.rejects(verifyDebianProvenance(dir, { keys: keyring }), (e: unknown) => {
    assert.ok(e instanceof UpstreamError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

test('an import verifies again from its directory alone, the archive gone, with the archive\'s key; not with another keyring', async () => {
  const { provenance: p, signers } = await verifyDebianProvenance(imported, { keys: archiveKeyring });
  assert.equal(p.source, 'greeting');
  assert.deepEqual(signers, [keys.archive.getFingerprint()]);
  assert.ok('signer' in p.signature && p.signature.signer === keys.upstream.getFingerprint());
  await refused(imported, 'BAD_SIGNATURE', /not in the keyring/, [keys.stranger.toPublic()]);
});

test('each recorded link tampered with is refused: a file changed, a file and its record changed together, the release file, the key, the record of the signature, an unknown field, a link or FIFO for a file, a size over its cap, another origin', async () => {
  // The tarball changed: its bytes no longer match the record.
  await refused(await tampered(async (dir) => writeFile(join(dir, 'greeting_1.0.orig.tar.gz'), 'patched')), 'HASH_MISMATCH', /greeting_1\.0\.orig\.tar\.gz is 7 bytes/);
  // The tarball and its record changed together: not the tarball the signed index lists.
  await refused(await tampered(async (dir, edit) => {
    await writeFile(join(dir, 'greeting_1.0.orig.tar.gz'), 'patched');
    await edit((p) => Object.assign(p.upstream, { size: 7, sha256: sha256(Buffer.from('patched')) }));
  }), 'HASH_MISMATCH', /upstream tarball recorded .* is not the one the index lists/);
  // A release file of the attacker's, recorded as such: its signature is not the archive's.
  const forged = await openpgp.sign({ message: await openpgp.createCleartextMessage({ text: 'Suite: stable\nCodename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSHA256:\n' }), signingKeys: keys.stranger });
  await refused(await tampered(async (dir, edit) => {
    await writeFile(join(dir, 'InRelease'), forged);
    await edit((p) => Object.assign(p.release, { size: Buffer.byteLength(forged), sha256: sha256(Buffer.from(forged)) }));
  }), 'BAD_SIGNATURE', /not in the keyring/);
  // The upstream key replaced by the attacker's, and the tarball signed with it.
  const attackerKey = keys.stranger.toPublic().armor();
  await refused(await tampered(async (dir, edit) => {
    await writeFile(join(dir, 'upstream-signing-key.asc'), attackerKey);
    await edit((p) => {
      if ('key' in p.signature) Object.assign(p.signature.key, { size: Buffer.byteLength(attackerKey), sha256: sha256(Buffer.from(attackerKey)) });
    });
  }), 'BAD_SIGNATURE', /is not the debian\/upstream\/signing-key\.asc of greeting_1\.0-2\.debian\.tar\.gz/);
  // The signature's record removed: "the upstream signed nothing", where the index lists its signature.
  await refused(await tampered(async (_dir, edit) => edit((p) => Object.assign(p, { signature: { unsigned: true } }))), 'BAD_SIGNATURE', /says the upstream signed nothing, but the index lists its signature/);
  await refused(await tampered(async (_dir, edit) => edit((p) => Object.assign(p, { note: 'extra' }))), 'MALFORMED', /note/);
  // Files that are not what they say: a link to an endless device, a FIFO, a release file recorded over its kind's cap.
  await refused(await tampered(async (dir) => {
    await rm(join(dir, 'greeting_1.0.orig.tar.gz'));
    await symlink('/dev/zero', join(dir, 'greeting_1.0.orig.tar.gz'));
  }), 'NOT_FOUND', /cannot be read as a regular file/);
  await refused(await tampered(async (dir) => {
    await rm(join(dir, 'provenance.json'));
    spawnSync('mkfifo', [join(dir, 'provenance.json')]);
  }), 'NOT_FOUND', /provenance\.json cannot be read as a regular file/);
  await refused(await tampered(async (_dir, edit) => edit((p) => Object.assign(p.release, { size: 200_000_000 }))), 'MALFORMED', /release\.size/);
  // From another origin's archive than the check asks for.
  await assert.rejects(verifyDebianProvenance(imported, { keys: archiveKeyring, origin: 'Elsewhere' }), (e: unknown) => e instanceof UpstreamError && e.code === 'MALFORMED' && /not Elsewhere's/.test(e.message));
});
