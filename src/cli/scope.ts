// cli/scope.ts: the store a command works on (docs/store.md "Scopes"): --store DIR, --system for
// /var/lib/cairn, else the user scope; shared by the package manager's and the apps' commands.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultStoreRoot } from '../store/install-scope.js';

export interface ScopeOpts {
  store?: string;
  system?: boolean;
  proxy?: string;
}

/** Adds --store and --system to a command. */
export function scoped(c: Command): Command {
  return c
    .option('--store <dir>', 'store root directory (default: the user scope, ~/.local/share/cairn)')
    .option('--system', 'the system scope (/var/lib/cairn): immutable, changed only when you ask', false);
}

/** The store root the options name, absolute (what is recorded, and handed to hypervisors, must not depend on where cairn ran). */
export function storeRoot(opts: ScopeOpts): string {
  return opts.store === undefined ? defaultStoreRoot(opts.system ? 'system' : 'user') : resolve(opts.store);
}
