// test/rebuild/fixtures.ts: verifier and publisher keys as files, a repository workspace, and
// paths of the example programs, for the verified-build tests.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateEd25519, type Signer } from '../../src/crypto/signer.js';
import { writeKeyFile } from '../../src/crypto/key-file.js';
import { writePublicKeyFile } from '../../src/repo/index.js';
import { makeRepo } from '../repo/fixtures.js';

/** The real `cairn` executable (tests under test/cli have their own runner; lint keeps cli/ imports there). */
export const CAIRN_BIN = fileURLToPath(new URL('../../bin/cairn.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cairn ARGS` as a separate process with a time limit. */
export function runCli(args: string[], options: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cairn ${args.join(' ')} did not finish within ${options.timeoutMs ?? 30_000} ms`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

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
