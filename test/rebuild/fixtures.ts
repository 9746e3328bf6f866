// test/rebuild/fixtures.ts: verifier and publisher keys as files, a repository workspace, and
// paths of the example programs, for the verified-build tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateEd25519, type Signer, writeKeyFile } from '../../src/crypto/index.js';
import { writePublicKeyFile } from '../../src/repo/index.js';
import { makeRepo } from '../repo/fixtures.js';

export { CAIRN_BIN, runCli, type CliOptions, type CliResult } from '../fixtures/cairn-process.js';

export const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
export const EPOCH = 1_700_000_000;

export interface KeyFile {
  path: string;
  pub: string;
  signer: Signer;
}

export async function keyFile(dir: string, name: string): Promise<KeyFile> {
  const { privateKey, signer } = generateEd25519();
  const path = join(dir, `${name}.key`);
  await writeKeyFile(path, privateKey);
  await writePublicKeyFile(`${path}.pub.json`, signer.publicKey);
  return { path, pub: `${path}.pub.json`, signer };
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A repository workspace whose four top-level roles all use `publisher`'s key (threshold 1). */
export async function publisherRepo(dir: string, publisher: Signer): Promise<void> {
  await makeRepo(dir, { root: [publisher], targets: [publisher], snapshot: [publisher], timestamp: [publisher] });
}
