// Tests for encoding/field-reader.ts: every hostile field (wrong type, unknown or missing field,
// overlong string, huge or fractional integer, malformed hex or base64, oversized array or map)
// is refused with the error the caller chose, naming the document and the field; well-formed
// fields come back as typed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FieldReader } from '../../src/encoding/index.js';
import { CairnError, EXIT } from '../../src/errors/index.js';

class ExampleError extends CairnError<'BAD_EXAMPLE'> {
  get exitCode(): number {
    return EXIT.format;
  }
}

const r = new FieldReader((message) => new ExampleError('BAD_EXAMPLE', message), 'example.json');

/** Asserts `fn` throws the caller's error whose message names the document and contains `fragment`. */
function refuses(fn: () => unknown, fragment: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ExampleError, `expected the caller's error, got ${String(e)}`);
    assert.equal(e.code, 'BAD_EXAMPLE');
    assert.ok(e.message.startsWith('example.json: '), e.message);
    assert.ok(e.message.includes(fragment), `"${e.message}" should mention ${fragment}`);
    return true;
  });
}

test('an object with exactly its fields is read; an extra, missing or non-object one is refused', () => {
  assert.deepEqual(r.exact({ a: 1, b: 2 }, '', ['a', 'b']), { a: 1, b: 2 });
  assert.deepEqual(r.exact({ a: 1, c: 3 }, 'x', ['a'], ['c']), { a: 1, c: 3 });
  refuses(() => r.exact({ a: 1, b: 2, evil: 3 }, '', ['a', 'b']), 'unexpected field "evil"');
  refuses(() => r.exact({ a: 1 }, 'payload', ['a', 'b']), 'payload: missing field "b"');
  refuses(() => r.exact(null, 'payload', ['a']), 'payload must be an object, found null');
  refuses(() => r.exact([1], '', ['a']), 'expected an object, found an array');
  refuses(() => r.object('x', 'k'), 'k must be an object, found a string');
  // A prototype key is an ordinary unknown field, not a way around the check.
  refuses(() => r.exact(JSON.parse('{"a":1,"__proto__":{"b":2}}'), '', ['a', 'b']), 'unexpected field "__proto__"');
  // An attacker's field name is quoted, never in full.
  const longName = 'n'.repeat(100_000);
  assert.throws(() => r.exact({ [longName]: 1 }, '', []), (e: unknown) => e instanceof ExampleError && e.message.length < 300);
});

test('integers: only safe integers in range; huge, fractional, negative and non-numbers are refused', () => {
  assert.equal(r.integer(0, 'n'), 0);
  assert.equal(r.integer(Number.MAX_SAFE_INTEGER, 'n'), Number.MAX_SAFE_INTEGER);
  assert.equal(r.integer(7, 'n', 1, 7), 7);
  refuses(() => r.integer(Number.MAX_SAFE_INTEGER + 1, 'n'), 'n must be a non-negative integer');
  refuses(() => r.integer(JSON.parse('1e400'), 'n'), 'found Infinity');
  refuses(() => r.integer(1.5, 'n'), 'n must be');
  refuses(() => r.integer(-1, 'n'), 'found -1');
  refuses(() => r.integer('5', 'n'), 'found "5"');
  refuses(() => r.integer(8, 'level', 0, 7), 'level must be an integer from 0 to 7, found 8');
  refuses(() => r.integer(0, 'version', 1), 'version must be an integer of at least 1');
});

test('hex: exactly the length asked, lowercase, even; capped hex refuses longer values', () => {
  const digest = 'ab'.repeat(32);
  assert.equal(r.hex(digest, 'h'), digest);
  refuses(() => r.hex(digest.toUpperCase(), 'h'), 'h must be 32 bytes of lowercase hex');
  refuses(() => r.hex(digest.slice(2), 'h'), '32 bytes');
  refuses(() => r.hex(digest + '00', 'h'), '32 bytes');
  refuses(() => r.hex(`${digest.slice(1)}g`, 'h'), 'lowercase hex');
  assert.equal(r.hexUpTo('00ff', 'sig', 2), '00ff');
  refuses(() => r.hexUpTo('00f', 'sig', 2), 'sig must be lowercase hex');
  refuses(() => r.hexUpTo('00ff00', 'sig', 2), 'at most 2 bytes, found 3');
  refuses(() => r.hexUpTo('', 'sig', 2, 1), '1 to 2 bytes, found 0');
});

