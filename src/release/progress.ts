// release/progress.ts: how the release pipeline tells people what it does while it runs: steps
// done (info) and what the witnesses are about to refuse (warn). The command line prints them; a
// library caller may pass SILENT.
export interface ReleaseProgress {
  info(line: string): void;
  warn(line: string): void;
}

export const SILENT: ReleaseProgress = { info: () => undefined, warn: () => undefined };
