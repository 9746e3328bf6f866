// test/witness/build-attestations.test.ts: the witness's build rule (docs/design.md "What a witness
// checks": each new or changed artifact has the policy's quorum of matching rebuild
// attestations), unit level: real TUF states of a repository whose root records the build policy
// (x-cairn-build-policy, kept byte-exact through signing and publishing), and the attacks a
// publisher with stolen keys could try: too few PASSED, a PASSED for other bytes, one FAILED by a
// policy verifier, no declaration, a payload digest that is not the attestations relied on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateEd25519, type Signer, sha256Hex } from '../../src/crypto/index.js';
import { addTargets, initRepository, publish } from '../../src/repo/index.js';
import { parseEnvelope } from '../../src/tuf/index.js';
import {
  AttestationError, BUILD_POLICY_FIELD, PACKAGE_VERSIONS_INDEX_PATH, PolicyError, attestationsDigest, buildPolicyJson, buildPolicyOf, changedArtifacts, checkGenesisState,
  checkSuccessorState, createAttestation, declarationToCustom, parseBuildPolicy, serializeAttestation, type AttestationFields, type IsolationKind,
  type ReleaseDeclaration, type ReleaseState, type VerificationResult,
} from '../../src/policy/index.js';
import { checkBuildAttestations } from '../../src/witness/index.js';

const T = { timeout: 30_000 };
const NAME = 'hello-c/hello';
const declaration: ReleaseDeclaration = {
  source: { uri: 'https://example.org/hello.src.tar', sha256: 'c'.repeat(64) },
  recipe: { builder: 'debian-12', command: 'make', output: 'hello', sourceDateEpoch: 1_700_000_000 },
};
const [publisher, v1, v2, v3] = [0, 1, 2, 3].map(() => generateEd25519().signer) as [Signer, Signer, Signer, Signer];
let dir: string;
let previous: ReleaseState;
let next: ReleaseState;
let sha: string;

async function publishedState(repo: string, roots: number, prior?: ReleaseState): Promise<ReleaseState> {
  const meta = join(repo, 'public', 'metadata');
  const snapshot = await readFile(join(meta, 'snapshot.json'));
  const targets = { targets: await readFile(join(meta, 'targets.json')) };
  const docs = { roots: await Promise.all(Array.from({ length: roots }, (_, i) => readFile(join(meta, `${i + 1}.root.json`)))), snapshot, targets };
  return prior ? checkSuccessorState(prior, { ...docs, roots: [] }, new Date()) : checkGenesisState(docs, new Date());
}

function attestation(signer: Signer, result: VerificationResult, sha256 = sha, isolation: IsolationKind = 'bubblewrap'): Uint8Array {
  const fields: AttestationFields = {
    subject: { name: NAME, sha256 }, result, timeVerified: new Date(), resourceUri: NAME,
    rebuild: {
      ...declaration, rebuilt: { sha256: result === 'PASSED' ? sha256 : 'd'.repeat(64), length: 5 }, isolation, environment: 'debian-12',
      ...(result === 'FAILED' ? { differences: { kind: 'bytes' as const, publishedLength: 5, rebuiltLength: 5, firstDifferingOffset: 2 } } : {}),
    },
  };
  return Buffer.from(serializeAttestation(createAttestation(signer, fields)));
}

const b64 = (list: Uint8Array[]): string[] => list.map((b) => Buffer.from(b).toString('base64'));

function refusal(fn: () => unknown, code: string, ...mentions: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AttestationError || e instanceof PolicyError, `expected a typed refusal, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" should mention ${m}`);
    return true;
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-build-rule-'));
  const repo = join(dir, 'repo');
  const one = (s: Signer): { keys: Signer['publicKey'][]; threshold: number } => ({ keys: [s.publicKey], threshold: 1 });
  await initRepository(repo, {
    roles: { root: one(publisher), targets: one(publisher), snapshot: one(publisher), timestamp: one(publisher) },
    signers: [publisher], buildPolicy: buildPolicyJson([v1.publicKey, v2.publicKey, v3.publicKey], 2),
  });
  await publish(repo, { signers: [publisher] });
  previous = await publishedState(repo, 1);
  const file = join(dir, 'hello');
  await writeFile(file, 'hello');
  sha = sha256Hex(Buffer.from('hello'));
  await addTargets(repo, [{ file, path: NAME }], { custom: declarationToCustom(declaration), signers: [publisher] });
  await publish(repo, { signers: [publisher] });
  next = await publishedState(repo, 1, previous);
});

after(() => rm(dir, { recursive: true, force: true }));

