// store/verify.ts: re-checking a store against what it recorded (docs/store.md "Verify"). Every
// store path a kept generation references is re-hashed against its record, and every difference
// is named: a missing or unexpected file, changed content, mode, type or link target, a record
// missing or unparsable, a generation manifest unparsable, a bin link pointing elsewhere, a
// current link that is not one. What no generation references (store paths, records, leftovers
// in tmp, links of interrupted switches) is garbage, reported apart: gc removes it, it is not
// corruption.
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { StoreContext } from './commit.js';
import { StoreError } from './errors.js';
import { generationNumbers, generationPath, readCurrentNumber } from './generations.js';
import { STORE_ID_PATTERN, binLinkTarget, storeLayout, type StoreLayout } from './layout.js';
import { generationNumberOf, readGenerationManifest, readStoreRecord, type GenerationManifest, type StoreRecord } from './records.js';
import { STORE_PATH_DIR_MODE, scanTree, type StoreFile } from './tree.js';

export type VerifyProblemKind =
  | 'missing'
  | 'changed-content'
  | 'changed-mode'
  | 'changed-type'
  | 'changed-link-target'
  | 'unexpected-file'
  | 'record-missing'
  | 'record-unparsable'
  | 'record-mismatch'
  | 'generation-unparsable'
  | 'bin-link'
  | 'current-invalid';

/** One way the store differs from what it recorded. `path` is relative to the store root. */
export interface VerifyProblem {
  kind: VerifyProblemKind;
  path: string;
  detail: string;
}

export type GarbageKind = 'unreferenced-store-path' | 'unreferenced-record' | 'tmp-leftover' | 'stray';

/** Something no kept generation needs; `cairn gc` removes it. */
export interface GarbageItem {
  kind: GarbageKind;
  path: string;
}

export interface VerifyReport {
  /** No problem (garbage is not a problem). */
  ok: boolean;
  /** The current generation, when there is a valid one. */
  current: number | undefined;
  /** The kept generations checked. */
  generations: number[];
  /** Store paths re-hashed. */
  checkedStorePaths: number;
  problems: VerifyProblem[];
  garbage: GarbageItem[];
}

/** Names in ROOT that belong there (the lock's own files start with 'lock.'). */
/** What belongs at the root of a store: the entries of its layout. */
const ROOT_ENTRIES = new Set(Object.entries(storeLayout('')).filter(([k]) => k !== 'root').map(([, path]) => path));

export async function verifyStore(ctx: StoreContext): Promise<VerifyReport> {
  const { layout } = ctx;
  const rel = (path: string): string => relative(layout.root, path);
  const problems: VerifyProblem[] = [];
  const garbage: GarbageItem[] = [];
  const numbers = await generationNumbers(layout);

  let current: number | undefined;
  try {
    current = await readCurrentNumber(layout);
    if (current !== undefined && !numbers.includes(current)) {
      problems.push({ kind: 'current-invalid', path: 'current', detail: `points to generation ${current}, which is not in the store` });
      current = undefined;
    }
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    problems.push({ kind: 'current-invalid', path: 'current', detail: e.message });
  }

  const manifests = new Map<number, GenerationManifest>();
  for (const number of numbers) {
    const path = join(generationPath(layout, number), 'manifest.json');
    try {
      const manifest = await readGenerationManifest(path, number);
      if (manifest === undefined) problems.push({ kind: 'generation-unparsable', path: rel(path), detail: `generation ${number} has no manifest` });
      else manifests.set(number, manifest);
    } catch (e) {
      if (!(e instanceof StoreError)) throw e;
      problems.push({ kind: 'generation-unparsable', path: rel(path), detail: e.message });
    }
  }

  // Each referenced store path once: its record, then its content.
  const records = new Map<string, StoreRecord | undefined>();
  let checkedStorePaths = 0;
  for (const manifest of manifests.values()) {
    for (const [name, p] of Object.entries(manifest.packages)) {
      if (!records.has(p.id)) {
        const recordPath = join(layout.store, `${p.id}.json`);
        let record: StoreRecord | undefined;
        try {
          record = await readStoreRecord(recordPath, p.id);
          if (record === undefined) problems.push({ kind: 'record-missing', path: rel(recordPath), detail: `the record of ${p.id} is missing` });
        } catch (e) {
          if (!(e instanceof StoreError)) throw e;
          problems.push({ kind: 'record-unparsable', path: rel(recordPath), detail: e.message });
        }
        records.set(p.id, record);
        if (record !== undefined) {
          checkedStorePaths += 1;
          problems.push(...(await checkStorePath(layout, record)));
        }
      }
      const record = records.get(p.id);
      if (record !== undefined && (record.name !== name || record.version !== p.version)) {
        problems.push({ kind: 'record-mismatch', path: rel(join(generationPath(layout, manifest.number), 'manifest.json')), detail: `generation ${manifest.number} lists ${name} ${p.version} as ${p.id}, whose record is ${record.name} ${record.version}` });
      }
    }
    problems.push(...(await checkBinLinks(layout, manifest, records)));
  }

  // Garbage: what no kept generation references.
  for (const name of (await readdir(layout.generations).catch(() => [])).sort()) {
    if (generationNumberOf(name) === undefined) garbage.push({ kind: 'stray', path: rel(join(layout.generations, name)) });
  }
  for (const name of (await readdir(layout.store).catch(() => [])).sort()) {
    const isRecord = name.endsWith('.json');
    const id = isRecord ? name.slice(0, -'.json'.length) : name;
    if (records.has(id) && STORE_ID_PATTERN.test(id)) continue;
    const path = rel(join(layout.store, name));
    if (!STORE_ID_PATTERN.test(id)) garbage.push({ kind: 'stray', path });
    else garbage.push({ kind: isRecord ? 'unreferenced-record' : 'unreferenced-store-path', path });
  }
  for (const name of (await readdir(layout.tmp).catch(() => [])).sort()) garbage.push({ kind: 'tmp-leftover', path: rel(join(layout.tmp, name)) });
  for (const name of (await readdir(layout.root)).sort()) {
    if (!ROOT_ENTRIES.has(name) && !name.startsWith('lock.')) garbage.push({ kind: 'stray', path: name });
  }
  return { ok: problems.length === 0, current, generations: [...manifests.keys()], checkedStorePaths, problems, garbage };
}

