// Proves the local control plane is the real thing: structural CRDs with CEL validation, the status of
// requests as a user sees them through kubectl, watches, and the garbage collector of kube-controller-manager.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeClient, resourceType, type KubeObject } from '../../src/kube/index.ts';
import { Informer } from '../../src/runtime/index.ts';
import { kubectl, testKubeconfig, testNamespace } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';

const crd = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.controlplane-test.example.com
spec:
  group: controlplane-test.example.com
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: { type: integer }
              address: { type: string, maxLength: 64 }
            x-kubernetes-validations:
            - rule: "!has(oldSelf.size) || self.size >= oldSelf.size"
              message: "spec.size may not shrink"
            - rule: "!has(self.address) || isIP(self.address)"
              message: "spec.address must be an IP address"
`;

test('the local control plane enforces CEL rules, serves watches and collects garbage', async (t) => {
  await kubectl(['apply', '-f', '-'], { input: crd });
  await kubectl(['wait', '--for', 'condition=Established', 'crd/widgets.controlplane-test.example.com']);
  const ns = await testNamespace('controlplane');

  const client = KubeClient.load({ kubeconfig: await testKubeconfig() });
  const widgets = client.resource(
    resourceType<KubeObject & { spec?: { size?: number } }>({
      group: 'controlplane-test.example.com',
      version: 'v1',
      kind: 'Widget',
      plural: 'widgets',
      namespaced: true,
    }),
  );
  // Our reflector (list + watch with retries), as the controllers use it.
  type Widget = KubeObject & { spec?: { size?: number } };
  const seen: { type: string; object: Widget }[] = [];
  const informer = new Informer(widgets, { namespace: ns });
  informer.addEventHandler({
    onAdd: (object) => seen.push({ type: 'ADDED', object }),
    onUpdate: (_, object) => seen.push({ type: 'MODIFIED', object }),
    onDelete: (object) => seen.push({ type: 'DELETED', object }),
  });
  const stopWatch = new AbortController();
  const watching = informer.run(stopWatch.signal);
  t.after(() => {
    stopWatch.abort();
    client.close();
  });

  await kubectl(['apply', '-f', '-'], {
    namespace: ns,
    input:
      'apiVersion: controlplane-test.example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3, address: 10.0.0.1}\n',
  });

  const shrink = await kubectl(['patch', 'widget', 'w1', '--type=merge', '-p', '{"spec":{"size":2}}'], {
    namespace: ns,
    check: false,
  });
  assert.notEqual(shrink.code, 0);
  assert.match(shrink.stderr, /spec\.size may not shrink/);
  const badIP = await kubectl(['patch', 'widget', 'w1', '--type=merge', '-p', '{"spec":{"address":"10.0.0.300"}}'], {
    namespace: ns,
    check: false,
  });
  assert.match(badIP.stderr, /spec\.address must be an IP address/);

  await kubectl(['patch', 'widget', 'w1', '--type=merge', '-p', '{"spec":{"size":5}}'], { namespace: ns });
  await waitFor(() => seen.some((e) => e.type === 'MODIFIED' && e.object.spec?.size === 5), {
    what: 'the watch to deliver the accepted update',
  });
  // Rejected updates never reach the watch: one ADDED, one MODIFIED.
  assert.deepEqual(
    seen.map((e) => [e.type, e.object.metadata.name, e.object.spec?.size]),
    [
      ['ADDED', 'w1', 3],
      ['MODIFIED', 'w1', 5],
    ],
  );

  const uid = (await kubectl(['get', 'widget', 'w1', '-o', 'jsonpath={.metadata.uid}'], { namespace: ns })).stdout;
  await kubectl(['apply', '-f', '-'], {
    namespace: ns,
    input: `apiVersion: v1
kind: ConfigMap
metadata:
  name: owned
  ownerReferences:
  - {apiVersion: controlplane-test.example.com/v1, kind: Widget, name: w1, uid: ${uid}}
`,
  });
  await kubectl(['delete', 'widget', 'w1'], { namespace: ns });
  await waitFor(() => seen.some((e) => e.type === 'DELETED'), { what: 'the watch to deliver the delete' });
  // The garbage collector discovers new CRDs periodically; give it well over its 30 s resync.
  await waitFor(
    async () => (await kubectl(['get', 'configmap', 'owned'], { namespace: ns, check: false })).code !== 0,
    { timeoutMs: 90_000, intervalMs: 500, what: 'the garbage collector to delete the owned ConfigMap' },
  );
  stopWatch.abort();
  await watching.catch(() => {});
});