test('the build policy is an unrecognized field of root signed, kept byte-exact and parsed by buildPolicyOf', T, () => {
  const policy = buildPolicyOf(next.root);
  assert.ok(policy);
  assert.equal(policy.quorum, 2);
  assert.deepEqual(Object.keys(policy.verifiers).sort(), [v1.keyid, v2.keyid, v3.keyid].sort());
  const raw = JSON.parse(Buffer.from(next.root.raw).toString()) as { signed: Record<string, unknown> };
  assert.ok(raw.signed[BUILD_POLICY_FIELD], 'the published root carries the field');
  assert.equal(parseEnvelope('root', next.root.raw, 'root').signedBytes.equals(next.root.signedBytes), true);
  assert.deepEqual(changedArtifacts(previous.targets, next.targets).map((a) => [a.name, a.sha256, a.declaration !== undefined]), [[NAME, sha, true]]);
});

test('co-signs an artifact with two PASSED from distinct policy verifiers when the payload records their digest', T, () => {
  const envelopes = [attestation(v1, 'PASSED'), attestation(v2, 'PASSED')];
  const digest = attestationsDigest(envelopes.map((e) => JSON.parse(Buffer.from(e).toString()) as never));
  checkBuildAttestations(digest, previous, next, { [NAME]: b64(envelopes) }, 'block 2');
});

test('refuses an artifact with too few PASSED attestations (QUORUM_NOT_MET names the artifact and verifiers)', T, () => {
  refusal(() => checkBuildAttestations('e'.repeat(64), previous, next, { [NAME]: b64([attestation(v1, 'PASSED')]) }, 'block 2'),
    'QUORUM_NOT_MET', NAME, v1.keyid.slice(0, 12), v2.keyid.slice(0, 12));
});

test('refuses a quorum padded with a PASSED for another sha256', T, () => {
  refusal(() => checkBuildAttestations('e'.repeat(64), previous, next, { [NAME]: b64([attestation(v1, 'PASSED'), attestation(v2, 'PASSED', 'f'.repeat(64))]) }, 'block 2'),
    'QUORUM_NOT_MET', NAME, 'not hello-c/hello@');
});

test('refuses an artifact one policy verifier signed FAILED for, even with a quorum of PASSED', T, () => {
  refusal(() => checkBuildAttestations('e'.repeat(64), previous, next, { [NAME]: b64([attestation(v1, 'PASSED'), attestation(v2, 'PASSED'), attestation(v3, 'FAILED')]) }, 'block 2'),
    'REBUILD_FAILED', NAME, v3.keyid.slice(0, 12), 'first difference at byte 2');
});

test('refuses a payload whose attestations digest is not that of the envelopes relied on, or null', T, () => {
  const envelopes = b64([attestation(v1, 'PASSED'), attestation(v2, 'PASSED')]);
  refusal(() => checkBuildAttestations('e'.repeat(64), previous, next, { [NAME]: envelopes }, 'block 2'), 'PAYLOAD_MISMATCH', 'block 2');
  refusal(() => checkBuildAttestations(null, previous, next, { [NAME]: envelopes }, 'block 2'), 'PAYLOAD_MISMATCH');
  // A state that changes no artifact records null.
  checkBuildAttestations(null, next, next, {}, 'block 3');
  refusal(() => checkBuildAttestations('e'.repeat(64), next, next, {}, 'block 3'), 'PAYLOAD_MISMATCH');
});

test('a build policy that requires full isolation: PASSED attestations rebuilt under unshare or none do not count (ISOLATION_TOO_WEAK), bubblewrap ones do', T, async () => {
  const repo = join(dir, 'repo-full-isolation');
  const one = (k: Signer): { keys: Signer['publicKey'][]; threshold: number } => ({ keys: [k.publicKey], threshold: 1 });
  await initRepository(repo, {
    roles: { root: one(publisher), targets: one(publisher), snapshot: one(publisher), timestamp: one(publisher) },
    signers: [publisher], buildPolicy: buildPolicyJson([v1.publicKey, v2.publicKey, v3.publicKey], 2, { requireFullIsolation: true }),
  });
  await publish(repo, { signers: [publisher] });
  const before = await publishedState(repo, 1);
  assert.equal(buildPolicyOf(before.root)?.requireFullIsolation, true, 'root records the rule');
  await addTargets(repo, [{ file: join(dir, 'hello'), path: NAME }], { custom: declarationToCustom(declaration), signers: [publisher] });
  await publish(repo, { signers: [publisher] });
  const after = await publishedState(repo, 1, before);
  const weak = [attestation(v1, 'PASSED', sha, 'bubblewrap'), attestation(v2, 'PASSED', sha, 'unshare'), attestation(v3, 'PASSED', sha, 'none')];
  refusal(() => checkBuildAttestations('e'.repeat(64), before, after, { [NAME]: b64(weak) }, 'block 2'), 'ISOLATION_TOO_WEAK', NAME, v2.keyid.slice(0, 12), v3.keyid.slice(0, 12));
  // The same weak verdicts count under a root without the rule (the first repository's).
  const digest = attestationsDigest(weak.map((e) => JSON.parse(Buffer.from(e).toString()) as never));
  checkBuildAttestations(digest, previous, next, { [NAME]: b64(weak) }, 'block 2');
  // Two PASSED made under full isolation meet the rule; the weak one is not relied on.
  const full = [attestation(v1, 'PASSED'), attestation(v2, 'PASSED'), attestation(v3, 'PASSED', sha, 'none')];
  checkBuildAttestations(attestationsDigest(full.slice(0, 2).map((e) => JSON.parse(Buffer.from(e).toString()) as never)), before, after, { [NAME]: b64(full) }, 'block 2');
});

