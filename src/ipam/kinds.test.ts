import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Conditions, eventFor, Reasons } from './kinds.ts';

describe('eventFor', () => {
  it('warns once about a refused pool write: through Ready for a create or update, PoolsSynced for a delete', () => {
    const ready = (reason: string) => eventFor({ type: Conditions.Ready, status: 'False', reason });
    const synced = (status: string, reason: string) => eventFor({ type: Conditions.PoolsSynced, status, reason });
    assert.deepEqual(ready(Reasons.PoolUpdateRefused), { type: 'Warning', reason: 'PoolUpdateRefused' });
    assert.deepEqual(ready(Reasons.PoolCreateRefused), { type: 'Warning', reason: 'PoolCreateRefused' });
    assert.equal(synced('False', Reasons.PoolUpdateRefused), undefined);
    assert.deepEqual(synced('False', Reasons.PoolDeleteRefused), { type: 'Warning', reason: 'PoolDeleteRefused' });
    assert.equal(synced('True', Reasons.PoolsSynced), undefined);
  });
});
