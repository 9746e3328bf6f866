// test/package/hostile-archive.ts: writes package archives by code, header by header, so a test
// can build any hostile header a real attacker could (absolute and ".." names, links to /etc,
// hard links, devices, FIFOs, duplicates, case and Unicode collisions, sizes of a terabyte in
// base-256, pax and GNU long names, sparse multi-gigabyte bombs) without any tar tool's help.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PackageError, extractPackage, manifestBytes, type ExtractOptions, type PackageManifest } from '../../src/package/index.js';
import { withTempDir } from '../fixtures/temp-dir.js';

export interface RawEntry {
  /** Written as is: prefix split only when `prefix` is given. */
  name: string;
  /** ustar type flag: '0' file, '1' hard link, '2' symlink, '3' char device, '5' directory, '6' FIFO, 'x' pax, 'L' GNU long name... */
  type: string;
  content?: Buffer;
  /** Size claimed by the header (default: content length). */
  claimedSize?: number;
  mode?: number;
  linkName?: string;
  prefix?: string;
}

export const VALID_MANIFEST: PackageManifest = {
  name: 'hello', version: '1.0.0', description: 'says hello',
  entryPoints: { hello: 'bin/hello' }, dependencies: {}, permissions: [],
};

function octal(h: Buffer, offset: number, width: number, value: number): void {
  h.write(value.toString(8).padStart(width - 1, '0') + '\u0000', offset, 'ascii');
}

/** One raw ustar header block; sizes beyond 11 octal digits are written in GNU base-256. */
export function rawHeader(e: RawEntry): Buffer {
  const h = Buffer.alloc(512);
  Buffer.from(e.name, 'utf8').copy(h, 0, 0, 100);
  octal(h, 100, 8, e.mode ?? (e.type === '5' ? 0o755 : 0o644));
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  const size = e.claimedSize ?? e.content?.length ?? 0;
  if (size > 0o77777777777) {
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  } else {
    octal(h, 124, 12, size);
  }
  octal(h, 136, 12, 0);
  h.fill(0x20, 148, 156);
  h.write(e.type, 156, 'latin1');
  if (e.linkName !== undefined) Buffer.from(e.linkName, 'utf8').copy(h, 157, 0, 100);
  h.write('ustar\u0000', 257, 'ascii');
  h.write('00', 263, 'ascii');
  if (e.prefix !== undefined) Buffer.from(e.prefix, 'utf8').copy(h, 345, 0, 155);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 'ascii');
  return h;
}

/** The blocks of one entry: header, content, padding. */
export function rawEntry(e: RawEntry): Buffer {
  const content = e.content ?? Buffer.alloc(0);
  const pad = (512 - (content.length % 512)) % 512;
  return Buffer.concat([rawHeader(e), content, Buffer.alloc(pad)]);
}

/** A pax extended header ("x") carrying `records` for the next entry. */
export function paxEntry(records: Record<string, string>): Buffer {
  let body = '';
  for (const [k, v] of Object.entries(records)) {
    const tail = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(tail) + 1;
    while (String(len).length + Buffer.byteLength(tail) !== len) len = String(len).length + Buffer.byteLength(tail);
    body += `${len}${tail}`;
  }
  return rawEntry({ name: 'PaxHeader', type: 'x', content: Buffer.from(body, 'utf8') });
}

/** The entries of a valid package (manifest and its entry point), to which a test adds its attack. */
export function validPackageEntries(manifest: PackageManifest = VALID_MANIFEST): RawEntry[] {
  return [
    { name: 'bin/', type: '5' },
    { name: 'bin/hello', type: '0', content: Buffer.from('#!/bin/sh\necho hello\n'), mode: 0o755 },
    { name: 'cairn-package.json', type: '0', content: manifestBytes(manifest) },
  ];
}

/** Writes `parts` (entries or ready blocks) then the end marker to `file`. */
export async function writeArchive(file: string, parts: Array<RawEntry | Buffer>): Promise<void> {
  const handle = await open(file, 'w');
  try {
    for (const p of parts) await handle.write(Buffer.isBuffer(p) ? p : rawEntry(p));
    await handle.write(Buffer.alloc(1024));
  } finally {
    await handle.close();
  }
}

/**
 * A valid package followed by `count` files of `size` zero bytes each, written sparse (headers
 * only; the content is left as holes), so a multi-gigabyte bomb costs a few kilobytes of disk.
 */
export async function writeSparseBomb(file: string, count: number, size: number): Promise<void> {
  const handle = await open(file, 'w');
  try {
    let position = 0;
    for (const e of validPackageEntries()) {
      const block = rawEntry(e);
      await handle.write(block, 0, block.length, position);
      position += block.length;
    }
    for (let i = 0; i < count; i++) {
      await handle.write(rawHeader({ name: `zeros-${i}`, type: '0', claimedSize: size }), 0, 512, position);
      position += 512 + Math.ceil(size / 512) * 512;
    }
    await handle.truncate(position + 1024);
  } finally {
    await handle.close();
  }
}

/** A valid package followed by `count` empty files (zero-size entries: one header block each). */
export async function writeManyEntries(file: string, count: number): Promise<void> {
  const handle = await open(file, 'w');
  try {
    for (const e of validPackageEntries()) await handle.write(rawEntry(e));
    const batch: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      batch.push(rawHeader({ name: `e/${i}`, type: '0' }));
      if (batch.length === 2048) await handle.write(Buffer.concat(batch.splice(0)));
    }
    if (batch.length > 0) await handle.write(Buffer.concat(batch));
    await handle.write(Buffer.alloc(1024));
  } finally {
    await handle.close();
  }
}

/** Everything under `dir` (paths and contents), to prove a refusal changed nothing there. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const info = await lstat(join(dir, path));
      if (info.isDirectory()) {
        out.push(`${path}/`);
        await visit(path);
      } else if (info.isSymbolicLink()) out.push(`${path} -> ${await readlink(join(dir, path))}`);
      else if (info.size > 16 * 1024 * 1024) out.push(`${path} ${info.size} bytes, mtime ${info.mtimeMs}`); // a sparse bomb: not read
      else out.push(`${path} ${createHash('sha256').update(await readFile(join(dir, path))).digest('hex')}`);
    }
  };
  await visit('');
  return out;
}

/**
 * Builds the archive from `parts` (or with `build`), extracts it into DIR/dest and asserts a
 * refusal with one of `codes`, no DIR/dest, and an unchanged DIR (with DIR/outside, a sentinel the
 * attacks aim at).
 */
export async function assertRefused(parts: Array<RawEntry | Buffer>, codes: string | readonly string[], options: ExtractOptions = {}, build?: (file: string) => Promise<void>): Promise<PackageError> {
  const allowed = typeof codes === 'string' ? [codes] : codes;
  let caught: PackageError | undefined;
  await withTempDir('extract', async (dir) => {
    const archive = join(dir, 'package.tar');
    if (build) await build(archive);
    else await writeArchive(archive, parts);
    await mkdir(join(dir, 'outside', 'etc'), { recursive: true });
    await writeFile(join(dir, 'outside', 'etc', 'passwd'), 'root:x:0:0\n');
    const before = await snapshot(dir);
    await assert.rejects(extractPackage(archive, join(dir, 'dest'), options), (e: unknown) => {
      assert.ok(e instanceof PackageError, `a PackageError, got ${String(e)}`);
      assert.ok(allowed.includes(e.code), `${e.code}: ${e.message}`);
      caught = e;
      return true;
    });
    await assert.rejects(stat(join(dir, 'dest')), { code: 'ENOENT' });
    assert.deepEqual(await snapshot(dir), before);
  });
  return caught!;
}