test('a build policy whose requireFullIsolation is not a boolean is refused (BAD_POLICY)', T, () => {
  const json = { ...buildPolicyJson([v1.publicKey], 1), requireFullIsolation: 'yes' };
  refusal(() => parseBuildPolicy(json, BUILD_POLICY_FIELD), 'BAD_POLICY', 'requireFullIsolation');
});

test('package indexes need no rebuild; every other path under packages/ does, however it is named', T, () => {
  for (const path of ['packages/hello/versions.json', 'packages/index.json']) assert.ok(PACKAGE_VERSIONS_INDEX_PATH.test(path), path);
  for (const path of ['packages/hello/hello-1.0.0.tar', 'packages/hello/versions.json.sh', 'packages/hello/x/versions.json', 'packages/../hello/versions.json',
    'packages/Hello/versions.json', 'xpackages/index.json', 'packages/index.json/x', 'packages//versions.json', 'apps/index.json']) {
    assert.equal(PACKAGE_VERSIONS_INDEX_PATH.test(path), false, path);
  }
});

test('the same bytes under a changed declaration (another source, or an upstream import named) are a changed artifact again; unchanged ones are not', T, async () => {
  const repo = join(dir, 'repo');
  const file = join(dir, 'hello');
  const republish = async (custom: ReturnType<typeof declarationToCustom>): Promise<ReleaseState> => {
    await addTargets(repo, [{ file, path: NAME }], { custom, signers: [publisher] });
    await publish(repo, { signers: [publisher] });
    return publishedState(repo, 1, next);
  };
  assert.deepEqual(changedArtifacts(next.targets, (await republish(declarationToCustom(declaration))).targets), [], 'the same bytes and declaration: nothing to check');
  const upstream = { ...declaration, upstream: { uri: 'https://publisher.example/imports/hello/', sha256: 'd'.repeat(64) } };
  assert.deepEqual(changedArtifacts(next.targets, (await republish(declarationToCustom(upstream))).targets).map((a) => [a.name, a.declaration?.upstream?.sha256]), [[NAME, 'd'.repeat(64)]]);
  const otherSource = { ...declaration, source: { uri: declaration.source.uri, sha256: 'e'.repeat(64) } };
  assert.deepEqual(changedArtifacts(next.targets, (await republish(declarationToCustom(otherSource))).targets).map((a) => a.name), [NAME]);
});

test('custom metadata that is not a declaration: refused by the build rule (strict), read as no declaration by the rules that concern only some (lenient)', T, async () => {
  const repo = join(dir, 'repo-custom');
  const one = (k: Signer): { keys: Signer['publicKey'][]; threshold: number } => ({ keys: [k.publicKey], threshold: 1 });
  await initRepository(repo, { roles: { root: one(publisher), targets: one(publisher), snapshot: one(publisher), timestamp: one(publisher) }, signers: [publisher] });
  await publish(repo, { signers: [publisher] });
  const first = await publishedState(repo, 1);
  await addTargets(repo, [{ file: join(dir, 'hello'), path: 'app' }], { custom: { source: 'https://github.com/example/app' }, signers: [publisher] });
  await publish(repo, { signers: [publisher] });
  const second = await publishedState(repo, 1, first);
  assert.throws(() => changedArtifacts(first.targets, second.targets), (e: unknown) => e instanceof Error && /custom metadata\.source must be an object/.test(e.message));
  assert.deepEqual(changedArtifacts(first.targets, second.targets, { lenient: true }).map((a) => [a.name, a.declaration]), [['app', undefined]]);
});
