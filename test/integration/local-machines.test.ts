// The local mode's machines: with the manager and the guide's in-cluster examples on a control plane of the test's
// own (the examples' names are fixed), every example cluster's machines get an address from its pool, and the
// summary names them, their pools and the kubectl commands to look further.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exampleDirs, examplesRoot } from '../../src/cli/local.ts';
import { controllers } from '../../src/controllers/index.ts';
import { KubeClient, Namespaces } from '../../src/kube/index.ts';
import type { ControlPlane } from '../../src/local/controlplane.ts';
import { applyManifests, readManifests, yamlFilesIn } from '../../src/local/install.ts';
import { followMachines, formatSummary, simulateMachines, type Summary } from '../../src/local/machines.ts';
import { privateControlPlane } from '../support/cluster.ts';
import { startManagerOn, type TestManager } from '../support/manager.ts';

const namespace = 'examples';

describe('local mode: the example clusters get machines with addresses', () => {
  let cp: ControlPlane;
  let manager: TestManager | undefined;
  let client: KubeClient;
  let summary: Summary;
  before(async () => {
    cp = await privateControlPlane();
    // The whole manager, as `local up` runs it; started directly so that no shared control plane is started too.
    manager = startManagerOn(cp.kubeconfigPath, controllers, { namespace });
    client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
    await client.resource(Namespaces).apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    const files = (await Promise.all(exampleDirs.map((d) => yamlFilesIn(join(examplesRoot, d))))).flat();
    await applyManifests(client, await readManifests(files), namespace);
    summary = await simulateMachines(client, { namespace, timeoutMs: 120_000 });
  });
  after(async () => {
    client?.close();
    await manager?.stop();
    await cp?.stop();
  });

  it('makes one claim per control-plane and worker node, each with an address of its network', () => {
    const byName = new Map(summary.clusters.map((c) => [c.name, c]));
    const expected = { 'dev-vsphere-1': [3, 2, '10.0.10.'], 'prod-vsphere': [3, 5, '198.51.100.'] } as const;
    for (const [name, [cps, workers, prefix]] of Object.entries(expected)) {
      const c = byName.get(name);
      assert.ok(c, `${name} in the summary`);
      assert.equal(c.claimBound, true, `${name}'s claim is Bound`);
      assert.equal(c.ipamReady, true);
      assert.equal(c.machines.filter((m) => m.role === 'control-plane').length, cps);
      assert.equal(c.machines.filter((m) => m.role === 'worker').length, workers);
      for (const m of c.machines) assert.ok(m.address?.startsWith(prefix), `${m.claim}: ${m.address ?? m.waiting}`);
      assert.equal(new Set(c.machines.map((m) => m.address)).size, cps + workers, 'no address twice');
    }
    // One machine at a time, control plane first: the order `cluster-ipam check` plans.
    const dev = byName.get('dev-vsphere-1')!.machines.map((m) => `${m.claim} ${m.address}`);
    assert.deepEqual(dev, [
      'dev-vsphere-1-cp-0 10.0.10.2',
      'dev-vsphere-1-cp-1 10.0.10.3',
      'dev-vsphere-1-cp-2 10.0.10.4',
      'dev-vsphere-1-worker-0 10.0.10.5',
      'dev-vsphere-1-worker-1 10.0.10.6',
    ]);
    const v6 = byName.get('lab-vsphere-v6');
    assert.ok(v6?.machines.every((m) => m.address?.startsWith('2001:db8:10::')));
  });

  it('prints the clusters, the machines, the pools and the kubectl commands', () => {
    const text = formatSummary(summary, { kubeconfig: cp.kubeconfigPath, planPage: 'http://127.0.0.1:8082/' });
    const dev = summary.clusters.find((c) => c.name === 'dev-vsphere-1')!;
    assert.match(text, /dev-vsphere-1: claim dev-vsphere-1-ipam Bound/);
    assert.match(text, /endpoint\s+10\.0\.10\.200/);
    for (const m of dev.machines) assert.match(text, new RegExp(`${m.claim}\\s+${m.address!.replace(/\./g, '\\.')}/`));
    const pool = summary.pools.find((p) => p.name === dev.pool?.name);
    assert.equal(pool?.used, 5);
    assert.match(text, /kubectl get ipaddresses\.ipam\.cluster\.x-k8s\.io -A/);
    assert.ok(text.includes(`export KUBECONFIG=${cp.kubeconfigPath}`));
    assert.match(text, /Address plan: http:\/\/127\.0\.0\.1:8082\//);
  });

  it('follows: a cluster applied later gets its machines, and the change is reported', async () => {
    const stop = new AbortController();
    let changed!: (s: Summary) => void;
    const next = new Promise<Summary>((ok) => (changed = ok));
    const following = followMachines(client, {
      namespace,
      initial: summary,
      intervalMs: 200,
      signal: stop.signal,
      onChange: (s) => {
        const late = s.clusters.find((c) => c.name === 'late-vsphere');
        if (late?.machines.length === 2 && late.machines.every((m) => m.address)) changed(s);
      },
    });
    await applyManifests(
      client,
      [
        {
          apiVersion: 'k0rdent.mirantis.com/v1beta1',
          kind: 'ClusterDeployment',
          metadata: { name: 'late-vsphere' },
          spec: {
            template: 'vsphere-standalone-cp-1-0-14',
            config: { controlPlaneNumber: 1, workersNumber: 1 },
            ipamClaim: {
              spec: { provider: 'in-cluster', nodeNetwork: { cidr: '10.9.0.0/29', gateway: '10.9.0.1' } },
            },
          },
        } as never,
      ],
      namespace,
    );
    const late = (await next).clusters.find((c) => c.name === 'late-vsphere')!;
    stop.abort();
    await following;
    assert.deepEqual(
      late.machines.map((m) => `${m.claim} ${m.address}`),
      ['late-vsphere-cp-0 10.9.0.2', 'late-vsphere-worker-0 10.9.0.3'],
    );
  });
});
