// mirror/file-stream.ts: sending a file too large to keep in memory (docs/cli.md "Mirrors"),
// from the handle the lookup opened (served-file.ts), so the bytes sent are those of the file
// that was checked. Reads go into a few buffers reused once the socket has taken their bytes
// (no fresh allocation per chunk, which for a 100 MB target costs page faults and garbage
// collection); the next chunk is read while the socket drains the previous one. At most the
// length announced in Content-Length is sent; a file that ends early (truncated in place)
// aborts the connection, since a short body would desynchronize a kept-alive one.
import type { ServerResponse } from 'node:http';
import type { OpenedFile } from './served-file.js';

export const FILE_STREAM_LIMITS = {
  /** Bytes per read and per socket write: large enough that per-call costs vanish, small enough to stay in cache. */
  chunkBytes: 256 << 10,
  /**
   * Buffers per response, allocated as needed: one being read while others are in the socket. A
   * slow reader keeps the socket from draining and so holds one or two; this bounds memory per
   * connection (REQUEST_LIMITS.maxConnections bounds connections).
   */
  maxBuffersPerResponse: 3,
} as const;

/**
 * Writes `file.size` bytes of `file` to `res` (whose headers are set) and ends it, then closes the
 * handle. Resolves when done or when the connection went away; never rejects.
 */
export async function streamFile(file: OpenedFile, res: ServerResponse): Promise<void> {
  const free: Buffer[] = [];
  let allocated = 0;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const sleep = (): Promise<void> => new Promise<void>((r) => (wake = r));
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
      while (!gone && free.length === 0 && allocated === FILE_STREAM_LIMITS.maxBuffersPerResponse) await sleep();
      if (gone) return;
      let buffer = free.pop();
      if (buffer === undefined) {
        buffer = Buffer.allocUnsafeSlow(Math.min(FILE_STREAM_LIMITS.chunkBytes, file.size));
        allocated++;
      }
      const { bytesRead } = await file.handle.read(buffer, 0, Math.min(buffer.length, file.size - position), position);
      if (bytesRead === 0) {
        res.destroy(); // shorter than announced: the connection cannot carry on
        return;
      }
      while (!gone && res.writableNeedDrain) await sleep();
      if (gone) return;
      position += bytesRead;
      const written = buffer;
      res.write(written.subarray(0, bytesRead), () => {
        free.push(written);
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
