// test/witness/who-may-ask.test.ts: who may make a witness work, and which chain a fresh witness
// serves (docs/protocol.md section 8 "Who may ask"; docs/witness.md "Who may lead", "The chain a
// witness serves", "Run it: `cairn witness serve`"). Four `cairn witness serve` processes on
// 127.0.0.1, threshold 3, pinned to the publisher's root key; the publisher leads as w1. Attackers:
// an outsider with a key of its own, and a roster member whose key was stolen (w4's), each sending
// requests it controls to the real processes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createProofOfPossession, witnessKeyFromSeed, type Roster, type WitnessKey } from '../../src/cosi/index.js';
import {
  blockHash, buildGenesis, buildHeadStatement, createRosterAuthorization, DEFAULT_SKIPCHAIN_PARAMS, formatUtcTime, genesisAuthorizationChain, parseBlockBytes, rosterHash, type Block,
} from '../../src/log/index.js';
import {
  createReleaseLog, LogLeader, leaderOptions, payloadOf, publishedDocuments, SILENT, WitnessCallError, WitnessConnection, type ReleaseDocumentSource,
} from '../../src/release/index.js';
import {
  initWitness, loadWitnessKey, REQUEST_AUTH_LIMITS, signWitnessRequest, WITNESS_FILES, type InfoAnswer, type WireDocuments,
} from '../../src/witness/index.js';
import { runCli } from '../fixtures/cairn-process.js';
import { sha256Hex, writeKeyFile } from '../../src/crypto/index.js';
import { initRepository, publish } from '../../src/repo/index.js';
import {
  publishedRepo, publisherKeys, rootPin, startCluster, tempRoot, witnessProcess, type Cluster, type PublisherKeys, type WitnessProcess,
} from './cluster.js';
import { freePorts } from '../fixtures/free-ports.js';

/**
 * A raw POST with the headers given (the attacker controls every byte). A request lost on the way
 * (a keep-alive connection the server closed as the client reused it) is code TRANSPORT.
 */
