// Tests for crypto/key-file.ts: private keys stay private (0600, encrypted at rest on request),
// and a wrong passphrase, an altered file or loose permissions are refused with typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat, readFile, writeFile, chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateEd25519, writeKeyFile, loadSigner, verifySignature, KeyError } from '../../src/crypto/index.js';
import { withTempDir } from '../fixtures/temp-dir.js';

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('key', fn);

test('writes key files with mode 0600 and loads a signer that signs verifiably', { timeout: 10_000 }, () =>
  withDir(async (dir) => {
    const { privateKey, signer } = generateEd25519();
    const path = join(dir, 'k.json');
    await writeKeyFile(path, privateKey);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const loaded = await loadSigner(path);
    assert.equal(loaded.keyid, signer.keyid);
    const sig = loaded.sign(Buffer.from('hello'));
    assert.ok(verifySignature(signer.publicKey, Buffer.from('hello'), sig));
    assert.ok(!verifySignature(signer.publicKey, Buffer.from('hellO'), sig));
  }));

test('an encrypted key file holds no plaintext key and refuses a wrong passphrase', { timeout: 20_000 }, () =>
  withDir(async (dir) => {
    const { privateKey, signer } = generateEd25519();
    const path = join(dir, 'k.json');
    await writeKeyFile(path, privateKey, 'correct horse');
    const text = await readFile(path, 'utf8');
    const plain = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    assert.ok(!text.includes(plain));
    await assert.rejects(loadSigner(path, 'wrong'), (e) => e instanceof KeyError && e.code === 'BAD_PASSPHRASE');
    await assert.rejects(loadSigner(path), (e) => e instanceof KeyError && e.code === 'PASSPHRASE_REQUIRED');
    assert.equal((await loadSigner(path, 'correct horse')).keyid, signer.keyid);
  }));

test('refuses a key file whose claimed key ID does not match its key (swapped key)', { timeout: 10_000 }, () =>
  withDir(async (dir) => {
    const a = generateEd25519();
    const b = generateEd25519();
    const path = join(dir, 'k.json');
    await writeKeyFile(path, a.privateKey);
    const file = JSON.parse(await readFile(path, 'utf8')) as { keyid: string };
    file.keyid = b.signer.keyid;
    await writeFile(path, JSON.stringify(file), { mode: 0o600 });
    await assert.rejects(loadSigner(path), (e) => e instanceof KeyError && e.code === 'BAD_KEY_FILE');
  }));

test('refuses a private key readable by group or others', { timeout: 10_000 }, () =>
  withDir(async (dir) => {
    const { privateKey } = generateEd25519();
    const path = join(dir, 'k.json');
    await writeKeyFile(path, privateKey);
    await chmod(path, 0o644);
    await assert.rejects(loadSigner(path), (e) => e instanceof KeyError && e.code === 'INSECURE_PERMISSIONS');
  }));

test('refuses hostile key files: oversized, not a regular file, extra fields, excessive scrypt parameters', { timeout: 10_000 }, () =>
  withDir(async (dir) => {
    const { privateKey } = generateEd25519();
    const path = join(dir, 'k.json');
    await writeKeyFile(path, privateKey, 'pass');
    const good = JSON.parse(await readFile(path, 'utf8')) as { encryption: { N: number }; extra?: number };
    const refused = async (file: string, code: string, fragment: RegExp): Promise<void> => {
      await assert.rejects(loadSigner(file, 'pass'), (e) => e instanceof KeyError && e.code === code && fragment.test(e.message));
    };
    const big = join(dir, 'big.json');
    await writeFile(big, ' '.repeat(70 * 1024), { mode: 0o600 });
    await refused(big, 'BAD_KEY_FILE', /is 71680 bytes, the limit is 65536/);
    const folder = join(dir, 'folder.json');
    await mkdir(folder, { mode: 0o700 });
    await refused(folder, 'BAD_KEY_FILE', /not a regular file/);
    // Before any passphrase work: scrypt with N = 2^30 would take gigabytes of memory.
    await writeFile(path, JSON.stringify({ ...good, encryption: { ...good.encryption, N: 2 ** 30 } }), { mode: 0o600 });
    await refused(path, 'BAD_KEY_FILE', /encryption.N must be an integer from 2 to 1048576/);
    await writeFile(path, JSON.stringify({ ...good, extra: 1 }), { mode: 0o600 });
    await refused(path, 'BAD_KEY_FILE', /unexpected field "extra"/);
    await writeFile(path, JSON.stringify({ ...good, keyid: 5 }), { mode: 0o600 });
    await refused(path, 'BAD_KEY_FILE', /keyid must be 32 bytes of lowercase hex/);
  }));
