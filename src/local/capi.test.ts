import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CustomResourceDefinition } from '../kube/index.ts';
import { loopbackCRD, loopbackWebhooks, type WebhookEndpoints } from './capi.ts';

const endpoints: WebhookEndpoints = {
  clusterAPI: 'https://127.0.0.1:9001',
  vsphere: 'https://127.0.0.1:9002',
  caBundle: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
};

const crd = (group: string, served: string[]) =>
  ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `things.${group}` },
    spec: {
      group,
      versions: ['v1alpha4', ...served].map((name) => ({ name, served: served.includes(name), storage: false })),
    },
  }) as unknown as CustomResourceDefinition;

describe('Cluster API and CAPV manifests on loopback', () => {
  it("converts Cluster API's multi-version kinds through its webhook on loopback", () => {
    const out = loopbackCRD(crd('ipam.cluster.x-k8s.io', ['v1beta1', 'v1beta2']), endpoints) as unknown as {
      spec: { conversion: { strategy: string; webhook: { clientConfig: { url: string; caBundle: string } } } };
    };
    assert.equal(out.spec.conversion.strategy, 'Webhook');
    assert.equal(out.spec.conversion.webhook.clientConfig.url, 'https://127.0.0.1:9001/convert');
    assert.equal(
      Buffer.from(out.spec.conversion.webhook.clientConfig.caBundle, 'base64').toString(),
      endpoints.caBundle,
    );
  });

  it("labels CAPV's CRDs with the contract version Cluster API resolves their refs through", () => {
    const out = loopbackCRD(crd('infrastructure.cluster.x-k8s.io', ['v1beta1']), endpoints) as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { conversion?: unknown };
    };
    assert.equal(out.metadata.labels['cluster.x-k8s.io/v1beta1'], 'v1beta1');
    assert.equal(out.spec.conversion, undefined, 'one served version: nothing to convert');
  });

  it("points each manager's webhooks at its own server, under names that do not collide", () => {
    const config = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'validating-webhook-configuration' },
      webhooks: [
        {
          name: 'validation.vspheremachine.infrastructure.cluster.x-k8s.io',
          clientConfig: { service: { name: 'webhook-service', namespace: 'system', path: '/validate-vm' } },
        },
      ],
    };
    const capv = loopbackWebhooks(config, 'vsphere', endpoints);
    const capi = loopbackWebhooks(config, 'clusterAPI', endpoints);
    assert.notEqual(capv.metadata.name, capi.metadata.name);
    assert.deepEqual(capv.webhooks[0]!.clientConfig, {
      url: 'https://127.0.0.1:9002/validate-vm',
      caBundle: Buffer.from(endpoints.caBundle).toString('base64'),
    });
    assert.equal((capi.webhooks[0]!.clientConfig as { url: string }).url, 'https://127.0.0.1:9001/validate-vm');
  });
});
