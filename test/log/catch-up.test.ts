// Tests for log/catch-up.ts: plans are logarithmic (at most 2·log2(d) hops with base 2), a
// client catches up over roster changes reading only links, new rosters and the head block, and
// every attack a mirror can stage on the way is refused with its typed error. Rosters met on the
// way are vouched for by the link naming them (protocol.md 5, "Vouched rosters"): their keys are
// not subgroup-checked nor their proofs of possession verified, while the trusted roster is
// checked in full and a roster no valid link vouches for is never accepted.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  blockHash, buildBlock, buildForwardLink, buildGenesis, buildHeadStatement, catchUp, createRosterAuthorization,
  encodeLogFile, formatUtcTime, headMessage, height, LOG_PATHS, LogError, planCatchUp, rosterHash, verifyCatchUpPath,
  type Block, type CatchUpHop, type HeadFile, type LinkFile, type Roster, forwardLinkMessage,
} from '../../src/log/index.js';
import { CosiError, createProofOfPossession, type WitnessKey, toHex } from '../../src/cosi/index.js';
import { torsionedKeyHex } from '../cosi/fixtures.js';
import { buildTestLog, cosign, MemorySource, payloadFor, rootRole, rosterOf, T0, witnessKey, type TestLog } from '../fixtures/log-chain.js';

const keys = (tag: string) => Array.from({ length: 7 }, (_, i) => witnessKey(`${tag}${i}`));
const keysA = keys('a');
const keysB = keys('b');
const keysC = keys('c');

test('catch-up plans have at most 2·log2(d) hops with base 2, for distances up to 1e6', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 1, max: 1_000_000 }), (from, d) => {
      const plan = planCatchUp(from, from + d, 2, 32);
      assert.ok(plan.length <= Math.max(1, 2 * Math.log2(d)), `${plan.length} hops for ${from} -> ${from + d}`);
      let at = from;
      for (const hop of plan) {
        assert.equal(hop.fromIndex, at);
        assert.ok(hop.level < height(at, 2, 32));
        assert.equal(hop.toIndex, at + 2 ** hop.level);
        at = hop.toIndex;
      }
      assert.equal(at, from + d);
    }),
    { numRuns: 3000 },
  );
});

test('with base b, plans stay within (b-1)·(2·floor(log_b d) + 1) hops', () => {
  fc.assert(
    fc.property(fc.integer({ min: 3, max: 8 }), fc.integer({ min: 0, max: 2 ** 20 }), fc.integer({ min: 1, max: 1_000_000 }), (base, from, d) => {
      const plan = planCatchUp(from, from + d, base, 16);
      const L = Math.floor(Math.log(d) / Math.log(base) + 1e-9);
      assert.ok(plan.length <= (base - 1) * (2 * L + 1), `base ${base}: ${plan.length} hops for distance ${d}`);
    }),
    { numRuns: 2000 },
  );
});

test('plans fall back to lower levels when a link is missing, and refuse when level 0 is missing', () => {
  const full = planCatchUp(0, 100, 2, 32);
  const without64 = planCatchUp(0, 100, 2, 32, (from, level) => !(from === 0 && level === 6));
  assert.ok(without64.length > full.length);
  assert.equal(without64.at(-1)!.toIndex, 100);
  assert.throws(() => planCatchUp(3, 10, 2, 32, (from) => from !== 3), (e: unknown) => e instanceof LogError && e.code === 'NOT_REACHABLE');
  assert.throws(() => planCatchUp(10, 3, 2, 32), (e: unknown) => e instanceof LogError && e.code === 'NOT_REACHABLE');
  assert.deepEqual(planCatchUp(5, 5, 2, 32), []);
});

let log: TestLog;
let headFile: HeadFile;
const NOW = new Date((T0 + 100 * 60 + 120) * 1000);
const policy = { now: NOW, maxAgeSeconds: 3600 };
const trusted = () => ({ block: log.chain.blockAt(3)!, roster: log.rosterAt(3).roster });

