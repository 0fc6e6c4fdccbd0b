import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPAddressClaim } from '../api/index.ts';
import { claimStatus, claimStatusHolds, ipAddressMetadataPatch, ownerReferences, pausedBy } from './claims.ts';

const claim = (extra: Partial<IPAddressClaim['metadata']> = {}): IPAddressClaim => ({
  apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
  kind: 'IPAddressClaim',
  metadata: { name: 'm', namespace: 'ns', uid: 'claim-uid', generation: 1, ...extra },
  spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'p' } },
});
const pool = {
  apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
  kind: 'InClusterIPPool',
  metadata: { name: 'p', namespace: 'ns', uid: 'pool-uid' },
};

describe('claims', () => {
  it('are paused by their annotation, their pool, or a paused Cluster; never by a missing one', () => {
    const paused = { 'cluster.x-k8s.io/paused': '' };
    assert.match(pausedBy(claim({ annotations: paused }), pool, undefined)!, /the claim has/);
    assert.match(
      pausedBy(claim(), { ...pool, metadata: { ...pool.metadata, annotations: paused } }, undefined)!,
      /InClusterIPPool p/,
    );
    assert.match(
      pausedBy(claim(), pool, { kind: 'Cluster', metadata: { name: 'c' }, spec: { paused: true } } as never)!,
      /Cluster c/,
    );
    assert.equal(
      pausedBy(claim(), pool, { kind: 'Cluster', metadata: { name: 'c' }, spec: { paused: false } } as never),
      undefined,
    );
    assert.equal(pausedBy(claim(), pool, undefined), undefined);
  });

  it('own their IPAddress with the pool, keeping unrelated owner references', () => {
    const unrelated = { apiVersion: 'example.com/v1', kind: 'Thing', name: 't', uid: 'thing-uid' };
    const refs = ownerReferences([unrelated], claim(), pool);
    assert.deepEqual(refs, [
      unrelated,
      {
        apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
        kind: 'IPAddressClaim',
        name: 'm',
        uid: 'claim-uid',
        controller: true,
        blockOwnerDeletion: true,
      },
      {
        apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
        kind: 'InClusterIPPool',
        name: 'p',
        uid: 'pool-uid',
        controller: false,
        blockOwnerDeletion: true,
      },
    ]);
    const ipa = {
      metadata: {
        name: 'm',
        resourceVersion: '7',
        finalizers: ['ipam.cluster.x-k8s.io/ProtectAddress'],
        ownerReferences: refs,
      },
      spec: {},
    } as never;
    assert.equal(ipAddressMetadataPatch(ipa, claim(), pool), undefined, 'nothing to change');
  });

  it('keep the Ready transition time while the status holds, and write Paused only when it matters', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const ready = { status: 'False', reason: 'PoolExhausted', message: 'full' } as const;
    const s1 = claimStatus(claim(), { ready }, t0);
    assert.equal(s1.conditions?.length, 1);
    const s2 = claimStatus({ ...claim(), status: s1 }, { ready: { ...ready, message: 'still full' } }, new Date());
    assert.equal(s2.conditions?.[0]?.lastTransitionTime, '2026-01-01T00:00:00Z');
    const p = claimStatus({ ...claim(), status: s2 }, { paused: 'the claim has the annotation' });
    assert.deepEqual(
      p.conditions?.map((c) => [c.type, c.status]),
      [
        ['Ready', 'False'],
        ['Paused', 'True'],
      ],
    );
    const unpaused = claimStatus(
      { ...claim(), status: p },
      { addressRef: 'm', ready: { status: 'True', reason: 'AddressAllocated', message: '' } },
    );
    assert.deepEqual(
      unpaused.conditions?.map((c) => [c.type, c.status]),
      [
        ['Ready', 'True'],
        ['Paused', 'False'],
      ],
    );
    assert.deepEqual(unpaused.addressRef, { name: 'm' });
  });

  it('write Ready in the v1beta1 shape too, where Cluster API keeps it for v1beta1 readers, and nothing else', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const full = claimStatus(claim(), { ready: { status: 'False', reason: 'PoolExhausted', message: 'full' } }, t0);
    const older = (s: typeof full) => s.deprecated?.v1beta1?.conditions;
    assert.deepEqual(older(full), [
      {
        type: 'Ready',
        status: 'False',
        severity: 'Warning',
        reason: 'PoolExhausted',
        message: 'full',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ]);
    // Paused (and DuplicateAddress) are v1beta2 conditions only; Ready stays as it was.
    const paused = claimStatus({ ...claim(), status: full }, { paused: 'the claim has the annotation' });
    assert.deepEqual(older(paused), older(full));
    const t1 = new Date('2026-01-01T00:01:00Z');
    const done = claimStatus(
      { ...claim(), status: full },
      { addressRef: 'm', ready: { status: 'True', reason: 'AddressAllocated', message: 'IPAddress m allocated' } },
      t1,
    );
    assert.deepEqual(older(done), [
      {
        type: 'Ready',
        status: 'True',
        reason: 'AddressAllocated',
        message: 'IPAddress m allocated',
        lastTransitionTime: '2026-01-01T00:01:00Z',
      },
    ]);
  });

  it("are written as their own fields only: other writers' conditions, in either shape, are kept as read", () => {
    const theirs = { type: 'ExampleHealthy', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' } as const;
    const read = {
      ...claim(),
      status: {
        observedGeneration: 1,
        conditions: [{ ...theirs, reason: 'Fine', message: '' }],
        deprecated: { v1beta1: { conditions: [theirs] } },
      },
    };
    const ready = { status: 'True', reason: 'AddressAllocated', message: 'IPAddress m allocated' } as const;
    const owned = claimStatus(read, { addressRef: 'm', ready });
    assert.equal(owned.observedGeneration, undefined, 'not ours: left out of the patch');
    assert.deepEqual(
      owned.conditions?.map((c) => c.type),
      ['ExampleHealthy', 'Ready'],
    );
    assert.deepEqual(
      owned.deprecated?.v1beta1?.conditions?.map((c) => c.type),
      ['ExampleHealthy', 'Ready'],
    );
    assert.equal(claimStatusHolds(owned, read.status), false);
    const written = { ...read.status, ...owned };
    assert.equal(
      claimStatusHolds(claimStatus({ ...read, status: written }, { addressRef: 'm', ready }), written),
      true,
    );
  });
});
