// bench/repo-fixture.ts: builds the benchmark repositories with cairn's own publisher library
// (src/repo: initRepository, delegateHashBins / delegateSuccinct, addTargets, publish), the
// way a publisher would: real target files of varied content, one key per top-level role and
// one for the bins, consistent snapshots on. Content is derived from a fixed seed, so every
// run publishes the same target files (signatures and expiry dates differ).
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateEd25519, type Signer } from '../src/crypto/index.js';
import { MetadataKind, type Metadata, type Targets } from '@tufjs/models';
import {
  addTargets, delegateHashBins, delegateSuccinct, initRepository, publish, roleForTarget, tufTime, Workspace, SPEC_VERSION,
  type TargetSource, buildMetadata, writeMetadataFile, addSignature,
} from '../src/repo/index.js';

export interface RepoKeys {
  root: Signer;
  targets: Signer;
  snapshot: Signer;
  timestamp: Signer;
  bins: Signer;
}

export type BinScheme = { kind: 'hash-bins'; bins: number } | { kind: 'succinct'; bitLength: number };

export interface BenchRepo {
  dir: string;
  keys: RepoKeys;
  /** Target paths, in the order they were generated. */
  paths: string[];
  /** public/metadata/1.root.json: the trust anchor a client starts from. */
  rootBytes: Buffer;
  /** Milliseconds to write the sources, add them and publish. */
  buildMs: number;
}

export function describeBins(scheme: BinScheme): string {
  return scheme.kind === 'hash-bins' ? `${scheme.bins} hash bins` : `${2 ** scheme.bitLength} succinct hash bins`;
}

/** The i-th target path: a few package directories deep, like a real distribution. */
export function targetPath(i: number): string {
  return `packages/p${(i % 97).toString().padStart(2, '0')}/pkg-${i}/pkg-${i}-1.0.tar`;
}

/** 1-4 KiB of content that differs for every i (SHA-256 counter stream from a fixed seed). */
export function targetContent(i: number): Buffer {
  const seed = createHash('sha256').update(`cairn-bench-${i}`).digest();
  const length = 1024 + (seed.readUInt16BE(0) % 3073);
  const out = Buffer.alloc(length);
  for (let off = 0, n = 0; off < length; off += 32, n++) {
    createHash('sha256').update(seed).update(String(n)).digest().copy(out, off);
  }
  return out;
}

async function initBinnedRepo(dir: string, scheme: BinScheme): Promise<RepoKeys> {
  const keys: RepoKeys = {
    root: generateEd25519().signer,
    targets: generateEd25519().signer,
    snapshot: generateEd25519().signer,
    timestamp: generateEd25519().signer,
    bins: generateEd25519().signer,
  };
  await initRepository(dir, {
    roles: {
      root: { keys: [keys.root.publicKey], threshold: 1 },
      targets: { keys: [keys.targets.publicKey], threshold: 1 },
      snapshot: { keys: [keys.snapshot.publicKey], threshold: 1 },
      timestamp: { keys: [keys.timestamp.publicKey], threshold: 1 },
    },
    consistentSnapshot: true,
    signers: [keys.root, keys.targets],
  });
  const delegation = { keys: [keys.bins.publicKey], threshold: 1, signers: [keys.targets, keys.bins] };
  if (scheme.kind === 'hash-bins') await delegateHashBins(dir, 'bins', scheme.bins, delegation);
  else await delegateSuccinct(dir, 'bins', scheme.bitLength, delegation);
  return keys;
}

/** A repository whose targets are real files, added with addTargets and published. */
export async function buildRepo(dir: string, count: number, scheme: BinScheme, addBatch = 5_000): Promise<BenchRepo> {
  const started = performance.now();
  const keys = await initBinnedRepo(dir, scheme);

  const sourceDir = join(dir, 'sources');
  const paths: string[] = [];
  for (let start = 0; start < count; start += addBatch) {
    const sources: TargetSource[] = [];
    for (let i = start; i < Math.min(count, start + addBatch); i++) {
      const file = join(sourceDir, String(i % 100), `${i}.tar`);
      if (i === start) for (let d = 0; d < 100; d++) await mkdir(join(sourceDir, String(d)), { recursive: true });
      await writeFile(file, targetContent(i));
      paths.push(targetPath(i));
      sources.push({ file, path: targetPath(i) });
    }
    // Adding in batches bounds the memory of one call; each batch re-signs only the bins it touched.
    await addTargets(dir, sources, { signers: [keys.bins] });
  }
  await publish(dir, { signers: [keys.snapshot, keys.timestamp] });
  const rootBytes = await readFile(join(dir, 'public', 'metadata', '1.root.json'));
  return { dir, keys, paths, rootBytes, buildMs: performance.now() - started };
}

/**
 * A repository whose bins are filled with `count` target entries directly (as the repository
 * test of a 100,000-target publish does), then published with publish(). The entries look like
 * addTargets' (length and SHA-256 of 1-4 KiB files) but the files are not written: adding
 * 100,000 real files costs minutes of per-file fsyncs on this machine, and neither publishing one
 * more target nor a client's lookup of it reads any other target's file.
 */
export async function buildMetadataOnlyRepo(dir: string, count: number, scheme: BinScheme): Promise<BenchRepo> {
  const started = performance.now();
  const keys = await initBinnedRepo(dir, scheme);
  const ws = await Workspace.open(dir);
  const perBin = new Map<string, Record<string, { length: number; hashes: { sha256: string } }>>();
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = targetPath(i);
    paths.push(path);
    const bin = await roleForTarget(ws, path);
    let entries = perBin.get(bin);
    if (!entries) perBin.set(bin, (entries = {}));
    const digest = createHash('sha256').update(`cairn-bench-${i}`).digest();
    entries[path] = { length: 1024 + (digest.readUInt16BE(0) % 3073), hashes: { sha256: digest.toString('hex') } };
  }
  const expires = tufTime(new Date(Date.now() + 365 * 86_400_000));
  for (const [bin, targets] of perBin) {
    const md = buildMetadata<Metadata<Targets>>(MetadataKind.Targets, { _type: 'targets', spec_version: SPEC_VERSION, version: 1, expires, targets }, bin);
    addSignature(md, keys.bins);
    await writeMetadataFile(ws.layout.staged(bin), md);
  }
  await publish(dir, { signers: [keys.snapshot, keys.timestamp] });
  const rootBytes = await readFile(join(dir, 'public', 'metadata', '1.root.json'));
  return { dir, keys, paths, rootBytes, buildMs: performance.now() - started };
}
