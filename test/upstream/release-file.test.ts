// test/upstream/release-file.test.ts: an archive's InRelease file, verified (docs/upstream.md
// "Release file"): keys and signatures made here with openpgp, each attack refused with its code;
// and the real release file of the archive this machine's apt names, against the machine's keyring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { readKeyring, sourceArchives, UpstreamError, verifyInRelease } from '../../src/upstream/index.js';

const NOW = new Date('2026-07-12T00:00:00Z');

async function keyPair(name: string, options: { keyExpirationTime?: number; date?: Date } = {}): Promise<{ privateKey: openpgp.PrivateKey; publicKey: openpgp.PublicKey }> {
  const { privateKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name }], format: 'object', date: options.date ?? new Date('2026-01-01T00:00:00Z'), ...(options.keyExpirationTime === undefined ? {} : { keyExpirationTime: options.keyExpirationTime }) });
  return { privateKey, publicKey: privateKey.toPublic() };
}

const archive = await keyPair('Test Archive Automatic Signing Key');
const stranger = await keyPair('Someone Else');

function releaseText(fields: Record<string, string> = {}): string {
  const all: Record<string, string> = {
    Origin: 'Test', Suite: 'stable', Codename: 'bookworm', Date: 'Sat, 11 Jul 2026 10:16:37 UTC',
    'Acquire-By-Hash': 'yes',
    SHA256: `\n ${'a'.repeat(64)} 1234 main/source/Sources.gz\n ${'b'.repeat(64)} 99 main/source/Sources`,
    ...fields,
  };
  return Object.entries(all).filter(([, v]) => v !== '').map(([k, v]) => `${k}: ${v}`).join('\n') + '\n';
}

async function clearsign(text: string, ...keys: openpgp.PrivateKey[]): Promise<string> {
  return openpgp.sign({ message: await openpgp.createCleartextMessage({ text }), signingKeys: keys, date: new Date('2026-07-11T10:16:37Z') });
}

