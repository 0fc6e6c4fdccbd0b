import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterDeployment } from '../api/index.ts';
import type { KubeObject } from '../kube/index.ts';
import { RenderError, renderVSphereCluster, type VSphereTarget } from './vsphere.ts';

/** A real vCenter's: the local mode passes the simulator's. */
const target: VSphereTarget = {
  server: 'vcenter.example.com',
  thumbprint: 'A1:B2:C3',
  username: 'capv@vsphere.local',
  password: 'secret',
  datacenter: 'DC1',
  datastore: '/DC1/datastore/vsanDatastore',
  resourcePool: '/DC1/host/Cluster1/Resources/dev',
  template: '/DC1/vm/templates/ubuntu-22.04',
  network: 'VM Network',
  minDiskGiB: 10,
};

const pool = { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'dev-ipam-node' };

/** A deployment as the gate leaves it once IPAMReady is True. */
function deployment(config: Record<string, unknown> = {}): ClusterDeployment {
  return {
    apiVersion: 'k0rdent.mirantis.com/v1beta1',
    kind: 'ClusterDeployment',
    metadata: { name: 'dev', namespace: 'team-a', uid: 'uid-dev' },
    spec: {
      template: 'vsphere-standalone-cp-1-0-14',
      config: {
        controlPlaneNumber: 3,
        workersNumber: 2,
        controlPlaneEndpointIP: '10.0.10.200',
        nameservers: ['10.0.0.53'],
        worker: { cpus: 8, memory: 16384, diskSize: 5 },
        ipamEnabled: true,
        ipPool: { name: 'ipPool', config: pool, ready: true },
        ...config,
      },
    },
  } as ClusterDeployment;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered objects, inspected freely
type Loose = Record<string, any>;
const of = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind);
const spec = (o: KubeObject | undefined) => (o as { spec: Loose } | undefined)?.spec;

