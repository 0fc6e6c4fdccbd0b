import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../kube/index.ts';
import { controllerRef, getControllerOf, setControllerReference, setOwnerReference } from './ownerrefs.ts';

const owner: KubeObject = {
  apiVersion: 'ipam.example.com/v1',
  kind: 'Pool',
  metadata: { namespace: 'ns', name: 'pool', uid: 'u1' },
};
const other: KubeObject = { ...owner, metadata: { namespace: 'ns', name: 'other', uid: 'u2' } };

describe('owner references', () => {
  it('controllerRef points at the owner as controller, blocking its foreground deletion', () => {
    assert.deepEqual(controllerRef(owner), {
      apiVersion: 'ipam.example.com/v1',
      kind: 'Pool',
      name: 'pool',
      uid: 'u1',
      controller: true,
      blockOwnerDeletion: true,
    });
    assert.throws(() => controllerRef({ metadata: { name: 'x' } }), /apiVersion, kind/);
  });

  it('setControllerReference is idempotent and refuses a second controller', () => {
    const obj: KubeObject = { metadata: { namespace: 'ns', name: 'child' } };
    setControllerReference(obj, owner);
    setControllerReference(obj, owner);
    assert.equal(obj.metadata.ownerReferences?.length, 1);
    assert.equal(getControllerOf(obj)?.uid, 'u1');
    assert.throws(() => setControllerReference(obj, other), /already controlled by Pool pool/);
  });

  it('setOwnerReference adds plain references in place and keeps an existing controller flag', () => {
    const obj: KubeObject = { metadata: { namespace: 'ns', name: 'child' } };
    setOwnerReference(obj, other);
    setControllerReference(obj, owner);
    setOwnerReference(obj, owner);
    setOwnerReference(obj, other);
    assert.deepEqual(
      obj.metadata.ownerReferences?.map((r) => [r.name, r.controller ?? false]),
      [
        ['other', false],
        ['pool', true],
      ],
    );
  });

  it('rejects cross-namespace owners (the garbage collector would delete the child)', () => {
    const obj: KubeObject = { metadata: { namespace: 'elsewhere', name: 'child' } };
    assert.throws(() => setOwnerReference(obj, owner), /cross-namespace/);
    const clusterScopedOwner: KubeObject = { ...owner, metadata: { name: 'global', uid: 'u3' } };
    setControllerReference(obj, clusterScopedOwner);
    assert.equal(getControllerOf(obj)?.name, 'global');
  });
});