test('strings: length caps, patterns and meaning checks; the message never quotes a long value whole', () => {
  assert.equal(r.string('abc', 's', 3), 'abc');
  refuses(() => r.string('abcd', 's', 3), 's must be a string of at most 3 characters, found 4 characters');
  refuses(() => r.string('', 's', 3, { min: 1 }), '1 to 3');
  refuses(() => r.string(3, 's', 3), 'found a number');
  refuses(() => r.string('a b', 'id', 9, { pattern: /^\S+$/, expected: 'printable characters' }), 'id must be printable characters, found "a b"');
  refuses(() => r.string('2026-02-30', 'day', 10, { valid: (t) => !Number.isNaN(Date.parse(t)) && t !== '2026-02-30', expected: 'a real day' }), 'a real day');
  const long = 'x'.repeat(1_000_000);
  assert.throws(() => r.string(long, 'name', 2_000_000, { pattern: /^y/ }), (e: unknown) => e instanceof ExampleError && e.message.length < 300);
  assert.equal(r.literal('v1', 'format', 'v1'), 'v1');
  refuses(() => r.literal('v2', 'format', 'v1'), 'format must be "v1", found "v2"');
  assert.equal(r.oneOf('b', 'kind', ['a', 'b'] as const), 'b');
  refuses(() => r.oneOf('c', 'kind', ['a', 'b'] as const), 'kind must be one of "a", "b", found "c"');
  assert.equal(r.boolean(false, 'flag'), false);
  refuses(() => r.boolean('false', 'flag'), 'flag must be true or false');
});

test('base64: the standard alphabet with padding, within its cap', () => {
  assert.equal(r.base64('aGVsbG8=', 'b', 8), 'aGVsbG8=');
  refuses(() => r.base64('aGVsbG8', 'b', 8), 'standard base64');
  refuses(() => r.base64('aGVs-G8=', 'b', 8), 'standard base64');
  refuses(() => r.base64('aGVsbG8gd29ybGQ=', 'b', 8), 'at most 8');
});

test('arrays and maps: entry caps and key lengths', () => {
  assert.deepEqual(r.array([1, 2], 'list', 2), [1, 2]);
  refuses(() => r.array([1, 2, 3], 'list', 2), 'list must be an array of at most 2 entries, found 3');
  refuses(() => r.array([], 'list', 2, 1), '1 to 2 entries');
  refuses(() => r.array({ length: 1 }, 'list', 2), 'found an object');
  assert.deepEqual(r.entries({ a: 1 }, 'map', 1), [['a', 1]]);
  refuses(() => r.entries({ a: 1, b: 2 }, 'map', 1), 'map has 2 entries, at most 1');
  refuses(() => r.entries({ '': 1 }, 'map', 1), 'a key of 0 characters');
  refuses(() => r.entries({ ['k'.repeat(300)]: 1 }, 'map', 1, 255), 'a key of 300 characters');
});

test('named() keeps the caller\'s error for a nested document; a reader without a name adds no prefix', () => {
  assert.throws(() => r.named('inner').integer(-1, 'n'), (e: unknown) => e instanceof ExampleError && e.message.startsWith('inner: n must be'));
  const plain = new FieldReader((message) => new Error(message));
  assert.throws(() => plain.integer(-1, 'n'), (e: unknown) => e instanceof Error && e.message.startsWith('n must be'));
});

test('no JSON value makes a reader throw anything but the caller\'s error', () => {
  const json = fc.jsonValue({ maxDepth: 3 });
  fc.assert(fc.property(json, (value) => {
    const attempts: Array<() => unknown> = [
      () => r.exact(value, 'o', ['a', 'b'], ['c']),
      () => r.integer(value, 'n', 0, 100),
      () => r.hex(value, 'h'),
      () => r.hexUpTo(value, 'h', 4),
      () => r.string(value, 's', 5, { pattern: /^a/ }),
      () => r.base64(value, 'b', 16),
      () => r.array(value, 'a', 2),
      () => r.entries(value, 'm', 2),
      () => r.oneOf(value, 'k', ['x']),
      () => r.boolean(value, 'f'),
    ];
    for (const attempt of attempts) {
      try {
        attempt();
      } catch (e) {
        if (!(e instanceof ExampleError)) throw e;
      }
    }
  }), { numRuns: 500 });
});
