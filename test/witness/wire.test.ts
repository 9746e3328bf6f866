// Tests for witness/wire.ts: requests to a witness that break the shape of docs/protocol.md
// section 8 (extra fields, wrong types, overlong identifiers, malformed hex or base64, lists
// over their caps) are refused with WitnessError BAD_REQUEST before the witness looks at them;
// malformed answers read by a leader are refused with a plain Error (reported as BAD_ANSWER).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WIRE_LIMITS, WitnessError, base64Bytes, parseCommitAnswer, parseCommitRequest, parseGenesisRequest, parseInfoAnswer, parseRespondAnswer, parseRespondRequest,
} from '../../src/witness/index.js';

const H = 'ab'.repeat(32);
const respond = { session: 's-1', nonceId: 'n-1', rosterHash: H, R1: H, R2: H, bitmap: '0f', message: '00ff' };
const documents = { roots: [], snapshot: 'e30=', targets: { targets: 'e30=' } };

function badRequest(fn: () => unknown, fragment: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof WitnessError, `expected WitnessError, got ${String(e)}`);
    assert.equal(e.code, 'BAD_REQUEST');
    assert.match(e.message, fragment);
    return true;
  });
}

test('well-formed requests are read as typed values', () => {
  assert.deepEqual(parseRespondRequest(respond), respond);
  assert.equal(parseCommitRequest({ session: 's', kind: 'head', statement: { any: 'shape' } }).kind, 'head');
  const genesis = parseGenesisRequest({ block: {}, documents });
  assert.deepEqual(genesis.documents, documents);
  assert.equal(base64Bytes('aGk=', 'x').toString(), 'hi');
});

test('refuses extra fields, wrong types and malformed binary fields', () => {
  badRequest(() => parseRespondRequest({ ...respond, extra: 1 }), /respond request: unexpected field "extra"/);
  badRequest(() => parseRespondRequest({ ...respond, R1: H.toUpperCase() }), /R1 must be 32 bytes of lowercase hex/);
  badRequest(() => parseRespondRequest({ ...respond, bitmap: '0' }), /bitmap must be lowercase hex/);
  badRequest(() => parseRespondRequest({ ...respond, bitmap: '00'.repeat(1251) }), /bitmap must be lowercase hex of at most 1250 bytes/);
  badRequest(() => parseRespondRequest({ ...respond, message: 7 }), /message must be lowercase hex/);
  badRequest(() => parseCommitRequest({ session: 's', kind: 'vote', statement: {} }), /kind must be one of "block", "link", "head", found "vote"/);
  badRequest(() => parseCommitRequest({ session: 's', kind: 'head', statement: {}, documents }), /a head commit carries only session, kind and statement/);
  badRequest(() => parseGenesisRequest({ block: {}, documents: { ...documents, snapshot: 'not base64!' } }), /documents.snapshot must be standard base64/);
  badRequest(() => parseGenesisRequest({ block: {}, documents: { ...documents, targets: [] } }), /documents.targets must be an object/);
  badRequest(() => base64Bytes('aGk', 'documents.roots[0]'), /documents.roots\[0\] must be standard base64/);
});

test('refuses overlong identifiers and lists over their caps', () => {
  badRequest(() => parseRespondRequest({ ...respond, session: 's'.repeat(WIRE_LIMITS.maxIdLength + 1) }), /session must be a string of 1 to 128 characters/);
  badRequest(() => parseRespondRequest({ ...respond, nonceId: 'a b' }), /nonceId must be 1 to 128 printable ASCII characters/);
  badRequest(() => parseRespondRequest({ ...respond, session: '' }), /session must be a string of 1 to 128/);
  const entry = { block: {}, link: {}, cosignature: {} };
  badRequest(() => parseGenesisRequest({ block: {}, documents, catchUp: Array(WIRE_LIMITS.maxCatchUp + 1).fill(entry) }), /catchUp must be an array of at most 256 entries/);
  badRequest(() => parseGenesisRequest({ block: {}, documents, catchUp: [{ ...entry, extra: 1 }] }), /catchUp\[0\]: unexpected field "extra"/);
  badRequest(() => parseGenesisRequest({ block: {}, documents: { ...documents, roots: Array(1025).fill('e30=') } }), /documents.roots must be an array of at most 1024/);
  badRequest(() => parseGenesisRequest({ block: {}, documents: { ...documents, targets: { ['r'.repeat(256)]: 'e30=' } } }), /a key of 256 characters/);
  const attestations = (list: unknown): unknown => ({ session: 's', kind: 'block', statement: {}, block: {}, documents, attestations: list });
  badRequest(() => parseCommitRequest(attestations({ app: Array(WIRE_LIMITS.maxAttestationsPerTarget + 1).fill('e30=') })), /attestations.app must be an array of at most 64/);
  badRequest(() => parseCommitRequest(attestations({ app: ['A'.repeat(WIRE_LIMITS.maxAttestationBase64 + 4)] })), /attestations.app\[0\] is \d+ characters of base64, at most/);
  badRequest(() => parseCommitRequest(attestations({ '': [] })), /attestations: a key of 0 characters/);
});

test('a leader refuses malformed answers with a plain error', () => {
  const plainError = (fn: () => unknown, fragment: RegExp): void => {
    assert.throws(fn, (e: unknown) => e instanceof Error && !(e instanceof WitnessError) && fragment.test(e.message));
  };
  plainError(() => parseCommitAnswer({ nonceId: 'n', R1: H, R2: 'zz' }), /R2 must be 32 bytes of lowercase hex/);
  assert.deepEqual(parseCommitAnswer({ nonceId: 'n', R1: H, R2: H, notes: ['a/b: upstream x verified, fetched from y'] }).notes, ['a/b: upstream x verified, fetched from y']);
  plainError(() => parseCommitAnswer({ nonceId: 'n', R1: H, R2: H, notes: Array(WIRE_LIMITS.maxNotes + 1).fill('n') }), /notes must be an array of at most 16/);
  plainError(() => parseCommitAnswer({ nonceId: 'n', R1: H, R2: H, notes: ['n'.repeat(WIRE_LIMITS.maxNoteChars + 1)] }), /notes\[0\] must be a string of at most 2048/);
  plainError(() => parseRespondAnswer({ s: 5 }), /s must be 32 bytes/);
  plainError(() => parseRespondAnswer(null), /respond answer must be an object/);
  const info = { name: 'w1', key: H, pop: H + H, address: 'http://127.0.0.1:1', chain: null, head: null, state: null };
  assert.equal(parseInfoAnswer(info).name, 'w1');
  plainError(() => parseInfoAnswer({ ...info, name: 'n'.repeat(65) }), /info.name must be a string of at most 64/);
  plainError(() => parseInfoAnswer({ ...info, head: { index: 2 ** 60, hash: H } }), /info.head.index must be a non-negative integer/);
  plainError(() => parseInfoAnswer({ ...info, state: { index: 0, root: 1, snapshot: 1, roles: { targets: -1 } } }), /info.state.roles.targets must be a non-negative integer/);
});
