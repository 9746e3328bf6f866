// bench/stats.ts: timing helpers for `npm run bench`. The machine is shared and noisy, so every
// figure is a median of several runs, and every target is a ratio against a baseline measured
// in the same run.
import { performance } from 'node:perf_hooks';

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs `fn` `runs` times (after `warmup` unmeasured runs) and returns the times in ms. */
export async function timeRuns(runs: number, fn: () => Promise<unknown>, warmup = 0): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times;
}

export const ms = (v: number): string => `${v.toFixed(v < 10 ? 2 : 0)} ms`;
export const mbps = (bytes: number, millis: number): string => `${(bytes / 1e6 / (millis / 1000)).toFixed(0)} MB/s`;

export interface BenchResult {
  name: string;
  lines: string[];
  /** Whether each stated target was met, for the summary. */
  targets: Array<{ target: string; met: boolean; figure: string }>;
}
