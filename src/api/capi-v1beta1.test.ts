import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../kube/index.ts';
import { IPAddressClaims, IPAddresses, InClusterIPPools } from './resources.ts';
import {
  capiAdapter,
  ipAddressClaimV1Beta1Codec as claims,
  ipAddressV1Beta1Codec as addresses,
  toV1Beta1Condition,
} from './capi-v1beta1.ts';

const ready = {
  type: 'Ready',
  status: 'True' as const,
  reason: 'AddressAllocated',
  message: 'IPAddress m-0 allocated',
  lastTransitionTime: '2025-01-01T00:00:00Z',
  observedGeneration: 1,
};
const exhausted = { ...ready, status: 'False' as const, reason: 'PoolExhausted', message: 'no free address' };

describe('IPAddressClaim and IPAddress in v1beta1', () => {
  const older = { type: 'Ready', status: 'True', lastTransitionTime: ready.lastTransitionTime };

  it('reads a v1beta1 claim as Cluster API converts it: metav1 conditions from status.v1beta2, a missing apiGroup as empty', () => {
    const wire = {
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta1',
      kind: 'IPAddressClaim',
      metadata: { name: 'm-0', namespace: 'ns' },
      spec: { clusterName: 'c', poolRef: { kind: 'InClusterIPPool', name: 'p' } },
      status: { addressRef: { name: 'm-0' }, conditions: [older], v1beta2: { conditions: [ready] } },
    };
    assert.deepEqual(claims.decode(wire), {
      ...wire,
      spec: { clusterName: 'c', poolRef: { apiGroup: '', kind: 'InClusterIPPool', name: 'p' } },
      status: { addressRef: { name: 'm-0' }, conditions: [ready], deprecated: { v1beta1: { conditions: [older] } } },
    });
    // v1beta1 defaults addressRef.name to '': it names nothing.
    const bare = { ...wire, status: { addressRef: { name: '' } } };
    assert.deepEqual((claims.decode(bare) as { status?: unknown }).status, {});
  });

  it('writes metav1 conditions under status.v1beta2, and the deprecated v1beta1 ones as status.conditions', () => {
    const body = {
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
      kind: 'IPAddressClaim',
      metadata: { name: 'm-0', namespace: 'ns' },
      spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'p' } },
      status: {
        addressRef: { name: 'm-0' },
        conditions: [ready, exhausted],
        deprecated: { v1beta1: { conditions: [toV1Beta1Condition(exhausted)] } },
        observedGeneration: 1,
      },
    };
    const wire = {
      ...body,
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta1',
      status: {
        addressRef: { name: 'm-0' },
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            severity: 'Warning',
            reason: 'PoolExhausted',
            message: 'no free address',
            lastTransitionTime: ready.lastTransitionTime,
          },
        ],
        v1beta2: { conditions: [ready, exhausted] },
      },
    };
    assert.deepEqual(claims.encode(body), wire);
    // Back again, as written (but observedGeneration, which v1beta1 lacks).
    const { observedGeneration: _none, ...status } = body.status;
    assert.deepEqual(claims.decode(wire), { ...wire, status });
  });

  it('converts merge patches field by field, adding nothing they did not carry', () => {
    const metadataOnly = { metadata: { finalizers: ['x'], resourceVersion: '5' } };
    assert.deepEqual(claims.encode(metadataOnly), metadataOnly);
    const statusPatch = { metadata: { resourceVersion: '5' }, status: { conditions: [ready] } };
    assert.deepEqual(claims.encode(statusPatch), {
      metadata: { resourceVersion: '5' },
      status: { v1beta2: { conditions: [ready] } },
    });
  });

  it('older conditions: severity on False only (Error when the claim cannot recover alone), no empty reason or message', () => {
    assert.equal(toV1Beta1Condition(ready).severity, undefined);
    assert.equal(toV1Beta1Condition({ ...exhausted, reason: 'AllocationFailed' }).severity, 'Error');
    const quiet = toV1Beta1Condition({ ...ready, type: 'Paused', status: 'False', reason: 'NotPaused', message: '' });
    assert.ok(!('message' in quiet));
    assert.equal(toV1Beta1Condition({ ...ready, message: 'x'.repeat(20000) }).message!.length, 10240);
  });

  it('IPAddress: apiGroup absent on read is empty, empty on write is absent; prefix as it is', () => {
    const wire = {
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta1',
      kind: 'IPAddress',
      metadata: { name: 'm-0', namespace: 'ns' },
      spec: { address: '10.0.0.5', prefix: 24, claimRef: { name: 'm-0' }, poolRef: { kind: 'K', name: 'p' } },
    };
    const read = addresses.decode(wire) as KubeObject & { spec: { poolRef: { apiGroup: string } } };
    assert.equal(read.spec.poolRef.apiGroup, '');
    assert.deepEqual(addresses.encode(read), wire);
  });

  it('the adapter speaks v1beta1 for the two kinds only, and nothing changes for v1beta2', () => {
    assert.equal(capiAdapter('v1beta2'), undefined);
    const adapt = capiAdapter('v1beta1')!;
    assert.equal(adapt(IPAddressClaims)?.version, 'v1beta1');
    assert.equal(adapt(IPAddressClaims)?.codec, claims);
    assert.equal(adapt(IPAddresses)?.codec, addresses);
    assert.equal(adapt(InClusterIPPools), undefined);
  });
});
