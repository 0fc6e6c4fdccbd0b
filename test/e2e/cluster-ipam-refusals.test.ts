// When the API server refuses the ClusterIPAM controller's write of a pool — the pools' webhook refusing a shrink
// under live allocations, or the delete of a pool machines still use — the user reads it in the ClusterIPAM's and
// the claim's status and in a Warning Event, not in the manager's log; and once the machines let go, the write goes
// through without anyone touching the objects again. The manager runs with the pools' webhook; the webhook sees only
// pools labelled for this run (other test files share the control plane), so the tests label the claims' pools.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { kubectl, testNamespace, ownControlPlane } from '../support/cluster.ts';
import { applyOk, bound, inClusterClaim, machine } from './ipam-objects.ts';
import {
  condition,
  startManagerWithWebhook,
  waitForCondition,
  waitForEvent,
  waitForGone,
  waitForObject,
  type Obj,
  type WebhookManager,
} from './ipam-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

const run = randomBytes(3).toString('hex');
const labelKey = 'cluster-ipam.test/refusals';
const configurationName = `cluster-ipam-refusals-${run}`;

let webhook: WebhookManager | undefined;
before(async () => {
  webhook = await startManagerWithWebhook({
    labelKey,
    run,
    configurationName,
    probeNamespace: 'ipam-refusals-probe',
  });
});
after(async () => {
  await webhook?.stop();
});

/** A bound claim whose pool `pool` goes through the webhook and has a machine `m` with an address; returns it. */
async function allocated(ns: string, name: string, spec: Obj, pool: string): Promise<string> {
  await applyOk(ns, inClusterClaim(name, spec));
  await waitForObject('clusteripamclaim', name, ns, bound, 'bound');
  await kubectl(['label', 'inclusterippool', pool, `${labelKey}=${run}`], { namespace: ns });
  await applyOk(ns, machine('m', pool));
  const address = await waitForObject('ipaddresses.ipam.cluster.x-k8s.io', 'm', ns, () => true, 'allocated');
  return address.spec.address as string;
}

const patchClaim = (ns: string, name: string, patch: Obj) =>
  kubectl(['patch', 'clusteripamclaim', name, '--type=merge', '-p', JSON.stringify(patch)], { namespace: ns });

describe('pool writes the API server refuses', () => {
  it('a shrink under a live allocation is reported on the ClusterIPAM and the claim, and applied once released', async () => {
    const ns = await testNamespace('ipam-refused-update');
    const address = await allocated(
      ns,
      'shrink',
      { nodeNetwork: { cidr: '10.95.0.0/24', gateway: '10.95.0.1' } },
      'shrink',
    );
    assert.equal(address, '10.95.0.2');

    await patchClaim(ns, 'shrink', {
      spec: { nodeNetwork: { cidr: null, ipAddresses: ['10.95.0.100-10.95.0.200'], prefix: 24 } },
    });
    const cipam = await waitForCondition('clusteripam', 'shrink', ns, 'Ready', 'False', 'PoolUpdateRefused');
    assert.equal(cipam.status.phase, 'Pending');
    const refused = condition(cipam, 'Ready')!.message;
    assert.match(
      refused,
      /^the API server refused to update InClusterIPPool shrink: admission webhook ".*" denied the request: InClusterIPPool shrink cannot shrink under live allocations: spec\.addresses: allocated addresses would no longer be in the pool: 10\.95\.0\.2/,
    );
    const synced = condition(cipam, 'PoolsSynced')!;
    assert.deepEqual([synced.status, synced.reason, synced.message], ['False', 'PoolUpdateRefused', refused]);
    const [event] = await waitForEvent(ns, 'shrink', 'PoolUpdateRefused');
    assert.equal(event!.type, 'Warning');
    assert.equal(event!.involvedObject.kind, 'ClusterIPAM');
    const c = await waitForCondition('clusteripamclaim', 'shrink', ns, 'Ready', 'False', 'PoolUpdateRefused');
    assert.equal(c.status.bound, false);
    assert.equal(condition(c, 'Ready')!.message, refused);

    // the machine lets its address go: the retried update goes through, without touching the claim again
    await kubectl(['delete', 'ipaddressclaims.ipam.cluster.x-k8s.io', 'm'], { namespace: ns });
    const fixed = await waitForCondition('clusteripam', 'shrink', ns, 'Ready', 'True', 'Bound');
    assert.equal(condition(fixed, 'PoolsSynced')!.status, 'True');
    await waitForObject('clusteripamclaim', 'shrink', ns, bound, 'bound again');
    const pool = await waitForObject('inclusterippool', 'shrink', ns, () => true, 'present');
    assert.deepEqual(pool.spec.addresses, ['10.95.0.100-10.95.0.200']);
  });

  it('a pool the claim no longer asks for but machines still use is reported, and deleted once released', async () => {
    const ns = await testNamespace('ipam-refused-delete');
    const spec = {
      nodeNetwork: { cidr: '10.96.0.0/24', gateway: '10.96.0.1' },
      externalNetwork: { ipAddresses: ['10.96.1.10-10.96.1.20'], prefix: 24 },
    };
    await allocated(ns, 'vips', spec, 'vips-external');

    await patchClaim(ns, 'vips', { spec: { externalNetwork: null } });
    const cipam = await waitForCondition('clusteripam', 'vips', ns, 'PoolsSynced', 'False', 'PoolDeleteRefused');
    assert.match(
      condition(cipam, 'PoolsSynced')!.message,
      /^the API server refused to delete InClusterIPPool vips-external, which the claim no longer asks for: .*still has 1 allocated addresses \(10\.96\.1\.10\)/,
    );
    // the claim's remaining network is served: it stays bound
    assert.equal(condition(cipam, 'Ready')!.status, 'True');
    const [event] = await waitForEvent(ns, 'vips', 'PoolDeleteRefused');
    assert.equal(event!.type, 'Warning');

    await kubectl(['delete', 'ipaddressclaims.ipam.cluster.x-k8s.io', 'm'], { namespace: ns });
    await waitForGone('inclusterippool', 'vips-external', ns);
    await waitForCondition('clusteripam', 'vips', ns, 'PoolsSynced', 'True', 'PoolsSynced');
  });
});
