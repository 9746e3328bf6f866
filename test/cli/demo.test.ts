// test/cli/demo.test.ts: `npm start` runs `cairn demo`; it must complete on a fresh machine,
// verify its downloads and refuse each attack it stages with the right typed error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './run-cli.js';

test('the demo publishes, serves, verifies downloads and refuses the staged attacks', { timeout: 120_000 }, async () => {
  const r = await runCli(['--json', 'demo'], { timeoutMs: 110_000 });
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as {
    downloaded: Array<{ target: string }>;
    refused: Array<{ attack: string; code: string }>;
    secondRelease: { rootVersions: number[] };
  };
  assert.equal(summary.downloaded.length, 4);
  assert.deepEqual(summary.refused.map((x) => x.code), ['HASH_MISMATCH', 'EXPIRED', 'THRESHOLD_NOT_MET']);
  assert.deepEqual(summary.secondRelease.rootVersions, [1, 2]);
});
