// store/rollback.ts: switching back to an earlier generation (docs/store.md "Rollback"; docs/design.md
// "Client store"). By default the target is the current generation's parent (the one
// that was current when it was made), not the number below it; with `to`, any kept generation.
// Only ROOT/current changes, with the same atomic switch as a commit; no generation is made.
import { presentStorePaths, type StoreContext } from './commit.js';
import { StoreError } from './errors.js';
import { currentGeneration, generationNumbers, loadGeneration, switchCurrent } from './generations.js';

export async function rollbackGeneration(ctx: StoreContext, to?: number): Promise<{ from: number; to: number }> {
  const { layout } = ctx;
  const current = await currentGeneration(layout);
  if (current === undefined) throw new StoreError('NO_GENERATION', `the store ${layout.root} has no active generation: there is nothing to roll back`);
  let target: number;
  if (to === undefined) {
    if (current.parent === null) {
      const kept = (await generationNumbers(layout)).filter((n) => n !== current.number);
      throw new StoreError('NO_PARENT', `generation ${current.number} is the first of its line: it has no parent to roll back to${kept.length > 0 ? ` (other kept generations: ${kept.join(', ')})` : ''}`);
    }
    target = current.parent;
  } else {
    if (!Number.isSafeInteger(to) || to < 1) throw new StoreError('UNKNOWN_GENERATION', `${String(to)} is not a generation number`);
    target = to;
  }
  let manifest;
  try {
    manifest = await loadGeneration(layout, target);
  } catch (e) {
    if (to === undefined && e instanceof StoreError && e.code === 'UNKNOWN_GENERATION') {
      throw new StoreError('UNKNOWN_GENERATION', `the parent of generation ${current.number}, generation ${target}, was removed by gc: ${e.message}`, { cause: e });
    }
    throw e;
  }
  // Never activate a generation whose store paths are gone. A switch stays cheap whatever the
  // store's size: one listing of ROOT/store shows each path and record is there (cairn verify
  // re-hashes them).
  const present = await presentStorePaths(layout);
  for (const [name, p] of Object.entries(manifest.packages)) {
    if (!present.has(p.id)) throw new StoreError('CORRUPT', `generation ${target} needs ${name} (${p.id}), which is not in the store; generation ${current.number} stays active`);
  }
  if (target !== current.number) await switchCurrent(ctx.fs, layout, target);
  return { from: current.number, to: target };
}
