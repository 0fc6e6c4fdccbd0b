// A vSphere cluster's life, for real (spec 07): the deployment is rendered as vsphere-standalone-cp would, Cluster
// API and CAPV make the machines and claim their addresses, the manager answers, the vCenter simulator clones the VMs
// and reports each guest's address. Then scaling, a replaced machine, and the cluster's deletion.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClusterDeployments, InClusterIPPools, IPAddressClaims } from '../../src/api/index.ts';
import { Clusters, listVMs, Machines, VSphereVMs } from '../../src/local/capi.ts';
import type { Machine } from '../../src/local/machines.ts';
import { waitFor } from '../support/wait.ts';
import {
  allUp,
  claimsIn,
  describeMachines,
  createCluster,
  ipAddresses,
  machines,
  setWorkers,
  startMachinesWorld,
  waitForMachines,
  type MachinesWorld,
} from './machines-support.ts';

let world: MachinesWorld;
before(async () => {
  world = await startMachinesWorld();
});
after(async () => {
  await world?.stop();
});

const distinct = (ms: readonly Machine[]) => new Set(ms.map((m) => m.address)).size === ms.length;

describe('a cluster of 3 control-plane machines and 2 workers, from creation to deletion', () => {
  const ns = 'lifecycle';
  const name = 'dev';
  let pool: string;

  const usedInPool = async () =>
    (await world.client.resource(InClusterIPPools).get({ namespace: ns, name: pool })).status?.ipAddresses?.used;

  it('comes up in vCenter: every VM guest reports its IPAddress, all distinct, the endpoint the gate merged', async () => {
    const { deployment: d, pool: ref } = await createCluster(world, ns, name, {
      controlPlane: 3,
      workers: 2,
      endpoint: '10.0.10.200',
      nodeNetwork: { cidr: '10.0.10.0/27', prefix: 24, gateway: '10.0.10.1' },
    });
    pool = ref.name;
    const ms = await waitForMachines(world, ns, name, 5);
    assert.equal(ms.filter((m) => m.role === 'control-plane').length, 3);
    assert.ok(distinct(ms), `no address twice: ${describeMachines(ms)}`);
    for (const m of ms) assert.match(m.address!, /^10\.0\.10\.([0-9]|[12][0-9]|3[01])$/, `${m.name} in 10.0.10.0/27`);
    // CAPV's claims, answered by the manager from the pool the gate made.
    const addresses = await ipAddresses(world.client, ns);
    assert.deepEqual(new Set(addresses.map((a) => a.spec.poolRef.name)), new Set([pool]));
    const cluster = await world.client.resource(Clusters).get({ namespace: ns, name });
    assert.equal((cluster.spec?.controlPlaneEndpoint as { host: string }).host, '10.0.10.200');
    assert.equal((d.spec.config as Record<string, unknown>).controlPlaneEndpointIP, '10.0.10.200');
  });

  it('scales the workers 2 → 4 → 1: new machines get addresses, removed ones are released', async () => {
    await setWorkers(world.client, ns, name, 4);
    const up = await waitForMachines(world, ns, name, 7);
    assert.ok(distinct(up), describeMachines(up));
    await waitFor(async () => (await usedInPool()) === 7, { timeoutMs: 60_000, what: 'pool used 7' });

    await setWorkers(world.client, ns, name, 1);
    const down = await waitForMachines(world, ns, name, 4);
    const kept = new Set(down.map((m) => m.address));
    await waitFor(async () => (await ipAddresses(world.client, ns)).length === 4, {
      timeoutMs: 300_000,
      what: 'the removed machines’ IPAddresses released',
    });
    assert.deepEqual(new Set((await ipAddresses(world.client, ns)).map((a) => a.spec.address)), kept);
    await waitFor(async () => (await usedInPool()) === 4, { timeoutMs: 60_000, what: 'pool used 4' });
  });

  it('replaces a deleted Machine: the new one gets a free address, the old one is released', async () => {
    const before = await machines(world, ns, name);
    const victim = before.find((m) => m.role === 'worker')!;
    await world.client.resource(Machines).delete({ namespace: ns, name: victim.name });
    const after = await waitFor(
      async () => {
        const ms = await machines(world, ns, name);
        return allUp(ms, 4) && !ms.some((m) => m.name === victim.name) ? ms : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 2000, what: `a replacement for ${victim.name} up` },
    );
    assert.ok(distinct(after), describeMachines(after));
    await waitFor(async () => !(await ipAddresses(world.client, ns)).some((a) => a.metadata.name === victim.claim), {
      timeoutMs: 300_000,
      what: `${victim.claim}'s IPAddress released`,
    });
    assert.equal((await ipAddresses(world.client, ns)).length, 4);
  });

  it('deleting the cluster releases every address: no IPAddress, claim or VM left', async () => {
    const vms = (await machines(world, ns, name)).map((m) => m.vm);
    await world.client.resource(ClusterDeployments).delete({ namespace: ns, name });
    await waitFor(
      async () =>
        (await ipAddresses(world.client, ns)).length === 0 &&
        (await claimsIn(world.client, ns)).length === 0 &&
        (await world.client.resource(Machines).list({ namespace: ns })).items.length === 0,
      { timeoutMs: 600_000, intervalMs: 2000, what: 'every IPAddress, claim and Machine gone' },
    );
    const left = (await listVMs(world.mode.bin, world.mode.machines.vcenter.url)).filter((v) => vms.includes(v.name));
    assert.deepEqual(left, [], 'the VMs are gone from vCenter');
  });
});

