// Tests for encoding/bounded-json.ts: hostile JSON (huge, deep, wide, malformed) is refused
// with a typed error before it can cost memory or stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseJsonBounded, parseJsonObject } from '../../src/encoding/index.js';
import { FormatError } from '../../src/errors/index.js';

const limits = { maxBytes: 1000, maxDepth: 5, maxEntries: 50 };

test('refuses oversized, too deep, too wide and malformed documents', () => {
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof FormatError);
      return e.code;
    }
    return 'accepted';
  };
  assert.equal(code(() => parseJsonBounded('"' + 'a'.repeat(2000) + '"', 'doc', limits)), 'TOO_LARGE');
  assert.equal(code(() => parseJsonBounded('[[[[[[1]]]]]]', 'doc', limits)), 'TOO_DEEP');
  assert.equal(code(() => parseJsonBounded(JSON.stringify(Array(60).fill(1)), 'doc', limits)), 'TOO_MANY_ENTRIES');
  assert.equal(code(() => parseJsonBounded('{"a":', 'doc', limits)), 'MALFORMED_JSON');
  assert.equal(code(() => parseJsonObject('[1]', 'doc', limits)), 'SCHEMA');
  assert.equal(code(() => parseJsonBounded('[[[1]]]', 'doc', limits)), 'accepted');
});

test('a deeply nested document cannot exhaust the stack', () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  assert.throws(() => parseJsonBounded(deep, 'doc', { maxBytes: 1e6, maxDepth: 32, maxEntries: 1e6 }), FormatError);
});

test('any JSON value within the limits parses to itself', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
      const text = JSON.stringify(value);
      assert.deepEqual(parseJsonBounded(text, 'doc', { maxBytes: 1e6, maxDepth: 10, maxEntries: 1e6 }), JSON.parse(text));
    }),
    { numRuns: 200 },
  );
});
