// The Helm chart (deploy/chart) with the real helm: lint, render (defaults safe next to Cluster API and kcm, the
// standalone preset, cert-manager TLS), the Cluster API packaging rendered from it, then `helm install` into a control
// plane of this file's own (the chart installs CRDs, cluster roles and a webhook configuration). Deployments run no
// pods there, so the manager runs here, configured by the installed Deployment's arguments and authenticated with a
// token of the chart's ServiceAccount: the guide's Option 1 and Option 2 reach Bound, machines get addresses and the
// chart's webhook configuration reaches the manager through its Service, all with the generated RBAC alone; without
// one of its rules the manager fails. `helm uninstall` leaves no webhook configuration behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { parseRunArgs, startManager, type RunOptions } from '../../src/cli/run.ts';
import { controllers } from '../../src/controllers/index.ts';
import { freePort, startControlPlane, type ControlPlane } from '../../src/local/controlplane.ts';
import { renderCAPIComponents } from '../../src/local/capi-components.ts';
import { chartDir, helm } from '../../src/local/helm.ts';
import { createLogger } from '../../src/runtime/index.ts';
import { waitFor } from '../support/wait.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered manifests, inspected freely
type Obj = Record<string, any>;

const release = 'cluster-ipam';
const ns = 'cluster-ipam-system';
const standalone = join(chartDir, 'values-standalone.yaml');
const crdDir = join(chartDir, '../crds');
const capiDir = join(chartDir, '../capi');
const fixtures = process.env.CLUSTER_IPAM_FIXTURES ?? join(chartDir, '../../test/fixtures/neighbours');
const capiKinds = ['ipaddressclaims.ipam.cluster.x-k8s.io', 'ipaddresses.ipam.cluster.x-k8s.io'];
const kcmKinds = ['clusterdeployments', 'clusteripamclaims', 'clusteripams'].map((k) => `${k}.k0rdent.mirantis.com`);

async function render(...args: string[]): Promise<Obj[]> {
  const { stdout } = await helm(['template', release, chartDir, '--namespace', ns, ...args]);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);
}