describe('renderVSphereCluster (vsphere-standalone-cp without kcm)', () => {
  const objects = renderVSphereCluster(deployment(), target);

  it('renders a Cluster on the VSphereCluster with the endpoint the gate merged, and no control-plane provider', () => {
    const [cluster] = of(objects, 'Cluster');
    assert.equal(objects[0], cluster, 'the Cluster first');
    assert.equal(cluster!.apiVersion, 'cluster.x-k8s.io/v1beta2');
    assert.deepEqual(spec(cluster), {
      controlPlaneEndpoint: { host: '10.0.10.200', port: 6443 },
      infrastructureRef: { apiGroup: 'infrastructure.cluster.x-k8s.io', kind: 'VSphereCluster', name: 'dev' },
    });
    const [vc] = of(objects, 'VSphereCluster');
    assert.equal(spec(vc)!.server, 'vcenter.example.com');
    assert.equal(spec(vc)!.thumbprint, 'A1:B2:C3');
    assert.deepEqual(spec(vc)!.controlPlaneEndpoint, { host: '10.0.10.200', port: 6443 });
    const identity = objects.find((o) => o.metadata.name === spec(vc)!.identityRef.name) as Loose;
    assert.equal(spec(vc)!.identityRef.kind, 'Secret');
    assert.deepEqual(identity.stringData, { username: 'capv@vsphere.local', password: 'secret' });
  });

  it('gives every machine one NIC without DHCP whose address comes from the pool, with the nameservers', () => {
    const templates = of(objects, 'VSphereMachineTemplate');
    assert.equal(templates.length, 2);
    for (const t of [...templates.map((t) => spec(t)!.template.spec), ...of(objects, 'VSphereMachine').map(spec)]) {
      assert.deepEqual(t.network.devices, [
        { networkName: 'VM Network', dhcp4: false, addressesFromPools: [pool], nameservers: ['10.0.0.53'] },
      ]);
      assert.equal(t.template, '/DC1/vm/templates/ubuntu-22.04');
      assert.equal(t.datacenter, 'DC1');
      assert.equal(t.server, 'vcenter.example.com');
      assert.equal(t.folder, undefined);
      assert.equal(t.cloneMode, 'fullClone');
      assert.ok(t.diskGiB >= 10, `diskGiB ${t.diskGiB}: never less than the template's disk`);
    }
  });

  it('makes the control-plane Machines with their VSphereMachines, and a MachineDeployment of the workers', () => {
    const machines = of(objects, 'Machine');
    assert.deepEqual(
      machines.map((m) => m.metadata.name),
      ['dev-cp-0', 'dev-cp-1', 'dev-cp-2'],
    );
    for (const m of machines) {
      assert.equal(m.metadata.labels?.['cluster.x-k8s.io/control-plane'], '');
      assert.equal(m.metadata.labels?.['cluster.x-k8s.io/cluster-name'], 'dev');
      assert.deepEqual(spec(m)!.infrastructureRef, {
        apiGroup: 'infrastructure.cluster.x-k8s.io',
        kind: 'VSphereMachine',
        name: m.metadata.name,
      });
      assert.ok(of(objects, 'VSphereMachine').some((vm) => vm.metadata.name === m.metadata.name));
    }
    const [md] = of(objects, 'MachineDeployment');
    assert.equal(spec(md)!.replicas, 2);
    const tmpl = spec(md)!.template;
    assert.deepEqual(spec(md)!.selector.matchLabels, tmpl.metadata.labels);
    const workerTemplate = of(objects, 'VSphereMachineTemplate').find(
      (t) => t.metadata.name === tmpl.spec.infrastructureRef.name,
    );
    assert.equal(spec(workerTemplate)!.template.spec.numCPUs, 8);
    assert.equal(spec(workerTemplate)!.template.spec.diskGiB, 10, 'diskSize 5 raised to the template disk');
  });

  it('gives the machines bootstrap data through a Secret, since no bootstrap provider runs', () => {
    const names = new Set(
      [...of(objects, 'Machine').map((m) => spec(m)!), spec(of(objects, 'MachineDeployment')[0])!.template.spec].map(
        (s) => s.bootstrap.dataSecretName,
      ),
    );
    assert.equal(names.size, 1);
    const secret = objects.find((o) => o.kind === 'Secret' && names.has(o.metadata.name)) as Loose;
    assert.equal(secret.type, 'cluster.x-k8s.io/secret');
    assert.match(secret.stringData.value, /^#cloud-config/);
  });

  it('owns everything by the ClusterDeployment, in its namespace', () => {
    for (const o of objects) {
      assert.equal(o.metadata.namespace, 'team-a');
      assert.deepEqual(
        o.metadata.ownerReferences?.map((r) => `${r.kind}/${r.name}/${r.uid}`),
        ['ClusterDeployment/dev/uid-dev'],
      );
    }
  });

  it('follows workersNumber with the replicas only, and a new machine spec with a new template name', () => {
    const scaled = renderVSphereCluster(deployment({ workersNumber: 4 }), target);
    const names = (objs: KubeObject[]) => of(objs, 'VSphereMachineTemplate').map((t) => t.metadata.name);
    assert.equal(spec(of(scaled, 'MachineDeployment')[0])!.replicas, 4);
    assert.deepEqual(names(scaled), names(objects));
    const bigger = renderVSphereCluster(deployment({ worker: { cpus: 16 } }), target);
    assert.equal(names(bigger)[0], names(objects)[0], 'control-plane template unchanged');
    assert.notEqual(names(bigger)[1], names(objects)[1], 'VSphereMachineTemplate specs are immutable');
  });

  it('refuses a deployment the gate has not made ready, naming the field', () => {
    const refused = (config: Record<string, unknown>, field: RegExp) =>
      assert.throws(
        () => renderVSphereCluster(deployment(config), target),
        (err: Error) => {
          assert.ok(err instanceof RenderError);
          assert.match(err.message, field);
          return true;
        },
      );
    refused({ ipamEnabled: undefined }, /^spec\.config\.ipamEnabled: /);
    refused({ ipPool: { name: 'ipPool' } }, /^spec\.config\.ipPool\.config: /);
    refused({ controlPlaneEndpointIP: '' }, /^spec\.config\.controlPlaneEndpointIP: /);
    refused({ workersNumber: -1 }, /^spec\.config\.workersNumber: -1 is not a whole number/);
    refused({ nameservers: '10.0.0.53' }, /^spec\.config\.nameservers: /);
    refused({ controlPlane: { memory: 'lots' } }, /^spec\.config\.controlPlane\.memory: "lots"/);
  });
});