describe('a pool too small for the next machine', () => {
  const ns = 'small-pool';
  const name = 'tight';

  it('leaves the machine waiting with a readable reason, and it proceeds once an address is freed', async () => {
    // Three addresses: the control-plane machine and a rolling update's spare, then two taken by someone else.
    const { pool: poolRef } = await createCluster(world, ns, name, {
      controlPlane: 1,
      workers: 0,
      endpoint: '10.0.20.200',
      nodeNetwork: { ipAddresses: ['10.0.20.10-10.0.20.12'], prefix: 24, gateway: '10.0.20.1' },
    });
    await waitForMachines(world, ns, name, 1);
    const claims = world.client.resource(IPAddressClaims);
    for (const other of ['other-a', 'other-b']) {
      await claims.apply(
        {
          apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
          kind: 'IPAddressClaim',
          metadata: { name: other, namespace: ns },
          spec: { poolRef },
        },
        { force: true },
      );
    }
    await waitFor(async () => (await ipAddresses(world.client, ns)).length === 3, {
      timeoutMs: 60_000,
      what: 'the pool full',
    });

    await setWorkers(world.client, ns, name, 1);
    const waiting = await waitFor(
      async () => {
        const worker = (await machines(world, ns, name)).find((m) => m.role === 'worker');
        if (!worker?.vm) return undefined;
        const claim = await claims.get({ namespace: ns, name: worker.claim }).catch(() => undefined);
        const ready = claim?.status?.conditions?.find((c) => c.type === 'Ready');
        const vm = await world.client
          .resource(VSphereVMs)
          .get({ namespace: ns, name: worker.vm })
          .catch(() => undefined);
        const claimed = (
          vm?.status?.conditions as { type: string; status: string; message?: string }[] | undefined
        )?.find((c) => c.type === 'IPAddressClaimed');
        return ready?.status === 'False' && claimed?.status === 'False' ? { worker, ready, claimed } : undefined;
      },
      {
        timeoutMs: 300_000,
        intervalMs: 2000,
        what: "the worker's claim Ready=False and its VM's IPAddressClaimed False",
      },
    );
    assert.match(waiting.ready.message ?? '', /\S/, 'the claim says why');
    assert.equal(waiting.worker.address, undefined);
    assert.match(waiting.worker.waiting ?? '', /\S/, 'the summary says why');

    await claims.delete({ namespace: ns, name: 'other-a' });
    const up = await waitForMachines(world, ns, name, 2);
    assert.ok(distinct(up), describeMachines(up));
  });
});

describe('two clusters in two namespaces with the same range', () => {
  it('stay independent: each gets its addresses from its own pool', async () => {
    const network = { cidr: '10.0.30.0/28', prefix: 24, gateway: '10.0.30.1' };
    for (const ns of ['team-a', 'team-b']) {
      await createCluster(world, ns, 'same', {
        controlPlane: 1,
        workers: 1,
        endpoint: '10.0.30.200',
        nodeNetwork: network,
      });
    }
    const [a, b] = await Promise.all(['team-a', 'team-b'].map((ns) => waitForMachines(world, ns, 'same', 2)));
    const addresses = (ms: readonly Machine[]) => new Set(ms.map((m) => m.address));
    assert.deepEqual(addresses(a!), addresses(b!), 'the same addresses, one pool each');
    await world.client.resource(ClusterDeployments).delete({ namespace: 'team-a', name: 'same' });
    await waitFor(async () => (await ipAddresses(world.client, 'team-a')).length === 0, {
      timeoutMs: 600_000,
      what: "team-a's addresses released",
    });
    assert.deepEqual(addresses(await machines(world, 'team-b', 'same')), addresses(b!), 'team-b untouched');
  });
});
