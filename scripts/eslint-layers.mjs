// scripts/eslint-layers.mjs: the layering of docs/architecture.md "Layers", enforced by the lint.
// Each folder under src/ is one layer; a module imports only layers below its own (never a peer,
// never one above), and nothing under src/ imports tests or benchmarks. Tests and benchmarks use
// each layer's public API only: src/LAYER/index.ts. Static imports, re-exports and dynamic
// import() are all checked.
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root: the layers are the folders of ROOT/src. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The layers, lowest first; the layers of one row are peers and may not import each other. */
export const LAYERS = [
  ['errors'],
  ['encoding'],
  ['io'],
  ['crypto'],
  ['cosi', 'tuf'],
  ['log', 'policy'],
  ['package', 'upstream'],
  ['repo', 'mirror'],
  ['client', 'witness', 'rebuild'],
  ['release', 'store', 'monitor'],
  ['apps'],
  ['demo'],
  ['cli'],
];

const LEVEL = new Map(LAYERS.flatMap((row, level) => row.map((name) => [name, level])));

/** 'src', 'test' or 'bench' and, under src/, the layer of an absolute path inside `root`. */
function place(root, path) {
  const parts = relative(root, path).split(sep);
  if (parts[0] === '..' || parts.length < 2) return undefined;
  return { area: parts[0], layer: parts[0] === 'src' ? parts[1] : undefined, rest: parts.slice(parts[0] === 'src' ? 2 : 1).join('/') };
}

function check(context, node, specifier) {
  if (typeof specifier !== 'string' || !specifier.startsWith('.')) return;
  const root = ROOT;
  const from = place(root, context.filename);
  const to = place(root, resolve(dirname(context.filename), specifier));
  if (!from || !to) return;
  const report = (message) => context.report({ node, message: `${message} (docs/architecture.md "Layers")` });
  if (from.area === 'src') {
    if (!LEVEL.has(from.layer)) return report(`src/${from.layer}/ is not a layer of the layer table in scripts/eslint-layers.mjs`);
    if (to.area !== 'src') return report(`src/ may not import ${to.area}/`);
    if (to.layer === from.layer) return;
    if (!LEVEL.has(to.layer)) return report(`src/${to.layer}/ is not a layer of the layer table in scripts/eslint-layers.mjs`);
    if (LEVEL.get(to.layer) >= LEVEL.get(from.layer)) {
      const how = LEVEL.get(to.layer) === LEVEL.get(from.layer) ? 'a peer layer' : 'a layer above it';
      return report(`src/${from.layer} may not import src/${to.layer}, ${how}: imports go only downward`);
    }
    // repo/index.ts is where every operation that changes a workspace takes its lock: a module of
    // repo/ imported past it would run unlocked.
    if (to.layer === 'repo' && to.rest !== 'index.js') return report(`src/${from.layer} imports repo/ through src/repo/index.js (where workspace operations take their lock), not src/repo/${to.rest}`);
    return;
  }
  if ((from.area === 'test' || from.area === 'bench') && to.area === 'src' && to.rest !== 'index.js') {
    report(`${from.area}/ uses the public API of each layer: import src/${to.layer}/index.js, not src/${to.layer}/${to.rest}`);
  }
}

export const layersPlugin = {
  rules: {
    imports: {
      meta: { type: 'problem', docs: { description: 'imports follow the layering of docs/architecture.md' }, schema: [] },
      create(context) {
        return {
          ImportDeclaration: (node) => check(context, node, node.source.value),
          ExportNamedDeclaration: (node) => node.source && check(context, node, node.source.value),
          ExportAllDeclaration: (node) => check(context, node, node.source.value),
          ImportExpression: (node) => node.source.type === 'Literal' && check(context, node, node.source.value),
        };
      },
    },
  },
};
