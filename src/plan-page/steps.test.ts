import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { drain, prettyJSON, sorted } from './steps.ts';

describe('steps', () => {
  it('prettyJSON writes what JSON.stringify(value, null, 2) does, text for text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        assert.equal(drain(prettyJSON(value)), JSON.stringify(value, null, 2));
      }),
    );
    // Large enough to be written in steps, at every depth: batches, large elements between them, nested objects.
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: 600, maxLength: 700 }), (items) => {
        const holders = items.map((v, i) => (i % 100 === 7 ? { big: items.slice(0, 550), v } : v));
        const plan = { a: [{ holders, n: null, u: undefined }, []], b: {}, c: 'x\ny', d: [holders] };
        assert.equal(drain(prettyJSON(plan, '', 16)), JSON.stringify(plan, null, 2));
      }),
      { numRuns: 20 },
    );
  });

  it('sorted sorts as Array.prototype.sort does, stable', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.nat())), (items) => {
        const compare = (a: [number, number], b: [number, number]) => a[0] - b[0];
        assert.deepEqual(drain(sorted(items, compare)), [...items].sort(compare));
      }),
    );
  });
});
