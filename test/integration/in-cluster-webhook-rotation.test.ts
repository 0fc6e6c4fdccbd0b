// The pools' webhook served from a mounted certificate, as the chart runs it (`--webhook-cert-dir`, the
// configuration left to the installer): cert-manager renews the certificate with a new key and CA, the CA injector
// puts the new CA in the caBundle, the kubelet swaps the mounted files. Pool writes keep working, without a restart.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { selfSignedServingCertificate } from '../../src/tls/certs.ts';
import {
  poolWebhookConfiguration,
  poolWebhookPath,
  ValidatingWebhookConfigurations,
} from '../../src/admission/webhook.ts';
import { KubeClient } from '../../src/kube/index.ts';
import { kubectl, testKubeconfig, testNamespace, ownControlPlane } from '../support/cluster.ts';
import { startTestManager, type TestManager } from '../support/manager.ts';
import { mountSecret, tlsFiles } from '../support/secret-volume.ts';
import { waitFor } from '../support/wait.ts';
import { freePort, labelledPoolYaml, suffix } from './in-cluster-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

const run = suffix();
const label = { 'cluster-ipam.test/webhook-rotation': run };

const poolYaml = (ns: string, name: string, addresses: string[]): string =>
  labelledPoolYaml(ns, name, addresses, label);

describe('in-cluster pools: webhook certificate renewal', () => {
  let dir: string;
  let manager: TestManager;
  let client: KubeClient;
  let url: string;
  const configurationName = `cluster-ipam-rotation-${run}`;

  /** What cert-manager's CA injector does: the configuration's caBundle is the Secret's ca.crt. */
  async function injectCA(caPem: string): Promise<void> {
    await client
      .resource(ValidatingWebhookConfigurations)
      .apply(poolWebhookConfiguration(configurationName, { caPem, target: { url }, matchLabels: label }), {
        force: true,
      });
  }

  /** The API server calls the webhook and trusts it: an invalid pool is refused by it, a valid one goes through. */
  async function webhookAnswers(ns: string, name: string, addresses: string[]): Promise<boolean> {
    const bad = await kubectl(['apply', '-f', '-'], {
      input: poolYaml(ns, name, ['fd00:9::9-fd00:9::1']),
      check: false,
    });
    if (!/denied the request: .*the range starts after it ends/.test(bad.stderr)) return false;
    const good = await kubectl(['apply', '-f', '-'], { input: poolYaml(ns, name, addresses), check: false });
    return good.code === 0;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'webhook-tls-'));
    const first = selfSignedServingCertificate(['127.0.0.1']);
    await mountSecret(dir, tlsFiles(first));
    const port = await freePort();
    url = `https://127.0.0.1:${port}${poolWebhookPath}`;
    const kubeconfig = await testKubeconfig();
    client = KubeClient.load({ kubeconfig });
    manager = await startTestManager([], {
      webhookBindAddress: `127.0.0.1:${port}`,
      webhookUrl: url,
      webhookCertDir: dir,
      webhookConfiguration: 'none',
    });
    await injectCA(first.caPem);
  });

  after(async () => {
    await manager?.stop();
    await client
      ?.resource(ValidatingWebhookConfigurations)
      .delete({ name: configurationName })
      .catch(() => {});
    client?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps judging pool writes after the certificate, its key and its CA are renewed', async () => {
    const ns = await testNamespace('ic-webhook-rotation');
    await waitFor(() => webhookAnswers(ns, 'p', ['10.205.0.1-10.205.0.9']), {
      what: 'the webhook to judge pool writes with the first certificate',
      timeoutMs: 60_000,
    });

    for (const round of [1, 2]) {
      const renewed = selfSignedServingCertificate(['127.0.0.1']);
      await mountSecret(dir, tlsFiles(renewed));
      await injectCA(renewed.caPem);
      await waitFor(() => webhookAnswers(ns, 'p', [`10.205.0.1-10.205.0.${9 + round}`]), {
        what: `the webhook to judge pool writes after renewal ${round}`,
        timeoutMs: 60_000,
      });
    }
    const pool = await kubectl(['get', 'inclusterippool', 'p', '-o', 'jsonpath={.spec.addresses[0]}'], {
      namespace: ns,
    });
    assert.equal(pool.stdout, '10.205.0.1-10.205.0.11');
  });
});