const ofKind = (docs: Obj[], kind: string): Obj[] => docs.filter((d) => d.kind === kind);
const one = (docs: Obj[], kind: string): Obj => {
  const found = ofKind(docs, kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!;
};
const crdNames = (docs: Obj[]): string[] =>
  ofKind(docs, 'CustomResourceDefinition')
    .map((d) => d.metadata.name as string)
    .sort();

function assertNoWildcards(docs: Obj[]): void {
  const roles = docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role');
  assert.ok(roles.length >= 2);
  for (const role of roles) {
    for (const rule of role.rules ?? []) {
      for (const item of [...rule.apiGroups, ...rule.resources, ...rule.verbs]) {
        assert.ok(!String(item).includes('*'), `${role.kind} ${role.metadata.name}: ${JSON.stringify(rule)}`);
      }
    }
  }
}

function managerArgs(docs: Obj[]): string[] {
  return one(docs, 'Deployment').spec.template.spec.containers[0].args as string[];
}

describe('the Helm chart, rendered', () => {
  it('lints with the default and the standalone values', async () => {
    await helm(['lint', chartDir, '--strict']);
    await helm(['lint', chartDir, '--strict', '-f', standalone]);
  });

  it('defaults are safe next to Cluster API and kcm: none of their CRDs, no workflow, no wildcard RBAC', async () => {
    const docs = await render();
    assert.deepEqual(crdNames(docs), [
      'globalinclusterippools.ipam.cluster.x-k8s.io',
      'inclusterippools.ipam.cluster.x-k8s.io',
      'infobloxinstances.ipam.cluster.x-k8s.io',
      'infobloxippools.ipam.cluster.x-k8s.io',
      'ipaddressledgers.ipam.k0rdent.mirantis.com',
      'ipaddressreservations.ipam.k0rdent.mirantis.com',
    ]);
    assertNoWildcards(docs);
    const args = managerArgs(docs);
    assert.ok(
      args.includes('--controllers=infobloxinstance,infobloxippool,ipaddressclaim,inclusterippool'),
      args.join(' '),
    );
    assert.ok(args.includes('--webhook-configuration=none'));
    // No grant on kcm's kinds when the workflow controllers are off.
    const clusterRole = one(docs, 'ClusterRole');
    assert.ok(!clusterRole.rules.some((r: Obj) => r.apiGroups.includes('k0rdent.mirantis.com')));

    const deployment = one(docs, 'Deployment');
    assert.equal(deployment.spec.replicas, 2);
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
    assert.ok(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.length > 0);
    assert.equal(one(docs, 'PodDisruptionBudget').spec.minAvailable, 1);
    assert.equal(one(docs, 'Role').rules[0].resources[0], 'leases');

    // The webhook configuration points at the chart's Service, with the CA of the chart's certificate.
    const hook = one(docs, 'ValidatingWebhookConfiguration').webhooks[0];
    assert.deepEqual(hook.clientConfig.service, {
      name: 'cluster-ipam-webhook',
      namespace: ns,
      port: 443,
      path: '/validate-ipam-cluster-x-k8s-io-v1alpha2-pools',
    });
    assert.deepEqual(hook.rules[0].resources, ['inclusterippools', 'globalinclusterippools']);
    const secret = ofKind(docs, 'Secret').find((s) => s.metadata.name === 'cluster-ipam-webhook-tls')!;
    assert.equal(hook.clientConfig.caBundle, secret.data['ca.crt']);
    const ca = new X509Certificate(Buffer.from(secret.data['ca.crt'], 'base64'));
    const cert = new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64'));
    assert.ok(cert.verify(ca.publicKey), 'the serving certificate is signed by the CA in the caBundle');
    assert.equal(cert.checkHost(`cluster-ipam-webhook.${ns}.svc`), `cluster-ipam-webhook.${ns}.svc`);
    const service = ofKind(docs, 'Service').find((s) => s.metadata.name === 'cluster-ipam-webhook')!;
    assert.equal(service.spec.ports[0].port, 443);
    assert.ok(ofKind(docs, 'Service').some((s) => s.metadata.name === 'cluster-ipam-metrics'));
  });

  it('the standalone preset installs every CRD of deploy/crds unchanged, kept on uninstall, and the workflow', async () => {
    const docs = await render('-f', standalone);
    const files = (await readdir(crdDir)).filter((f) => f.endsWith('.yaml'));
    assert.deepEqual(
      crdNames(docs),
      files.map((f) => f.replace(/\.yaml$/, '')),
    );
    for (const crd of ofKind(docs, 'CustomResourceDefinition')) {
      const { annotations, ...metadata } = crd.metadata;
      assert.deepEqual(annotations, { 'helm.sh/resource-policy': 'keep' });
      const file = parse(await readFile(join(crdDir, `${crd.metadata.name}.yaml`), 'utf8')) as Obj;
      assert.deepEqual({ ...crd, metadata }, file);
    }
    assertNoWildcards(docs);
    const args = managerArgs(docs);
    const list = args
      .find((a) => a.startsWith('--controllers='))!
      .split('=')[1]!
      .split(',');
    assert.deepEqual(
      list,
      controllers.map((c) => c.name),
    );
  });

  it('with cert-manager: a Certificate, a self-signed Issuer and CA injection instead of a chart-made Secret', async () => {
    const docs = await render('--set', 'webhook.certManager.enabled=true');
    const certificate = one(docs, 'Certificate');
    assert.equal(certificate.spec.secretName, 'cluster-ipam-webhook-tls');
    assert.deepEqual(certificate.spec.dnsNames, [
      `cluster-ipam-webhook.${ns}.svc`,
      `cluster-ipam-webhook.${ns}.svc.cluster.local`,
    ]);
    assert.deepEqual(certificate.spec.issuerRef, { kind: 'Issuer', name: one(docs, 'Issuer').metadata.name });
    const config = one(docs, 'ValidatingWebhookConfiguration');
    assert.equal(config.metadata.annotations['cert-manager.io/inject-ca-from'], `${ns}/${certificate.metadata.name}`);
    assert.equal(config.webhooks[0].clientConfig.caBundle, undefined);
    assert.equal(ofKind(docs, 'Secret').length, 0);

    const own = await render(
      '--set',
      'webhook.certManager.enabled=true',
      '--set',
      'webhook.certManager.issuerRef.kind=ClusterIssuer',
      '--set',
      'webhook.certManager.issuerRef.name=corp-ca',
    );
    assert.equal(ofKind(own, 'Issuer').length, 0);
    assert.deepEqual(one(own, 'Certificate').spec.issuerRef, { kind: 'ClusterIssuer', name: 'corp-ca' });
  });

  it('deploy/capi holds what npm run gen:capi-components renders from the chart', async () => {
    const { components, metadata } = await renderCAPIComponents();
    assert.equal(await readFile(join(capiDir, 'ipam-components.yaml'), 'utf8'), components, 'run gen:capi-components');
    assert.equal(await readFile(join(capiDir, 'metadata.yaml'), 'utf8'), metadata, 'run gen:capi-components');
    const docs = parseAllDocuments(components).map((d) => d.toJS() as Obj);
    assert.ok(docs.every((d) => d.kind === 'Namespace' || !d.metadata.namespace || d.metadata.namespace === ns));
    assert.ok(!crdNames(docs).some((n) => [...capiKinds, ...kcmKinds].includes(n)));
    assert.ok(one(docs, 'Certificate'));
    assert.ok(!JSON.stringify(docs).includes('helm.sh/'));
  });
});

/**
 * A control plane of its own with the chart installed: kubectl and helm against it, and the manager run here as the
 * installed Deployment would run it.
 */
class ChartCluster {
  readonly logs: string[] = [];
  private stopManager: (() => Promise<void>) | undefined;

  private constructor(
    readonly cp: ControlPlane,
    readonly dir: string,
    /** Where this process serves the webhook, and the webhook Service's port (see pointWebhookHere). */
    readonly webhookPort: number,
  ) {}

  static async start(): Promise<ChartCluster> {
    const cp = await startControlPlane();
    return new ChartCluster(cp, await mkdtemp(join(tmpdir(), 'cluster-ipam-chart-')), await freePort());
  }

  async stop(): Promise<void> {
    if (process.env.DEBUG_CHART) console.log(this.logs.join(''));
    await this.stopManager?.();
    await this.cp.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  kubectl(args: string[], input?: string): Promise<string> {
    return new Promise<string>((ok, fail) => {
      const child = execFile('kubectl', ['--kubeconfig', this.cp.kubeconfigPath, ...args], (err, stdout, stderr) =>
        err ? fail(new Error(`kubectl ${args.join(' ')}: ${stderr.trim()}`)) : ok(stdout),
      );
      child.stdin?.end(input ?? '');
    });
  }

  async getJSON(args: string[]): Promise<Obj> {
    return JSON.parse(await this.kubectl(['get', ...args, '-o', 'json'])) as Obj;
  }

  exists(args: string[]): Promise<boolean> {
    return this.kubectl(['get', ...args, '-o', 'name']).then(
      () => true,
      () => false,
    );
  }

  helm(args: string[]) {
    return helm([...args, '--kubeconfig', this.cp.kubeconfigPath]);
  }

  /** `helm install` of the chart with `values`, the webhook Service on this process's webhook port. */
  async install(...values: string[]) {
    const args = ['install', release, chartDir, '-n', ns, '--create-namespace', ...values];
    const result = await this.helm([...args, '--set', `webhook.service.port=${this.webhookPort}`]);
    await this.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
    return result;
  }

  /**
   * Nothing routes to a Service here: point the webhook's Service at this process before any pool is written (the
   * API server dials an ExternalName Service's name at the configuration's port, and checks the certificate for the
   * Service's DNS name).
   */
  async pointWebhookHere(): Promise<void> {
    const spec = { type: 'ExternalName', externalName: '127.0.0.1' };
    const cleared = ['clusterIP', 'clusterIPs', 'selector', 'ipFamilies', 'ipFamilyPolicy', 'internalTrafficPolicy'];
    const patch = { spec: { ...spec, ...Object.fromEntries(cleared.map((k) => [k, null])) } };
    await this.kubectl([
      'patch',
      'service',
      'cluster-ipam-webhook',
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify(patch),
    ]);
    assert.equal((await this.getJSON(['service', 'cluster-ipam-webhook', '-n', ns])).spec.type, 'ExternalName');
  }

  /**
   * Runs the manager here with the installed Deployment's arguments (bind addresses aside), the chart's webhook
   * certificate as the Deployment mounts it, and a kubeconfig whose only credential is a token of the chart's
   * ServiceAccount.
   */
  async startManager(): Promise<RunOptions> {
    const secret = await this.getJSON(['secret', 'cluster-ipam-webhook-tls', '-n', ns]);
    const certDir = join(this.dir, 'webhook-tls');
    await mkdir(certDir, { recursive: true });
    for (const f of ['ca.crt', 'tls.crt', 'tls.key']) {
      await writeFile(join(certDir, f), Buffer.from(secret.data[f], 'base64'));
    }
    const token = (await this.kubectl(['create', 'token', 'cluster-ipam', '-n', ns, '--duration=1h'])).trim();
    const config = parse(await readFile(this.cp.kubeconfigPath, 'utf8')) as Obj;
    config.users = [{ name: 'cluster-ipam', user: { token } }];
    config.contexts[0].context.user = 'cluster-ipam';
    const kubeconfig = join(this.dir, 'kubeconfig');
    await writeFile(kubeconfig, stringify(config), { mode: 0o600 });

    const deployment = await this.getJSON(['deployment', 'cluster-ipam', '-n', ns]);
    const [command, ...args] = deployment.spec.template.spec.containers[0].args as string[];
    assert.equal(command, 'run');
    const opts = parseRunArgs(args)!;
    assert.equal(opts.webhookConfiguration, 'none');
    assert.deepEqual(opts.webhookService, { namespace: ns, name: 'cluster-ipam-webhook' });
    const abort = new AbortController();
    const logs = this.logs;
    const done = startManager(
      {
        ...opts,
        kubeconfig,
        metricsBindAddress: '0',
        healthProbeBindAddress: '0',
        webhookBindAddress: `127.0.0.1:${this.webhookPort}`,
        webhookCertDir: certDir,
        logger: createLogger({ level: 'warn', destination: { write: (line: string) => void logs.push(line) } }),
      },
      controllers.filter((c) => opts.controllers!.includes(c.name)),
      abort.signal,
    );
    done.catch(() => {});
    this.stopManager = async () => {
      abort.abort();
      await done.catch(() => {});
      this.stopManager = undefined;
    };
    return opts;
  }

  get managerRuns(): boolean {
    return this.stopManager !== undefined;
  }

  async stopTheManager(): Promise<void> {
    await this.stopManager?.();
  }

  forbidden(): string[] {
    return this.logs.filter((l) => /forbidden/i.test(l));
  }

  /** An InClusterIPPool of one address range in a /24; `kubectl apply` fails if the API server refuses it. */
  async applyPool(namespace: string, name: string, addresses: string, gateway: string): Promise<void> {
    const pool = {
      apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
      kind: 'InClusterIPPool',
      metadata: { name },
      spec: { addresses: [addresses], prefix: 24, gateway },
    };
    await this.kubectl(['apply', '-n', namespace, '-f', '-'], stringify(pool));
  }

  /** A machine's IPAddressClaim from an in-cluster pool; resolves with its IPAddress. */
  async machineGetsAddress(namespace: string, name: string, pool: string): Promise<Obj> {
    await this.kubectl(['apply', '-n', namespace, '-f', '-'], stringify(machineClaim(name, pool)));
    await waitFor(() => this.exists([capiAddress, name, '-n', namespace]), { what: `the IPAddress ${name}` });
    return this.getJSON([capiAddress, name, '-n', namespace]);
  }
}

// `ipaddress` alone is networking.k8s.io's IPAddress (Kubernetes >= 1.33).
const capiAddress = 'ipaddresses.ipam.cluster.x-k8s.io';

/** A ChartCluster around the tests of the calling suite. */
function useChartCluster(): () => ChartCluster {
  let cluster: ChartCluster | undefined;
  before(async () => {
    cluster = await ChartCluster.start();
  });
  after(async () => {
    await cluster?.stop();
  });
  return () => cluster!;
}

describe('the Helm chart, installed standalone', () => {
  const chartCluster = useChartCluster();
  let cluster: ChartCluster;
  before(() => {
    cluster = chartCluster();
  });

  it('installs with helm: a server-side dry run, then for real', async () => {
    const dry = await cluster.helm([
      ...['install', release, chartDir, '-n', ns, '--create-namespace', '-f', standalone, '--dry-run=server'],
    ]);
    assert.match(dry.stdout, /STATUS: pending-install/);
    assert.equal(await cluster.exists(['crd', 'inclusterippools.ipam.cluster.x-k8s.io']), false, 'nothing created');
    await cluster.install('-f', standalone);
    const config = await cluster.getJSON(['validatingwebhookconfiguration', 'cluster-ipam-pools']);
    assert.equal(config.webhooks.length, 1);
  });

  it('a manager with the chart ServiceAccount token and arguments serves Option 1, Option 2 and machines', async () => {
    await cluster.pointWebhookHere();
    const opts = await cluster.startManager();
    assert.deepEqual(
      opts.controllers,
      controllers.map((c) => c.name),
    );

    await cluster.kubectl(['create', 'namespace', 'guide']);
    const example = (f: string) => join(chartDir, '../../examples', f);
    // Option 1: a claim, and the ClusterDeployment referencing it; Option 2: the claim inline in the ClusterDeployment.
    for (const file of ['option1-cidr/clusteripamclaim.yaml', 'option1-cidr/clusterdeployment.yaml']) {
      await cluster.kubectl(['apply', '-n', 'guide', '-f', example(file)]);
    }
    await cluster.kubectl(['apply', '-n', 'guide', '-f', example('option2-inline/clusterdeployment.yaml')]);
    for (const claim of ['dev-vsphere-1-ipam', 'prod-vsphere-ipam']) {
      await waitFor(
        async () => (await cluster.getJSON(['clusteripamclaim', claim, '-n', 'guide'])).status?.bound === true,
        { what: `${claim} bound` },
      );
    }
    for (const name of ['dev-vsphere-1', 'prod-vsphere']) {
      const d = await waitFor(
        async () => {
          const d = await cluster.getJSON(['clusterdeployment', name, '-n', 'guide']);
          const ready = d.status?.conditions?.find((c: Obj) => c.type === 'IPAMReady');
          return ready?.status === 'True' && d;
        },
        { what: `${name} IPAMReady` },
      );
      assert.equal(d.spec.config.ipamEnabled, true);
    }

    // A machine of Option 1's cluster gets its address from the claim's pool.
    const address = await cluster.machineGetsAddress('guide', 'dev-vsphere-1-cp-0', 'dev-vsphere-1-ipam');
    assert.match(address.spec.address, /^10\.0\.10\.\d+$/);

    // The chart's webhook configuration reaches the manager: deleting a pool with an address allocated is refused.
    const refused = await cluster
      .kubectl(['delete', 'inclusterippool', 'dev-vsphere-1-ipam', '-n', 'guide', '--wait=false'])
      .then(
        () => 'deleted',
        (err: Error) => err.message,
      );
    assert.match(refused, /denied the request: .*still has 1 allocated addresses/);
    assert.deepEqual(cluster.forbidden(), []);
  });

  it('without one of its rules (create IPAddresses) the manager fails to serve a machine, and recovers with it', async () => {
    assert.ok(cluster.managerRuns, 'the manager of the previous test runs');
    const role = await cluster.getJSON(['clusterrole', 'cluster-ipam']);
    const original = structuredClone(role);
    let removed = 0;
    for (const rule of role.rules as Obj[]) {
      if (!rule.resources.includes('ipaddresses') || !rule.verbs.includes('create')) continue;
      assert.deepEqual(rule.resources, ['ipaddresses'], 'the rule grants exactly this');
      rule.verbs = rule.verbs.filter((v: string) => v !== 'create');
      removed++;
    }
    assert.ok(removed > 0);
    delete role.metadata.resourceVersion;
    await cluster.kubectl(['replace', '-f', '-'], JSON.stringify(role));

    const before = cluster.logs.length;
    const served = cluster.machineGetsAddress('guide', 'dev-vsphere-1-cp-1', 'dev-vsphere-1-ipam');
    served.catch(() => {});
    await waitFor(() => cluster.logs.slice(before).some((l) => /cannot create resource .{0,2}ipaddresses/.test(l)), {
      what: 'the manager to be refused creating the IPAddress',
    });
    assert.equal(await cluster.exists([capiAddress, 'dev-vsphere-1-cp-1', '-n', 'guide']), false);

    delete original.metadata.resourceVersion;
    await cluster.kubectl(['replace', '-f', '-'], JSON.stringify(original));
    await served;
  });

  it('helm uninstall leaves no webhook configuration behind (pool writes go through) and keeps the CRDs', async () => {
    await cluster.stopTheManager();
    await cluster.helm(['uninstall', release, '-n', ns, '--wait']);
    assert.deepEqual((await cluster.getJSON(['validatingwebhookconfigurations'])).items, []);
    assert.equal(await cluster.exists(['crd', 'inclusterippools.ipam.cluster.x-k8s.io']), true, 'CRDs are kept');
    assert.equal(await cluster.exists(['clusterrole', 'cluster-ipam']), false);
    await cluster.applyPool('guide', 'after-uninstall', '192.0.2.0/28', '192.0.2.1');
    // A new install of the release takes the kept CRDs back (no webhook: nothing here could answer it).
    await cluster.helm(['install', release, chartDir, '-n', ns, '-f', standalone, '--set', 'webhook.enabled=false']);
    const manifest = (await cluster.helm(['get', 'manifest', release, '-n', ns])).stdout;
    assert.match(manifest, /name: inclusterippools\.ipam\.cluster\.x-k8s\.io/);
  });
});

describe('the Helm chart, installed with defaults next to Cluster API 1.11 and kcm', () => {
  const chartCluster = useChartCluster();

  it('installs none of their CRDs and leaves theirs untouched; the provider serves machine claims', async () => {
    const cluster = chartCluster();
    const theirs = [...capiKinds, ...kcmKinds];
    await cluster.kubectl(['create', '-f', join(fixtures, 'capi-v1.11.2'), '-f', join(fixtures, 'kcm')]);
    await cluster.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
    const versions = async () =>
      Promise.all(theirs.map(async (n) => (await cluster.getJSON(['crd', n])).metadata as Obj));
    const before = await versions();

    await cluster.install();
    const manifest = (await cluster.helm(['get', 'manifest', release, '-n', ns])).stdout;
    for (const n of theirs) assert.ok(!manifest.includes(`name: ${n}`), `${n} is not the release's`);
    const after = await versions();
    assert.deepEqual(
      after.map((m) => [m.name, m.resourceVersion, m.annotations?.['meta.helm.sh/release-name']]),
      before.map((m) => [m.name, m.resourceVersion, undefined]),
    );

    await cluster.pointWebhookHere();
    const opts = await cluster.startManager();
    assert.deepEqual(opts.controllers, ['infobloxinstance', 'infobloxippool', 'ipaddressclaim', 'inclusterippool']);
    await cluster.kubectl(['create', 'namespace', 'machines']);
    await cluster.applyPool('machines', 'nodes', '10.0.30.10-10.0.30.20', '10.0.30.1');
    const address = await cluster.machineGetsAddress('machines', 'm-0', 'nodes');
    assert.equal(address.spec.address, '10.0.30.10');
    assert.deepEqual(cluster.forbidden(), []);
  });
});

function machineClaim(name: string, pool: string): Obj {
  return {
    apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
    kind: 'IPAddressClaim',
    metadata: { name, labels: { 'cluster.x-k8s.io/cluster-name': 'dev-vsphere-1' } },
    spec: {
      clusterName: 'dev-vsphere-1',
      poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: pool },
    },
  };
}
