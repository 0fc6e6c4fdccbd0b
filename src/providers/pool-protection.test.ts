import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError, type KubeObject, type ResourceClient } from '../kube/index.ts';
import type { Informer } from '../runtime/index.ts';
import { protectPoolFinalizer } from './claims.ts';
import { Overlay } from './overlay.ts';
import { PoolProtection } from './pool-protection.ts';

/** A pool on a fake API server: PATCH with a resourceVersion that is not the current one gets 409. */
function fakePool(initial: Partial<KubeObject['metadata']> = {}) {
  let stored: KubeObject = {
    apiVersion: 'ipam.cluster.x-k8s.io/v1alpha1',
    kind: 'InClusterIPPool',
    metadata: { namespace: 'ns', name: 'p', resourceVersion: '1', ...initial },
  };
  const writes: string[][] = [];
  const client = {
    get: async () => stored,
    patch: async (_key: unknown, body: { metadata: { finalizers: string[]; resourceVersion: string } }) => {
      await Promise.resolve();
      if (body.metadata.resourceVersion !== stored.metadata.resourceVersion) {
        throw new ApiError(409, { kind: 'Status', reason: 'Conflict', code: 409 } as never, 'PATCH pool');
      }
      writes.push(body.metadata.finalizers);
      const rv = String(Number(stored.metadata.resourceVersion) + 1);
      stored = {
        ...stored,
        metadata: { ...stored.metadata, finalizers: body.metadata.finalizers, resourceVersion: rv },
      };
      return stored;
    },
  } as unknown as ResourceClient<KubeObject>;
  const informer = { get: () => undefined, addEventHandler: () => {} } as unknown as Informer<KubeObject>;
  return {
    protection: new PoolProtection(client, new Overlay(informer)),
    writes,
    get stored() {
      return stored;
    },
    /** Someone else writes the pool (its resourceVersion moves on). */
    touch() {
      stored = {
        ...stored,
        metadata: { ...stored.metadata, resourceVersion: String(Number(stored.metadata.resourceVersion) + 1) },
      };
    },
  };
}

describe('PoolProtection', () => {
  it('claims of one pool allocating at once add ProtectPool with one write', async () => {
    const f = fakePool({ finalizers: ['other'] });
    const pool = f.stored;
    const written = await Promise.all([f.protection.protect(pool), f.protection.protect(pool)]);
    assert.deepEqual(f.writes, [['other', protectPoolFinalizer]]);
    assert.equal(written[0], written[1]);
  });

  it('a pool written meanwhile by someone else is read again, its finalizers kept', async () => {
    const f = fakePool();
    const stale = f.stored;
    f.touch();
    await f.protection.protect(stale);
    assert.deepEqual(f.stored.metadata.finalizers, [protectPoolFinalizer]);
  });

  it('adds nothing to a pool being deleted, or one that has it', async () => {
    const deleting = fakePool({ deletionTimestamp: '2026-01-01T00:00:00Z' });
    await deleting.protection.protect(deleting.stored);
    const has = fakePool({ finalizers: [protectPoolFinalizer] });
    await has.protection.protect(has.stored);
    assert.deepEqual([...deleting.writes, ...has.writes], []);
  });

  it('upkeep: added while in use; removed from a pool being deleted only once nothing uses it', async () => {
    const f = fakePool();
    await f.protection.follow(f.stored, false);
    assert.deepEqual(f.writes, [], 'not in use: nothing to protect');
    await f.protection.follow(f.stored, true);
    assert.deepEqual(f.stored.metadata.finalizers, [protectPoolFinalizer]);
    const deleting = fakePool({
      finalizers: [protectPoolFinalizer, 'other'],
      deletionTimestamp: '2026-01-01T00:00:00Z',
    });
    await deleting.protection.follow(deleting.stored, true);
    assert.deepEqual(deleting.writes, [], 'still in use: kept');
    await deleting.protection.follow(deleting.stored, false);
    assert.deepEqual(deleting.stored.metadata.finalizers, ['other']);
  });
});
