// tuf/worker-pool.ts: running many fetches with a bounded number in flight (the updater's batch
// calls: delegation searches and target downloads, UpdaterConfig.downloadConcurrency), so that a
// batch hides the round-trip time of a mirror without opening a crowd of connections to it.

/**
 * Runs task(0) .. task(count - 1) with at most `concurrency` (at least 1) running at a time, in
 * index order. After a task fails no new task starts, and the returned promise rejects at once
 * with that failure (tasks already running are not awaited).
 */
export function runWithConcurrency(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < count) {
      const i = next++;
      try {
        await task(i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  return Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, () => worker())).then(() => undefined);
}