before(async () => {
  // 70 blocks, roster A, then B from block 20, then C from block 45.
  log = await buildTestLog({ blocks: 70, genesis: { keys: keysA, threshold: 5 }, changes: { 20: { keys: keysB, threshold: 5 }, 45: { keys: keysC, threshold: 5 } } });
  headFile = await log.head(69, formatUtcTime(T0 + 100 * 60));
});

async function refuses(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof LogError && e.code === code, `expected LogError ${code}`);
}

test('catches up over two roster changes reading only links, new rosters and the head block', async () => {
  const source = await MemorySource.of(log, headFile);
  const result = await catchUp(source, trusted(), { freshness: policy });
  assert.equal(result.head.index, 69);
  assert.equal(result.roster.witnesses[0]!.key, keysC[0]!.publicKeyHex);
  const plan = planCatchUp(3, 69, 2, 32);
  assert.equal(result.stats.links, plan.length);
  assert.equal(result.stats.blocks, 1);
  assert.equal(result.stats.rosters, 2);
  assert.ok(source.reads.every((p) => !p.startsWith('log/blocks/') || p === LOG_PATHS.block(69)));
  // The same path, handed over as hops with every block, verifies too.
  const hops: CatchUpHop[] = plan.map((h) => {
    const file = log.links.get(`${h.fromIndex}.${h.level}`)!;
    const to = log.chain.blockAt(h.toIndex)!;
    return { ...file, block: to, ...(file.link.newRoster ? { roster: log.rosters.get(file.link.newRoster)!.roster } : {}) };
  });
  assert.equal(verifyCatchUpPath(trusted(), hops).head.index, 69);
});

test('falls back to a lower level when a mirror lacks a link', async () => {
  const source = await MemorySource.of(log, headFile);
  source.files.delete(LOG_PATHS.link(32, 5));
  source.files.delete(LOG_PATHS.link(4, 2));
  const result = await catchUp(source, trusted(), { freshness: policy });
  assert.equal(result.head.index, 69);
  assert.ok(result.stats.missingLinks >= 1);
  source.files.delete(LOG_PATHS.link(3, 0));
  await refuses(catchUp(source, trusted(), { freshness: policy }), 'NOT_REACHABLE');
});

test('refuses a catch-up longer than the hop cap before fetching any link', async () => {
  const source = await MemorySource.of(log, headFile);
  await refuses(catchUp(source, trusted(), { freshness: policy, limits: { maxHops: 3 } }), 'CATCH_UP_TOO_LONG');
  assert.deepEqual(source.reads, [LOG_PATHS.head]);
});

test('refuses a forged link served by a mirror', async () => {
  const source = await MemorySource.of(log, headFile);
  const real = log.links.get('4.2')!;
  const forged = { ...real, link: { ...real.link, to: 'ab'.repeat(32) } };
  source.files.set(LOG_PATHS.link(4, 2), encodeLogFile(forged));
  await refuses(catchUp(source, trusted(), { freshness: policy }), 'BAD_FORWARD_LINK');
});

test('refuses a link signed by a rotated-out roster on the path', async () => {
  // From block 32 on, roster B is in force; the mirror serves 32 -> 64 (which names roster C)
  // co-signed by the old roster A.
  const source = await MemorySource.of(log, headFile);
  const real = log.links.get('32.5')!;
  source.files.set(LOG_PATHS.link(32, 5), encodeLogFile({ link: real.link, cosignature: await cosign(rosterOf(keysA, 5), keysA, forwardLinkMessage(real.link)) }));
  await refuses(catchUp(source, trusted(), { freshness: policy }), 'BAD_FORWARD_LINK');
});

test('refuses an under-threshold link on the path', async () => {
  const source = await MemorySource.of(log, headFile);
  const real = log.links.get('8.3')!;
  source.files.set(LOG_PATHS.link(8, 3), encodeLogFile({ link: real.link, cosignature: await cosign(rosterOf(keysA, 5), keysA.slice(0, 4), forwardLinkMessage(real.link)) }));
  await refuses(catchUp(source, trusted(), { freshness: policy }), 'THRESHOLD_NOT_MET');
});

