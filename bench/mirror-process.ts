// bench/mirror-process.ts: cairn's static mirror (src/mirror/mirror.ts) in its own Node
// process, as a mirror is in real use, so that the server's work is not charged to the client
// under test and both share the machine only as two processes do. The parent talks to it over
// the fork IPC channel: it learns the URL, and asks for the requests and bytes served since the
// last reset (counted by the server's onRequest hook).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startMirror } from '../src/mirror/index.js';

export interface MirrorTraffic {
  requests: number;
  bytes: number;
  /** Request paths with the bytes served, in order. */
  log: Array<{ path: string; status: number; bytes: number }>;
}

type ToChild = { type: 'reset' } | { type: 'traffic' } | { type: 'close' };
type FromChild = { type: 'listening'; url: string } | { type: 'traffic'; traffic: MirrorTraffic } | { type: 'error'; message: string };

export interface MirrorProcess {
  url: string;
  /** Starts counting afresh. */
  reset(): Promise<void>;
  /** Requests and bytes since the last reset. */
  traffic(): Promise<MirrorTraffic>;
  close(): Promise<void>;
}

/** Forks a mirror serving `root` on 127.0.0.1 and waits until it listens. */
export async function startMirrorProcess(root: string): Promise<MirrorProcess> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve', root], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiters: Array<{ resolve: (m: FromChild) => void; reject: (e: Error) => void }> = [];
  child.on('message', (m: FromChild) => waiters.shift()?.resolve(m));
  child.on('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`mirror process exited with ${code}`));
  });
  const next = (): Promise<FromChild> => new Promise((resolve, reject) => waiters.push({ resolve, reject }));
  const send = (m: ToChild): void => {
    child.send(m);
  };
  const first = await next();
  if (first.type !== 'listening') throw new Error(`mirror process failed: ${first.type === 'error' ? first.message : first.type}`);
  return {
    url: first.url,
    reset: async () => {
      const reply = next();
      send({ type: 'reset' });
      await reply;
    },
    traffic: async () => {
      const reply = next();
      send({ type: 'traffic' });
      const m = await reply;
      if (m.type !== 'traffic') throw new Error(`unexpected answer from the mirror process: ${m.type}`);
      return m.traffic;
    },
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      send({ type: 'close' });
      await exited;
    },
  };
}

async function serveInChild(root: string): Promise<void> {
  const reply = (m: FromChild): void => {
    process.send?.(m);
  };
  let traffic: MirrorTraffic = { requests: 0, bytes: 0, log: [] };
  const server = await startMirror({
    root,
    onRequest: (entry) => {
      traffic.requests++;
      traffic.bytes += entry.bytes;
      traffic.log.push({ path: entry.path, status: entry.status, bytes: entry.bytes });
    },
  });
  process.on('message', (m: ToChild) => {
    if (m.type === 'reset') {
      traffic = { requests: 0, bytes: 0, log: [] };
      reply({ type: 'traffic', traffic });
    } else if (m.type === 'traffic') {
      reply({ type: 'traffic', traffic });
    } else {
      void server.close().then(() => process.exit(0));
    }
  });
  reply({ type: 'listening', url: server.url });
}

if (process.argv[2] === '--serve' && process.argv[3] !== undefined && process.send) {
  serveInChild(process.argv[3]).catch((e: unknown) => {
    process.send?.({ type: 'error', message: (e as Error).message });
    process.exit(1);
  });
}
