// test/client/helpers.ts: shared set-up of the witnessed-client tests: a TUF repository with a
// skipchain over its states (test/fixtures/witnessed-repository.ts) served over real HTTP on
// 127.0.0.1, a fresh client directory holding the repository's first root and a log anchor, and
// an assertion that a refused refresh left every trusted file (TUF files and log/ anchor files)
// byte-identical.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { initLogAnchor, WitnessedUpdater, type WitnessedUpdaterOptions } from '../../src/client/index.js';
import { Updater } from '../../src/tuf/index.js';
import { SimulatorServer } from '../fixtures/repository-simulator.js';
import { WitnessedRepository, type WitnessedRepositoryOptions } from '../fixtures/witnessed-repository.js';
import { TEST_FETCH_LIMITS } from '../tuf/helpers.js';

export interface WitnessedFixture {
  repo: WitnessedRepository;
  server: SimulatorServer;
  dir: string;
  metadataDir: string;
  targetDir: string;
  /** Stores root v1 and pins the genesis block (by hash only, or with its bytes). */
  init(options?: { withBlock?: boolean }): Promise<void>;
  client(options?: Partial<WitnessedUpdaterOptions>): WitnessedUpdater;
  close(): Promise<void>;
}

export async function setupWitnessed(options: WitnessedRepositoryOptions = {}): Promise<WitnessedFixture> {
  const repo = await WitnessedRepository.create(options);
  const server = await new SimulatorServer(repo.sim).start();
  const dir = await mkdtemp(join(tmpdir(), 'cairn-client-'));
  const metadataDir = join(dir, 'metadata');
  const targetDir = join(dir, 'targets');
  return {
    repo,
    server,
    dir,
    metadataDir,
    targetDir,
    init: async (o = {}) => {
      await Updater.initTrustedRoot(metadataDir, repo.sim.rootHistory.get(1)!);
      await initLogAnchor(metadataDir, { hash: repo.genesisHash, ...(o.withBlock ? { block: repo.blockBytes(0) } : {}) });
    },
    client: (o = {}) =>
      new WitnessedUpdater({
        metadataDir,
        metadataBaseUrl: server.metadataUrl,
        targetBaseUrl: server.targetsUrl,
        targetDir,
        ...o,
        config: { fetchLimits: TEST_FETCH_LIMITS, ...(o.config ?? {}) },
      }),
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every file under `dir`, recursively, by relative path, with its bytes. */
export async function treeContents(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(d, e.name);
      if (e.isDirectory()) await walk(path);
      else out.set(relative(dir, path), await readFile(path));
    }
  };
  await walk(dir);
  return out;
}

/**
 * Asserts that `action` fails with an error of `type` and `code` and that nothing under `dir`
 * changed, except the files named in `advanced` (documents that TUF verified and the log
 * witnessed before a later step refused), which may have changed or appeared.
 */
export async function assertRefused(
  dir: string,
  action: () => Promise<unknown>,
  type: abstract new (...args: never[]) => Error,
  code: string,
  advanced: readonly string[] = [],
): Promise<Error> {
  const before = await treeContents(dir);
  let caught: Error | undefined;
  await assert.rejects(action, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    assert.equal((e as { code?: string }).code, code, String(e));
    caught = e as Error;
    return true;
  });
  const after = await treeContents(dir);
  const keys = (m: Map<string, Buffer>): string[] => [...m.keys()].filter((k) => !advanced.includes(k));
  assert.deepEqual(keys(after), keys(before), 'files in the metadata directory changed');
  for (const [name, bytes] of before) {
    if (!advanced.includes(name)) assert.ok(bytes.equals(after.get(name)!), `${name} changed`);
  }
  return caught!;
}

export const T = { timeout: 60_000 };

/**
 * Releases the targets once more and witnesses the release, but leaves the mirror serving the
 * previous timestamp (and so the previous snapshot): a publish window, as the publisher writes
 * log/head.json before the TUF files (docs/protocol.md section 9).
 */
export async function witnessWithTufFilesBehind(f: WitnessedFixture): Promise<void> {
  const oldTimestamp = f.repo.sim.files.get('metadata/timestamp.json')!;
  f.repo.sim.release('targets');
  await f.repo.witness();
  f.repo.sim.files.set('metadata/timestamp.json', oldTimestamp);
}
