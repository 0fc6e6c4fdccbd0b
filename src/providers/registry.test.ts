import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GlobalInClusterIPPools, InClusterIPPools, InfobloxIPPools } from '../api/index.ts';
import type { KubeObject, ResourceType } from '../kube/index.ts';
import { ProviderRegistry } from './registry.ts';
import type { IPAMProvider } from './types.ts';

const provider = (name: string, ...types: ResourceType<KubeObject>[]) =>
  ({ name, poolTypes: types }) as unknown as IPAMProvider;

const inCluster = provider(
  'in-cluster',
  InClusterIPPools as unknown as ResourceType<KubeObject>,
  GlobalInClusterIPPools as unknown as ResourceType<KubeObject>,
);
const infoblox = provider('ipam-infoblox', InfobloxIPPools as unknown as ResourceType<KubeObject>);
const group = 'ipam.cluster.x-k8s.io';

describe('ProviderRegistry', () => {
  it('finds the provider of a poolRef by its apiGroup and kind, whatever the order of registration', () => {
    for (const order of [
      [inCluster, infoblox],
      [infoblox, inCluster],
    ]) {
      const r = new ProviderRegistry();
      for (const p of order) r.register(p);
      assert.equal(r.lookup({ apiGroup: group, kind: 'InClusterIPPool' })?.provider, inCluster);
      assert.equal(
        r.lookup({ apiGroup: group, kind: 'GlobalInClusterIPPool' })?.poolType.kind,
        'GlobalInClusterIPPool',
      );
      assert.equal(r.lookup({ apiGroup: group, kind: 'InfobloxIPPool' })?.provider, infoblox);
    }
  });

  it("leaves other IPAM providers' pools unserved: another group, another kind, an empty v1beta1 apiGroup", () => {
    const r = new ProviderRegistry();
    r.register(inCluster);
    assert.equal(r.lookup({ apiGroup: 'ipam.metal3.io', kind: 'IPPool' }), undefined);
    assert.equal(r.lookup({ apiGroup: 'example.com', kind: 'InClusterIPPool' }), undefined);
    assert.equal(r.lookup({ apiGroup: group, kind: 'InfobloxIPPool' }), undefined);
    assert.equal(r.lookup({ apiGroup: '', kind: 'InClusterIPPool' }), undefined);
  });

  it('refuses a second provider for a kind already served, naming both', () => {
    const r = new ProviderRegistry();
    r.register(infoblox);
    r.register(infoblox);
    assert.throws(
      () => r.register(provider('other', InfobloxIPPools as unknown as ResourceType<KubeObject>)),
      /InfobloxIPPool is served by both ipam-infoblox and other/,
    );
  });

  it('tells a listener of every provider, registered before or after it listens', () => {
    const r = new ProviderRegistry();
    r.register(inCluster);
    const seen: string[] = [];
    r.each((p) => seen.push(p.name));
    r.register(infoblox);
    r.register(infoblox);
    assert.deepEqual(seen, ['in-cluster', 'ipam-infoblox']);
  });
});
