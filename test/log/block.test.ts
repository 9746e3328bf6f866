// Tests for log/block.ts and log/roster-authorization.ts: heights and back links follow the
// formula of protocol.md section 5; blocks with wrong back links, heights, indices or parameters
// are refused; the roster changes only with the root threshold's authorization.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  backLinkIndices,
  blockHash,
  buildBlock,
  buildGenesis,
  createRosterAuthorization,
  genesisAuthorizationChain,
  height,
  LogError,
  MemoryChain,
  parseBlock,
  parseBlockBytes,
  rosterHash,
  validateBlock,
  validateGenesis,
  verifyRosterAuthorization,
  type Block,
} from '../../src/log/index.js';
import { buildTestLog, payloadFor, rootRole, rosterOf, witnessKey } from '../fixtures/log-chain.js';
import { rewrittenKeys, signerAs } from '../fixtures/key-variants.js';

const keys7 = Array.from({ length: 7 }, (_, i) => witnessKey(`a${i}`));
const keysB = Array.from({ length: 7 }, (_, i) => witnessKey(`b${i}`));

function refuses(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof LogError && e.code === code, `expected LogError ${code}`);
}

/** Number of times `base` divides `i`. */
function valuation(i: number, base: number): number {
  let v = 0;
  while (i % base === 0) {
    i /= base;
    v++;
  }
  return v;
}

test('heights follow height(i) = min(maxHeight, 1 + times base divides i) for many indices', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 9 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 2 ** 40 }), (base, maxHeight, index) => {
      fc.pre(base ** (maxHeight - 1) <= Number.MAX_SAFE_INTEGER / 2);
      assert.equal(height(index, base, maxHeight), Math.min(maxHeight, 1 + valuation(index, base)));
    }),
    { numRuns: 2000 },
  );
  assert.equal(height(0, 4, 12), 12);
});

test('back links point to the latest earlier block at each level', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 5000 }), (base, maxHeight, index) => {
      const links = backLinkIndices(index, base, maxHeight);
      assert.equal(links.length, height(index, base, maxHeight));
      links.forEach((target, h) => {
        assert.equal(target, index - base ** h);
        assert.ok(target >= 0);
        assert.ok(height(target, base, maxHeight) > h, `block ${target} is tall enough for level ${h}`);
        for (let between = target + 1; between < index; between++) assert.ok(height(between, base, maxHeight) <= h);
      });
    }),
    { numRuns: 500 },
  );
  assert.deepEqual(backLinkIndices(0, 2, 32), []);
});

test('a chain built block by block validates, and blocks survive a parse round trip', async () => {
  const log = await buildTestLog({ blocks: 20, base: 2, maxHeight: 4, genesis: { keys: keys7, threshold: 5 }, changes: { 9: { keys: keysB, threshold: 5 } } });
  assert.equal(log.chain.length, 20);
  for (let i = 0; i < 20; i++) {
    const b = log.chain.blockAt(i)!;
    assert.deepEqual(parseBlockBytes(JSON.stringify(b)), b);
    assert.equal(blockHash(parseBlock(JSON.parse(JSON.stringify(b)))), log.chain.hashAt(i));
  }
  assert.equal(log.chain.blockAt(8)!.height, 4);
  assert.equal(log.chain.blockAt(9)!.roster, rosterHash(rosterOf(keysB, 5)));
  assert.equal(log.chain.blockAt(10)!.roster, log.chain.blockAt(9)!.roster);
});

async function smallChain(): Promise<{ chain: MemoryChain; root: ReturnType<typeof rootRole> }> {
  const log = await buildTestLog({ blocks: 8, genesis: { keys: keys7, threshold: 5 } });
  return { chain: log.chain, root: log.root };
}

test('refuses a block with wrong back links', async () => {
  const { chain, root } = await smallChain();
  const next = buildBlock(chain, payloadFor(8));
  assert.equal(next.height, 4);
  const forged: Block = { ...next, backLinks: [...next.backLinks] };
  forged.backLinks[2] = chain.hashAt(5)!; // should be block 4
  refuses(() => validateBlock(forged, chain, { root: root.role }), 'BAD_BACK_LINK');
  const missing: Block = { ...next, backLinks: next.backLinks.slice(0, 3) };
  refuses(() => validateBlock(missing, chain, { root: root.role }), 'BAD_BACK_LINK');
  validateBlock(next, chain, { root: root.role });
});

test('refuses a block whose height does not follow the formula', async () => {
  const { chain } = await smallChain();
  const next = buildBlock(chain, payloadFor(8));
  refuses(() => validateBlock({ ...next, height: 3, backLinks: next.backLinks.slice(0, 3) }, chain), 'BAD_BACK_LINK');
  refuses(() => validateBlock({ ...next, height: 5, backLinks: [...next.backLinks, chain.hashAt(0)!] }, chain), 'BAD_BACK_LINK');
});

