// test/monitor/release-replay.test.ts: the monitor applies the witnesses' release rules again
// (src/monitor/release-replay.ts; docs/transparency.md "Monitors"). A real repository (src/repo)
// under a build policy of two of three verifiers publishes a release of an artifact with its
// declaration; a log over its states is co-signed in process by a roster that, in the attacks,
// colludes. Served by a mirror on 127.0.0.1, the honest release passes; a release co-signed
// without its rebuild quorum (no attestations, one PASSED where two are needed, a malformed
// declaration) raises no-rebuild-quorum; a block recording an older state, or a snapshot nobody
// signed (refused before anything it lists is fetched), raises invalid-release; a mirror serving
// another snapshot under the recorded version is bad data, and one rearranging the attestation
// manifest or serving junk where an attestation could be blames nobody. Nothing of a refused
// block is kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { generateEd25519, sha256Hex, type Signer } from '../../src/crypto/index.js';
import {
  buildBlock, buildForwardLink, buildGenesis, buildHeadStatement, createRosterAuthorization, encodeLogFile, formatUtcTime, forwardLinkMessage,
  genesisAuthorizationChain, headMessage, LOG_PATHS, MemoryChain, rosterHash, type BlockPayload,
} from '../../src/log/index.js';
import { FILE_CACHE_LIMITS, startMirror } from '../../src/mirror/index.js';
import { LogMonitor, type Alarm } from '../../src/monitor/index.js';
import {
  attestationManifestLogPath, attestationRelativePath, attestationsDigest, buildAttestationManifest, buildPolicyJson, createAttestation, declarationToCustom,
  parseAttestation, serializeAttestation, serializeAttestationManifest, type DsseEnvelope, type ReleaseDeclaration, type VerificationResult,
} from '../../src/policy/index.js';
import { addTargets, initRepository, publish } from '../../src/repo/index.js';
import { parseEnvelope } from '../../src/tuf/index.js';
import { cosign, rosterOf, witnessKey } from '../fixtures/log-chain.js';

const T = { timeout: 120_000 };
const NAME = 'hello-c/hello';
const declaration: ReleaseDeclaration = {
  source: { uri: 'https://example.org/hello.src.tar', sha256: 'c'.repeat(64) },
  recipe: { builder: 'debian-12', command: 'make', output: 'hello', sourceDateEpoch: 1_700_000_000 },
};
const keys = Array.from({ length: 4 }, (_, i) => witnessKey(`release-replay/${i}`));
const roster = rosterOf(keys, 3);
const [publisher, v1, v2, v3] = [0, 1, 2, 3].map(() => generateEd25519().signer) as [Signer, Signer, Signer, Signer];
const kinds = (alarms: readonly Alarm[]): string[] => alarms.map((a) => `${a.kind}@${a.index}`);

/** The payload recording the repository's published state (versions and SHA-256 of the exact bytes). */
async function payloadOf(repo: string, attestations: string | null): Promise<BlockPayload> {
  const meta = join(repo, 'public', 'metadata');
  const timestamp = parseEnvelope('timestamp', await readFile(join(meta, 'timestamp.json')), 'timestamp');
  const snapshotVersion = timestamp.signed.snapshotMeta.version;
  const snapshotBytes = await readFile(join(meta, `${snapshotVersion}.snapshot.json`));
  const targetsVersion = parseEnvelope('snapshot', snapshotBytes, 'snapshot').signed.meta['targets.json']!.version;
  const entry = async (file: string, version: number): Promise<{ version: number; sha256: string }> => ({ version, sha256: sha256Hex(await readFile(join(meta, file))) });
  return {
    time: formatUtcTime(Math.floor(Date.now() / 1000)),
    root: await entry('1.root.json', 1),
    targets: await entry(`${targetsVersion}.targets.json`, targetsVersion),
    snapshot: { version: snapshotVersion, sha256: sha256Hex(snapshotBytes) },
    attestations,
  };
}

/** Writes a log over `payloads` (block i records payloads[i]) into `publicDir`/log, co-signed by the roster. */
async function writeLog(publicDir: string, payloads: BlockPayload[]): Promise<string> {
  const rootRole = { keys: { [publisher.keyid]: publisher.publicKey }, threshold: 1 };
  const genesis = buildGenesis({ base: 2, maxHeight: 32 }, payloads[0]!, {
    roster, authorization: createRosterAuthorization([publisher], { chain: genesisAuthorizationChain(payloads[0]!.root.sha256), index: 0, roster: rosterHash(roster) }),
  });
  const chain = new MemoryChain(genesis, rootRole);
  const files = new Map<string, Uint8Array>([[LOG_PATHS.block(0), encodeLogFile(genesis)], [LOG_PATHS.roster(rosterHash(roster)), encodeLogFile(roster)]]);
  for (const payload of payloads.slice(1)) {
    chain.append(buildBlock(chain, payload, null), { root: rootRole });
    const block = chain.head;
    files.set(LOG_PATHS.block(block.index), encodeLogFile(block));
    for (let level = 0; level < block.height; level++) {
      const link = buildForwardLink(chain.blockAt(block.index - 2 ** level)!, block);
      files.set(LOG_PATHS.link(link.fromIndex, level), encodeLogFile({ link, cosignature: await cosign(roster, keys, forwardLinkMessage(link)) }));
    }
  }
  const statement = buildHeadStatement(chain.head, formatUtcTime(Math.floor(Date.now() / 1000)));
  files.set(LOG_PATHS.head, encodeLogFile({ statement, cosignature: await cosign(roster, keys, headMessage(statement)) }));
  for (const d of ['blocks', 'links']) await rm(join(publicDir, 'log', d), { recursive: true, force: true });
  for (const [path, bytes] of files) {
    await mkdir(dirname(join(publicDir, path)), { recursive: true });
    await writeFile(join(publicDir, path), bytes);
  }
  return chain.chain;
}