test('refuses a roster file whose content is not the roster the link names', async () => {
  const source = await MemorySource.of(log, headFile);
  const named = log.links.get('16.4')!.link.newRoster!;
  source.files.set(LOG_PATHS.roster(named), encodeLogFile(rosterOf(keysA, 5)));
  await refuses(catchUp(source, trusted(), { freshness: policy }), 'UNKNOWN_ROSTER');
  source.files.delete(LOG_PATHS.roster(named));
  await refuses(catchUp(source, trusted(), { freshness: policy }), 'UNKNOWN_ROSTER');
});

test('refuses a stale head (freeze) and a replayed older head', async () => {
  const source = await MemorySource.of(log, headFile);
  await refuses(catchUp(source, trusted(), { freshness: { now: new Date(NOW.getTime() + 2 * 3600_000), maxAgeSeconds: 3600 } }), 'STALE_HEAD');
  const last = { index: 69, hash: log.chain.hashAt(69)!, time: formatUtcTime(T0 + 100 * 60 + 60) };
  await refuses(catchUp(source, trusted(), { freshness: { ...policy, lastAccepted: last } }), 'REPLAYED_HEAD');
  // A head behind the trusted block.
  source.files.set(LOG_PATHS.head, encodeLogFile(await log.head(2, formatUtcTime(T0 + 100 * 60))));
  await refuses(catchUp(source, trusted(), { freshness: policy }), 'REPLAYED_HEAD');
});

test('a head statement naming another block than the co-signed links is equivocation', async () => {
  const source = await MemorySource.of(log, headFile);
  const statement = { ...headFile.statement, hash: 'ef'.repeat(32) };
  const r = log.rosterAt(69);
  const { headMessage } = await import('../../src/log/index.js');
  source.files.set(LOG_PATHS.head, encodeLogFile({ statement, cosignature: await cosign(r.roster, r.keys, headMessage(statement)) }));
  await refuses(catchUp(source, trusted(), { freshness: policy }), 'EQUIVOCATION');
  source.files.set(LOG_PATHS.head, encodeLogFile({ statement, cosignature: headFile.cosignature }));
  await refuses(catchUp(source, trusted(), { freshness: policy }), 'BAD_HEAD');
});

test('verifyCatchUpPath refuses a path without its final block and a wrong trusted roster', () => {
  const file = log.links.get('3.0')!;
  assert.throws(() => verifyCatchUpPath(trusted(), [file]), (e: unknown) => e instanceof LogError && e.code === 'NOT_REACHABLE');
  assert.throws(
    () => verifyCatchUpPath({ block: log.chain.blockAt(3)!, roster: rosterOf(keysB, 5) }, [{ ...file, block: log.chain.blockAt(4)! }]),
    (e: unknown) => e instanceof LogError && e.code === 'UNKNOWN_ROSTER',
  );
  assert.throws(
    () => verifyCatchUpPath(trusted(), [{ ...file, block: log.chain.blockAt(5)! }]),
    (e: unknown) => e instanceof LogError && e.code === 'BAD_FORWARD_LINK',
  );
});

test('a roster-changing link below threshold vouches for nothing: the new roster is never fetched', async () => {
  const source = await MemorySource.of(log, headFile);
  const real = log.links.get('16.4')!; // 16 -> 32, names roster B
  assert.ok(real.link.newRoster !== null);
  source.files.set(LOG_PATHS.link(16, 4), encodeLogFile({ link: real.link, cosignature: await cosign(rosterOf(keysA, 5), keysA.slice(0, 4), forwardLinkMessage(real.link)) }));
  await refuses(catchUp(source, trusted(), { freshness: policy }), 'THRESHOLD_NOT_MET');
  assert.ok(!source.reads.includes(LOG_PATHS.roster(real.link.newRoster)), 'roster B was not read');
});

