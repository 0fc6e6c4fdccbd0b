// A claim owned by a kind of an infrastructure provider the manager's RBAC does not name (here Metal3Data): the
// manager, running with exactly the chart's rules (src/rbac), gets 403 walking up to the Machine for the host name. The
// claim says so on its Ready condition (the kind and the resource to grant), and once the permission has been missing
// for ownerFallbackMs its host name falls back to `<claim name>.<dnsZone>`, with a Warning Event.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { IPAddressClaims } from '../../src/api/index.ts';
import { CustomResourceDefinitions, Events, resourceType, type KubeObject } from '../../src/kube/index.ts';
import { rulesOf } from '../../src/rbac/chart.ts';
import { permissions } from '../../src/rbac/permissions.ts';
import { kubectl, testNamespace } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  claimReason,
  createClaim,
  createInstance,
  infobloxEnv,
  instanceReady,
  managerNamespace,
  ownerKindCRD,
  readyOf,
  readyPool,
  recordsByName,
  testTuning,
  waitForAddress,
  type Env,
} from './infoblox-support.ts';

let env: Env;
const account = 'cluster-ipam-rbac-test';

const Metal3Datas = resourceType<KubeObject>({
  group: 'infrastructure.cluster.x-k8s.io',
  version: 'v1beta1',
  kind: 'Metal3Data',
  plural: 'metal3datas',
  namespaced: true,
});

/** A kubeconfig whose only credential is a token of a ServiceAccount bound to exactly the manager's rules. */
async function restrictedKubeconfig(): Promise<string> {
  const access = permissions.flatMap((p) => p.access);
  const role = { apiGroup: 'rbac.authorization.k8s.io' };
  const subjects = [{ kind: 'ServiceAccount', name: account, namespace: managerNamespace }];
  const objects = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account, namespace: managerNamespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: account },
      rules: rulesOf(access, 'cluster'),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: account },
      roleRef: { ...role, kind: 'ClusterRole', name: account },
      subjects,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: account, namespace: managerNamespace },
      rules: rulesOf(access, 'namespace'),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: account, namespace: managerNamespace },
      roleRef: { ...role, kind: 'Role', name: account },
      subjects,
    },
  ];
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
  const token = (await kubectl(['create', 'token', account, '-n', managerNamespace, '--duration=1h'])).stdout.trim();
  const config = parse(readFileSync(env.cp.kubeconfigPath, 'utf8')) as {
    users: { name: string; user: Record<string, unknown> }[];
  };
  config.users = config.users.map((u) => ({ name: u.name, user: { token } }));
  const file = join(env.dir, 'restricted.kubeconfig');
  writeFileSync(file, stringify(config));
  return file;
}

describe('ipam-infoblox: an owner the manager may not read', () => {
  before(async () => {
    env = await infobloxEnv({ network: [{ network: '10.70.0.0/24' }], zone_auth: [{ fqdn: 'lab.test' }] });
    await env.client
      .resource(CustomResourceDefinitions)
      .create(ownerKindCRD('infrastructure.cluster.x-k8s.io', 'Metal3Data', 'metal3datas', 'v1beta1'));
    await createInstance(env.client, 'ib', env.instanceSpec());
  });
  after(async () => {
    await env?.stop();
  });

  it('says so on the claim, then falls back to <claim name>.<dnsZone>', async () => {
    const kubeconfig = await restrictedKubeconfig();
    const manager = await env.startManager({ ...testTuning, ownerFallbackMs: 6000 }, { kubeconfig });
    try {
      await instanceReady(env.client, 'ib');
      const ns = await testNamespace('ib-forbidden');
      await readyPool(env.client, ns, 'p', {
        instance: { name: 'ib' },
        subnets: [{ cidr: '10.70.0.0/24' }],
        dnsZone: 'lab.test',
      });
      const data = await waitFor(
        () =>
          env.client.resource(Metal3Datas).create({
            apiVersion: 'infrastructure.cluster.x-k8s.io/v1beta1',
            kind: 'Metal3Data',
            metadata: { namespace: ns, name: 'm3-0' },
          }),
        { what: 'the Metal3Data kind to be served' },
      );
      const owned = {
        ownerReferences: [
          { apiVersion: data.apiVersion!, kind: 'Metal3Data', name: 'm3-0', uid: data.metadata.uid!, controller: true },
        ],
      };
      await createClaim(env.client, ns, 'worker-0', 'p', owned);
      const told = await claimReason(env.client, ns, 'worker-0', 'AllocationFailed');
      assert.match(
        readyOf(told)!.message,
        /cannot read Metal3Data m3-0, an owner of the claim, .* may not get metal3datas\.infrastructure\.cluster\.x-k8s\.io .* falls back to worker-0\.lab\.test/,
      );
      const ipa = await waitForAddress(env.client, ns, 'worker-0', 60_000);
      const claim = await env.client.resource(IPAddressClaims).get({ namespace: ns, name: 'worker-0' });
      assert.equal(claim.metadata.annotations?.['ipam.cluster.x-k8s.io/hostname'], 'worker-0.lab.test');
      assert.deepEqual(recordsByName(env.sim).get('worker-0.lab.test'), [[ipa.spec.address]]);
      const events = (await env.client.resource(Events).list({ namespace: ns })).items;
      assert.ok(
        events.some((e) => (e as { reason?: string }).reason === 'HostNameFallback'),
        'a Warning Event says the host name fell back',
      );
    } finally {
      await manager.stop();
    }
  });
});
