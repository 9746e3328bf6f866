// upstream/import-dir.ts: the directory an import writes (docs/upstream.md): it must not exist (an
// empty one neither: a rename would take its place) and its parent must, so that a failure creates
// nothing; it is assembled beside its place and renamed into it whole, provenance.json last.
import { lstat, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256Hex } from '../crypto/index.js';
import { UsageError } from '../errors/index.js';

/** One file of an import, as provenance.json names it: its name in the directory, size and SHA-256. */
export interface ChainFile {
  file: string;
  size: number;
  sha256: string;
}

/** Refuses an `out` that exists, or whose parent is not a directory (UsageError). */
export async function checkNewDirectory(out: string): Promise<void> {
  if ((await lstat(out).catch(() => undefined)) !== undefined) throw new UsageError('CONFLICT', `${out} exists: cairn import writes a directory of its own (name another with --out)`);
  if ((await stat(dirname(out)).catch(() => undefined))?.isDirectory() !== true) throw new UsageError('BAD_ARGUMENT', `${dirname(out)}, where ${out} would be written, is not a directory`);
}

/**
 * Writes the import at `out`: `fill` writes its files through `write` and returns the provenance,
 * which is written last; then the directory is put in place. Nothing is left on a failure.
 */
export async function writeImportDirectory<P>(out: string, fill: (write: (file: string, bytes: Uint8Array) => Promise<ChainFile>, staging: string) => Promise<P>): Promise<P> {
  const staging = `${out}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging);
  try {
    const provenance = await fill(async (file, bytes) => {
      await writeFile(join(staging, file), bytes);
      return { file, size: bytes.length, sha256: sha256Hex(bytes) };
    }, staging);
    await writeFile(join(staging, 'provenance.json'), JSON.stringify(provenance, null, 2) + '\n');
    await checkNewDirectory(out);
    await rename(staging, out);
    return provenance;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
