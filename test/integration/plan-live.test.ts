// The offline plan (`cluster-ipam check`) against the live system: with the manager alone on a control plane of the
// test's own, one IPAddressClaim per planned machine, in the plan's order, gets exactly the planned address; and
// `cluster-ipam status` reports the same pools, claims and addresses, with an IPv6 pool's exact count.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { statusCommand } from '../../src/cli/status.ts';
import { controllers } from '../../src/controllers/index.ts';
import { planManifests } from '../../src/ipam/plan.ts';
import { KubeClient, Namespaces, type KubeObject } from '../../src/kube/index.ts';
import type { ControlPlane } from '../../src/local/controlplane.ts';
import { applyManifests } from '../../src/local/install.ts';
import { privateControlPlane } from '../support/cluster.ts';
import { startManagerOn, type TestManager } from '../support/manager.ts';
import { waitFor } from '../support/wait.ts';
import { createClaim, InClusterIPPools, readyOf, waitForAddress } from './in-cluster-support.ts';

const namespace = 'plan';

const manifests: (KubeObject & { spec: unknown })[] = [
  {
    apiVersion: 'k0rdent.mirantis.com/v1beta1',
    kind: 'ClusterIPAMClaim',
    metadata: { name: 'alpha-ipam' },
    spec: { provider: 'in-cluster', nodeNetwork: { cidr: '10.77.0.0/28', gateway: '10.77.0.1' }, cluster: 'alpha' },
  },
  {
    apiVersion: 'k0rdent.mirantis.com/v1beta1',
    kind: 'ClusterDeployment',
    metadata: { name: 'alpha' },
    spec: {
      template: 't',
      // Inside the node network: the gate excludes it from the pool, as the plan does.
      config: { controlPlaneNumber: 3, workersNumber: 2, controlPlaneEndpointIP: '10.77.0.4' },
      ipamClaim: { ref: 'alpha-ipam' },
    },
  },
  {
    apiVersion: 'k0rdent.mirantis.com/v1beta1',
    kind: 'ClusterDeployment',
    metadata: { name: 'beta' },
    spec: {
      template: 't',
      config: { controlPlaneNumber: 1, workersNumber: 3 },
      ipamClaim: {
        spec: {
          provider: 'in-cluster',
          nodeNetwork: {
            ipAddresses: ['10.78.0.10-10.78.0.12', '10.78.0.1-10.78.0.3'],
            prefix: 24,
            gateway: '10.78.0.2',
          },
        },
      },
    },
  },
  {
    apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
    kind: 'InClusterIPPool',
    metadata: { name: 'wide-v6' },
    spec: { addresses: ['2001:db8:77::/64'], prefix: 64 },
  },
];

describe('the offline plan equals what the live system allocates', () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let manager: TestManager | undefined;
  before(async () => {
    cp = await privateControlPlane();
    manager = startManagerOn(cp.kubeconfigPath, controllers);
    client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
    await client.resource(Namespaces).apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  });
  after(async () => {
    client?.close();
    await manager?.stop();
    await cp?.stop();
  });

  it('gives each machine the planned address, and status shows the same', async () => {
    const objects = manifests.map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
    const plan = planManifests(objects.map((object) => ({ source: 'test', object })));
    assert.deepEqual(
      plan.problems.filter((p) => p.severity === 'error'),
      [],
    );
    assert.deepEqual(
      plan.clusters.map((c) => c.machines.length),
      [5, 4],
    );

    await applyManifests(client, objects, namespace);
    for (const c of plan.clusters) {
      const name = c.pool.split('/')[1]!;
      await waitFor(
        async () => {
          const pool = await client
            .resource(InClusterIPPools)
            .get({ namespace, name })
            .catch(() => undefined);
          return pool && readyOf(pool)?.status === 'True' ? pool : undefined;
        },
        { what: `pool ${c.pool} to be Ready`, timeoutMs: 60_000 },
      );
    }

    // The gate has excluded alpha's endpoint from its pool, and the provider has taken the pool's new generation.
    await waitFor(
      async () => {
        const pool = await client.resource(InClusterIPPools).get({ namespace, name: 'alpha-ipam' });
        const ready = readyOf(pool);
        return (
          pool.spec.excludedAddresses?.includes('10.77.0.4') &&
          ready?.status === 'True' &&
          ready.observedGeneration === pool.metadata.generation
        );
      },
      { what: "alpha's endpoint excluded from its pool", timeoutMs: 60_000 },
    );
    assert.ok(
      plan.clusters[0]!.machines.every((m) => m.address !== '10.77.0.4'),
      'no planned machine gets the endpoint',
    );

    const live: string[] = [];
    const planned: string[] = [];
    for (const c of plan.clusters) {
      const pool = c.pool.split('/')[1]!;
      // One claim at a time, as machines come up one after another: each takes the lowest free address.
      for (const m of c.machines) {
        await createClaim(client, namespace, `${c.cluster}-${m.machine}`, pool);
        const address = await waitForAddress(client, namespace, `${c.cluster}-${m.machine}`);
        live.push(`${c.cluster}/${m.machine}=${address.spec.address}`);
        planned.push(`${c.cluster}/${m.machine}=${m.address}`);
      }
    }
    assert.deepEqual(live, planned);
    // The plan is not trivially equal: the gateway, the reserved network address and the gaps are skipped.
    assert.deepEqual(live.slice(5), [
      'beta/control-plane-0=10.78.0.1',
      'beta/worker-0=10.78.0.3',
      'beta/worker-1=10.78.0.10',
      'beta/worker-2=10.78.0.11',
    ]);

    // status, from what exists: the same addresses, the pools' counts (exact for the IPv6 /64).
    await waitFor(
      async () => {
        const p = await client.resource(InClusterIPPools).get({ namespace, name: 'wide-v6' });
        return p.status?.ipAddresses?.totalHuman === '2^64-1';
      },
      { what: 'the IPv6 pool to report totalHuman 2^64-1' },
    );
    let text = '';
    const out = { write: (s: string) => ((text += s), true), isTTY: false } as unknown as NodeJS.WriteStream;
    const code = await statusCommand(['--kubeconfig', cp.kubeconfigPath, '-n', namespace, '-o', 'json'], out);
    assert.equal(code, 0, text);
    const status = JSON.parse(text) as {
      pools: { pool: string; totalHuman: string }[];
      addresses: { claim: string; address: string }[];
    };
    assert.equal(status.pools.find((p) => p.pool === `InClusterIPPool ${namespace}/wide-v6`)?.totalHuman, '2^64-1');
    const byClaim = new Map(status.addresses.map((a) => [a.claim, a.address]));
    for (const line of live) {
      const [who, address] = line.split('=');
      assert.equal(byClaim.get(`${namespace}/${who!.replace('/', '-')}`), address);
    }
  });
});
