// test/tuf/helpers.ts: shared set-up of the TUF client tests: a simulated repository served over
// real HTTP on 127.0.0.1, a fresh client directory with the repository's first root as trust
// anchor, and a way to assert that a refused update left metadataDir byte-identical.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Updater, type UpdaterConfig } from '../../src/tuf/index.js';
import { RepositorySimulator, SimulatorServer, type SimulatorOptions } from '../fixtures/repository-simulator.js';

/** Short slow-retrieval limits so attack tests finish fast. */
export const TEST_FETCH_LIMITS = { timeoutMs: 4_000, idleTimeoutMs: 600, minBytesPerSecond: 2_000, graceMs: 400 };

export interface Fixture {
  sim: RepositorySimulator;
  server: SimulatorServer;
  dir: string;
  metadataDir: string;
  targetDir: string;
  updater(options?: { config?: Partial<UpdaterConfig>; now?: () => Date; baseUrl?: string }): Updater;
  close(): Promise<void>;
}

export async function setup(options: SimulatorOptions = {}, prepare?: (sim: RepositorySimulator) => void): Promise<Fixture> {
  const sim = new RepositorySimulator(options);
  prepare?.(sim);
  const server = await new SimulatorServer(sim).start();
  const dir = await mkdtemp(join(tmpdir(), 'cairn-tuf-'));
  const metadataDir = join(dir, 'metadata');
  const targetDir = join(dir, 'targets');
  await Updater.initTrustedRoot(metadataDir, sim.rootHistory.get(1)!);
  return {
    sim,
    server,
    dir,
    metadataDir,
    targetDir,
    updater: (o = {}) =>
      new Updater({
        metadataDir,
        metadataBaseUrl: o.baseUrl ?? server.metadataUrl,
        targetBaseUrl: server.targetsUrl,
        targetDir,
        config: { fetchLimits: TEST_FETCH_LIMITS, ...(o.config ?? {}) },
        ...(o.now ? { now: o.now } : {}),
      }),
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every file in `dir` (not recursive) with its bytes. */
export async function dirContents(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) out.set(name, await readFile(join(dir, name)));
  return out;
}

/**
 * Asserts that `action` fails with an error of `type` and `code`, and `dir` did not change.
 * `advanced` names files that an earlier, fully verified step of the same refresh may legitimately
 * replace (the spec persists each document once verified: 5.4.5, 5.5.7); everything else, and
 * above all the attacked document, must stay byte-identical.
 */
export async function assertRefused(
  dir: string,
  action: () => Promise<unknown>,
  type: abstract new (...args: never[]) => Error,
  code: string,
  advanced: readonly string[] = [],
): Promise<void> {
  const before = await dirContents(dir);
  await assert.rejects(action, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    assert.equal((e as { code?: string }).code, code, String(e));
    return true;
  });
  const after = await dirContents(dir);
  assert.deepEqual([...after.keys()], [...before.keys()], 'files in metadataDir changed');
  for (const [name, bytes] of before) {
    if (!advanced.includes(name)) assert.ok(bytes.equals(after.get(name)!), `${name} changed`);
  }
}

export const T = { timeout: 20_000 };
