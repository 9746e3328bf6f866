// test/tuf/trusted-set.test.ts: the pure parts of the client (TUF spec 1.0.x 5.3-5.6): envelope
// parsing, glob matching of delegated paths, and TrustedSet's python-tuf semantics for
// equal-version timestamps and intermediate metadata, without any I/O.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FormatError } from '../../src/errors/index.js';
import { TrustedSet, TufError, parseEnvelope, globToRegExp } from '../../src/tuf/index.js';
import { RepositorySimulator, signDocument } from '../fixtures/repository-simulator.js';

const T = { timeout: 10_000 };

function loaded(sim: RepositorySimulator): TrustedSet {
  return new TrustedSet(sim.rootHistory.get(1)!, new Date());
}

test('parseEnvelope refuses duplicate signature keyids and a wrong spec_version', T, () => {
  const sim = new RepositorySimulator();
  const key = sim.signers.get('timestamp')![0]!;
  const dup = signDocument(sim.role('timestamp'), [key, key]);
  assert.throws(() => parseEnvelope('timestamp', dup, 'ts'), (e: unknown) => e instanceof FormatError && e.code === 'SCHEMA');
  const v2 = structuredClone(sim.role('timestamp'));
  v2.spec_version = '2.0.0';
  assert.throws(
    () => parseEnvelope('timestamp', signDocument(v2, [key]), 'ts'),
    (e: unknown) => e instanceof TufError && e.code === 'BAD_METADATA',
  );
  const zero = structuredClone(sim.role('timestamp'));
  zero.version = 0;
  assert.throws(() => parseEnvelope('timestamp', signDocument(zero, [key]), 'ts'), FormatError);
});

test('signatures cover unrecognized fields exactly', T, () => {
  const sim = new RepositorySimulator();
  const ts = structuredClone(sim.role('timestamp'));
  ts.x_custom = { nested: [1, 'two'] };
  ts.version = 2;
  const good = signDocument(ts, sim.signers.get('timestamp')!);
  const set = loaded(sim);
  assert.equal(set.updateTimestamp(good), 'updated');
  // the same signature over a document with the unknown field changed does not verify
  const doc = JSON.parse(Buffer.from(good).toString()) as { signed: { x_custom: unknown } };
  doc.signed.x_custom = 'changed';
  const set2 = loaded(sim);
  assert.throws(() => set2.updateTimestamp(Buffer.from(JSON.stringify(doc))), (e: unknown) => e instanceof TufError && e.code === 'THRESHOLD_NOT_MET');
});

test('an equal-version timestamp leaves the trusted one in place', T, () => {
  const sim = new RepositorySimulator();
  const set = loaded(sim);
  const first = sim.files.get('metadata/timestamp.json')!;
  assert.equal(set.updateTimestamp(first), 'updated');
  const same = structuredClone(sim.role('timestamp'));
  (same.meta as { 'snapshot.json': { version: number } })['snapshot.json'].version = 5;
  assert.equal(set.updateTimestamp(signDocument(same, sim.signers.get('timestamp')!)), 'unchanged');
  assert.equal(set.timestamp!.raw, first);
});

test('an expired timestamp stays as intermediate metadata for rollback checks', T, () => {
  const sim = new RepositorySimulator();
  const future = new Date(Date.now() + 2 * 86_400_000);
  const set = new TrustedSet(sim.rootHistory.get(1)!, future);
  assert.throws(() => set.updateTimestamp(sim.files.get('metadata/timestamp.json')!), (e: unknown) => e instanceof TufError && e.code === 'EXPIRED');
  assert.equal(set.timestamp?.version, 1);
  assert.throws(() => set.updateSnapshot(sim.files.get('metadata/snapshot.json')!), (e: unknown) => e instanceof TufError && e.code === 'EXPIRED');
});

test('loading out of order is refused', T, () => {
  const sim = new RepositorySimulator();
  const set = loaded(sim);
  assert.throws(() => set.updateSnapshot(sim.files.get('metadata/snapshot.json')!), TufError);
  assert.throws(() => set.updateTargets(sim.files.get('metadata/targets.json')!), TufError);
});

test('delegated path globs match segment by segment like fnmatch', T, () => {
  assert.ok(globToRegExp('*.txt').test('a.txt'));
  assert.ok(!globToRegExp('*.txt').test('a.tar'));
  assert.ok(globToRegExp('file?.[ch]').test('file1.c'));
  assert.ok(!globToRegExp('file[!0-9]').test('file1'));
  assert.ok(globToRegExp('a.b').test('a.b'));
  assert.ok(!globToRegExp('a.b').test('axb'));
  fc.assert(
    fc.property(fc.string(), (s) => {
      // a pattern without glob characters matches exactly itself
      fc.pre(!/[*?[]/.test(s));
      return globToRegExp(s).test(s) && !globToRegExp(s).test(`${s}x`);
    }),
  );
});
