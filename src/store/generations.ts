// store/generations.ts: reading the generations of a store and which one is current
// (docs/store.md "Generations"; docs/design.md "Client store"), and switching ROOT/current
// with rename(2) of a fresh symlink over it, then fsync of ROOT.
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomSuffix, type DurableFs } from './durable-fs.js';
import { StoreError } from './errors.js';
import { STORE_LIMITS, currentLinkTarget, type StoreLayout } from './layout.js';
import { generationNumberOf, readGenerationManifest, type GenerationManifest } from './records.js';

/** A kept generation, as listed. */
export interface Generation extends GenerationManifest {
  /** True for the generation ROOT/current points to. */
  active: boolean;
  /** Its directory. */
  path: string;
}

/**
 * The number of the generation ROOT/current points to; undefined when there is no current link
 * (nothing activated yet). CORRUPT when it is not a symlink to generations/N.
 */
export async function readCurrentNumber(layout: StoreLayout): Promise<number | undefined> {
  let target: string;
  try {
    target = await readlink(layout.current);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EINVAL') throw new StoreError('CORRUPT', `${layout.current} is not a symlink (cairn switches generations by replacing that link)`);
    throw e;
  }
  const match = /^generations\/([1-9][0-9]{0,15})$/.exec(target);
  if (match === null) throw new StoreError('CORRUPT', `${layout.current} points to ${JSON.stringify(target.slice(0, 128))}, not to generations/N`);
  return Number(match[1]);
}

/** The numbers of the generation directories, ascending (other names are ignored here; verify reports them). */
export async function generationNumbers(layout: StoreLayout): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(layout.generations);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  if (names.length > STORE_LIMITS.maxGenerations) throw new StoreError('CORRUPT', `${layout.generations} holds ${names.length} entries, more than ${STORE_LIMITS.maxGenerations}`, { hint: 'remove old generations with cairn gc' });
  return names.map(generationNumberOf).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
}

export function generationPath(layout: StoreLayout, number: number): string {
  return join(layout.generations, String(number));
}

/** The manifest of generation `number`; UNKNOWN_GENERATION when it is not kept, CORRUPT when unreadable. */
export async function loadGeneration(layout: StoreLayout, number: number): Promise<GenerationManifest> {
  const manifest = await readGenerationManifest(join(generationPath(layout, number), 'manifest.json'), number);
  if (manifest === undefined) {
    const kept = await generationNumbers(layout);
    throw new StoreError('UNKNOWN_GENERATION', `generation ${number} is not in the store (kept: ${kept.length === 0 ? 'none' : kept.join(', ')})`);
  }
  return manifest;
}

/** Every kept generation, ascending, with its `active` flag. */
export async function listGenerations(layout: StoreLayout): Promise<Generation[]> {
  const current = await readCurrentNumber(layout);
  const out: Generation[] = [];
  for (const number of await generationNumbers(layout)) {
    const path = generationPath(layout, number);
    const manifest = await readGenerationManifest(join(path, 'manifest.json'), number);
    if (manifest === undefined) {
      // Removed by gc between the listing and this read, or a directory without a manifest.
      if (await lstat(path).then(() => true, () => false)) throw new StoreError('CORRUPT', `generation ${number} (${path}) has no manifest.json`);
      continue;
    }
    out.push({ ...manifest, active: number === current, path });
  }
  return out;
}

/** The current generation, or undefined when none was activated. */
export async function currentGeneration(layout: StoreLayout): Promise<Generation | undefined> {
  const number = await readCurrentNumber(layout);
  if (number === undefined) return undefined;
  let manifest: GenerationManifest;
  try {
    manifest = await loadGeneration(layout, number);
  } catch (e) {
    if (e instanceof StoreError && e.code === 'UNKNOWN_GENERATION') throw new StoreError('CORRUPT', `${layout.current} points to generation ${number}, which is not in the store`, { cause: e });
    throw e;
  }
  return { ...manifest, active: true, path: generationPath(layout, number) };
}

/**
 * Makes generation `number` current: a fresh symlink ROOT/current.tmp-RANDOM -> generations/N,
 * renamed over ROOT/current (atomic: readers see the old link or the new one), then fsync of ROOT.
 */
export async function switchCurrent(fs: DurableFs, layout: StoreLayout, number: number): Promise<void> {
  const fresh = join(layout.root, `current.tmp-${randomSuffix()}`);
  await fs.symlink(currentLinkTarget(number), fresh);
  await fs.rename(fresh, layout.current);
  await fs.fsync(layout.root);
}