/** The differences between store path `record.id` on disk and its record. */
async function checkStorePath(layout: StoreLayout, record: StoreRecord): Promise<VerifyProblem[]> {
  const dir = join(layout.store, record.id);
  const at = (path: string): string => `store/${record.id}${path === '' ? '' : `/${path}`}`;
  const status = await lstat(dir).catch(() => undefined);
  if (status === undefined) return [{ kind: 'missing', path: at(''), detail: `the store path of ${record.name} ${record.version} is missing` }];
  if (!status.isDirectory()) return [{ kind: 'changed-type', path: at(''), detail: 'the store path is not a directory' }];
  const problems: VerifyProblem[] = [];
  if ((status.mode & 0o7777) !== STORE_PATH_DIR_MODE) problems.push({ kind: 'changed-mode', path: at(''), detail: `mode ${octal(status.mode & 0o7777)}, recorded ${octal(STORE_PATH_DIR_MODE)}` });
  let found: StoreFile[];
  try {
    const scan = await scanTree(dir);
    found = scan.files;
    for (const u of scan.unsupported) problems.push({ kind: 'unexpected-file', path: at(u.path), detail: `${u.kind}, not in the record` });
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    return [...problems, { kind: 'unexpected-file', path: at(''), detail: e.message }];
  }
  const byPath = new Map(found.map((f) => [f.path, f]));
  const recorded = new Set<string>();
  for (const want of record.files) {
    recorded.add(want.path);
    const have = byPath.get(want.path);
    if (have === undefined) problems.push({ kind: 'missing', path: at(want.path), detail: `the ${want.type} is missing` });
    else if (have.type !== want.type) problems.push({ kind: 'changed-type', path: at(want.path), detail: `a ${have.type}, recorded as a ${want.type}` });
    else {
      if (want.type === 'file' && (have.sha256 !== want.sha256 || have.size !== want.size)) problems.push({ kind: 'changed-content', path: at(want.path), detail: `sha256 ${have.sha256!.slice(0, 12)} (${have.size} bytes), recorded ${want.sha256?.slice(0, 12)} (${want.size} bytes)` });
      if (want.type === 'symlink' && have.linkTarget !== want.linkTarget) problems.push({ kind: 'changed-link-target', path: at(want.path), detail: `links to ${JSON.stringify(have.linkTarget)}, recorded ${JSON.stringify(want.linkTarget)}` });
      if (want.type !== 'symlink' && have.mode !== want.mode) problems.push({ kind: 'changed-mode', path: at(want.path), detail: `mode ${octal(have.mode)}, recorded ${octal(want.mode)}` });
    }
  }
  for (const have of found) if (!recorded.has(have.path)) problems.push({ kind: 'unexpected-file', path: at(have.path), detail: `a ${have.type} that is not in the record` });
  return problems;
}

/** The bin links of a generation against the entry points of its packages' records. */
async function checkBinLinks(layout: StoreLayout, manifest: GenerationManifest, records: ReadonlyMap<string, StoreRecord | undefined>): Promise<VerifyProblem[]> {
  const bin = join(generationPath(layout, manifest.number), 'bin');
  const at = (command: string): string => `generations/${manifest.number}/bin${command === '' ? '' : `/${command}`}`;
  const expected = new Map<string, string>();
  for (const p of Object.values(manifest.packages)) {
    const record = records.get(p.id);
    if (record === undefined) continue; // reported as a record problem
    for (const [command, path] of Object.entries(record.manifest.entryPoints)) expected.set(command, binLinkTarget(p.id, path));
  }
  let names: string[];
  try {
    names = await readdir(bin);
  } catch {
    return [{ kind: 'bin-link', path: at(''), detail: 'the bin directory of the generation is missing' }];
  }
  const problems: VerifyProblem[] = [];
  for (const [command, target] of expected) {
    const actual = await readlink(join(bin, command)).catch(() => undefined);
    if (actual === undefined) problems.push({ kind: 'bin-link', path: at(command), detail: `missing or not a symlink; expected -> ${target}` });
    else if (actual !== target) problems.push({ kind: 'bin-link', path: at(command), detail: `points to ${JSON.stringify(actual.slice(0, 256))}, expected ${target}` });
  }
  for (const name of names.sort()) if (!expected.has(name)) problems.push({ kind: 'bin-link', path: at(name), detail: 'a command no package of the generation provides' });
  return problems;
}

function octal(mode: number): string {
  return `0${mode.toString(8)}`;
}
