// The control-plane endpoint address (spec.config.controlPlaneEndpointIP), in-cluster provider, with the real
// kubectl and the manager running: allocated from the externalNetwork when unset, merged into spec.config, stable,
// released with the ClusterDeployment; a hand-set one inside the node network excluded from the machines' addresses;
// one a machine already holds stops the deployment before provisioning.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kubectl, testNamespace, ownControlPlane } from '../support/cluster.ts';
import { applyOk, deployment, machine } from './ipam-objects.ts';
import { InClusterIPPools, wrapClient } from '../integration/in-cluster-support.ts';
import { waitFor } from '../support/wait.ts';
import { condition, get, runManager, waitForCondition, waitForGone, waitForObject, type Obj } from './ipam-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

/** Pools (`namespace/name`) whose status may not be written for a generation after the first while `held`. */
const holding = new Set<string>();
const hold = { reached: false, release: () => {}, released: Promise.resolve() };
runManager([
  wrapClient(InClusterIPPools, (real, wrapped) => {
    wrapped.patchStatus = async (key, patch, opts) => {
      const generation = (patch as { status?: { observedGeneration?: number } }).status?.observedGeneration ?? 0;
      if (holding.has(`${key.namespace}/${key.name}`) && generation > 1) {
        hold.reached = true;
        await hold.released;
      }
      return real.patchStatus(key, patch, opts);
    };
  }),
]);

const inline = (name: string, config: Obj, claim: Obj): Obj =>
  deployment(name, { config, ipamClaim: { spec: { provider: 'in-cluster', ...claim } } });

const addressOf = (ns: string, claim: string): Promise<string> =>
  waitForObject('ipaddressclaim', claim, ns, (c) => !!c.status?.addressRef?.name, 'an address').then(
    async (c) => (await get('ipaddresses.ipam.cluster.x-k8s.io', c.status.addressRef.name, ns))!.spec.address as string,
  );

