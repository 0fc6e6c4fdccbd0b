import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError, type ConfigMap, type ObjectKey, type ResourceClient } from '../kube/index.ts';
import type { ReconcileContext } from './controller.ts';
import { addFinalizer, removeFinalizer, tolerateRaces } from './writes.ts';

const conflict = () =>
  new ApiError(409, { reason: 'Conflict', code: 409, message: 'the object has been modified' }, 'PUT x');

type Obj = ConfigMap;

/** Just the calls the helpers make, against one object with a resourceVersion like the API server's. */
function stubClient(initial: Obj) {
  let stored = structuredClone(initial);
  const calls: string[] = [];
  const client = {
    async get(_key: ObjectKey) {
      calls.push('get');
      return structuredClone(stored);
    },
    async patch(_key: ObjectKey, patch: { metadata: { finalizers: string[]; resourceVersion?: string } }) {
      calls.push('patch');
      if (patch.metadata.resourceVersion !== stored.metadata.resourceVersion) throw conflict();
      const resourceVersion = String(Number(stored.metadata.resourceVersion) + 1);
      stored = { ...stored, metadata: { ...stored.metadata, finalizers: patch.metadata.finalizers, resourceVersion } };
      return structuredClone(stored);
    },
  };
  return {
    client: client as unknown as ResourceClient<Obj>,
    calls,
    bump(mutate: (o: Obj) => void) {
      mutate(stored);
      stored.metadata.resourceVersion = String(Number(stored.metadata.resourceVersion) + 1);
    },
    get stored() {
      return stored;
    },
  };
}

const base: Obj = { metadata: { namespace: 'ns', name: 'x', resourceVersion: '1' } };

describe('writes', () => {
  it('finalizers: added and removed once, guarded by resourceVersion', async () => {
    const s = stubClient(base);
    const withF = await addFinalizer(s.client, s.stored, 'ipam.example.com/release');
    assert.deepEqual(withF.metadata.finalizers, ['ipam.example.com/release']);
    assert.equal(await addFinalizer(s.client, withF, 'ipam.example.com/release'), withF);
    s.bump((o) => (o.metadata.finalizers = [...(o.metadata.finalizers ?? []), 'other/finalizer']));
    await assert.rejects(removeFinalizer(s.client, withF, 'ipam.example.com/release'), /modified/);
    const fresh = await s.client.get({ namespace: 'ns', name: 'x' });
    const without = await removeFinalizer(s.client, fresh, 'ipam.example.com/release');
    assert.deepEqual(without.metadata.finalizers, ['other/finalizer']);
    assert.equal(await removeFinalizer(s.client, without, 'ipam.example.com/release'), without);
  });

  it('tolerateRaces requeues on 409, ends on 404, passes results and other errors through', async () => {
    const ctx = {} as ReconcileContext;
    const req = { namespace: 'ns', name: 'x' };
    const failing = (err: unknown) => tolerateRaces(() => Promise.reject(err));
    assert.deepEqual(await failing(conflict())(req, ctx), { requeue: true });
    const gone = new ApiError(404, { reason: 'NotFound', code: 404, message: 'not found' }, 'PATCH x');
    assert.deepEqual(await failing(gone)(req, ctx), {});
    const forbidden = new ApiError(403, { reason: 'Forbidden', code: 403, message: 'no' }, 'PATCH x');
    await assert.rejects(failing(forbidden)(req, ctx) as Promise<unknown>, ApiError);
    assert.deepEqual(await tolerateRaces(() => ({ requeueAfter: 5 }))(req, ctx), { requeueAfter: 5 });
  });
});
