// The address-plan page in a real browser: Debian's headless Chromium loads the page a manager serves (private control
// plane, in-process manager with the page set up), takes a screenshot and dumps the DOM it rendered. The scene: a
// pool with three machines of one cluster, an excluded address, the gateway, a ClusterDeployment's endpoint address
// inside the pool, and two IPAddresses carrying one address (what the reference provider could leave behind).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ClusterDeployments } from '../../src/api/index.ts';
import { planPage } from '../../src/plan-page/serve.ts';
import { Namespaces } from '../../src/kube/index.ts';
import { privateControlPlane } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  createClaim,
  createPool,
  IPAddresses,
  startInCluster,
  suffix,
  waitForAddress,
  type Harness,
} from '../integration/in-cluster-support.ts';

const run = promisify(execFile);
const poolRef = { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool' };
const chromiumPath = process.env.CLUSTER_IPAM_CHROMIUM ?? '/usr/bin/chromium';

/** One headless Chromium run with the flags known to work on a closed network, as root, with a fresh profile. */
async function chromium(args: string[]): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'plan-page-chromium-'));
  const { stdout } = await run(
    chromiumPath,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      ...args,
    ],
    { timeout: 30_000, maxBuffer: 32 << 20 },
  );
  return stdout;
}

describe('address-plan page in headless Chromium', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  it("shows a pool's holders and highlights a conflict", async (t) => {
    await access(chromiumPath).catch(() => {
      throw new Error(
        `${chromiumPath} not found: install Debian's chromium package (apt-get install chromium; npm test does, scripts/test-setup.sh) ` +
          'or set CLUSTER_IPAM_CHROMIUM',
      );
    });
    const cp = await privateControlPlane();
    cleanup.push(() => cp.stop());
    // Run alone, the test manager's CRD install goes here too, rather than starting a second control plane.
    process.env.CLUSTER_IPAM_TEST_KUBECONFIG ??= cp.kubeconfigPath;
    const page = planPage('127.0.0.1:0');
    const h: Harness = await startInCluster({ kubeconfig: cp.kubeconfigPath, after: [page] });
    cleanup.push(() => h.stop());
    const url = await page.url;
    assert.ok(url, 'the page is served');

    // Not testNamespace(): under `npm test` that is the shared control plane, and this manager watches its own.
    const ns = `plan-page-${suffix()}`;
    await h.client.resource(Namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await createPool(h.client, ns, 'nodes', {
      addresses: ['10.230.0.10-10.230.0.40'],
      prefix: 24,
      gateway: '10.230.0.1',
      // 10.230.0.40: the hand-set endpoint of ClusterDeployment demo, kept out of the machines as the gate does.
      excludedAddresses: ['10.230.0.12', '10.230.0.40'],
    });
    const cluster = { labels: { 'cluster.x-k8s.io/cluster-name': 'demo' } };
    for (const m of ['demo-cp-0', 'demo-md-0', 'demo-md-1']) {
      await createClaim(h.client, ns, m, 'nodes', 'InClusterIPPool', cluster);
    }
    const addresses = await Promise.all(
      ['demo-cp-0', 'demo-md-0', 'demo-md-1'].map(async (m) => [
        m,
        (await waitForAddress(h.client, ns, m)).spec.address,
      ]),
    );
    // The conflict: two IPAddresses of one address, no claim behind them (the manager leaves them be).
    for (const name of ['stray-a', 'stray-b']) {
      await h.client.resource(IPAddresses).create({
        apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
        kind: 'IPAddress',
        metadata: { namespace: ns, name },
        spec: { address: '10.230.0.30', prefix: 24, claimRef: { name }, poolRef: { ...poolRef, name: 'nodes' } },
      });
    }
    // A real conflict on an endpoint: a machine's IPAddress at another cluster's endpoint address.
    await h.client.resource(IPAddresses).create({
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
      kind: 'IPAddress',
      metadata: { namespace: ns, name: 'on-endpoint' },
      spec: {
        address: '10.230.0.35',
        prefix: 24,
        claimRef: { name: 'on-endpoint' },
        poolRef: { ...poolRef, name: 'nodes' },
      },
    });
    for (const [name, endpoint] of [
      ['demo', '10.230.0.40'],
      ['other', '10.230.0.35'],
    ]) {
      await h.client.resource(ClusterDeployments).create({
        apiVersion: 'k0rdent.mirantis.com/v1beta1',
        kind: 'ClusterDeployment',
        metadata: { namespace: ns, name },
        spec: { template: 'vsphere-standalone', config: { controlPlaneEndpointIP: endpoint } },
      });
    }

    // The JSON endpoint: the same data, once the caches caught up.
    const plan = await waitFor(
      async (note) => {
        const res = await fetch(new URL('plan.json', url));
        if (!res.ok) return undefined;
        const body = (await res.json()) as {
          domains: {
            domain: string;
            pools: { name: string; holders: unknown[]; conflicts: { address: string }[] }[];
          }[];
        };
        const p = body.domains.flatMap((d) => d.pools).find((x) => x.name === 'nodes');
        note(p && { holders: p.holders.length, conflicts: p.conflicts });
        return p && p.holders.length === 8 && p.conflicts.length > 1 ? p : undefined;
      },
      { what: 'the plan to show 3 machines, 3 stray IPAddresses and 2 endpoints', timeoutMs: 20_000 },
    );
    assert.deepEqual(
      plan.conflicts.map((c) => c.address),
      ['10.230.0.30', '10.230.0.35'],
      'two holders of .30 and a machine on the endpoint .35 are conflicts; the excluded endpoint .40 is not',
    );

    const dir = await mkdtemp(join(tmpdir(), 'plan-page-'));
    const shot = join(dir, 'plan-page.png');
    await chromium([`--screenshot=${shot}`, '--window-size=1100,1500', url]);
    assert.ok((await stat(shot)).size > 10_000, 'a screenshot with content');
    t.diagnostic(`screenshot: ${shot}`);
    const dom = await chromium(['--dump-dom', url]);

    // Rendered by the browser: the grid, each machine with its address, the conflict highlighted.
    assert.match(dom, /<h1>Address plan<\/h1>/);
    assert.equal((dom.match(/class="cell /g) ?? []).length, 256, 'a /24 is 256 cells');
    for (const [machine, address] of addresses) {
      assert.match(
        dom,
        new RegExp(
          `data-address="${address!.replaceAll('.', '\\.')}" data-state="used" title="[^"]*machine ${machine} \\(cluster demo\\)`,
        ),
      );
      assert.match(
        dom,
        new RegExp(`<td>${address!.replaceAll('.', '\\.')}</td><td class="machine">${machine}</td><td>demo</td>`),
      );
    }
    assert.match(
      dom,
      /data-address="10\.230\.0\.30" data-state="conflict" title="[^"]*held by 2: claim [^"]*stray-a, claim [^"]*stray-b/,
    );
    assert.match(dom, /<tr class="holder s-conflict" data-address="10\.230\.0\.30">/);
    assert.match(dom, /<div class="conflicts"><strong>2 conflicts<\/strong>/);
    assert.match(
      dom,
      /data-address="10\.230\.0\.35" data-state="conflict" title="[^"]*held by 2: [^"]*(other[^"]*on-endpoint|on-endpoint[^"]*other)/,
    );
    assert.doesNotMatch(dom, /<tr class="holder s-conflict" data-address="10\.230\.0\.40">/);
    assert.match(dom, /data-address="10\.230\.0\.1" data-state="gateway"/);
    assert.match(dom, /data-address="10\.230\.0\.12" data-state="excluded"/);
    assert.match(dom, /data-address="10\.230\.0\.40" data-state="endpoint"[^>]*ClusterDeployment [^"]*\/demo/);
    assert.match(dom, /data-address="10\.230\.0\.255" data-state="reserved"/);
    assert.match(dom, /data-address="10\.230\.0\.16" data-state="free"/);
    assert.match(dom, /data-address="10\.230\.0\.41" data-state="outside"/);
    // The screenshot is a PNG Chromium drew.
    assert.deepEqual([...(await readFile(shot)).subarray(1, 4)], [...Buffer.from('PNG')]);
  });
});
