import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Condition } from '../kube/index.ts';
import { findCondition, isConditionTrue, metaTime, removeCondition, setCondition } from './conditions.ts';

const t0 = new Date('2026-01-01T00:00:00.123Z');
const t1 = new Date('2026-01-01T01:00:00.000Z');

describe('conditions', () => {
  it('adds a condition with lastTransitionTime in whole seconds and observedGeneration', () => {
    const list = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Pending' }, 3, t0);
    assert.deepEqual(list, [
      {
        type: 'Ready',
        status: 'False',
        reason: 'Pending',
        message: '',
        lastTransitionTime: '2026-01-01T00:00:00Z',
        observedGeneration: 3,
      },
    ]);
  });

  it('keeps lastTransitionTime while the status stays, changes it when the status changes', () => {
    const a = setCondition([], { type: 'Ready', status: 'False', reason: 'Pending', message: 'wait' }, 1, t0);
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'StillPending', message: 'more' }, 2, t1);
    assert.equal(b[0]!.lastTransitionTime, metaTime(t0));
    assert.equal(b[0]!.reason, 'StillPending');
    assert.equal(b[0]!.observedGeneration, 2);
    const c = setCondition(b, { type: 'Ready', status: 'True', reason: 'Bound' }, 2, t1);
    assert.equal(c[0]!.lastTransitionTime, metaTime(t1));
    assert.equal(isConditionTrue(c, 'Ready'), true);
  });

  it('never mutates its input (cached objects are frozen)', () => {
    const frozen = Object.freeze([
      Object.freeze<Condition>({ type: 'A', status: 'True', reason: 'r', message: '', lastTransitionTime: 'x' }),
    ]);
    const next = setCondition(frozen, { type: 'A', status: 'False', reason: 'r2' }, 1, t1);
    assert.notEqual(next, frozen);
    assert.equal(frozen[0]!.status, 'True');
    assert.deepEqual(removeCondition(frozen, 'A'), []);
    assert.equal(frozen.length, 1);
  });

  it('property: one entry per type, order kept, only the set type changes', () => {
    const input = fc.record({
      type: fc.constantFrom('A', 'B', 'C', 'D'),
      status: fc.constantFrom('True' as const, 'False' as const, 'Unknown' as const),
      reason: fc.constantFrom('R1', 'R2'),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(input, fc.nat(10))), (steps) => {
        let list: Condition[] = [];
        let order: string[] = [];
        for (const [cond, gen] of steps) {
          const before = list;
          list = setCondition(list, cond, gen, t1);
          if (!order.includes(cond.type)) order = [...order, cond.type];
          assert.deepEqual(
            list.map((c) => c.type),
            order,
          );
          const set = findCondition(list, cond.type)!;
          assert.equal(set.status, cond.status);
          assert.equal(set.observedGeneration, gen);
          const old = findCondition(before, cond.type);
          if (old && old.status === cond.status) assert.equal(set.lastTransitionTime, old.lastTransitionTime);
          for (const other of before)
            if (other.type !== cond.type) assert.equal(findCondition(list, other.type), other);
        }
      }),
    );
  });
});
