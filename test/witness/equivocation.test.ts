// test/witness/equivocation.test.ts: equivocation (docs/design.md "Skipchain release log"; docs/protocol.md
// section 5 "Equivocation proof"). Witnesses run in process (WitnessService over in-memory
// SQLite stores) so the test controls them: honest witnesses refuse a second block at a recorded
// index; the same keys with their records thrown away (a colluding threshold) do co-sign a
// conflicting block, and the two co-signed level-0 links are a proof anyone can check.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  acceptRoster, CosiError, createProofOfPossession, encodeCollectiveSignature, runCosiRound, witnessKeyFromSeed,
  type Roster, type WitnessEndpoint,
} from '../../src/cosi/index.js';
import {
  blockHash, buildBlock, buildEquivocationProof, buildForwardLink, buildGenesis, createRosterAuthorization, DEFAULT_SKIPCHAIN_PARAMS, genesisAuthorizationChain,
  formatUtcTime, forwardLinkMessage, verifyEquivocationProof, type Block,
} from '../../src/log/index.js';
import { publish, type PendingRelease } from '../../src/repo/index.js';
import { payloadOf, publishedDocuments, type ReleaseDocumentSource } from '../../src/release/index.js';
import { WitnessService, WitnessStore, WitnessError, type CommitRequest, type WireDocuments } from '../../src/witness/index.js';
import { publishedRepo, publisherKeys, stageTarget, tempRoot } from './cluster.js';

const keys = Array.from({ length: 4 }, (_, i) => witnessKeyFromSeed(createHash('sha256').update(`cairn-test-equivocation/${i}`).digest()));
const roster: Roster = {
  threshold: 3,
  witnesses: keys.map((k, i) => ({ name: `w${i}`, key: k.publicKeyHex, pop: Buffer.from(createProofOfPossession(k)).toString('hex'), address: `http://127.0.0.1:${7100 + i}` })),
};
/** The member that leads (the HTTP API would have verified its signature). */
const LEADER = keys[0]!.publicKeyHex;
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Witnesses serving the chain of genesis hash `chain`. */
function services(chain: string): WitnessService[] {
  return keys.map((key, i) => new WitnessService({ identity: { name: `w${i}`, address: roster.witnesses[i]!.address, key }, store: new WitnessStore(':memory:'), chain: { genesis: chain } }));
}

function endpoint(service: WitnessService, index: number, body: Omit<CommitRequest, 'session'>): WitnessEndpoint {
  return {
    index,
    commit: async (session) => {
      const a = await service.commit({ session, ...body }, LEADER);
      return { nonceId: a.nonceId, R1: Buffer.from(a.R1, 'hex'), R2: Buffer.from(a.R2, 'hex') };
    },
    respond: async (c) => Buffer.from((await service.respond({ session: c.session, nonceId: c.nonceId, rosterHash: c.rosterHash, R1: hex(c.R1), R2: hex(c.R2), bitmap: hex(c.bitmap), message: hex(c.message) }, LEADER)).s, 'hex'),
  };
}

/** Captures what a publish would write, and writes nothing. */
async function captureRelease(dir: string, signers: Parameters<typeof publish>[1]['signers']): Promise<PendingRelease> {
  let captured: PendingRelease | undefined;
  await publish(dir, { signers, beforeWrite: async (r) => { captured = r; throw new Error('captured'); } }).catch((e: Error) => assert.equal(e.message, 'captured'));
  return captured!;
}

async function documents(source: ReleaseDocumentSource, roles: string[], roots: number[] = []): Promise<WireDocuments> {
  const targets: Record<string, string> = {};
  for (const r of roles) targets[r] = b64(await source.targets(r));
  return { roots: await Promise.all(roots.map(async (v) => b64(await source.root(v)))), snapshot: b64(source.snapshot), targets };
}

