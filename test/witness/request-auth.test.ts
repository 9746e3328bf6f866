// test/witness/request-auth.test.ts: the request signature and its guard (docs/protocol.md
// section 8 "Who may ask"), driven by a clock the test controls: a signature covers method, path,
// addressed witness, time, request ID and body; a request ID is refused within its window and
// forgotten after it; a member's rate refills over time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { witnessKeyFromSeed } from '../../src/cosi/index.js';
import { readRequestClaim, REQUEST_AUTH_LIMITS, RequestGuard, signWitnessRequest, WitnessError } from '../../src/witness/index.js';

const key = (tag: string) => witnessKeyFromSeed(createHash('sha256').update(`request-auth/${tag}`).digest());
const leader = key('leader');
const witness = key('witness').publicKeyHex;
const body = Buffer.from('{"session":"s"}');
const T0 = Date.parse('2026-01-01T00:00:00Z');
const isCode = (code: string) => (e: unknown) => e instanceof WitnessError && e.code === code;

function claimAt(ms: number, b = body) {
  const headers = signWitnessRequest(leader, { method: 'POST', path: '/v1/commit', witness, body: b, now: new Date(ms) });
  return readRequestClaim((name) => headers[name]);
}

test('a signature covers the method, path, addressed witness and body (by the hash it carries)', () => {
  const guard = new RequestGuard(witness, REQUEST_AUTH_LIMITS, () => T0);
  const claim = claimAt(T0);
  guard.verify(claim, 'POST', '/v1/commit');
  guard.checkBody(claim, body);
  assert.throws(() => guard.verify(claim, 'POST', '/v1/respond'), isCode('BAD_SIGNATURE'));
  assert.throws(() => guard.checkBody(claim, Buffer.from('{"session":"t"}')), isCode('BAD_SIGNATURE'));
  const otherHash = createHash('sha256').update('{"session":"t"}').digest('hex');
  assert.throws(() => guard.verify({ ...claim, bodyHash: otherHash }, 'POST', '/v1/commit'), isCode('BAD_SIGNATURE'), 'the hash header is signed');
  assert.throws(() => new RequestGuard(key('other').publicKeyHex, REQUEST_AUTH_LIMITS, () => T0).verify(claim, 'POST', '/v1/commit'), isCode('BAD_SIGNATURE'));
  assert.throws(() => readRequestClaim(() => undefined), isCode('UNAUTHENTICATED'));
  assert.throws(() => readRequestClaim((name) => (name === 'x-cairn-request-id' ? '1' : { ...signWitnessRequest(leader, { method: 'POST', path: '/', witness, body }) }[name])), isCode('UNAUTHENTICATED'));
  assert.throws(() => readRequestClaim((name) => (name === 'x-cairn-body-sha256' ? undefined : { ...signWitnessRequest(leader, { method: 'POST', path: '/', witness, body }) }[name])), isCode('UNAUTHENTICATED'));
});

test('a request time off the witness clock by more than the window is stale, both ways', () => {
  const window = REQUEST_AUTH_LIMITS.maxAgeSeconds * 1000;
  const guard = new RequestGuard(witness, REQUEST_AUTH_LIMITS, () => T0);
  guard.checkTime(claimAt(T0 - window));
  guard.checkTime(claimAt(T0 + window));
  assert.throws(() => guard.checkTime(claimAt(T0 - window - 2000)), isCode('STALE_REQUEST'));
  assert.throws(() => guard.checkTime(claimAt(T0 + window + 2000)), isCode('STALE_REQUEST'));
});

test('a request ID is refused as long as its time is fresh, and forgotten only after', () => {
  let now = T0;
  const guard = new RequestGuard(witness, REQUEST_AUTH_LIMITS, () => now);
  const claim = claimAt(T0);
  guard.admit(claim);
  assert.throws(() => guard.admit(claim), isCode('REPLAYED_REQUEST'));
  now = T0 + REQUEST_AUTH_LIMITS.maxAgeSeconds * 1000; // still fresh: still refused
  guard.checkTime(claim);
  assert.throws(() => guard.admit(claim), isCode('REPLAYED_REQUEST'));
  now = T0 + 2 * REQUEST_AUTH_LIMITS.maxAgeSeconds * 1000 + 1; // stale now, so forgetting it is safe
  assert.throws(() => guard.checkTime(claim), isCode('STALE_REQUEST'));
});

test('a member over its burst is refused until its rate refills; another member is not affected', () => {
  let now = T0;
  const guard = new RequestGuard(witness, { burst: 3, perSecond: 1 }, () => now);
  for (let i = 0; i < 3; i++) guard.admit(claimAt(T0));
  assert.throws(() => guard.admit(claimAt(T0)), isCode('RATE_LIMITED'));
  const other = signWitnessRequest(key('member-2'), { method: 'POST', path: '/v1/commit', witness, body, now: new Date(T0) });
  guard.admit(readRequestClaim((name) => other[name]));
  now = T0 + 1000;
  guard.admit(claimAt(T0));
  assert.throws(() => guard.admit(claimAt(T0)), isCode('RATE_LIMITED'));
});
