// store/current.ts: the active generation, read without the store's writers (docs/store.md
// "Generations"): for callers that only look (cairn run, cairn permissions), so they load none of
// commit, rollback, gc, verify or extraction. openStore(root).current() is the same read.
import { currentGeneration, type Generation } from './generations.js';
import { storeLayout } from './layout.js';

/** The active generation of the store at `root`, or undefined before the first install. */
export function readCurrentGeneration(root: string): Promise<Generation | undefined> {
  return currentGeneration(storeLayout(root));
}
