import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError, type CoreEvent, type KubeClient, type KubeObject, type ObjectKey } from '../kube/index.ts';
import { EventRecorder } from './events.ts';

function stubEvents() {
  const events = new Map<string, CoreEvent>();
  const calls: string[] = [];
  const api = {
    async create(ev: CoreEvent) {
      calls.push('create');
      events.set(`${ev.metadata.namespace}/${ev.metadata.name}`, structuredClone(ev));
      return ev;
    },
    async patch(key: ObjectKey, patch: Partial<CoreEvent>) {
      calls.push('patch');
      const ev = events.get(`${key.namespace}/${key.name}`);
      if (!ev) throw new ApiError(404, { reason: 'NotFound', code: 404, message: 'not found' }, 'PATCH');
      Object.assign(ev, patch);
      return ev;
    },
  };
  return { client: { resource: () => api } as unknown as KubeClient, events, calls };
}

const pool: KubeObject = {
  apiVersion: 'ipam.example.com/v1',
  kind: 'Pool',
  metadata: { namespace: 'ns', name: 'p', uid: 'u1' },
};

describe('EventRecorder', () => {
  it('creates a core/v1 Event pointing at the object, and bumps count for a repeat instead of a new Event', async () => {
    const s = stubEvents();
    const rec = new EventRecorder(s.client, { component: 'cluster-ipam' });
    rec.event(pool, 'Warning', 'PoolExhausted', 'no free address');
    rec.event(pool, 'Warning', 'PoolExhausted', 'no free address');
    rec.event(pool, 'Normal', 'Allocated', '10.0.0.1');
    await rec.flush();
    assert.deepEqual(s.calls, ['create', 'patch', 'create']);
    const exhausted = [...s.events.values()].find((e) => e.reason === 'PoolExhausted')!;
    assert.equal(exhausted.count, 2);
    assert.equal(exhausted.metadata.namespace, 'ns');
    assert.deepEqual(exhausted.involvedObject, {
      ...pool.metadata,
      apiVersion: pool.apiVersion,
      kind: pool.kind,
      resourceVersion: undefined,
    });
    assert.equal(exhausted.source?.component, 'cluster-ipam');
    assert.match(exhausted.metadata.name!, /^p\.[0-9a-f]+$/);
  });

  it('events about cluster-scoped objects go to the default namespace; an expired Event is created anew', async () => {
    const s = stubEvents();
    const rec = new EventRecorder(s.client, { component: 'c' });
    const global: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n1', uid: 'u9' } };
    rec.event(global, 'Normal', 'Seen', 'hello');
    await rec.flush();
    assert.equal([...s.events.values()][0]!.metadata.namespace, 'default');
    s.events.clear(); // the API server's TTL removed it
    rec.event(global, 'Normal', 'Seen', 'hello');
    await rec.flush();
    assert.deepEqual(s.calls, ['create', 'patch', 'create']);
  });

  it('limits each object to its burst, and never throws when the API fails', async () => {
    const s = stubEvents();
    const rec = new EventRecorder(s.client, { component: 'c', burst: 3, refillMs: 3_600_000 });
    for (let i = 0; i < 10; i++) rec.event(pool, 'Normal', 'Step', `step ${i}`);
    await rec.flush();
    assert.equal(s.calls.length, 3);
    const failing = new EventRecorder(
      { resource: () => ({ create: () => Promise.reject(new Error('apiserver down')) }) } as unknown as KubeClient,
      { component: 'c' },
    );
    failing.event(pool, 'Normal', 'X', 'y');
    await failing.flush();
  });
});