function attestation(signer: Signer, result: VerificationResult, sha256: string): DsseEnvelope {
  return createAttestation(signer, {
    subject: { name: NAME, sha256 }, result, timeVerified: new Date(), resourceUri: NAME,
    rebuild: { ...declaration, rebuilt: { sha256, length: 5 }, isolation: 'bubblewrap', environment: 'debian-12' },
  });
}

/** Publishes attestation envelopes and their manifest beside the log; returns the digest a block records. */
async function publishAttestations(publicDir: string, sha256: string, envelopes: Array<[Signer, DsseEnvelope]>): Promise<string> {
  await rm(join(publicDir, 'attestations'), { recursive: true, force: true });
  for (const [signer, envelope] of envelopes) {
    const path = join(publicDir, attestationRelativePath(NAME, sha256, signer.keyid));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, serializeAttestation(envelope));
  }
  const manifest = buildAttestationManifest([{ target: NAME, sha256, envelopes: envelopes.map(([, e]) => e) }]);
  await mkdir(join(publicDir, 'log', 'attestations'), { recursive: true });
  await writeFile(join(publicDir, 'log', attestationManifestLogPath(manifest.digest)), serializeAttestationManifest(manifest));
  assert.equal(manifest.digest, attestationsDigest(envelopes.map(([, e]) => parseAttestation(Buffer.from(serializeAttestation(e)), 'envelope'))));
  return manifest.digest;
}