async function post(url: string, path: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; code: string }> {
  try {
    const r = await fetch(`${url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    const answer = (await r.json()) as { code?: string };
    return { status: r.status, code: answer.code ?? 'OK' };
  } catch (e) {
    if (e instanceof TypeError && e.message === 'fetch failed') return { status: 0, code: 'TRANSPORT' };
    throw e;
  }
}

/**
 * Sends the head of a POST announcing `contentLength` body bytes, then only `sent` of them, and
 * holds the connection (the attacker controls every byte and the pace).
 */
function holdUpload(url: string, path: string, headers: Record<string, string>, contentLength: number, sent = ''): Socket {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const lines = Object.entries({ host: `${hostname}:${port}`, 'content-type': 'application/json', 'content-length': String(contentLength), ...headers }).map(([k, v]) => `${k}: ${v}`);
  socket.write(`POST ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${sent}`);
  return socket;
}

/**
 * Sends only the head of a POST announcing `contentLength` body bytes, and waits up to `waitMs`
 * for an answer: a witness that answers has refused the request without reading (or buffering)
 * its body; NO_ANSWER means it is waiting for the body.
 */
function headersOnly(url: string, path: string, headers: Record<string, string>, contentLength: number, waitMs = 15_000): Promise<{ status: number; code: string }> {
  return new Promise((resolve, reject) => {
    const socket = holdUpload(url, path, headers, contentLength);
    let text = '';
    const done = (answer: { status: number; code: string }): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done({ status: 0, code: 'NO_ANSWER' }), waitMs);
    socket.on('error', (e) => (text ? undefined : reject(e)));
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const code = /"code":"([A-Z_]+)"/.exec(text);
      if (status && code) done({ status: Number(status[1]), code: code[1]! });
    });
  });
}

/** A head commit body for the witness's current head. */
function headCommit(head: Block, session: string): Buffer {
  return Buffer.from(JSON.stringify({ session, kind: 'head', statement: buildHeadStatement(head, formatUtcTime(Date.now() / 1000)) }));
}

/** A low member rate (witness.json "rate"), so that a flood outruns it on any machine. */
const RATE = { burst: 80, perSecond: 2 };

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** The whole state of a genesis as the wire carries it (roots, snapshot, top-level targets). */
async function wireDocuments(source: ReleaseDocumentSource): Promise<WireDocuments> {
  return { roots: [b64(await source.root(source.rootVersion))], snapshot: b64(source.snapshot), targets: { targets: b64(await source.targets('targets')) } };
}

/** What a witness says of itself, minus nothing: equal before and after means nothing was recorded. */
const infoOf = (url: string): Promise<InfoAnswer> => new WitnessConnection(url).info();

describe('who may ask a witness to work: 4 witness processes, threshold 3', { timeout: 300_000 }, () => {
  let root: { dir: string; cleanup: () => Promise<void> };
  let keys: PublisherKeys;
  let cluster: Cluster;
  let repo: string;
  let leaderKey: WitnessKey;
  /** A roster member's key, stolen: it signs valid requests, and floods. */
  let stolen: WitnessKey;
  const outsider = witnessKeyFromSeed(randomBytes(32));
  const extra: WitnessProcess[] = [];
  const leader = (): Promise<LogLeader> => LogLeader.open(leaderOptions(repo, SILENT, { callTimeoutMs: 30_000, leaderKey }));
  const headBlock = async (): Promise<Block> => (await leader()).head.block;

  before(async () => {
    root = await tempRoot('cairn-who-may-ask-');
    keys = await publisherKeys(root.dir);
    repo = join(root.dir, 'repo');
    await publishedRepo(repo, keys);
    cluster = await startCluster(root.dir, 4, rootPin(keys), RATE);
    leaderKey = await loadWitnessKey(cluster.leaderKeyFile);
    stolen = await loadWitnessKey(join(cluster.witnesses[3]!.dir, WITNESS_FILES.key));
  });

  after(async () => {
    await Promise.all(extra.map((w) => w.stop('SIGKILL')));
    await cluster?.stopAll();
    await root?.cleanup();
  });

  it('fresh witnesses pinned to the root keys refuse an attacker\'s genesis that reaches them first (CHAIN_MISMATCH), then follow the real log', async () => {
    // The attacker's own repository and root key, and a roster with the victims' public entries.
    const evilKeys = await publisherKeys(join(root.dir, 'evil-keys'));
    const evilRepo = join(root.dir, 'evil-repo');
    await publishedRepo(evilRepo, evilKeys);
    const infos = await Promise.all(cluster.urls.map(infoOf));
    const evilMember = { name: 'evil', key: outsider.publicKeyHex, pop: Buffer.from(createProofOfPossession(outsider)).toString('hex'), address: 'http://127.0.0.1:9' };
    const roster: Roster = { threshold: 1, witnesses: [...infos.map((i) => ({ name: i.name, key: i.key, pop: i.pop, address: i.address })), evilMember] };
    const source = await publishedDocuments(evilRepo);
    const evilPayload = await payloadOf(source, formatUtcTime(Date.now() / 1000));
    const genesis = buildGenesis(DEFAULT_SKIPCHAIN_PARAMS, evilPayload, {
      roster, authorization: createRosterAuthorization([evilKeys.signers.root], { chain: genesisAuthorizationChain(evilPayload.root.sha256), index: 0, roster: rosterHash(roster) }),
    });
    const documents = await wireDocuments(source);
    for (const [i, url] of cluster.urls.entries()) {
      // Signed by a member of the attacker's roster, as a real leader's genesis is.
      const e = await new WitnessConnection(url, { signer: { leaderKey: outsider, witnessKey: infos[i]!.key } }).genesis({ block: genesis, documents }).catch((x: unknown) => x);
      assert.ok(e instanceof WitnessCallError && e.status === 409 && e.refusal?.code === 'CHAIN_MISMATCH', String(e));
      assert.match(e.refusal!.message, /root keys this witness's operator named/);
      assert.equal((await infoOf(url)).chain, null, 'the witness follows no chain');
    }
    assert.ok(cluster.witnesses[0]!.lines.some((l) => /genesis .*refused CHAIN_MISMATCH/.test(l)));

    // The real roster's authorization leaked before the real genesis went out: the attacker puts
    // it in a genesis of its own state, whose root lists the real root key at threshold 1 (so the
    // authorization verifies) but is signed by the attacker's key alone.
    const realRoster: Roster = { threshold: 3, witnesses: infos.map((i) => ({ name: i.name, key: i.key, pop: i.pop, address: i.address })) };
    const mixedRepo = join(root.dir, 'mixed-repo');
    const one = (r: keyof PublisherKeys['signers']): { keys: Array<PublisherKeys['signers']['root']['publicKey']>; threshold: number } => ({ keys: [evilKeys.signers[r].publicKey], threshold: 1 });
    await initRepository(mixedRepo, {
      roles: { root: { keys: [evilKeys.signers.root.publicKey, keys.signers.root.publicKey], threshold: 1 }, targets: one('targets'), snapshot: one('snapshot'), timestamp: one('timestamp') },
      signers: [evilKeys.signers.root, evilKeys.signers.targets],
    });
    await publish(mixedRepo, { signers: [evilKeys.signers.snapshot, evilKeys.signers.timestamp] });
    const mixedSource = await publishedDocuments(mixedRepo);
    const mixedPayload = await payloadOf(mixedSource, formatUtcTime(Date.now() / 1000));
    const realGenesisSource = await publishedDocuments(repo);
    // The leaked authorization names the real repository's root: it authorizes no other genesis.
    const leaked = createRosterAuthorization([keys.signers.root], { chain: genesisAuthorizationChain(sha256Hex(await realGenesisSource.root(realGenesisSource.rootVersion))), index: 0, roster: rosterHash(realRoster) });
    // Even a signature the real key made over this very genesis (a holder tricked into signing)
    // does not make the witnesses follow a root that lists keys besides the ones their operator named.
    const tricked = createRosterAuthorization([keys.signers.root], { chain: genesisAuthorizationChain(mixedPayload.root.sha256), index: 0, roster: rosterHash(realRoster) });
    for (const [authorization, refusal] of [[leaked, /not authorized by/], [tricked, /root keys besides/]] as const) {
      const replayed = buildGenesis(DEFAULT_SKIPCHAIN_PARAMS, mixedPayload, { roster: realRoster, authorization });
      for (const [i, url] of cluster.urls.entries()) {
        const e = await new WitnessConnection(url, { signer: { leaderKey, witnessKey: infos[i]!.key } }).genesis({ block: replayed, documents: await wireDocuments(mixedSource) }).catch((x: unknown) => x);
        assert.ok(e instanceof WitnessCallError && e.refusal?.code === 'CHAIN_MISMATCH' && refusal.test(e.refusal.message), String(e));
        assert.equal((await infoOf(url)).chain, null, 'the witness follows no chain');
      }
    }

    const { genesis: real } = await createReleaseLog(repo, { witnesses: cluster.urls, threshold: 3, rootSigners: [keys.signers.root], leader: { callTimeoutMs: 30_000, leaderKey } });
    for (const url of cluster.urls) assert.equal((await infoOf(url)).chain, real, 'the real genesis, authorized by the pinned root key, is followed');
  });

  it('a fresh witness pinned to the genesis hash refuses another chain, and the real one from a non-member; nothing is recorded', async () => {
    const [port] = await freePorts(1);
    const dir = join(root.dir, 'w5');
    const genesisBytes = await readFile(join(repo, 'public', 'log', 'blocks', '0.json'));
    const real = parseBlockBytes(genesisBytes);
    await initWitness(dir, { name: 'w5', address: `http://127.0.0.1:${port}`, chain: { genesis: blockHash(real) } });
    const w5 = witnessProcess('w5', dir, port!);
    extra.push(w5);
    await w5.start();
    const { key } = await infoOf(w5.url);
    const documents = await wireDocuments(await publishedDocuments(repo));
    // Another chain (the same state, another roster): refused by the pin, whoever signs it.
    const other: Block = { ...real, payload: { ...real.payload, time: formatUtcTime(Date.parse(real.payload.time) / 1000 + 1) } };
    const e1 = await new WitnessConnection(w5.url, { signer: { leaderKey, witnessKey: key } }).genesis({ block: other, documents }).catch((x: unknown) => x);
    assert.ok(e1 instanceof WitnessCallError && e1.refusal?.code === 'CHAIN_MISMATCH' && /serves only chain/.test(e1.refusal.message), String(e1));
    // The real chain, sent by someone in none of its rosters.
    const e2 = await new WitnessConnection(w5.url, { signer: { leaderKey: outsider, witnessKey: key } }).genesis({ block: real, documents }).catch((x: unknown) => x);
    assert.ok(e2 instanceof WitnessCallError && e2.status === 403 && e2.refusal?.code === 'NOT_A_MEMBER', String(e2));
    assert.equal((await infoOf(w5.url)).chain, null);
    await w5.stop();
  });

  it('a fresh witness has no members, so anyone may sign a genesis: its senders share one rate and two bodies in flight', async () => {
    const [port] = await freePorts(1);
    const dir = join(root.dir, 'w6');
    const real = parseBlockBytes(await readFile(join(repo, 'public', 'log', 'blocks', '0.json')));
    await initWitness(dir, { name: 'w6', address: `http://127.0.0.1:${port}`, chain: { genesis: blockHash(real) }, rate: RATE });
    const w6 = witnessProcess('w6', dir, port!);
    extra.push(w6);
    await w6.start();
    const { key } = await infoOf(w6.url);
    const stranger = (body: Buffer): Record<string, string> => signWitnessRequest(witnessKeyFromSeed(randomBytes(32)), { method: 'POST', path: '/v1/genesis', witness: key, body });
    const small = Buffer.from('{}');
    // Two strangers upload 60 MiB genesis bodies slowly (each with a key of its own): the witness reads no third.
    const huge = 60 * 1024 * 1024;
    const slow = [0, 1].map(() => holdUpload(w6.url, '/v1/genesis', stranger(Buffer.alloc(huge)), huge, '{').on('error', () => undefined));
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await post(w6.url, '/v1/genesis', small, stranger(small)), { status: 429, code: 'RATE_LIMITED' }, 'a third body is not read while two are');
    for (const s of slow) s.destroy();
    let after = { status: 429, code: 'RATE_LIMITED' };
    for (let i = 0; i < 50 && after.code === 'RATE_LIMITED'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await post(w6.url, '/v1/genesis', small, stranger(small));
    }
    assert.deepEqual(after, { status: 400, code: 'BAD_REQUEST' }, 'an upload that went away frees its place');
    // A flood of genesis requests, each signed by a fresh key: one rate for all of them, so the
    // request IDs the witness remembers cannot be filled to lock out the real genesis.
    const outcomes = new Map<string, number>();
    for (let k = 0; k < 120; k += 20) {
      for (const r of await Promise.all(Array.from({ length: 20 }, () => post(w6.url, '/v1/genesis', small, stranger(small))))) outcomes.set(r.code, (outcomes.get(r.code) ?? 0) + 1);
    }
    assert.ok((outcomes.get('RATE_LIMITED') ?? 0) >= 120 - RATE.burst - 10 * RATE.perSecond, `strangers share one rate: ${JSON.stringify([...outcomes])}`);
    assert.equal((await infoOf(w6.url)).chain, null, 'nothing was recorded');
    await w6.stop();
  });

  it('refuses unsigned, forged, misaddressed, stale, replayed and non-member requests with their codes; none is decided', async () => {
    const w2 = cluster.witnesses[1]!;
    const { key: w2Key } = await infoOf(w2.url);
    const { key: w3Key } = await infoOf(cluster.urls[2]!);
    const head = await headBlock();
    const before = await infoOf(w2.url);
    const accepted = (): number => w2.lines.filter((l) => /commit head .*accepted/.test(l)).length;
    const acceptedBefore = accepted();
    const body = headCommit(head, 'evil-auth');
    const sign = (k: WitnessKey, witness = w2Key, b = body, now?: Date): Record<string, string> => signWitnessRequest(k, { method: 'POST', path: '/v1/commit', witness, body: b, ...(now ? { now } : {}) });

    assert.deepEqual(await post(w2.url, '/v1/commit', body, {}), { status: 401, code: 'UNAUTHENTICATED' });
    const forged = { ...sign(outsider), 'x-cairn-signer': leaderKey.publicKeyHex }; // claims the leader, signed by another key
    assert.deepEqual(await post(w2.url, '/v1/commit', body, forged), { status: 401, code: 'BAD_SIGNATURE' });
    const altered = Buffer.from(body.toString().replace('evil-auth', 'evil-auth2'));
    assert.deepEqual(await post(w2.url, '/v1/commit', altered, sign(leaderKey)), { status: 401, code: 'BAD_SIGNATURE' }, 'the body is not the one signed');
    assert.deepEqual(await post(w2.url, '/v1/commit', body, sign(leaderKey, w3Key)), { status: 401, code: 'BAD_SIGNATURE' }, 'signed for w3, replayed to w2');
    const old = new Date(Date.now() - (REQUEST_AUTH_LIMITS.maxAgeSeconds + 60) * 1000);
    assert.deepEqual(await post(w2.url, '/v1/commit', body, sign(leaderKey, w2Key, body, old)), { status: 401, code: 'STALE_REQUEST' });
    assert.deepEqual(await post(w2.url, '/v1/commit', body, sign(outsider)), { status: 403, code: 'NOT_A_MEMBER' });
    assert.deepEqual(await post(w2.url, '/v1/respond', Buffer.from('{}'), signWitnessRequest(outsider, { method: 'POST', path: '/v1/respond', witness: w2Key, body: Buffer.from('{}') })), { status: 403, code: 'NOT_A_MEMBER' });
    assert.equal(accepted(), acceptedBefore, 'no refused request reached a decision');

    const headers = sign(leaderKey);
    assert.equal((await post(w2.url, '/v1/commit', body, headers)).status, 200, 'the same request, properly signed, is accepted once');
    assert.deepEqual(await post(w2.url, '/v1/commit', body, headers), { status: 401, code: 'REPLAYED_REQUEST' });
    assert.equal(accepted(), acceptedBefore + 1, 'the replay was not decided');
    for (const code of ['UNAUTHENTICATED', 'BAD_SIGNATURE', 'STALE_REQUEST', 'NOT_A_MEMBER', 'REPLAYED_REQUEST']) {
      assert.ok(w2.lines.some((l) => l.includes(`refused ${code}`)), `the witness logs ${code}`);
    }
    assert.deepEqual(await infoOf(w2.url), before, 'head and state unchanged');
  });

  it('a stranger naming a member\'s key, or replaying a member\'s signed headers, is refused before the witness reads a byte of the body', async () => {
    const w2 = cluster.witnesses[1]!;
    const { key: w2Key } = await infoOf(w2.url);
    const before = await infoOf(w2.url);
    const huge = 48 * 1024 * 1024; // under the 64 MiB body cap: without the header check, the witness would wait for and buffer all of it
    const sign = (k: WitnessKey, b: Buffer): Record<string, string> => signWitnessRequest(k, { method: 'POST', path: '/v1/commit', witness: w2Key, body: b });
    // The leader's public key (in the roster for all to read), a signature by the outsider's.
    const forged = { ...sign(outsider, Buffer.alloc(huge)), 'x-cairn-signer': leaderKey.publicKeyHex };
    assert.deepEqual(await headersOnly(w2.url, '/v1/commit', forged, huge), { status: 401, code: 'BAD_SIGNATURE' });
    // A valid signature whose body hash the attacker swapped for that of its own huge body.
    const swapped = { ...sign(leaderKey, Buffer.from('{}')), 'x-cairn-body-sha256': createHash('sha256').update(Buffer.alloc(huge)).digest('hex') };
    assert.deepEqual(await headersOnly(w2.url, '/v1/commit', swapped, huge), { status: 401, code: 'BAD_SIGNATURE' });
    // A member's request, seen on the wire and replayed with a huge body.
    const body = headCommit(await headBlock(), 'evil-replay-huge');
    const headers = sign(leaderKey, body);
    assert.equal((await post(w2.url, '/v1/commit', body, headers)).status, 200);
    assert.deepEqual(await headersOnly(w2.url, '/v1/commit', headers, huge), { status: 401, code: 'REPLAYED_REQUEST' });
    // A real member's signed headers with another body: refused once the body is read, and not decided.
    const accepted = (): number => w2.lines.filter((l) => /commit head .*accepted/.test(l)).length;
    const seen = accepted();
    const other = headCommit(await headBlock(), 'evil-other-body');
    assert.deepEqual(await post(w2.url, '/v1/commit', other, { ...sign(leaderKey, body) }), { status: 401, code: 'BAD_SIGNATURE' });
    assert.equal(accepted(), seen, 'the body the member did not sign was not decided');
    assert.deepEqual(await infoOf(w2.url), before, 'head and state unchanged');
  });

  it('the stalling attack fails: nonce IDs are unguessable and bound to their leader, floods are limited, and the honest leader\'s rounds succeed', async () => {
    const infos = await Promise.all(cluster.urls.map(infoOf));
    const head = await headBlock();
    // The stolen member learns the shape of nonce IDs from a commit of its own.
    const own = await new WitnessConnection(cluster.urls[0]!, { signer: { leaderKey: stolen, witnessKey: infos[0]!.key } })
      .commit({ session: 'evil-probe', kind: 'head', statement: buildHeadStatement(head, formatUtcTime(Date.now() / 1000)) });
    assert.match(own.nonceId, /^[0-9a-f]{32}$/, '128 random bits');
    const outcomes = new Map<string, number>();
    const count = (code: string): void => void outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
    /** What the attackers do at one witness between an honest commit and its respond. */
    async function attack(address: string, nonceId: string): Promise<void> {
      const i = cluster.urls.indexOf(address);
      const asStolen = new WitnessConnection(address, { signer: { leaderKey: stolen, witnessKey: infos[i]!.key } });
      const burn = (nonceId: string): Promise<unknown> => asStolen.respond({ session: 'evil', nonceId, rosterHash: '00'.repeat(32), R1: '00'.repeat(32), R2: '00'.repeat(32), bitmap: 'ff', message: '00' })
        .then(() => count('ANSWERED'), (e: unknown) => count(e instanceof WitnessCallError ? e.refusal?.code ?? e.code : String(e)));
      // Garbage responds: for guessed IDs, and for the leader's very nonce ID (as if it leaked).
      await burn(randomBytes(16).toString('hex'));
      await burn(nonceId);
      // A flood of commits by the member beyond its rate and pending limits, and by the outsider.
      const flood = Array.from({ length: 200 }, (_, k) => headCommit(head, `evil-flood-${k}`));
      for (let k = 0; k < flood.length; k += 25) { // 25 at a time, faster than the rate refills
        const answers = await Promise.all(flood.slice(k, k + 25).map((b) => post(address, '/v1/commit', b, signWitnessRequest(stolen, { method: 'POST', path: '/v1/commit', witness: infos[i]!.key, body: b }))));
        for (const r of answers) count(r.code);
      }
      for (const b of flood.slice(0, 50)) count((await post(address, '/v1/commit', b, signWitnessRequest(outsider, { method: 'POST', path: '/v1/commit', witness: infos[i]!.key, body: b }))).code);
    }
    const l = await LogLeader.open(leaderOptions(repo, SILENT, {
      callTimeoutMs: 100_000, leaderKey, // the attack runs inside the commit call; the nonce lives 120 s
      // Between each honest commit and its respond, at every witness (more than n - t of them):
      wrapEndpoint: (endpoint, witness) => ({
        index: endpoint.index,
        commit: async (session) => {
          const c = await endpoint.commit(session);
          await attack(witness.address, c.nonceId).catch((e: unknown) => count(`ERROR ${String(e)}`));
          return c;
        },
        respond: (challenge) => endpoint.respond(challenge),
      }),
    }));
    const round = await l.headRound();
    assert.deepEqual([...outcomes.keys()].filter((k) => k.startsWith('ERROR')), [], 'every attack request was answered');
    assert.equal(round.cosigners.length, 4, `every witness co-signed the honest head: ${JSON.stringify(round.missing)}`);
    const n = (code: string): number => outcomes.get(code) ?? 0;
    const lost = n('TRANSPORT') + n('UNREACHABLE'); // requests a loaded machine dropped on the way: they asked nothing
    const report = JSON.stringify([...outcomes]);
    assert.equal(n('ANSWERED'), 0, 'no garbage respond was answered');
    assert.ok(n('UNKNOWN_NONCE') >= 8 - lost && n('UNKNOWN_NONCE') > 0, `guessed and leaked nonce IDs are unknown to the attacker (and stay the leader's): ${report}`);
    // At most the burst and what refills while the flood runs (about 15 s here at most) gets through.
    assert.ok(n('RATE_LIMITED') >= 4 * (200 - RATE.burst - 15 * RATE.perSecond) - lost, `the member's flood is rate limited: ${report}`);
    assert.ok(n('OK') >= 4 * (RATE.burst - 3) - lost, `its burst got through, more commits than it may hold pending (REQUEST_AUTH_LIMITS.maxPendingPerPeer): ${report}`);
    assert.ok(n('NOT_A_MEMBER') >= 4 * 50 - lost, `the outsider's flood is refused before its body is read: ${report}`);
    // The floods do not flood the operator's log: refusals before a member is shown, and over a
    // rate, are logged once per code per interval (the flood took well under a minute).
    for (const w of cluster.witnesses) {
      for (const code of ['NOT_A_MEMBER', 'RATE_LIMITED']) {
        const logged = w.lines.filter((l) => l.includes(`refused ${code}`)).length;
        assert.ok(logged >= 1 && logged <= 8, `${w.name} logged ${logged} ${code} lines for floods of 50 and 200`);
      }
    }
    // The flooded member held more than its pending limit: its own oldest were dropped, so its probe nonce is gone.
    await new Promise((r) => setTimeout(r, 1_000 / RATE.perSecond + 100)); // its rate refills
    const probe = await new WitnessConnection(cluster.urls[0]!, { signer: { leaderKey: stolen, witnessKey: infos[0]!.key } })
      .respond({ session: 'evil-probe', nonceId: own.nonceId, rosterHash: '00'.repeat(32), R1: '00'.repeat(32), R2: '00'.repeat(32), bitmap: 'ff', message: '00' }).catch((e: unknown) => e);
    assert.ok(probe instanceof WitnessCallError && probe.refusal?.code === 'UNKNOWN_NONCE', String(probe));
  });

  it('a leader without a member\'s key stops before any witness is asked to work (LEADER_KEY, exit 2), and writes nothing', async () => {
    const outsiderFile = join(root.dir, 'outsider-key.json');
    await writeKeyFile(outsiderFile, generateKeyPairSync('ed25519').privateKey);
    const headFile = join(repo, 'public', 'log', 'head.json');
    const before = await readFile(headFile);
    const commits = (): number => cluster.witnesses.reduce((n, w) => n + w.lines.filter((l) => / commit /.test(l)).length, 0);
    const seen = commits();
    for (const extraArgs of [[], ['--leader-key', outsiderFile]]) {
      const r = await runCli(['--json', 'log', 'head', repo, ...extraArgs], { timeoutMs: 30_000 });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      const err = JSON.parse(r.stdout) as { code: string; message: string; hint: string };
      assert.equal(err.code, 'LEADER_KEY');
      assert.match(err.hint, /--leader-key/);
    }
    assert.deepEqual(await readFile(headFile), before, 'no head statement was written');
    assert.equal(commits(), seen, 'no witness was asked to commit');
  });

  it('one witness process per directory: a second serve is refused (LOCKED, exit 8); a lock left by a crash is taken over', async () => {
    const w3 = cluster.witnesses[2]!;
    const lockFile = join(w3.dir, WITNESS_FILES.lock);
    const pid = Number((await readFile(lockFile, 'utf8')).trim());
    const before = createHash('sha256').update(await readFile(join(w3.dir, WITNESS_FILES.db))).digest('hex');
    const second = await runCli(['--json', 'witness', 'serve', '--dir', w3.dir, '--port', '0'], { timeoutMs: 30_000 });
    assert.equal(second.code, 8, second.stdout + second.stderr);
    const err = JSON.parse(second.stdout) as { code: string; message: string };
    assert.equal(err.code, 'LOCKED');
    assert.ok(err.message.includes(w3.dir) && err.message.includes(`pid ${pid}`), err.message);
    assert.equal(Number((await readFile(lockFile, 'utf8')).trim()), pid, 'the lock still names the running witness');
    assert.equal(createHash('sha256').update(await readFile(join(w3.dir, WITNESS_FILES.db))).digest('hex'), before, 'the second process did not touch the state');
    assert.ok(w3.running());

    await w3.stop('SIGKILL'); // a crash leaves the lock behind
    assert.equal(Number((await readFile(lockFile, 'utf8')).trim()), pid);
    await w3.start();
    assert.notEqual(Number((await readFile(lockFile, 'utf8')).trim()), pid, 'the restarted witness took the stale lock over');
    await w3.stop('SIGTERM');
    const gone = await readFile(lockFile).then(() => false, () => true);
    assert.ok(gone, `a clean stop removes the lock: ${w3.lines.slice(-4).join(' | ')}`);
    await writeFile(lockFile, 'not a pid\n'); // a garbled lock is stale too
    await w3.start();
  });

  it('one process per directory holds when the lock file does not: removed under a running witness, or naming a reused pid', async () => {
    const w3 = cluster.witnesses[2]!;
    const lockFile = join(w3.dir, WITNESS_FILES.lock);
    const pid = Number((await readFile(lockFile, 'utf8')).trim());
    // What two processes racing for a stale lock do to each other (each unlinks the "stale" file
    // the other just created), or an operator following the hint while the witness runs.
    await unlink(lockFile);
    const before = await infoOf(w3.url);
    const second = await runCli(['--json', 'witness', 'serve', '--dir', w3.dir, '--port', '0'], { timeoutMs: 30_000 });
    assert.equal(second.code, 8, `a second process serves the same directory: ${second.stdout}${second.stderr}`);
    const err = JSON.parse(second.stdout) as { code: string; message: string };
    assert.equal(err.code, 'LOCKED');
    assert.ok(w3.running());
    assert.deepEqual(await infoOf(w3.url), before);
    // The running witness names itself again at its next start; a crash leaves a pid that
    // another (non-witness) process reuses, here this test's own: not a holder of the directory.
    await w3.stop('SIGKILL');
    await writeFile(lockFile, `${process.pid}\n`);
    await w3.start();
    const now = Number((await readFile(lockFile, 'utf8')).trim());
    assert.ok(now !== process.pid && now !== pid, `the restarted witness names itself in the lock (${now})`);
    assert.deepEqual(await infoOf(w3.url), before, 'it serves the same state');
  });
});
