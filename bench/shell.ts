// bench/shell.ts: the one way benchmarks run a shell pipeline as their baseline (curl, sha256sum,
// GNU tar, sync), with positional arguments rather than interpolated paths.
import { spawn } from 'node:child_process';

/** Runs `sh -c script` with positional arguments; resolves with its stdout, rejects on a non-zero exit. */
export function runShell(script: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script, 'sh', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`sh -c '${script.slice(0, 80)}' exited with ${code}: ${stderr.trim().slice(0, 400)}`))));
  });
}
