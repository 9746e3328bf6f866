// mirror/file-stream.ts: sending a file too large to keep in memory (docs/cli.md "Mirrors"),
// from the handle the lookup opened (served-file.ts), so the bytes sent are those of the file
// that was checked. Reads go into a few buffers reused once the socket has taken their bytes
// (no fresh allocation per chunk, which for a 100 MB target costs page faults and garbage
// collection), at most the length announced in Content-Length; a file that ends early (truncated
// in place) aborts the connection, since a short body would desynchronize a kept-alive one.
import type { ServerResponse } from 'node:http';
import type { OpenedFile } from './served-file.js';

export const FILE_STREAM_LIMITS = {
  /** Bytes per read and per socket write: large enough that per-call costs vanish, small enough to stay in cache. */
  chunkBytes: 256 << 10,
  /** Buffers per response: one being read while others are in the socket. */
  buffersPerResponse: 3,
} as const;

/**
 * Writes `file.size` bytes of `file` to `res` (whose headers are set) and ends it, then closes the
 * handle. Resolves when done or when the connection went away; never rejects.
 */
export async function streamFile(file: OpenedFile, res: ServerResponse): Promise<void> {
  const free: Buffer[] = [];
  for (let i = 0; i < FILE_STREAM_LIMITS.buffersPerResponse; i++) free.push(Buffer.allocUnsafeSlow(FILE_STREAM_LIMITS.chunkBytes));
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let gone = false;
  const onClose = (): void => {
    gone = true;
    signal();
  };
  res.on('close', onClose);
  res.on('drain', signal);
  try {
    let position = 0;
    while (position < file.size) {
      while (!gone && (free.length === 0 || res.writableNeedDrain)) await new Promise<void>((r) => (wake = r));
      if (gone) return;
      const buffer = free.pop()!;
      const { bytesRead } = await file.handle.read(buffer, 0, Math.min(buffer.length, file.size - position), position);
      if (gone) return;
      if (bytesRead === 0) {
        res.destroy(); // shorter than announced: the connection cannot carry on
        return;
      }
      position += bytesRead;
      res.write(buffer.subarray(0, bytesRead), () => {
        free.push(buffer);
        signal();
      });
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    res.off('close', onClose);
    res.off('drain', signal);
    await file.handle.close().catch(() => undefined);
  }
}
