// crypto/hash.ts: the digests cairn uses (SHA-256, SHA-512; TUF spec 4.2 "HASHES"), over
// buffers and streamed files. Only current algorithms are produced; others are never computed.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export type HashAlgorithm = 'sha256' | 'sha512';

export function digestHex(algorithm: HashAlgorithm, data: Uint8Array | string): string {
  return createHash(algorithm).update(data).digest('hex');
}

export function sha256Hex(data: Uint8Array | string): string {
  return digestHex('sha256', data);
}

/** Length and digests of a file, read once in large chunks. */
export async function hashFile(
  path: string,
  algorithms: readonly HashAlgorithm[] = ['sha256'],
): Promise<{ length: number; hashes: Record<string, string> }> {
  const hashers = algorithms.map((a) => [a, createHash(a)] as const);
  let length = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer;
    length += buf.length;
    for (const [, h] of hashers) h.update(buf);
  }
  return { length, hashes: Object.fromEntries(hashers.map(([a, h]) => [a, h.digest('hex')])) };
}
