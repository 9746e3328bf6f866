// tuf/refresh-once.ts: the refresh of an updater runs once per instance (TUF spec 1.0.x 5.1: one
// update cycle, one fixed start time); callers that ask for it while it runs, or after it
// succeeded, share its result. A failed refresh is forgotten so that a later call starts a new
// update cycle from scratch (the spec's "the client should still be able to update again").
// Shared by the TUF Updater and the witnessed client.

/** One refresh shared by every caller; retried from scratch after a failure. */
export class RefreshOnce<T> {
  private running: Promise<T> | undefined;

  constructor(private readonly refresh: () => Promise<T>) {}

  /** The refresh: started on the first call, and again on the first call after a failure. */
  run(): Promise<T> {
    if (!this.running) {
      const running = this.refresh();
      this.running = running;
      running.catch(() => {
        if (this.running === running) this.running = undefined;
      });
    }
    return this.running;
  }
}
