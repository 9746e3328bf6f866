// test/scripts/eslint-layers.test.ts: the layering of docs/architecture.md is enforced by the lint
// (scripts/eslint-layers.mjs): a wrong import fails `npm test`, and no comment can switch the rule
// off. Each case lints a module placed (virtually) in the tree with the project's own config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: ROOT });

async function layerErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === 'layers/imports' || m.ruleId === null).map((m) => m.message);
}

test('a lower layer that imports a higher one fails the lint', async () => {
  const errors = await layerErrors('src/log/wrong.ts', "import { publishRelease } from '../release/index.js';\nexport const x = publishRelease;\n");
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /src\/log may not import src\/release, a layer above it/);
});

test('a peer import, a re-export and a dynamic import() are refused as well', async () => {
  assert.match((await layerErrors('src/tuf/wrong.ts', "import { acceptRoster } from '../cosi/index.js';\nexport const x = acceptRoster;\n"))[0]!, /a peer layer/);
  assert.match((await layerErrors('src/crypto/wrong.ts', "export { Updater } from '../tuf/index.js';\n"))[0]!, /src\/crypto may not import src\/tuf/);
  assert.match((await layerErrors('src/client/wrong.ts', "export const load = () => import('../cli/main.js');\n"))[0]!, /src\/client may not import src\/cli/);
});

test('src/ does not import tests, and a folder outside the layer table is refused', async () => {
  assert.match((await layerErrors('src/repo/wrong.ts', "import { makeRepo } from '../../test/repo/fixtures.js';\nexport const x = makeRepo;\n"))[0]!, /src\/ may not import test\//);
  assert.match((await layerErrors('src/misc/wrong.ts', "import { EXIT } from '../errors/index.js';\nexport const x = EXIT;\n"))[0]!, /src\/misc\/ is not a layer/);
});

test('tests and benchmarks import only each layer\'s public API', async () => {
  assert.match((await layerErrors('test/log/wrong.test.ts', "import { height } from '../../src/log/block.js';\nexport const x = height;\n"))[0]!, /import src\/log\/index\.js, not src\/log\/block\.js/);
  assert.deepEqual(await layerErrors('bench/right.ts', "import { height } from '../src/log/index.js';\nexport const x = height;\n"), []);
});

test('other layers reach repo/ only through repo/index.ts, where workspace operations take their lock', async () => {
  assert.match((await layerErrors('src/release/wrong.ts', "import { publish } from '../repo/publish.js';\nexport const x = publish;\n"))[0]!, /through src\/repo\/index\.js .* not src\/repo\/publish\.js/);
  assert.deepEqual(await layerErrors('src/release/right.ts', "import { publish } from '../repo/index.js';\nexport const x = publish;\n"), []);
});

test('downward imports pass, and a disable comment cannot switch the rule off', async () => {
  assert.deepEqual(await layerErrors('src/release/right.ts', "import { height } from '../log/index.js';\nexport const x = height;\n"), []);
  const disabled = await layerErrors('src/log/wrong.ts', "// eslint-disable-next-line layers/imports\nimport { publishRelease } from '../release/index.js';\nexport const x = publishRelease;\n");
  assert.ok(disabled.some((m) => /may not import src\/release/.test(m)), disabled.join('\n'));
});