// ---- vouched rosters -------------------------------------------------------------------------
// A small chain: genesis with roster A, block 1 changes to B, block 2 to T, block 3 keeps T. T
// is "defective" (a torsioned key or a wrong proof of possession at witness 6), so acceptRoster
// refuses it; its witnesses 0-4 are honest and sign with the roster as it should be (their
// aggregate key is the same in both). Anchored at genesis or block 1, a client meets T only
// through a link that names it.

const keysT = keys('t');
type Defect = 'a torsioned key' | 'a wrong proof of possession';
const DEFECTS: Defect[] = ['a torsioned key', 'a wrong proof of possession'];
const CAUSE: Record<Defect, string> = { 'a torsioned key': 'BAD_KEY', 'a wrong proof of possession': 'BAD_PROOF_OF_POSSESSION' };

function defectiveRoster(defect: Defect): Roster {
  const r = rosterOf(keysT, 5);
  if (defect === 'a torsioned key') r.witnesses[6]!.key = torsionedKeyHex(keysT[6]!);
  else r.witnesses[6]!.pop = toHex(createProofOfPossession(keysT[5]!));
  return r;
}

interface VouchChain {
  blocks: Block[];
  links: Map<string, LinkFile>;
  rosterT: Roster;
  head: HeadFile;
  source(): MemorySource;
}

async function vouchChain(rosterT: Roster): Promise<VouchChain> {
  const root = rootRole(3, 2);
  const rosterA = rosterOf(keysA, 5);
  const rosterB = rosterOf(keysB, 5);
  const signers: Array<{ roster: Roster; keys: WitnessKey[] }> = [];
  const blocks: Block[] = [];
  const authorize = (roster: Roster, chain: string, index: number) => ({
    roster,
    authorization: createRosterAuthorization(root.signers.slice(0, 2), { chain, index, roster: rosterHash(roster) }),
  });
  blocks.push(buildGenesis({ base: 2, maxHeight: 32 }, payloadFor(0), authorize(rosterA, '', 0)));
  const chain = blockHash(blocks[0]!);
  const view = { chain, base: 2, maxHeight: 32, get head() { return blocks.at(-1)!; }, hashAt: (i: number) => (blocks[i] ? blockHash(blocks[i]) : undefined) };
  blocks.push(buildBlock(view, payloadFor(1), authorize(rosterB, chain, 1)));
  blocks.push(buildBlock(view, payloadFor(2), authorize(rosterT, chain, 2)));
  blocks.push(buildBlock(view, payloadFor(3)));
  const honestT = { roster: rosterOf(keysT, 5), keys: keysT.slice(0, 5) };
  signers.push({ roster: rosterA, keys: keysA }, { roster: rosterB, keys: keysB }, honestT, honestT);
  const links = new Map<string, LinkFile>();
  for (const [from, to] of [[0, 1], [0, 2], [1, 2], [2, 3]] as const) {
    const link = buildForwardLink(blocks[from]!, blocks[to]!);
    links.set(`${from}.${link.level}`, { link, cosignature: await cosign(signers[from]!.roster, signers[from]!.keys, forwardLinkMessage(link)) });
  }
  const statement = buildHeadStatement(blocks[3]!, formatUtcTime(T0 + 100 * 60));
  const head = { statement, cosignature: await cosign(honestT.roster, honestT.keys, headMessage(statement)) };
  const source = (): MemorySource => {
    const m = new MemorySource();
    blocks.forEach((b, i) => m.files.set(LOG_PATHS.block(i), encodeLogFile(b)));
    for (const [key, file] of links) {
      const [from, level] = key.split('.').map(Number) as [number, number];
      m.files.set(LOG_PATHS.link(from, level), encodeLogFile(file));
    }
    for (const r of [rosterB, rosterT]) m.files.set(LOG_PATHS.roster(rosterHash(r)), encodeLogFile(r));
    m.files.set(LOG_PATHS.head, encodeLogFile(head));
    return m;
  };
  return { blocks, links, rosterT, head, source };
}

function refusesRoster(run: () => unknown, cause: string): void {
  assert.throws(run, (e: unknown) => e instanceof LogError && e.code === 'UNKNOWN_ROSTER' && e.cause instanceof CosiError && e.cause.code === cause, `expected UNKNOWN_ROSTER caused by ${cause}`);
}

