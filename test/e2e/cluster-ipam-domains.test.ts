// Address domains in the cluster IPAM workflow (spec 03 §3.4), as a platform engineer meets them with kubectl: claims
// of different namespaces never conflict, an address-domain annotation joins them (and goes on to the pools they
// create), a global pool overlaps every domain and says how to join it, and the capacity check of a ClusterDeployment
// does not count addresses other pools of the domain hold. Named domains span namespaces, so each test makes its
// own; global pools are cluster-wide, so their names and ranges are unique per run.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { kubectl, testNamespace, ownControlPlane } from '../support/cluster.ts';
import { applyOk, bound, deployment, inClusterClaim, machine } from './ipam-objects.ts';
import { condition, get, runManager, waitForCondition, waitForEvent, waitForObject, type Obj } from './ipam-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

runManager();

const domainAnnotation = 'ipam.k0rdent.mirantis.com/address-domain';
const unique = () => randomBytes(3).toString('hex');
/** A second octet few other tests use, so global pools of this run do not meet theirs. */
const octet = () => 150 + (randomBytes(1)[0]! % 50);

const claim = (name: string, nodeNetwork: Obj, annotations?: Record<string, string>): Obj =>
  inClusterClaim(name, { nodeNetwork }, annotations);

describe('address domains of ClusterIPAMClaims', () => {
  it('lets claims of two namespaces use the same network: each namespace is its own domain', async () => {
    const [a, b] = await Promise.all([testNamespace('ipam-domain-a'), testNamespace('ipam-domain-b')]);
    const network = { cidr: '10.90.0.0/24', gateway: '10.90.0.1' };
    await applyOk(a, claim('tenant', network));
    await applyOk(b, claim('tenant', network));
    const [first, second] = await Promise.all([
      waitForObject('clusteripamclaim', 'tenant', a, bound, 'bound'),
      waitForObject('clusteripamclaim', 'tenant', b, bound, 'bound'),
    ]);
    for (const [c, ns] of [
      [first, a],
      [second, b],
    ] as const) {
      const available = condition(c, 'AddressSpaceAvailable')!;
      assert.equal(available.reason, 'NoOverlap');
      assert.equal(
        available.message,
        `no other claim or pool of the address domain of namespace ${ns}, and no global pool, overlaps these addresses`,
      );
    }
  });

  it('opposes claims of one named domain across namespaces, and separates them again without the annotation', async () => {
    const [a, b] = await Promise.all([testNamespace('ipam-named-a'), testNamespace('ipam-named-b')]);
    const domain = `lab-${unique()}`;
    const network = { cidr: '10.91.0.0/24', gateway: '10.91.0.1' };
    await applyOk(a, claim('first', network, { [domainAnnotation]: domain }));
    await waitForObject('clusteripamclaim', 'first', a, bound, 'bound');
    // the pool the claim created is in the claim's domain, so the provider keeps its addresses there
    const pool = await waitForObject(
      'inclusterippool',
      'first',
      a,
      (p) => p.metadata.annotations?.[domainAnnotation] === domain,
      `annotated ${domainAnnotation}=${domain}`,
    );
    assert.deepEqual(pool.spec.addresses, ['10.91.0.0/24']);

    await applyOk(b, claim('second', { cidr: '10.91.0.128/25' }, { [domainAnnotation]: domain }));
    const second = await waitForCondition('clusteripamclaim', 'second', b, 'Ready', 'False', 'Overlap');
    assert.equal(second.status.bound, false);
    assert.match(
      condition(second, 'AddressSpaceAvailable')!.message,
      new RegExp(
        `^spec\\.nodeNetwork overlaps ClusterIPAMClaim ${a}/first spec\\.nodeNetwork \\(10\\.91\\.0\\.128/25\\), ` +
          'which holds these addresses\\. Not binding',
      ),
    );
    assert.equal(await get('clusteripam', 'second', b), undefined, 'no ClusterIPAM, no pool for the later claim');
    await waitForEvent(b, 'second', 'Overlap');
    const first = await waitForCondition(
      'clusteripamclaim',
      'first',
      a,
      'AddressSpaceAvailable',
      'True',
      'HoldsAddressSpace',
    );
    assert.equal(
      condition(first, 'AddressSpaceAvailable')!.message,
      `spec.nodeNetwork overlaps ClusterIPAMClaim ${b}/second spec.nodeNetwork (10.91.0.128/25); second came later ` +
        'and is not bound',
    );
    assert.equal(first.status.bound, true);

    // back in its namespace's own domain, the second claim binds, and the first hears that the overlap is gone
    await kubectl(['annotate', 'clusteripamclaim', 'second', `${domainAnnotation}-`], { namespace: b });
    await waitForObject('clusteripamclaim', 'second', b, bound, 'bound in its own domain');
    await waitForCondition('clusteripamclaim', 'first', a, 'AddressSpaceAvailable', 'True', 'NoOverlap');
  });

  it('refuses a domain annotation that is not a domain name, naming it', async () => {
    const ns = await testNamespace('ipam-domain-invalid');
    await applyOk(ns, claim('odd', { cidr: '10.92.0.0/24' }, { [domainAnnotation]: 'Lab_1' }));
    const c = await waitForCondition('clusteripamclaim', 'odd', ns, 'Valid', 'False', 'InvalidSpec');
    assert.match(
      condition(c, 'Valid')!.message,
      /^metadata\.annotations\[ipam\.k0rdent\.mirantis\.com\/address-domain\]: "Lab_1" is not a valid domain name/,
    );
    assert.equal(await get('clusteripam', 'odd', ns), undefined);
  });

  it('reports a claim overlapping a global pool as a different domain, blocked unless it allows overlap', async () => {
    const ns = await testNamespace('ipam-domain-global');
    const name = `shared-${unique()}`;
    const net = `10.${octet()}.${octet()}`;
    await applyOk(ns, {
      apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
      kind: 'GlobalInClusterIPPool',
      metadata: { name },
      spec: { addresses: [`${net}.10-${net}.20`], prefix: 24 },
    });
    try {
      await applyOk(ns, claim('tenant', { cidr: `${net}.0/24` }));
      const blocked = await waitForCondition('clusteripamclaim', 'tenant', ns, 'Ready', 'False', 'Overlap');
      assert.equal(
        condition(blocked, 'Ready')!.message,
        `spec.nodeNetwork overlaps GlobalInClusterIPPool ${name} spec.addresses (${net}.10-${net}.20), which holds ` +
          "these addresses in the global address domain, a different address domain than this claim's (the " +
          `address domain of namespace ${ns}): the same address can be handed out twice. Not binding: choose ` +
          'another address space, or annotate this claim k0rdent.mirantis.com/allow-overlap="true" if the overlap ' +
          'is intended. If both are on one network, put them into one address domain, where an address is handed ' +
          'out once: annotate this claim ipam.k0rdent.mirantis.com/address-domain=global',
      );
      const [event] = await waitForEvent('default', name, 'Overlap');
      assert.equal(event!.type, 'Warning');
      assert.match(event!.message, /different address domains: this pool's is the global address domain/);

      // joined to the global domain and allowed to overlap, it binds; its pool goes into the global domain too
      await kubectl(
        [
          'annotate',
          'clusteripamclaim',
          'tenant',
          'k0rdent.mirantis.com/allow-overlap=true',
          `${domainAnnotation}=global`,
        ],
        { namespace: ns },
      );
      const allowed = await waitForObject('clusteripamclaim', 'tenant', ns, bound, 'bound once it allows overlap');
      const available = condition(allowed, 'AddressSpaceAvailable')!;
      // OverlapAllowed, or HoldsAddressSpace once its pool exists if both were made in the same second (the tie goes
      // to the kind's name): either way the overlap is still reported, now within one domain
      assert.ok(['OverlapAllowed', 'HoldsAddressSpace'].includes(available.reason), available.reason);
      assert.match(available.message, new RegExp(`overlaps GlobalInClusterIPPool ${name} spec\\.addresses`));
      assert.doesNotMatch(available.message, /different address domain/);
      const pool = (await get('inclusterippool', 'tenant', ns))!;
      assert.equal(pool.metadata.annotations[domainAnnotation], 'global');
    } finally {
      await kubectl(['delete', 'globalinclusterippool', name, '--wait=false']);
    }
  });
});

describe('capacity in a shared domain', () => {
  it('does not count addresses other pools of the domain hold, and counts them again once released', async () => {
    const [a, b] = await Promise.all([testNamespace('ipam-cap-a'), testNamespace('ipam-cap-b')]);
    const domain = `flat-${unique()}`;
    const network = { ipAddresses: ['10.93.0.10-10.93.0.15'], prefix: 24 }; // 6 usable
    await applyOk(a, claim('busy', network, { [domainAnnotation]: domain }));
    await waitForObject('clusteripamclaim', 'busy', a, bound, 'bound');
    await applyOk(a, machine('m0', 'busy'), machine('m1', 'busy'));
    await Promise.all(
      ['m0', 'm1'].map((m) => waitForObject('ipaddresses.ipam.cluster.x-k8s.io', m, a, () => true, 'allocated')),
    );

    await applyOk(b, {
      ...claim('late', network, { [domainAnnotation]: domain, 'k0rdent.mirantis.com/allow-overlap': 'true' }),
    });
    await applyOk(
      b,
      deployment('late', { config: { controlPlaneNumber: 3, workersNumber: 1 }, ipamClaim: { ref: 'late' } }),
    );
    const short = await waitForCondition('clusterdeployment', 'late', b, 'IPAMReady', 'False', 'InsufficientAddresses');
    assert.equal(
      condition(short, 'IPAMReady')!.message,
      'spec.config asks for 3 control plane + 1 worker machines plus 1 for a rolling update: 5 addresses, but the ' +
        'node network of ClusterIPAMClaim late (spec.nodeNetwork: 10.93.0.10-10.93.0.15) has 6 usable, 2 of them ' +
        `held by other pools of address domain ${domain}, so 4 available: 1 address missing`,
    );

    await kubectl(['delete', 'ipaddressclaims.ipam.cluster.x-k8s.io', 'm1'], { namespace: a });
    const fits = await waitForCondition('clusterdeployment', 'late', b, 'IPAMReady', 'True');
    assert.match(
      condition(fits, 'IPAMReady')!.message,
      new RegExp(`has 6 usable, 1 of them held by other pools of address domain ${domain}, so 5 available`),
    );
  });
});
