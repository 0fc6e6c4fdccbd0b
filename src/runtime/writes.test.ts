import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError, type ConfigMap, type ObjectKey, type ResourceClient } from '../kube/index.ts';
import type { ReconcileContext } from './controller.ts';
import { addFinalizer, addMetadata, removeFinalizer, tolerateRaces } from './writes.ts';

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
    // A merge patch of the metadata: the finalizer list replaced whole, annotations merged key by key.
    async patch(_key: ObjectKey, patch: { metadata: Obj['metadata'] }) {
      calls.push('patch');
      const { resourceVersion: guard, finalizers, annotations } = patch.metadata;
      if (guard !== stored.metadata.resourceVersion) throw conflict();
      const resourceVersion = String(Number(stored.metadata.resourceVersion) + 1);
      stored = {
        ...stored,
        metadata: {
          ...stored.metadata,
          ...(finalizers ? { finalizers } : {}),
          ...(annotations ? { annotations: { ...stored.metadata.annotations, ...annotations } } : {}),
          resourceVersion,
        },
      };
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

  it('metadata: a missing finalizer and annotations in one patch, either alone, none when both are there', async () => {
    const f = 'ipam.example.com/release';
    const s = stubClient({ ...base, metadata: { ...base.metadata, annotations: { kept: 'yes' } } });
    const both = await addMetadata(s.client, s.stored, f, { name: 'a' });
    assert.deepEqual(s.calls, ['patch']);
    assert.deepEqual([both.metadata.finalizers, both.metadata.annotations], [[f], { kept: 'yes', name: 'a' }]);
    assert.equal(await addMetadata(s.client, both, f, { name: 'a' }), both);
    const annotated = await addMetadata(s.client, both, f, { other: 'b' });
    assert.deepEqual(annotated.metadata.annotations, { kept: 'yes', name: 'a', other: 'b' });
    s.bump((o) => (o.metadata.finalizers = []));
    await assert.rejects(addMetadata(s.client, annotated, f, { another: 'c' }), /modified/);
    const fresh = await s.client.get({ namespace: 'ns', name: 'x' });
    const refinalized = await addMetadata(s.client, fresh, f, { name: 'a' });
    assert.deepEqual(refinalized.metadata.finalizers, [f]);
    assert.deepEqual(s.calls, ['patch', 'patch', 'patch', 'get', 'patch']);
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
