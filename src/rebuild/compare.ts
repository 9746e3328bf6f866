// rebuild/compare.ts: what differs between a published artifact and its rebuild (docs/design.md
// "Build verification": a mismatch yields a signed negative result with a summary of the
// difference: which files in the archive, their sizes). Both tar or both tar.gz: the files
// whose content or metadata differ, or that only one side has. Anything else: both lengths and
// the first differing byte offset.
import { open } from 'node:fs/promises';
import type { DifferenceSummary, FileDifference } from '../policy/index.js';
import { isCairnError } from '../errors/index.js';
import { readTarEntries, sniffArchive, type TarEntryInfo } from './archive.js';

/** File differences listed in a summary; the rest are counted. */
export const MAX_LISTED_DIFFERENCES = 200;

/** Byte-compares two files; undefined when identical, else the summary of the difference. */
export async function compareArtifacts(published: string, rebuilt: string): Promise<DifferenceSummary | undefined> {
  const bytes = await firstDifference(published, rebuilt);
  if (bytes === undefined) return undefined;
  const [pf, rf] = await Promise.all([sniffArchive(published), sniffArchive(rebuilt)]);
  if (pf !== undefined && pf === rf) {
    try {
      const [p, r] = await Promise.all([readTarEntries(published, 'published artifact'), readTarEntries(rebuilt, 'rebuilt artifact')]);
      const files = diffEntries(p.entries, r.entries);
      return {
        kind: 'archive', format: pf, publishedLength: bytes.publishedLength, rebuiltLength: bytes.rebuiltLength,
        files: files.slice(0, MAX_LISTED_DIFFERENCES), moreFiles: Math.max(0, files.length - MAX_LISTED_DIFFERENCES),
        firstDifferingOffset: bytes.offset,
        ...(files.length === 0 ? { note: `every entry matches; the ${pf} container bytes differ (compression, headers or padding)` } : {}),
      };
    } catch (e) {
      if (!isCairnError(e)) throw e;
      // Not a readable archive after all: fall through to the byte summary.
    }
  }
  return { kind: 'bytes', publishedLength: bytes.publishedLength, rebuiltLength: bytes.rebuiltLength, firstDifferingOffset: bytes.offset };
}

/** The differing entries of two archive listings, in path order. */
function diffEntries(published: readonly TarEntryInfo[], rebuilt: readonly TarEntryInfo[]): FileDifference[] {
  const p = new Map(published.map((e) => [e.path, e]));
  const r = new Map(rebuilt.map((e) => [e.path, e]));
  const paths = [...new Set([...p.keys(), ...r.keys()])].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const out: FileDifference[] = [];
  for (const path of paths) {
    const a = p.get(path);
    const b = r.get(path);
    if (!b) out.push({ path, change: 'only-published', publishedSize: a!.size, rebuiltSize: null });
    else if (!a) out.push({ path, change: 'only-rebuilt', publishedSize: null, rebuiltSize: b.size });
    else if (a.sha256 !== b.sha256 || a.size !== b.size) out.push({ path, change: 'content', publishedSize: a.size, rebuiltSize: b.size });
    else {
      const fields = (['type', 'mode', 'mtime', 'uid', 'gid', 'linkpath'] as const).filter((f) => a[f] !== b[f]);
      if (fields.length > 0) {
        out.push({
          path, change: 'metadata', publishedSize: a.size, rebuiltSize: b.size,
          detail: fields.map((f) => `${f} ${fmt(f, a[f])} -> ${fmt(f, b[f])}`).join(', '),
        });
      }
    }
  }
  // An archive may list a path twice; the map kept the last one, so compare the counts as well.
  if (published.length !== p.size || rebuilt.length !== r.size) {
    out.push({ path: '(duplicate entries)', change: 'metadata', publishedSize: null, rebuiltSize: null, detail: `entries ${published.length} -> ${rebuilt.length}, distinct paths ${p.size} -> ${r.size}` });
  }
  return out;
}

function fmt(field: string, value: string | number): string {
  return field === 'mode' && typeof value === 'number' ? `0${value.toString(8)}` : String(value);
}

/** Streams both files; undefined when identical. */
async function firstDifference(a: string, b: string): Promise<{ offset: number; publishedLength: number; rebuiltLength: number } | undefined> {
  const [ha, hb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const [sa, sb] = await Promise.all([ha.stat(), hb.stat()]);
    const size = 1 << 20;
    const ba = Buffer.alloc(size);
    const bb = Buffer.alloc(size);
    let offset = 0;
    for (;;) {
      const [ra, rb] = await Promise.all([ha.read(ba, 0, size, offset), hb.read(bb, 0, size, offset)]);
      const n = Math.min(ra.bytesRead, rb.bytesRead);
      if (!ba.subarray(0, n).equals(bb.subarray(0, n))) for (let i = 0; i < n; i++) {
        if (ba[i] !== bb[i]) return { offset: offset + i, publishedLength: sa.size, rebuiltLength: sb.size };
      }
      if (ra.bytesRead !== rb.bytesRead) return { offset: offset + n, publishedLength: sa.size, rebuiltLength: sb.size };
      if (n === 0) return undefined;
      offset += n;
    }
  } finally {
    await Promise.all([ha.close(), hb.close()]);
  }
}