describe('the control-plane endpoint address', () => {
  it('is allocated from the externalNetwork, merged into spec.config, stable, and released with the deployment', async () => {
    const ns = await testNamespace('endpoint-ext');
    await applyOk(
      ns,
      inline(
        'edge',
        { controlPlaneNumber: 1, workersNumber: 1 },
        {
          nodeNetwork: { cidr: '10.60.0.0/24', gateway: '10.60.0.1' },
          externalNetwork: { cidr: '10.61.0.0/29' },
        },
      ),
    );
    const d = await waitForCondition('clusterdeployment', 'edge', ns, 'IPAMReady', 'True');
    const claim = (await get('ipaddressclaim', 'edge-endpoint', ns))!;
    const owner = claim.metadata.ownerReferences.find((r: Obj) => r.controller);
    assert.deepEqual([owner.kind, owner.name, owner.uid], ['ClusterDeployment', 'edge', d.metadata.uid]);
    assert.equal(claim.metadata.labels['cluster.x-k8s.io/cluster-name'], 'edge');
    const cipam = (await get('clusteripam', 'edge-ipam', ns))!;
    const external = cipam.status.providerData.find((e: Obj) => e.name === 'externalIPPool');
    assert.equal(claim.spec.poolRef.name, external.config.name);
    const address = await addressOf(ns, 'edge-endpoint');
    assert.match(address, /^10\.61\.0\./);
    assert.equal(d.spec.config.controlPlaneEndpointIP, address);
    assert.deepEqual(d.spec.config.externalIPPool, external);
    assert.equal(d.spec.config.ipamEnabled, true);

    // Re-reconciled (a label change): the same claim, the same address, no new write of spec.config.
    await kubectl(['label', 'clusterdeployment', 'edge', 'touched=yes'], { namespace: ns });
    await kubectl(['annotate', 'clusteripamclaim', 'edge-ipam', 'touched=yes'], { namespace: ns });
    const again = await waitForObject(
      'clusterdeployment',
      'edge',
      ns,
      (o) => o.metadata.labels?.touched === 'yes',
      'labelled',
    );
    await waitForCondition('clusterdeployment', 'edge', ns, 'IPAMReady', 'True');
    const after = (await get('clusterdeployment', 'edge', ns))!;
    assert.equal(after.spec.config.controlPlaneEndpointIP, address);
    assert.equal(after.metadata.generation, again.metadata.generation);
    assert.equal((await get('ipaddressclaim', 'edge-endpoint', ns))!.metadata.uid, claim.metadata.uid);

    await kubectl(['delete', 'clusterdeployment', 'edge', '--wait=false'], { namespace: ns });
    await waitForGone('ipaddressclaim', 'edge-endpoint', ns);
  });

  it('comes from the node network with the annotation when the claim has no externalNetwork', async () => {
    const ns = await testNamespace('endpoint-node');
    const d = inline(
      'solo',
      { controlPlaneNumber: 1 },
      { nodeNetwork: { cidr: '10.64.0.0/28', gateway: '10.64.0.1' } },
    );
    d.metadata.annotations = { 'k0rdent.mirantis.com/endpoint-from-node-network': 'true' };
    await applyOk(ns, d);
    const ready = await waitForCondition('clusterdeployment', 'solo', ns, 'IPAMReady', 'True');
    assert.equal(ready.spec.config.controlPlaneEndpointIP, '10.64.0.2');
    assert.equal((await get('ipaddressclaim', 'solo-endpoint', ns))!.spec.poolRef.name, 'solo-ipam');
    await applyOk(ns, machine('solo-cp-0', 'solo-ipam'));
    assert.equal(await addressOf(ns, 'solo-cp-0'), '10.64.0.3');
  });

  it('set by hand inside the node network is excluded from the machines, and IPAMReady says so', async () => {
    const ns = await testNamespace('endpoint-hand');
    await applyOk(
      ns,
      inline(
        'lab',
        { controlPlaneNumber: 1, workersNumber: 1, controlPlaneEndpointIP: '10.62.0.2' },
        { nodeNetwork: { cidr: '10.62.0.0/28', gateway: '10.62.0.1' } },
      ),
    );
    const d = await waitForCondition('clusterdeployment', 'lab', ns, 'IPAMReady', 'True');
    assert.match(
      condition(d, 'IPAMReady')!.message,
      /controlPlaneEndpointIP 10\.62\.0\.2 is inside the node network; excluded from node addresses/,
    );
    assert.match(condition(d, 'IPAMReady')!.message, /and 1 for the control-plane endpoint: 4 addresses/);
    const pool = (await get('inclusterippool', 'lab-ipam', ns))!;
    assert.deepEqual(pool.spec.excludedAddresses, ['10.62.0.2']);
    assert.deepEqual(pool.spec.addresses, ['10.62.0.0/28'], 'the managed fields are unchanged');
    // The gate opens only once the pool has taken the exclusion (Ready for the generation that carries it): opened
    // before, it would close and open again when the pool's new generation makes the ClusterIPAM Pending.
    const readyFor = pool.status?.conditions?.find((c: Obj) => c.type === 'Ready')?.observedGeneration;
    assert.equal(readyFor, pool.metadata.generation, 'IPAMReady was True before the pool took the exclusion');
    // Two claims made together are answered in no particular order: each gets one of the two lowest addresses
    // after the excluded endpoint.
    await applyOk(ns, machine('lab-cp-0', 'lab-ipam'), machine('lab-worker-0', 'lab-ipam'));
    const addresses = [await addressOf(ns, 'lab-cp-0'), await addressOf(ns, 'lab-worker-0')];
    assert.deepEqual(addresses.sort(), ['10.62.0.3', '10.62.0.4']);
    // The ClusterIPAM controller leaves the exclusion alone when it reconciles the pool again.
    await kubectl(['annotate', 'clusteripamclaim', 'lab-ipam', 'touched=yes'], { namespace: ns });
    await waitForCondition('clusterdeployment', 'lab', ns, 'IPAMReady', 'True');
    assert.deepEqual((await get('inclusterippool', 'lab-ipam', ns))!.spec.excludedAddresses, ['10.62.0.2']);
  });

  it('opens the gate only once the pool has taken the exclusion of a hand-set endpoint, never before', async () => {
    const ns = await testNamespace('endpoint-gate');
    holding.add(`${ns}/gate-ipam`);
    hold.released = new Promise((resolve) => (hold.release = resolve));
    await applyOk(
      ns,
      inline(
        'gate',
        { controlPlaneNumber: 1, controlPlaneEndpointIP: '10.64.0.2' },
        { nodeNetwork: { cidr: '10.64.0.0/28', gateway: '10.64.0.1' } },
      ),
    );
    // The pool got the exclusion (its second generation); its report of that generation is held.
    await waitFor(() => hold.reached, { what: 'the pool status write for the generation with the exclusion' });
    const waiting = await waitForCondition('clusterdeployment', 'gate', ns, 'IPAMReady', 'False');
    assert.match(condition(waiting, 'IPAMReady')!.reason, /^(EndpointPending|ClaimNotBound)$/);
    const opened = async () =>
      JSON.parse(
        (
          await kubectl(['get', 'events', '-o', 'json', '--field-selector', 'involvedObject.name=gate'], {
            namespace: ns,
          })
        ).stdout,
      ).items.filter((e: Obj) => e.involvedObject.kind === 'ClusterDeployment' && e.reason === 'IPAMReady');
    assert.deepEqual(await opened(), [], 'IPAMReady was True while the pool had not taken the exclusion');
    hold.release();
    await waitForCondition('clusterdeployment', 'gate', ns, 'IPAMReady', 'True');
    assert.equal((await opened()).length, 1);
    holding.delete(`${ns}/gate-ipam`);
  });

  it('held by a machine already stops the deployment with a reason naming the holder', async () => {
    const ns = await testNamespace('endpoint-held');
    await applyOk(
      ns,
      inline('busy', { controlPlaneNumber: 1 }, { nodeNetwork: { cidr: '10.63.0.0/28', gateway: '10.63.0.1' } }),
    );
    await waitForCondition('clusterdeployment', 'busy', ns, 'IPAMReady', 'True');
    await applyOk(ns, machine('busy-cp-0', 'busy-ipam'));
    assert.equal(await addressOf(ns, 'busy-cp-0'), '10.63.0.2');

    await kubectl(
      [
        'patch',
        'clusterdeployment',
        'busy',
        '--type=merge',
        '-p',
        '{"spec":{"config":{"controlPlaneEndpointIP":"10.63.0.2"}}}',
      ],
      { namespace: ns },
    );
    const d = await waitForCondition('clusterdeployment', 'busy', ns, 'IPAMReady', 'False', 'EndpointAddressInUse');
    assert.match(condition(d, 'IPAMReady')!.message, /10\.63\.0\.2 .*already held by .*busy-cp-0/);
    assert.equal((await get('inclusterippool', 'busy-ipam', ns))!.spec.excludedAddresses, undefined);
  });
});