test('refuses a block at the wrong index, on another chain, with other parameters or going back in time', async () => {
  const { chain } = await smallChain();
  const next = buildBlock(chain, payloadFor(8));
  refuses(() => validateBlock({ ...next, index: 9, height: 1, backLinks: [chain.hashAt(7)!] }, chain), 'BAD_BLOCK');
  refuses(() => validateBlock({ ...next, chain: 'ab'.repeat(32) }, chain), 'BAD_BLOCK');
  refuses(() => validateBlock({ ...next, maxHeight: 31 }, chain), 'BAD_BLOCK');
  refuses(() => validateBlock({ ...next, payload: { ...next.payload, time: '2025-12-31T00:00:00Z' } }, chain), 'BAD_BLOCK');
  refuses(() => parseBlock({ ...next, extra: 1 }), 'BAD_BLOCK');
  refuses(() => parseBlock({ ...next, payload: { ...next.payload, time: '2026-02-30T00:00:00Z' } }), 'BAD_BLOCK');
  refuses(() => parseBlock({ ...next, base: 1 }), 'BAD_BLOCK');
});

test('refuses a roster change without the rosterChange and its authorization', async () => {
  const { chain } = await smallChain();
  const next = buildBlock(chain, payloadFor(8));
  refuses(() => validateBlock({ ...next, roster: rosterHash(rosterOf(keysB, 5)) }, chain), 'ROSTER_NOT_AUTHORIZED');
});

test('refuses a roster change authorized by the wrong keys or below the root threshold', async () => {
  const { chain, root } = await smallChain();
  const roster = rosterOf(keysB, 5);
  const statement = { chain: chain.chain, index: 8, roster: rosterHash(roster) };
  const impostors = rootRole(3, 2, 'impostor');
  const wrongKeys = buildBlock(chain, payloadFor(8), { roster, authorization: createRosterAuthorization(impostors.signers, statement) });
  refuses(() => validateBlock(wrongKeys, chain, { root: root.role }), 'ROSTER_NOT_AUTHORIZED');
  const oneKey = buildBlock(chain, payloadFor(8), { roster, authorization: createRosterAuthorization(root.signers.slice(0, 1), statement) });
  refuses(() => validateBlock(oneKey, chain, { root: root.role }), 'ROSTER_NOT_AUTHORIZED');
  // The same key twice counts once.
  const twice = createRosterAuthorization(root.signers.slice(0, 1), statement);
  const dup = buildBlock(chain, payloadFor(8), { roster, authorization: [...twice, ...twice] });
  refuses(() => validateBlock(dup, chain, { root: root.role }), 'ROSTER_NOT_AUTHORIZED');
  // One root key listed again under another key ID (written another way) still counts once.
  for (const variant of rewrittenKeys(root.signers[0]!.publicKey)) {
    const twinRole = { keys: { ...root.role.keys, [variant.keyid]: variant.key }, threshold: 2 };
    const authorization = createRosterAuthorization([root.signers[0]!, signerAs(root.signers[0]!, variant)], statement);
    const twin = buildBlock(chain, payloadFor(8), { roster, authorization });
    refuses(() => validateBlock(twin, chain, { root: twinRole }), 'ROSTER_NOT_AUTHORIZED');
  }
  // An authorization for another index (replayed) does not count.
  const replayed = buildBlock(chain, payloadFor(8), { roster, authorization: createRosterAuthorization(root.signers, { ...statement, index: 7 }) });
  refuses(() => validateBlock(replayed, chain, { root: root.role }), 'ROSTER_NOT_AUTHORIZED');
  const good = buildBlock(chain, payloadFor(8), { roster, authorization: createRosterAuthorization(root.signers.slice(1, 3), statement) });
  refuses(() => validateBlock(good, chain), 'ROSTER_NOT_AUTHORIZED'); // no root role given
  chain.append(good, { root: root.role });
  assert.equal(chain.head.roster, statement.roster);
  assert.deepEqual(verifyRosterAuthorization(good.rosterChange!.authorization, statement, root.role).length, 2);
});

test('refuses a roster that is not acceptable (bad proof of possession, threshold above n)', async () => {
  const { chain, root } = await smallChain();
  const bad = rosterOf(keysB, 5);
  bad.witnesses[3] = { ...bad.witnesses[3]!, pop: bad.witnesses[2]!.pop };
  const statement = { chain: chain.chain, index: 8, roster: rosterHash(bad) };
  const block = buildBlock(chain, payloadFor(8), { roster: bad, authorization: createRosterAuthorization(root.signers, statement) });
  refuses(() => validateBlock(block, chain, { root: root.role }), 'UNKNOWN_ROSTER');
  refuses(() => parseBlock({ ...block, rosterChange: { ...block.rosterChange!, roster: { ...rosterOf(keysB, 5), threshold: 8 } } }), 'UNKNOWN_ROSTER');
});

test('genesis rules: carries its roster, authorized by the initial root role', () => {
  const root = rootRole(3, 2);
  const roster = rosterOf(keys7, 5);
  const payload = payloadFor(0);
  const authorization = createRosterAuthorization(root.signers.slice(0, 2), { chain: genesisAuthorizationChain(payload.root.sha256), index: 0, roster: rosterHash(roster) });
  const genesis = buildGenesis({ base: 2, maxHeight: 32 }, payload, { roster, authorization });
  assert.equal(validateGenesis(genesis, root.role).height, 32);
  refuses(() => validateGenesis(genesis, rootRole(3, 2, 'other').role), 'ROSTER_NOT_AUTHORIZED');
  refuses(() => parseBlock({ ...genesis, rosterChange: null }), 'BAD_BLOCK');
  refuses(() => parseBlock({ ...genesis, chain: 'ab'.repeat(32) }), 'BAD_BLOCK');
  refuses(() => parseBlock({ ...genesis, backLinks: ['ab'.repeat(32)] }), 'BAD_BACK_LINK');
});
