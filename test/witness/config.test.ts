// test/witness/config.test.ts: the chain a witness serves, as its operator names it (docs/witness.md
// "The chain a witness serves"): root keys are distinct by key material (docs/protocol.md
// "Distinct keys"), so one key written twice is one key, and a pin whose threshold only the
// doubled key could meet is refused before anything is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ed25519Signer } from '../../src/crypto/index.js';
import { initWitness, WitnessError } from '../../src/witness/index.js';
import { rewrittenKeys } from '../fixtures/key-variants.js';
import { withTempDir } from '../fixtures/temp-dir.js';

test('a root-key pin that names one key twice (another spelling) is refused: BAD_CONFIG, nothing written', async () => {
  await withTempDir('cairn-witness-config-', async (dir) => {
    const key = ed25519Signer(generateKeyPairSync('ed25519').privateKey).publicKey;
    for (const variant of rewrittenKeys(key)) {
      const witnessDir = join(dir, variant.how.replaceAll(' ', '-'));
      await assert.rejects(
        initWitness(witnessDir, { name: 'w1', address: 'http://127.0.0.1:7001', chain: { rootKeys: [key, variant.key], threshold: 2 } }),
        (e: unknown) => e instanceof WitnessError && e.code === 'BAD_CONFIG' && /distinct/.test(e.message),
        variant.how,
      );
      await assert.rejects(readdir(witnessDir), { code: 'ENOENT' }, 'nothing written');
    }
  });
});
