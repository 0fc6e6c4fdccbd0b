// The pools' validating admission webhook, called by the real API server over TLS (self-made CA in the caBundle):
// kubectl is refused, with a message naming the field and the addresses, when a pool would be invalid, would shrink
// under live allocations, or would be deleted while addresses are allocated from it (unless annotated to skip).
// The webhook here only sees pools labelled for this run: other test files share the control plane.
import assert from 'node:assert/strict';
import https from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { inClusterPoolWebhook, type PoolWebhook } from '../../src/admission/webhook.ts';
import { kubectl, testNamespace, ownControlPlane } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  createClaim,
  IPAddressClaims,
  IPAddresses,
  InClusterIPPools,
  labelledPoolYaml,
  readyOf,
  startInCluster,
  suffix,
  waitForAddress,
  waitGone,
  type Harness,
} from './in-cluster-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

const run = suffix();
const label = { 'cluster-ipam.test/webhook': run };

const poolYaml = (ns: string, name: string, addresses: string[], extra = ''): string =>
  labelledPoolYaml(ns, name, addresses, label, extra);

describe('in-cluster pools: admission webhook', () => {
  let h: Harness;
  let webhook: PoolWebhook;
  const stop = new AbortController();
  const configurationName = `cluster-ipam-test-${run}`;
  before(async () => {
    webhook = inClusterPoolWebhook({
      host: '127.0.0.1',
      port: 0,
      configurationName,
      matchLabels: label,
      signal: stop.signal,
      unregisterOnStop: true,
    });
    h = await startInCluster({ after: [webhook] });
    await webhook.ready;
    // The API server picks up a new webhook configuration asynchronously: wait until it refuses a bad pool.
    const ns = await testNamespace('ic-webhook-probe');
    await waitFor(
      async () => {
        const r = await kubectl(['apply', '-f', '-'], {
          input: poolYaml(ns, 'probe', ['fd00:9::9-fd00:9::1']),
          check: false,
        });
        return r.code !== 0 && /starts after it ends/.test(r.stderr);
      },
      { what: 'the webhook to be called' },
    );
  });
  after(async () => {
    stop.abort();
    await h?.stop();
    await kubectl(['delete', 'validatingwebhookconfiguration', configurationName, '--ignore-not-found']);
  });

  it("keeps an idle connection open longer than Node's 5 s default, so the API server never reuses a closed one", async () => {
    // The API server reuses idle webhook connections for up to 90 s and does not retry a POST on a reset (CI saw
    // "connection reset by peer" refusals). Idleness is what is tested here, so this one test must stay idle a while.
    const url = new URL(await webhook.ready);
    const caBundle = await kubectl([
      'get',
      'validatingwebhookconfiguration',
      configurationName,
      '-o',
      'jsonpath={.webhooks[0].clientConfig.caBundle}',
    ]);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: Buffer.from(caBundle.stdout, 'base64') });
    const post = () =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = https.request(
          url,
          { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
          },
        );
        req.on('error', reject);
        req.end('{}');
      });
    try {
      assert.equal((await post()).status, 400);
      await delay(6_500);
      const second = await post();
      assert.equal(second.status, 400);
      assert.ok(second.reused, 'the webhook closed a connection idle for 6.5 s');
    } finally {
      agent.destroy();
    }
  });

  it('refuses a pool the CRD schema cannot judge invalid, naming the field', async () => {
    const ns = await testNamespace('ic-webhook-invalid');
    const r = await kubectl(['apply', '-f', '-'], {
      input: poolYaml(ns, 'bad', ['fd00:9::9-fd00:9::1']),
      check: false,
    });
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /denied the request: InClusterIPPool bad is invalid: spec\.addresses\[0\]: "fd00:9::9-fd00:9::1": the range starts after it ends/,
    );
  });

  it('refuses a shrink that would strand allocated addresses; allows growing and shrinking around them', async () => {
    const ns = await testNamespace('ic-webhook-shrink');
    await kubectl(['apply', '-f', '-'], { input: poolYaml(ns, 'p', ['10.204.0.10-10.204.0.20']) });
    await createClaim(h.client, ns, 'm0', 'p');
    await createClaim(h.client, ns, 'm1', 'p');
    await waitForAddress(h.client, ns, 'm0');
    await waitForAddress(h.client, ns, 'm1');

    const shrink = await kubectl(['apply', '-f', '-'], {
      input: poolYaml(ns, 'p', ['10.204.0.11-10.204.0.20']),
      check: false,
    });
    assert.notEqual(shrink.code, 0);
    assert.match(
      shrink.stderr,
      /InClusterIPPool p cannot shrink under live allocations: spec\.addresses: allocated addresses would no longer be in the pool: 10\.204\.0\.10/,
    );
    const exclude = await kubectl(
      ['patch', 'inclusterippool', 'p', '--type', 'merge', '-p', '{"spec":{"excludedAddresses":["10.204.0.11"]}}'],
      { namespace: ns, check: false },
    );
    assert.match(exclude.stderr, /spec\.excludedAddresses: allocated addresses would be excluded: 10\.204\.0\.11/);

    await kubectl(['apply', '-f', '-'], { input: poolYaml(ns, 'p', ['10.204.0.10-10.204.0.11']) });
    await kubectl(['apply', '-f', '-'], { input: poolYaml(ns, 'p', ['10.204.0.10-10.204.0.30']) });
    const pool = await h.client.resource(InClusterIPPools).get({ namespace: ns, name: 'p' });
    assert.deepEqual(pool.spec.addresses, ['10.204.0.10-10.204.0.30']);
  });

  it('lets a pool holding an address outside it (a moved IPAddress) grow; refuses taking out one it offered', async () => {
    const ns = await testNamespace('ic-webhook-moved');
    await kubectl(['apply', '-f', '-'], { input: poolYaml(ns, 'p', ['10.204.3.10-10.204.3.20']) });
    await createClaim(h.client, ns, 'm0', 'p');
    assert.equal((await waitForAddress(h.client, ns, 'm0')).spec.address, '10.204.3.10');
    // As clusterctl move re-creates it: an IPAddress of the pool whose address the pool (changed since) no longer has.
    await h.client.resource(IPAddresses).create({
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
      kind: 'IPAddress',
      metadata: { namespace: ns, name: 'moved' },
      spec: {
        address: '10.204.3.99',
        prefix: 24,
        poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'p' },
        claimRef: { name: 'moved' },
      },
    });
    await waitFor(
      async () => {
        const r = await kubectl(['delete', 'inclusterippool', 'p', '--dry-run=server'], {
          namespace: ns,
          check: false,
        });
        return /still has 2 allocated addresses \(10\.204\.3\.10, 10\.204\.3\.99\)/.test(r.stderr);
      },
      { what: 'the webhook to count the moved IPAddress' },
    );

    await kubectl(['apply', '-f', '-'], { input: poolYaml(ns, 'p', ['10.204.3.10-10.204.3.30']) });
    const shrink = await kubectl(['apply', '-f', '-'], {
      input: poolYaml(ns, 'p', ['10.204.3.11-10.204.3.30']),
      check: false,
    });
    assert.notEqual(shrink.code, 0);
    assert.match(shrink.stderr, /spec\.addresses: allocated addresses would no longer be in the pool: 10\.204\.3\.10;/);
    const pool = await h.client.resource(InClusterIPPools).get({ namespace: ns, name: 'p' });
    assert.deepEqual(pool.spec.addresses, ['10.204.3.10-10.204.3.30']);
  });

  it('refuses to delete a pool with allocations unless annotated; the annotated one waits for its addresses', async () => {
    const ns = await testNamespace('ic-webhook-delete');
    await kubectl(['apply', '-f', '-'], { input: poolYaml(ns, 'p', ['10.204.1.1-10.204.1.9']) });
    await createClaim(h.client, ns, 'm', 'p');
    await waitForAddress(h.client, ns, 'm');

    const refused = await kubectl(['delete', 'inclusterippool', 'p'], { namespace: ns, check: false });
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /InClusterIPPool p still has 1 allocated addresses \(10\.204\.1\.1\): delete their IPAddressClaims first, or annotate the pool with ipam\.cluster\.x-k8s\.io\/skip-validate-delete-webhook/,
    );
    assert.equal(
      (await h.client.resource(InClusterIPPools).get({ namespace: ns, name: 'p' })).metadata.deletionTimestamp,
      undefined,
    );

    await kubectl(['annotate', 'inclusterippool', 'p', 'ipam.cluster.x-k8s.io/skip-validate-delete-webhook=true'], {
      namespace: ns,
    });
    await kubectl(['delete', 'inclusterippool', 'p', '--wait=false'], { namespace: ns });
    const deleting = await waitFor(
      async () => {
        const p = await h.client.resource(InClusterIPPools).get({ namespace: ns, name: 'p' });
        return readyOf(p)?.reason === 'Deleting' ? p : undefined;
      },
      { what: 'the pool to report Deleting' },
    );
    assert.ok(deleting.metadata.finalizers?.includes('ipam.cluster.x-k8s.io/ProtectPool'));
    await h.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'm' });
    await waitGone(() => h.client.resource(InClusterIPPools).get({ namespace: ns, name: 'p' }), 'the pool');

    // An empty pool goes at once.
    await kubectl(['apply', '-f', '-'], { input: poolYaml(ns, 'empty', ['10.204.1.1']) });
    await kubectl(['delete', 'inclusterippool', 'empty'], { namespace: ns });
  });
});