async function refused(file: string, code: string, pattern: RegExp, check: Partial<Parameters<typeof verifyInRelease>[1]> = {}): Promise<void> {
  await assert.rejects(verifyInRelease(file, { keys: [archive.publicKey], now: NOW, suite: 'bookworm', ...check }, 'InRelease'), (e: unknown) => {
    assert.ok(e instanceof UpstreamError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

test('a release file signed by the archive key verifies: its dates and the files it lists come from the signed text only', async () => {
  const file = await clearsign(releaseText(), archive.privateKey);
  const release = await verifyInRelease(file, { keys: [archive.publicKey], now: NOW, suite: 'bookworm' }, 'InRelease');
  assert.equal(release.date.toISOString(), '2026-07-11T10:16:37.000Z');
  assert.equal(release.byHash, true);
  assert.deepEqual(release.files.get('main/source/Sources.gz'), { sha256: 'a'.repeat(64), size: 1234, name: 'main/source/Sources.gz' });
  assert.deepEqual(release.signers, [archive.publicKey.getFingerprint()]);
  // Signed also by a key the keyring lacks (an archive signs with several): that one is left aside.
  const both = await verifyInRelease(await clearsign(releaseText(), archive.privateKey, stranger.privateKey), { keys: [archive.publicKey], now: NOW, suite: 'stable' }, 'InRelease');
  assert.deepEqual(both.signers, [archive.publicKey.getFingerprint()]);
});

test('a release file with a forged signature, or one by a key not in the keyring, or by a key expired or revoked since, is BAD_SIGNATURE', async () => {
  const file = await clearsign(releaseText(), archive.privateKey);
  await refused(file.replace('Codename: bookworm', 'Codename: bookwork'), 'BAD_SIGNATURE', /no signature that verifies/);
  await refused(file.replace('1234 main/source/Sources.gz', '1235 main/source/Sources.gz'), 'BAD_SIGNATURE', /no signature that verifies/);
  await refused(await clearsign(releaseText(), stranger.privateKey), 'BAD_SIGNATURE', /not in the keyring/);
  const shortLived = await keyPair('Expired Archive Key', { keyExpirationTime: 3600 * 24 * 30 });
  // Signed while the key was valid (January), checked in July, after it expired: an expired key vouches for nothing now.
  const signedInJanuary = await openpgp.sign({ message: await openpgp.createCleartextMessage({ text: releaseText({ Date: 'Sat, 10 Jan 2026 10:00:00 UTC' }) }), signingKeys: shortLived.privateKey, date: new Date('2026-01-10T10:00:00Z') });
  const inJanuary = await verifyInRelease(signedInJanuary, { keys: [shortLived.publicKey], now: new Date('2026-01-11T00:00:00Z'), suite: 'bookworm' }, 'InRelease');
  assert.deepEqual(inJanuary.signers, [shortLived.publicKey.getFingerprint()], 'it verified while the key was valid');
  await assert.rejects(verifyInRelease(signedInJanuary, { keys: [shortLived.publicKey], now: NOW, suite: 'bookworm' }, 'InRelease'), (e: unknown) => e instanceof UpstreamError && e.code === 'BAD_SIGNATURE' && /expired/i.test(e.message));
  // Kept since an import and verified again ('recorded'): the key was valid when it signed, which is what counts then.
  const again = await verifyInRelease(signedInJanuary, { keys: [shortLived.publicKey], now: NOW, suite: 'bookworm', source: 'recorded' }, 'InRelease');
  assert.deepEqual(again.signers, [shortLived.publicKey.getFingerprint()]);
  const { publicKey: revokedSince } = await openpgp.revokeKey({ key: shortLived.privateKey, date: new Date('2026-01-20T00:00:00Z'), format: 'object' });
  await assert.rejects(verifyInRelease(signedInJanuary, { keys: [revokedSince], now: NOW, suite: 'bookworm', source: 'recorded' }, 'InRelease'), (e: unknown) => e instanceof UpstreamError && e.code === 'BAD_SIGNATURE' && /revoked/i.test(e.message), 'but not once it is revoked');
  // A revoked archive key vouches for nothing either.
  const { publicKey: revoked } = await openpgp.revokeKey({ key: archive.privateKey, date: new Date('2026-07-11T12:00:00Z'), format: 'object' });
  await assert.rejects(verifyInRelease(await clearsign(releaseText(), archive.privateKey), { keys: [revoked], now: NOW, suite: 'bookworm' }, 'InRelease'), (e: unknown) => e instanceof UpstreamError && e.code === 'BAD_SIGNATURE' && /revoked/i.test(e.message));
});

test('text outside the signed part is UNSIGNED_TEXT: before the message, after it, a second message, a stray header, an extra armor line, text in the signature block, a bare CR', async () => {
  const file = await clearsign(releaseText(), archive.privateKey);
  await refused(`Valid-Until: Sat, 11 Jul 2099 10:16:37 UTC\n${file}`, 'UNSIGNED_TEXT', /first line/);
  await refused(`${file}SHA256:\n ${'c'.repeat(64)} 1 main/source/Sources\n`, 'UNSIGNED_TEXT', /on the last line/);
  await refused(file + file, 'UNSIGNED_TEXT', /found armor lines at 1, \d+, \d+, \d+/);
  // Any undashed armor line ends the text for openpgp: unsigned lines hidden after one, before the real signature block.
  const signatureAt = file.indexOf('-----BEGIN PGP SIGNATURE-----');
  const base64 = file.slice(signatureAt).split('\n').slice(2, -2).join('\n');
  await refused(`${file.slice(0, signatureAt)}-----FAKE-----\n${base64}\n-----BEGIN PGP SIGNATURE-----\n\nUNSIGNED: anything\n-----END PGP SIGNATURE-----\n`, 'UNSIGNED_TEXT', /armor lines/);
  await refused(file.replace('\n\n-----BEGIN PGP SIGNATURE-----', '\n\n-----BEGIN PGP SIGNATURE-----\n\nPackage: evil'), 'UNSIGNED_TEXT', /is not base64 of the signature/);
  await refused(file.replace('Codename: bookworm', 'Codename: bookworm\rValid-Until: Sat, 11 Jul 2099 10:16:37 UTC'), 'UNSIGNED_TEXT', /bare carriage return/);
  await refused(file.replace('Hash: SHA512\n', 'Hash: SHA512\nComment: not signed\n'), 'UNSIGNED_TEXT', /expected a Hash header/);
});

test('dates: a Valid-Until passed is EXPIRED, a Date in the future is EXPIRED, a Date older than the last seen is DATE_ROLLBACK; another suite\'s file is MALFORMED', async () => {
  await refused(await clearsign(releaseText({ 'Valid-Until': 'Sat, 11 Jul 2026 12:00:00 UTC' }), archive.privateKey), 'EXPIRED', /valid until 2026-07-11T12:00:00/);
  await refused(await clearsign(releaseText({ Date: 'Sun, 12 Jul 2026 01:00:00 UTC' }), archive.privateKey), 'EXPIRED', /in the future/);
  await refused(await clearsign(releaseText(), archive.privateKey), 'DATE_ROLLBACK', /older than the release file of Test bookworm seen before/, { lastSeen: (name) => (name === `Test bookworm ${archive.publicKey.getFingerprint()}` ? new Date('2026-07-11T11:00:00Z') : undefined) });
  // Seen under any key of the keyring: a file signed by another key of it, or stripped of that key's signature, is a rollback all the same.
  const second = await keyPair('Second Archive Key');
  await refused(await clearsign(releaseText(), second.privateKey), 'DATE_ROLLBACK', /older than the release file of Test bookworm seen before/, { keys: [archive.publicKey, second.publicKey], lastSeen: (name) => (name === `Test bookworm ${archive.publicKey.getFingerprint()}` ? new Date('2026-07-11T11:00:00Z') : undefined) });
  await refused(await clearsign(releaseText({ Suite: 'oldstable', Codename: 'bullseye' }), archive.privateKey), 'MALFORMED', /bullseye, not of bookworm/);
  await refused(await clearsign(releaseText({ Date: '11 Jul 2026' }), archive.privateKey), 'MALFORMED', /expected a date like/);
  // The same file, seen at that Date already: not a rollback.
  const same = await verifyInRelease(await clearsign(releaseText(), archive.privateKey), { keys: [archive.publicKey], now: NOW, suite: 'bookworm', lastSeen: () => new Date('2026-07-11T10:16:37Z') }, 'InRelease');
  assert.equal(same.date.getTime(), new Date('2026-07-11T10:16:37Z').getTime());
});

test('the release file of the archive apt names verifies against the machine\'s keyring (real data)', async () => {
  const [first] = await sourceArchives();
  assert.ok(first !== undefined);
  const keyring = 'files' in first.keyring ? await readKeyring(await Promise.all(first.keyring.files.map(async (f) => ({ bytes: await readFile(f), what: f })))) : await readKeyring([{ bytes: Buffer.from(first.keyring.inline), what: first.origin }]);
  const response = await fetch(`${first.uri}/dists/${first.suite}/InRelease`, { signal: AbortSignal.timeout(60_000) });
  assert.equal(response.status, 200, `${first.uri}/dists/${first.suite}/InRelease`);
  const release = await verifyInRelease(await response.text(), { keys: keyring, now: new Date(), suite: first.suite }, `${first.suite} InRelease`);
  assert.ok(release.signers.length > 0);
  assert.ok([...release.files.keys()].some((p) => /source\/Sources/.test(p)), 'it lists a source index');
});