for (const defect of DEFECTS) {
  test(`a roster with ${defect} is accepted when a link vouches for it, and refused as the trusted roster`, async () => {
    const c = await vouchChain(defectiveRoster(defect));
    // Vouched: from genesis (link 0 -> 2 by A names T) and from block 1 (link 1 -> 2 by B).
    for (const [at, roster] of [[0, rosterOf(keysA, 5)], [1, rosterOf(keysB, 5)]] as const) {
      const source = c.source();
      const result = await catchUp(source, { block: c.blocks[at]!, roster }, { freshness: policy });
      assert.equal(result.head.index, 3);
      assert.deepEqual(result.roster, c.rosterT);
      assert.ok(source.reads.includes(LOG_PATHS.roster(rosterHash(c.rosterT))));
    }
    const path = verifyCatchUpPath({ block: c.blocks[0]!, roster: rosterOf(keysA, 5) }, [
      { ...c.links.get('0.1')!, roster: c.rosterT },
      { ...c.links.get('2.0')!, block: c.blocks[3]! },
    ]);
    assert.deepEqual(path.roster, c.rosterT);
    // Anchored: the same roster, trusted at block 2 or 3, is checked in full and refused.
    for (const at of [2, 3]) {
      const anchored = { block: c.blocks[at]!, roster: c.rosterT };
      await assert.rejects(catchUp(c.source(), anchored, { freshness: policy }), (e: unknown) => e instanceof LogError && e.code === 'UNKNOWN_ROSTER' && (e.cause as CosiError).code === CAUSE[defect]);
      refusesRoster(() => verifyCatchUpPath(anchored, at === 3 ? [] : [{ ...c.links.get('2.0')!, block: c.blocks[3]! }]), CAUSE[defect]);
    }
  });
}

test('a vouched roster that becomes the new trusted block\'s (anchorAtHead) is checked in full: a defective one is refused', async () => {
  for (const defect of DEFECTS) {
    const c = await vouchChain(defectiveRoster(defect));
    const source = c.source();
    await assert.rejects(catchUp(source, { block: c.blocks[0]!, roster: rosterOf(keysA, 5) }, { freshness: policy, anchorAtHead: true }),
      (e: unknown) => e instanceof LogError && e.code === 'UNKNOWN_ROSTER' && (e.cause as CosiError).code === CAUSE[defect] && /of the new trusted block 3/.test(e.message));
  }
  const sound = await vouchChain(rosterOf(keysT, 5));
  const result = await catchUp(sound.source(), { block: sound.blocks[0]!, roster: rosterOf(keysA, 5) }, { freshness: policy, anchorAtHead: true });
  assert.equal(result.head.index, 3);
  assert.deepEqual(result.roster, rosterOf(keysT, 5));
});

test('a roster change signed by a rotated-out roster vouches for nothing', async () => {
  // Anchored at block 1 (roster B): the mirror serves link 1 -> 2, naming T, co-signed by A.
  const c = await vouchChain(defectiveRoster('a torsioned key'));
  const source = c.source();
  const real = c.links.get('1.0')!;
  source.files.set(LOG_PATHS.link(1, 0), encodeLogFile({ link: real.link, cosignature: await cosign(rosterOf(keysA, 5), keysA, forwardLinkMessage(real.link)) }));
  await refuses(catchUp(source, { block: c.blocks[1]!, roster: rosterOf(keysB, 5) }, { freshness: policy }), 'BAD_FORWARD_LINK');
  assert.ok(!source.reads.includes(LOG_PATHS.roster(rosterHash(c.rosterT))), 'roster T was not read');
  // Below B's threshold: 4 of 7.
  source.files.set(LOG_PATHS.link(1, 0), encodeLogFile({ link: real.link, cosignature: await cosign(rosterOf(keysB, 5), keysB.slice(0, 4), forwardLinkMessage(real.link)) }));
  await refuses(catchUp(source, { block: c.blocks[1]!, roster: rosterOf(keysB, 5) }, { freshness: policy }), 'THRESHOLD_NOT_MET');
  assert.ok(!source.reads.includes(LOG_PATHS.roster(rosterHash(c.rosterT))), 'roster T was not read');
});

