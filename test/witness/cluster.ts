// test/witness/cluster.ts: real witness processes for the cothority tests: each witness is a
// separate `cairn witness serve` process on 127.0.0.1 (bin/cairn.js), created with initWitness
// and stopped with SIGTERM (graceful) or SIGKILL (a crash). Also a publisher repository with key
// files, so tests can drive the CLI (`cairn log`, `cairn repo publish`) as an operator would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { writeKeyFile, type Signer } from '../../src/crypto/index.js';
import { addTargets, initRepository, publish } from '../../src/repo/index.js';
import { initWitness, WITNESS_FILES, type ChainPin, type RequestRate } from '../../src/witness/index.js';
import { CAIRN_BIN } from '../fixtures/cairn-process.js';
import { freePorts } from '../fixtures/free-ports.js';

export interface WitnessProcess {
  name: string;
  dir: string;
  port: number;
  url: string;
  /** Lines the witness printed (its decisions). */
  lines: string[];
  running(): boolean;
  /** Starts (or restarts) the process and waits until it listens. */
  start(): Promise<void>;
  /** Stops it with `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function witnessProcess(name: string, dir: string, port: number): WitnessProcess {
  let child: ChildProcess | undefined;
  const lines: string[] = [];
  const url = `http://127.0.0.1:${port}`;
  return {
    name, dir, port, url, lines,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    start: () => new Promise<void>((resolve, reject) => {
      const c = spawn(process.execPath, [CAIRN_BIN, 'witness', 'serve', '--dir', dir, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      let buffer = '';
      const timer = setTimeout(() => reject(new Error(`witness ${name} did not start within 60 s`)), 60_000);
      c.stdout!.on('data', (d: Buffer) => {
        buffer += d.toString();
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          lines.push(line);
          if (line.includes('listening at')) {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      c.stderr!.on('data', (d: Buffer) => lines.push(`stderr: ${d.toString()}`));
      c.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`witness ${name} exited (${code ?? signal}) before listening: ${lines.join('\n')}`));
      });
    }),
    stop: (signal = 'SIGTERM') => new Promise<void>((resolve) => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill(signal);
    }),
  };
}

export interface Cluster {
  witnesses: WitnessProcess[];
  urls: string[];
  /** w1's key file: the publisher leads as w1 (`--leader-key`). */
  leaderKeyFile: string;
  stopAll(): Promise<void>;
}

/** The chain pin of witnesses serving the log of a repository whose single root key is `root` (publisherKeys). */
export function rootPin(keys: PublisherKeys): ChainPin {
  return { rootKeys: [keys.signers.root.publicKey], threshold: 1 };
}

/** n witnesses w1..wn under `root`, each in its own process, serving the chain `chain` names. */
export async function startCluster(root: string, n: number, chain: ChainPin, rate?: RequestRate): Promise<Cluster> {
  const ports = await freePorts(n);
  const witnesses: WitnessProcess[] = [];
  for (let i = 0; i < n; i++) {
    const dir = join(root, `w${i + 1}`);
    await initWitness(dir, { name: `w${i + 1}`, address: `http://127.0.0.1:${ports[i]}`, chain, ...(rate ? { rate } : {}) });
    witnesses.push(witnessProcess(`w${i + 1}`, dir, ports[i]!));
  }
  const cluster = { witnesses, urls: witnesses.map((w) => w.url), leaderKeyFile: join(root, 'w1', WITNESS_FILES.key), stopAll: async () => void (await Promise.all(witnesses.map((w) => w.stop('SIGKILL')))) };
  try {
    // A few at a time: each start compiles and loads the CLI, and the machine may have 2 cores.
    for (let i = 0; i < witnesses.length; i += 4) await Promise.all(witnesses.slice(i, i + 4).map((w) => w.start()));
  } catch (e) {
    await cluster.stopAll();
    throw e;
  }
  return cluster;
}

export interface PublisherKeys {
  files: Record<'root' | 'targets' | 'snapshot' | 'timestamp', string>;
  signers: Record<'root' | 'targets' | 'snapshot' | 'timestamp', Signer>;
}

/** Key files for the four top-level roles under `dir`. */
export async function publisherKeys(dir: string): Promise<PublisherKeys> {
  const files = {} as PublisherKeys['files'];
  const signers = {} as PublisherKeys['signers'];
  for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const) {
    const path = join(dir, `${role}-key.json`);
    signers[role] = await writeKeyFile(path, generateKeyPairSync('ed25519').privateKey);
    files[role] = path;
  }
  return { files, signers };
}

/** A repository with one published state (root, targets, snapshot, timestamp v1). */
export async function publishedRepo(dir: string, keys: PublisherKeys): Promise<void> {
  const role = (r: keyof PublisherKeys['signers']): { keys: Signer['publicKey'][]; threshold: number } => ({ keys: [keys.signers[r].publicKey], threshold: 1 });
  await initRepository(dir, {
    roles: { root: role('root'), targets: role('targets'), snapshot: role('snapshot'), timestamp: role('timestamp') },
    signers: [keys.signers.root, keys.signers.targets],
  });
  await publish(dir, { signers: [keys.signers.snapshot, keys.signers.timestamp] });
}

/** Stages one new target file (signed by the targets key). */
export async function stageTarget(dir: string, keys: PublisherKeys, name: string, content: string): Promise<void> {
  const file = join(dir, `..`, `${name}.src`);
  await writeFile(file, content);
  await addTargets(dir, [{ file, path: `app/${name}` }], { signers: [keys.signers.targets] });
}

export async function tempRoot(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
