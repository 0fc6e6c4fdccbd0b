import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../kube/index.ts';
import type { Informer, EventHandler } from '../runtime/index.ts';
import { Overlay } from './overlay.ts';

/** Just what the overlay uses of an informer: a cache to read and events to follow. */
function fakeInformer() {
  const cache = new Map<string, KubeObject>();
  let handler: EventHandler<KubeObject> = {};
  const informer = {
    get: (key: string) => cache.get(key),
    addEventHandler: (h: EventHandler<KubeObject>) => void (handler = h),
  } as unknown as Informer<KubeObject>;
  return {
    informer,
    add(obj: KubeObject) {
      cache.set(obj.metadata.name!, obj);
      handler.onAdd?.(obj);
    },
    remove(obj: KubeObject) {
      cache.delete(obj.metadata.name!);
      handler.onDelete?.(obj);
    },
  };
}

const obj = (rv: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  metadata: { name: 'p', resourceVersion: rv, ...extra },
});

describe('Overlay', () => {
  it('shows our newer write until the cache catches up', () => {
    const f = fakeInformer();
    const overlay = new Overlay(f.informer);
    f.add(obj('10'));
    overlay.record(obj('11'));
    assert.equal(overlay.get('p')?.metadata.resourceVersion, '11');
    f.add(obj('12'));
    assert.equal(overlay.get('p')?.metadata.resourceVersion, '12');
  });

  it('never revives an object whose DELETE event came before our write was answered', () => {
    const f = fakeInformer();
    const overlay = new Overlay(f.informer);
    f.add(obj('10'));
    f.remove(obj('12'));
    overlay.record(obj('11')); // the answer to a write made before the deletion
    assert.equal(overlay.get('p'), undefined);
    // A write that ends the object (last finalizer removed while being deleted) is not recorded either.
    overlay.record(obj('13', { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: [] }));
    assert.equal(overlay.get('p'), undefined);
    // Re-created later: seen again.
    f.add(obj('20'));
    overlay.record(obj('21'));
    assert.equal(overlay.get('p')?.metadata.resourceVersion, '21');
  });
});
