// test/cli/run-cli.ts: runs the real `cairn` executable (bin/cairn.js) as a separate process,
// as users and the conformance suite do, with a time limit. bin/cairn.js runs the compiled
// dist/, so loading this module first rebuilds it if src/ changed since the last build
// (scripts/build.mjs): every test and benchmark that spawns `cairn` takes CAIRN_BIN from here,
// so none of them can run a stale build, however it was started.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { buildIfStale } from '../../scripts/build.mjs';

buildIfStale();

export const CAIRN_BIN = fileURLToPath(new URL('../../bin/cairn.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  input?: string;
  /** Hand the child this process's descriptor `fd` as its descriptor `at` (>= 3), as a careless parent leaks one. */
  leak?: { fd: number; at: number };
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const leaked = options.leak ? [...Array<'ignore'>(options.leak.at - 3).fill('ignore'), options.leak.fd] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe', ...leaked],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cairn ${args.join(' ')} did not finish within ${options.timeoutMs ?? 30_000} ms`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin!.end(options.input ?? '');
  });
}

export interface CliService {
  /** The stdout line that matched `ready`. */
  readyLine: string;
  /** Stops the process (SIGTERM) and waits for its exit. */
  stop(): Promise<void>;
}

/** Starts a long-running `cairn` command (a server) and waits for the line of stdout matching `ready`. */
export function startCli(args: string[], ready: RegExp, timeoutMs = 30_000): Promise<CliService> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stop = (): Promise<void> =>
      new Promise((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cairn ${args.join(' ')} printed no line matching ${String(ready)} within ${timeoutMs} ms: ${output}`));
    }, timeoutMs);
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      output += `${line}\n`;
      if (!ready.test(line)) return;
      clearTimeout(timer);
      resolve({ readyLine: line, stop });
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`cairn ${args.join(' ')} exited (${code ?? signal}) before it was ready: ${output}`));
    });
  });
}
