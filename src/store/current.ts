// store/current.ts: the active generation and the records of its store paths, read without the
// store's writers (docs/store.md "Generations", "Layout"): for callers that only look (cairn run,
// cairn permissions), so they load none of commit, rollback, gc, verify or extraction.
// openStore(root).current() is the same read.
import { join } from 'node:path';
import { currentGeneration, type Generation } from './generations.js';
import { storeLayout } from './layout.js';
import { readStoreRecord, type StoreRecord } from './records.js';

/** The active generation of the store at `root`, or undefined before the first install. */
export function readCurrentGeneration(root: string): Promise<Generation | undefined> {
  return currentGeneration(storeLayout(root));
}

/** The record of the store path `id` (ROOT/store/ID.json): its manifest among the rest; undefined when there is none. */
export function readInstalledRecord(root: string, id: string): Promise<StoreRecord | undefined> {
  return readStoreRecord(join(storeLayout(root).store, `${id}.json`), id);
}