test('monitor release replay: the rebuild quorum and the TUF state of each block, checked again against the documents beside the log', T, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-release-replay-'));
  const repo = join(dir, 'repo');
  const pub = join(repo, 'public');
  const mirror = await (async () => {
    const one = (s: Signer): { keys: Signer['publicKey'][]; threshold: number } => ({ keys: [s.publicKey], threshold: 1 });
    await initRepository(repo, {
      roles: { root: one(publisher), targets: one(publisher), snapshot: one(publisher), timestamp: one(publisher) },
      signers: [publisher], buildPolicy: buildPolicyJson([v1.publicKey, v2.publicKey, v3.publicKey], 2),
    });
    await publish(repo, { signers: [publisher] });
    return startMirror({ root: pub });
  })();
  let n = 0;
  const poll = async (chain: string, state = `state-${n++}`): Promise<{ alarms: Alarm[]; verified: number }> => {
    const monitor = new LogMonitor({ chain, sources: [`${mirror.url}/log/`], stateDir: join(dir, state), maxHeadAgeSeconds: 86_400 });
    try {
      const report = await monitor.poll();
      return { alarms: report.alarms, verified: report.verified.index };
    } finally {
      monitor.close();
    }
  };
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, FILE_CACHE_LIMITS.revalidateAfterMs + 200)); // the mirror's small-file cache revalidates
  try {
    const first = await payloadOf(repo, null);
    const file = join(dir, 'hello');
    await writeFile(file, 'hello');
    const sha = sha256Hex(Buffer.from('hello'));
    await addTargets(repo, [{ file, path: NAME }], { custom: declarationToCustom(declaration), signers: [publisher] });
    await publish(repo, { signers: [publisher] });

    // Honest: two PASSED of the policy's verifiers, their digest recorded.
    const passed: Array<[Signer, DsseEnvelope]> = [[v1, attestation(v1, 'PASSED', sha)], [v2, attestation(v2, 'PASSED', sha)]];
    const digest = await publishAttestations(pub, sha, passed);
    const second = await payloadOf(repo, digest);
    const honest = await writeLog(pub, [first, second]);
    await settle();
    assert.deepEqual(await poll(honest, 'kept'), { alarms: [], verified: 1 });

    // A monitor started again on that state reads block 1's state again, and checks block 2 as its
    // successor: a second artifact released without attestations is caught.
    await writeFile(file, 'hello, again');
    await addTargets(repo, [{ file, path: 'hello-c/hello-again' }], { custom: declarationToCustom(declaration), signers: [publisher] });
    await publish(repo, { signers: [publisher] });
    const third = await payloadOf(repo, null);
    assert.equal((await writeLog(pub, [first, second, third])), honest);
    await settle();
    const restarted = await poll(honest, 'kept');
    assert.deepEqual(kinds(restarted.alarms), ['no-rebuild-quorum@2']);
    assert.equal(restarted.verified, 1);

    // The roster co-signs the release with no attestations at all.
    const none = await writeLog(pub, [first, { ...second, attestations: null }]);
    await settle();
    const noQuorum = await poll(none);
    assert.deepEqual(kinds(noQuorum.alarms), ['no-rebuild-quorum@1']);
    assert.equal(noQuorum.alarms[0]!.code, 'QUORUM_NOT_MET');
    assert.equal(noQuorum.verified, 0, 'the block is not kept');

    // ... or with one PASSED where the policy needs two (its manifest lists just that one).
    const oneDigest = await publishAttestations(pub, sha, [[v1, attestation(v1, 'PASSED', sha)]]);
    const one = await writeLog(pub, [first, { ...second, attestations: oneDigest }]);
    await settle();
    assert.deepEqual(kinds((await poll(one)).alarms), ['no-rebuild-quorum@1']);

    // A block recording the first state again after the release: a rollback of the TUF state.
    await publishAttestations(pub, sha, passed);
    const back = await writeLog(pub, [first, second, { ...first, time: formatUtcTime(Math.floor(Date.now() / 1000)) }]);
    await settle();
    const rollback = await poll(back);
    assert.deepEqual(kinds(rollback.alarms), ['invalid-release@2']);
    assert.equal(rollback.alarms[0]!.code, 'ROLLBACK');
    assert.equal(rollback.verified, 1);

    // The mirror serves other bytes under the snapshot version block 1 records: its fault, not the witnesses'.
    const honestAgain = await writeLog(pub, [first, second]);
    const snapshotFile = join(pub, 'metadata', `${second.snapshot.version}.snapshot.json`);
    await writeFile(snapshotFile, Buffer.concat([await readFile(snapshotFile), Buffer.from(' ')]));
    await settle();
    const forged = await poll(honestAgain);
    assert.deepEqual(kinds(forged.alarms), ['bad-data@1']);
    assert.equal(forged.alarms[0]!.code, 'HASH_MISMATCH');
    await writeFile(snapshotFile, (await readFile(snapshotFile)).subarray(0, -1));

    // A mirror cannot make the monitor blame the witnesses: the block records the set of envelopes
    // relied on, so the same set listed under other targets in the manifest changes nothing; nor
    // does a file that is no envelope where a verifier that did not attest would put one.
    const manifestFile = join(pub, 'log', attestationManifestLogPath(digest));
    const remapped = buildAttestationManifest([
      { target: NAME, sha256: sha, envelopes: [passed[0]![1]] },
      { target: 'decoy', sha256: '0'.repeat(64), envelopes: [passed[1]![1]] },
    ]);
    assert.equal(remapped.digest, digest);
    await writeFile(manifestFile, serializeAttestationManifest(remapped));
    await writeFile(join(pub, attestationRelativePath(NAME, sha, v3.keyid)), 'not json');
    await settle();
    assert.deepEqual(await poll(honestAgain), { alarms: [], verified: 1 });

    // The roster co-signs a release whose artifact's declaration is malformed (witnesses refuse it).
    await writeFile(file, 'bad');
    await addTargets(repo, [{ file, path: 'hello-c/bad' }], { custom: { source: 'x', recipe: {} }, signers: [publisher] });
    await publish(repo, { signers: [publisher] });
    const malformed = await writeLog(pub, [first, second, await payloadOf(repo, null)]);
    await settle();
    const noDeclaration = await poll(malformed);
    assert.deepEqual(kinds(noDeclaration.alarms), ['no-rebuild-quorum@2']);
    assert.equal(noDeclaration.alarms[0]!.code, 'NO_DECLARATION');

    // It records a snapshot nobody signed, listing 2,000 roles of 2^52 bytes: refused before any
    // of them is fetched (the mirror serves none: a fetch would be a problem, not this alarm).
    const meta: Record<string, unknown> = { 'targets.json': { version: 1, length: 1, hashes: { sha256: 'a'.repeat(64) } } };
    for (let i = 0; i < 2000; i++) meta[`r${i}.json`] = { version: 1, length: 2 ** 52, hashes: { sha256: 'b'.repeat(64) } };
    const unsigned = Buffer.from(JSON.stringify({ signed: { _type: 'snapshot', spec_version: '1.0.31', version: 99, expires: '2100-01-01T00:00:00Z', meta }, signatures: [] }));
    await writeFile(join(pub, 'metadata', '99.snapshot.json'), unsigned);
    const bogus = await writeLog(pub, [first, second, { ...second, snapshot: { version: 99, sha256: sha256Hex(unsigned) }, attestations: null }]);
    await settle();
    const refused = await poll(bogus);
    assert.deepEqual(kinds(refused.alarms), ['invalid-release@2']);
    assert.equal(refused.alarms[0]!.code, 'SIGNATURE_THRESHOLD');
  } finally {
    await mirror.close();
    await rm(dir, { recursive: true, force: true });
  }
});
