// Tests for cosi/signer.ts: a nonce pair answers at most once, the response is released only
// after the NonceStore recorded the use, and a witness co-signs only what it should
// (protocol.md 3, steps 1 and 3; docs/design.md concurrent-session safety).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COSI_CONTEXTS, CosiError, CosiSigner, encodeBitmap, proofOfPossessionMessage, type NonceStore, Point } from '../../src/cosi/index.js';
import { cothority, headMessage } from './fixtures.js';

const isCode = (code: string) => (e: unknown) => e instanceof CosiError && e.code === code;

function challengeFor(signer: CosiSigner, roster: ReturnType<typeof cothority>['roster'], message = headMessage()) {
  const c = signer.commit();
  const bitmap = encodeBitmap([roster.indexOf(signer.publicKeyHex)], roster.size);
  return { nonceId: c.nonceId, R1: c.R1, R2: c.R2, bitmap, roster, message };
}

test('refuses nonce reuse: a second respond with the same nonce pair throws NONCE_REUSED', async () => {
  const { signers, roster } = cothority(3, 1, 'signer');
  const signer = signers[0]!;
  const challenge = challengeFor(signer, roster);
  const s = await signer.respond(challenge);
  assert.equal(s.length, 32);
  // Same nonces, another message: answering would leak the key (two equations, one unknown a).
  await assert.rejects(signer.respond({ ...challenge, message: headMessage(2) }), isCode('NONCE_REUSED'));
  await assert.rejects(signer.respond(challenge), isCode('NONCE_REUSED'));
});

test('refuses nonce reuse by two concurrent responds: exactly one answers', async () => {
  const { signers, roster } = cothority(3, 1, 'signer');
  const challenge = challengeFor(signers[1]!, roster);
  const results = await Promise.allSettled([signers[1]!.respond(challenge), signers[1]!.respond({ ...challenge, message: headMessage(9) })]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  const failed = results.find((r) => r.status === 'rejected');
  assert.ok(failed && isCode('NONCE_REUSED')(failed.reason));
});

test('a failed respond still burns the nonce pair (no second chance with other inputs)', async () => {
  const { signers, roster } = cothority(3, 1, 'signer');
  const challenge = challengeFor(signers[0]!, roster);
  await assert.rejects(signers[0]!.respond({ ...challenge, bitmap: Uint8Array.of(0xff) }), isCode('BAD_BITMAP'));
  await assert.rejects(signers[0]!.respond(challenge), isCode('NONCE_REUSED'));
});

test('refuses a nonce ID it never issued', async () => {
  const { signers, roster } = cothority(3, 1, 'signer');
  const challenge = challengeFor(signers[0]!, roster);
  await assert.rejects(signers[0]!.respond({ ...challenge, nonceId: 'forged-1' }), isCode('UNKNOWN_NONCE'));
  const other = challengeFor(signers[1]!, roster);
  await assert.rejects(signers[0]!.respond({ ...challenge, nonceId: other.nonceId }), isCode('UNKNOWN_NONCE'));
});

test('the response is released only after the store durably recorded the nonce use', async () => {
  const { keys, roster } = cothority(3, 1, 'signer');
  const events: string[] = [];
  let release: () => void = () => {};
  const store: NonceStore = {
    markUsed: (id) => {
      events.push(`markUsed ${id}`);
      return new Promise<void>((resolve) => {
        release = () => {
          events.push('durable');
          resolve();
        };
      });
    },
  };
  const signer = new CosiSigner(keys[0]!, { store });
  const challenge = challengeFor(signer, roster);
  let answered = false;
  const pending = signer.respond(challenge).then((s) => {
    answered = true;
    events.push('response');
    return s;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(answered, false, 'no response before the store resolves');
  assert.deepEqual(events, [`markUsed ${challenge.nonceId}`]);
  release();
  await pending;
  assert.deepEqual(events, [`markUsed ${challenge.nonceId}`, 'durable', 'response']);
});

test('a store that fails to record the use withholds the response', async () => {
  const { keys, roster } = cothority(3, 1, 'signer');
  const signer = new CosiSigner(keys[0]!, { store: { markUsed: async () => { throw new Error('disk full'); } } });
  await assert.rejects(signer.respond(challengeFor(signer, roster)), /disk full/);
});

test('refuses to co-sign a proof-of-possession message or a context it does not serve (domain separation)', async () => {
  const { signers, roster, keys } = cothority(3, 1, 'signer');
  const pop = proofOfPossessionMessage(keys[0]!.publicKey);
  await assert.rejects(signers[0]!.respond(challengeFor(signers[0]!, roster, pop)), isCode('BAD_CONTEXT'));
  const tuf = Buffer.from('cairn/v1/roster-authorization\u0000{}');
  await assert.rejects(signers[0]!.respond(challengeFor(signers[0]!, roster, tuf)), isCode('BAD_CONTEXT'));
  await assert.rejects(signers[0]!.respond(challengeFor(signers[0]!, roster, Buffer.from('raw bytes'))), isCode('BAD_CONTEXT'));
  const permissive = new CosiSigner(keys[0]!, { contexts: [COSI_CONTEXTS.forwardLink] });
  await assert.rejects(permissive.respond(challengeFor(permissive, roster, headMessage())), isCode('BAD_CONTEXT'));
});

test('refuses to answer for a bitmap that leaves it out', async () => {
  const { signers, roster } = cothority(3, 1, 'signer');
  const challenge = challengeFor(signers[0]!, roster);
  await assert.rejects(signers[0]!.respond({ ...challenge, bitmap: encodeBitmap([1, 2], 3) }), isCode('NOT_A_PARTICIPANT'));
});

test('refuses malformed aggregate commitments', async () => {
  const { signers, roster } = cothority(3, 1, 'signer');
  const challenge = challengeFor(signers[0]!, roster);
  await assert.rejects(signers[0]!.respond({ ...challenge, R1: new Uint8Array(32).fill(0xff) }), isCode('BAD_ENCODING'));
});

test('prepared nonce pairs are handed out first and are valid commitments', async () => {
  const { signers } = cothority(3, 1, 'signer');
  const signer = signers[2]!;
  signer.prepare(3);
  assert.equal(signer.preparedCount, 3);
  const c = signer.commit();
  assert.equal(signer.preparedCount, 2);
  Point.fromBytes(c.R1);
  Point.fromBytes(c.R2);
});

test('nonce IDs are 128 random bits: none follows from another (an attacker cannot guess the next and burn it)', () => {
  const { signers } = cothority(3, 1, 'signer');
  const ids = Array.from({ length: 64 }, () => signers[0]!.commit().nonceId);
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(new Set(ids.map((id) => id.slice(0, 8))).size, ids.length, 'no shared per-process tag');
});

test('a discarded nonce pair (expired, statement changed, failed round) never answers', async () => {
  const { signers, roster } = cothority(3, 1, 'signer');
  const challenge = challengeFor(signers[0]!, roster);
  signers[0]!.discard(challenge.nonceId);
  await assert.rejects(signers[0]!.respond(challenge), isCode('NONCE_REUSED'));
});

test('a pair dropped as the oldest over maxPending never answers', async () => {
  const { keys, roster } = cothority(3, 1, 'signer');
  const signer = new CosiSigner(keys[0]!, { maxPending: 2 });
  const first = challengeFor(signer, roster);
  challengeFor(signer, roster);
  challengeFor(signer, roster);
  await assert.rejects(signer.respond(first), isCode('NONCE_REUSED'));
});
