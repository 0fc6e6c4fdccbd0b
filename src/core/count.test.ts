import assert from 'node:assert/strict';
import { test } from 'node:test';
import { humanCount } from './count.ts';

test('humanCount: small counts are decimal, big ones exact around powers of two', () => {
  assert.equal(humanCount(0n), '0');
  assert.equal(humanCount(253n), '253');
  assert.equal(humanCount(2n ** 53n - 1n), '9007199254740991');
  assert.equal(humanCount(2n ** 53n), '2^53');
  assert.equal(humanCount(2n ** 64n), '2^64');
  assert.equal(humanCount(2n ** 64n - 1n), '2^64-1');
  assert.equal(humanCount(2n ** 64n + 5n), '2^64+5');
  assert.equal(humanCount(2n ** 96n - 2n ** 20n), (2n ** 96n - 2n ** 20n).toString());
});
