// store/install-scope.ts: where a scope's store lives (docs/store.md "Scopes"). The system scope
// is one store for the machine, changed only through cairn and only when its user asks; the user
// scope is one per user, kept up to date in the background. `--store DIR` names any other root
// (tests, the demo, a second profile).
import { homedir } from 'node:os';
import { join } from 'node:path';

export type StoreScope = 'system' | 'user';

export const SYSTEM_STORE_ROOT = '/var/lib/cairn';

export function defaultStoreRoot(scope: StoreScope, env: NodeJS.ProcessEnv = process.env): string {
  if (scope === 'system') return SYSTEM_STORE_ROOT;
  const dataHome = env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME.startsWith('/') ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(dataHome, 'cairn');
}