test('a roster whose hash is not the one the link names is refused, however close to it', async () => {
  // The mirror swaps the vouched roster for one with another torsioned key, or a bad roster
  // with no link naming it: neither is the roster the link vouches for.
  const c = await vouchChain(defectiveRoster('a torsioned key'));
  const named = rosterHash(c.rosterT);
  const swapped = defectiveRoster('a torsioned key');
  swapped.witnesses[5]!.key = torsionedKeyHex(keysT[5]!);
  for (const served of [swapped, defectiveRoster('a wrong proof of possession'), rosterOf(keysT, 5)]) {
    const source = c.source();
    source.files.set(LOG_PATHS.roster(named), encodeLogFile(served));
    await assert.rejects(catchUp(source, { block: c.blocks[0]!, roster: rosterOf(keysA, 5) }, { freshness: policy }), (e: unknown) => e instanceof LogError && e.code === 'UNKNOWN_ROSTER' && (e.cause as CosiError).code === 'NOT_VOUCHED');
  }
  refusesRoster(
    () => verifyCatchUpPath({ block: c.blocks[0]!, roster: rosterOf(keysA, 5) }, [{ ...c.links.get('0.1')!, roster: swapped }, { ...c.links.get('2.0')!, block: c.blocks[3]! }]),
    'NOT_VOUCHED',
  );
});

test('a roster file with the named hash but other content (an unpaired surrogate hashed as U+FFFD) is refused', async () => {
  // Roster T as witnesses checked it has an address holding U+FFFD. The mirror serves, under
  // T's hash, T with an unpaired surrogate there instead: canonical JSON writes it as U+FFFD, so
  // its hash is T's, but it is not the roster the link names.
  const rosterT = rosterOf(keysT, 5);
  rosterT.witnesses[3]!.address = 'http://w3.example/\ufffd';
  const c = await vouchChain(rosterT);
  const lookalike = JSON.parse(JSON.stringify(rosterT)) as Roster;
  lookalike.witnesses[3]!.address = 'http://w3.example/\ud800';
  assert.equal(rosterHash(lookalike), rosterHash(rosterT));
  const served = Buffer.from(JSON.stringify(lookalike)); // JSON.stringify escapes it as \ud800
  for (const [at, roster] of [[0, rosterOf(keysA, 5)], [1, rosterOf(keysB, 5)]] as const) {
    const source = c.source();
    source.files.set(LOG_PATHS.roster(rosterHash(rosterT)), served);
    await assert.rejects(
      catchUp(source, { block: c.blocks[at]!, roster }, { freshness: policy }),
      (e: unknown) => e instanceof LogError && e.code === 'UNKNOWN_ROSTER' && (e.cause as CosiError).code === 'BAD_ROSTER',
    );
  }
  refusesRoster(
    () => verifyCatchUpPath({ block: c.blocks[0]!, roster: rosterOf(keysA, 5) }, [{ ...c.links.get('0.1')!, roster: lookalike }, { ...c.links.get('2.0')!, block: c.blocks[3]! }]),
    'BAD_ROSTER',
  );
  // The roster as named is vouched for, and the lookalike is still refused after it.
  const result = await catchUp(c.source(), { block: c.blocks[0]!, roster: rosterOf(keysA, 5) }, { freshness: policy });
  assert.equal(result.roster.witnesses[3]!.address, 'http://w3.example/\ufffd');
  const source = c.source();
  source.files.set(LOG_PATHS.roster(rosterHash(rosterT)), served);
  await assert.rejects(catchUp(source, { block: c.blocks[0]!, roster: rosterOf(keysA, 5) }, { freshness: policy }), (e: unknown) => e instanceof LogError && e.code === 'UNKNOWN_ROSTER');
});