describe('equivocation', { timeout: 60_000 }, () => {
  it('honest witnesses refuse a second block at a recorded index; a colluding threshold that signs one is caught by a proof anyone checks', async () => {
    const root = await tempRoot('cairn-equivocation-');
    try {
      const pub = await publisherKeys(root.dir);
      const repo = join(root.dir, 'repo');
      await publishedRepo(repo, pub);
      const genesisSource = await publishedDocuments(repo);
      const genesisPayload = await payloadOf(genesisSource, formatUtcTime(Date.now() / 1000));
      const authorization = createRosterAuthorization([pub.signers.root], { chain: genesisAuthorizationChain(genesisPayload.root.sha256), index: 0, roster: acceptRoster(roster).hash });
      const genesis = buildGenesis(DEFAULT_SKIPCHAIN_PARAMS, genesisPayload, { roster, authorization });
      const genesisDocs = await documents(genesisSource, ['targets'], [1]);
      const chain = blockHash(genesis);

      await stageTarget(repo, pub, 'x', 'release x');
      const sourceX = await publishedDocuments(repo, await captureRelease(repo, [pub.signers.snapshot, pub.signers.timestamp]));
      await stageTarget(repo, pub, 'y', 'release y');
      const sourceY = await publishedDocuments(repo, await captureRelease(repo, [pub.signers.snapshot, pub.signers.timestamp]));
      const view = { chain, base: genesis.base, maxHeight: genesis.maxHeight, head: genesis, hashAt: (i: number) => (i === 0 ? chain : undefined) };
      const blockOf = async (s: ReleaseDocumentSource): Promise<Block> => buildBlock(view, await payloadOf(s, formatUtcTime(Date.now() / 1000)), null);
      const [blockX, blockY] = [await blockOf(sourceX), await blockOf(sourceY)];
      assert.notEqual(blockHash(blockX), blockHash(blockY));
      const [linkX, linkY] = [buildForwardLink(genesis, blockX), buildForwardLink(genesis, blockY)];
      const accepted = acceptRoster(roster);
      const cosign = async (group: WitnessService[], block: Block, source: ReleaseDocumentSource) => {
        const link = buildForwardLink(genesis, block);
        const body: Omit<CommitRequest, 'session'> = { kind: 'block', statement: link, block, documents: await documents(source, ['targets']) };
        return runCosiRound(accepted, forwardLinkMessage(link), group.map((s, i) => endpoint(s, i, body)), { maxAttempts: 1 });
      };

      const honest = services(chain);
      for (const s of honest) s.genesis({ block: genesis, documents: genesisDocs }, LEADER);
      const x = await cosign(honest, blockX, sourceX);
      assert.equal(x.participants.length, 4);

      // The honest witnesses recorded block X at index 1: block Y there is refused by each.
      await assert.rejects(honest[0]!.commit({ session: 's', kind: 'block', statement: linkY, block: blockY, documents: genesisDocs }, LEADER),
        (e: unknown) => e instanceof WitnessError && e.code === 'EQUIVOCATION');
      await assert.rejects(cosign(honest, blockY, sourceY), (e: unknown) => e instanceof CosiError && e.code === 'THRESHOLD_NOT_MET');

      // Three of them collude: their records are gone, so they co-sign Y.
      const colluding = services(chain).slice(0, 3);
      for (const s of colluding) s.genesis({ block: genesis, documents: genesisDocs }, LEADER);
      const y = await cosign(colluding, blockY, sourceY);

      const proof = buildEquivocationProof(
        { kind: 'forward-link', link: linkX, cosignature: encodeCollectiveSignature(x.cosignature), roster },
        { kind: 'forward-link', link: linkY, cosignature: encodeCollectiveSignature(y.cosignature), roster },
      );
      const found = verifyEquivocationProof(JSON.parse(JSON.stringify(proof)) as typeof proof);
      assert.equal(found.index, 1);
      assert.deepEqual(found.culprits.map((c) => c.name).sort(), ['w0', 'w1', 'w2']);
    } finally {
      await root.cleanup();
    }
  });
});
