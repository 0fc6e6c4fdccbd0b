// A claim the API server deletes although it carries the ReleaseAddress finalizer. The API server's DELETE checks
// the finalizers of the object it read first; when the manager adds its finalizer between that read and the removal
// (a claim deleted a few ms after its creation), the claim goes without its release while its address is being
// allocated (found by the chaos suite: host records and IPAddresses left behind). The race is made deterministic
// with a validating webhook that holds the DELETE after that read: the claim is paused (no finalizer) when the DELETE
// reads it, unpaused while the DELETE is held, and the DELETE goes on once the allocation has reached the appliance.
// Whatever the appliance commits for it, before or after it went, must be given back.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { IPAddressClaims, IPAddresses } from '../../src/api/index.ts';
import { selfSignedServingCertificate } from '../../src/tls/certs.ts';
import { ValidatingWebhookConfigurations } from '../../src/admission/webhook.ts';
import { createLogger } from '../../src/runtime/index.ts';
import { testNamespace } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  createClaim,
  createInstance,
  createPool,
  gone,
  infobloxEnv,
  instanceReady,
  poolReady,
  recordsByName,
  testTuning,
  type Env,
} from './infoblox-support.ts';

const run = `vanished-${process.pid}`;
const label = 'cluster-ipam.test/hold-delete';
const paused = 'cluster.x-k8s.io/paused';

/** Holds DELETEs of the claims named in `holds` until their promise resolves; allows everything else at once. */
function holdingWebhook() {
  const cert = selfSignedServingCertificate(['127.0.0.1']);
  const seen = new Set<string>();
  const holds = new Map<string, Promise<void>>();
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        request: { uid: string; name: string; operation: string };
      };
      const { uid, name, operation } = review.request;
      if (operation === 'DELETE') seen.add(name);
      void (holds.get(name) ?? Promise.resolve()).then(() => {
        res.setHeader('Content-Type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid, allowed: true },
          }),
        );
      });
    });
  });
  return { cert, seen, holds, server };
}

describe('infoblox: a claim deleted by the API server despite its finalizer', () => {
  let env: Env;
  let ns: string;
  const hook = holdingWebhook();
  const claims = () => env.client.resource(IPAddressClaims);
  /** Host records the appliance has created so far (answered or not). */
  const created = () =>
    env.sim.requests.recent.filter((r) => r.method === 'POST' && r.object === 'record:host' && r.status === 201).length;

  /** The manager's log lines saying it released for a claim that went without its release. */
  const vanishedLog: string[] = [];

  before(async () => {
    env = await infobloxEnv({ network: [{ network: '10.93.0.0/24' }] });
    const line = /released for a claim the API server deleted without its release/;
    const destination = { write: (l: string) => void (line.test(l) && vanishedLog.push(l)) };
    await env.startManager(undefined, { logger: createLogger({ level: 'info', destination }) });
    hook.server.listen(0, '127.0.0.1');
    await once(hook.server, 'listening');
    const port = (hook.server.address() as AddressInfo).port;
    await env.client.resource(ValidatingWebhookConfigurations).create({
      metadata: { name: run },
      webhooks: [
        {
          name: 'hold-delete.cluster-ipam.test',
          clientConfig: {
            url: `https://127.0.0.1:${port}/`,
            caBundle: Buffer.from(hook.cert.caPem).toString('base64'),
          },
          rules: [
            {
              apiGroups: ['ipam.cluster.x-k8s.io'],
              apiVersions: ['*'],
              operations: ['DELETE'],
              resources: ['ipaddressclaims'],
            },
          ],
          objectSelector: { matchLabels: { [label]: run } },
          failurePolicy: 'Fail',
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 30,
        },
      ],
    });
    await createInstance(env.client, 'ib', env.instanceSpec());
    await instanceReady(env.client, 'ib');
    ns = await testNamespace('ib-vanished');
    await createPool(env.client, ns, 'pool', { instance: { name: 'ib' }, subnets: [{ cidr: '10.93.0.0/24' }] });
    await poolReady(env.client, ns, 'pool');
    // The API server takes a new webhook configuration up asynchronously: until a probe's DELETE reaches it.
    let probes = 0;
    await waitFor(
      async () => {
        const name = `probe-${probes++}`;
        await createClaim(env.client, ns, name, 'pool', { labels: { [label]: run }, annotations: { [paused]: '' } });
        await claims().delete({ namespace: ns, name });
        return hook.seen.has(name);
      },
      { what: 'the webhook to be called', timeoutMs: 30_000, intervalMs: 200 },
    );
  });

  after(async () => {
    await env?.client
      .resource(ValidatingWebhookConfigurations)
      .delete({ name: run })
      .catch(() => {});
    hook.server.closeAllConnections();
    hook.server.close();
    await env?.stop();
  });

  /**
   * Creates the claim paused, sends its DELETE (held once the API server has read the claim without a finalizer),
   * unpauses it and lets the DELETE go once the manager's POST of its host record has reached the appliance: the
   * claim is gone, finalizer and all, while the POST is under way. `latencyMs` delays that POST on the appliance.
   */
  async function vanishWhileAllocating(name: string, latencyMs: number): Promise<void> {
    const fault = env.sim.faults.add({
      kind: 'latency',
      when: 'before',
      latencyMs,
      count: 1,
      method: 'POST',
      object: 'record:host',
    });
    let letGo!: () => void;
    hook.holds.set(name, new Promise<void>((resolve) => (letGo = resolve)));
    await createClaim(env.client, ns, name, 'pool', { labels: { [label]: run }, annotations: { [paused]: '' } });
    const deleting = claims().delete({ namespace: ns, name });
    await waitFor(() => hook.seen.has(name), { what: `the DELETE of ${name} to be held` });
    await claims().patch({ namespace: ns, name }, { metadata: { annotations: { [paused]: null } } });
    await waitFor(() => !env.sim.faults.list().some((f) => f.id === fault.id), {
      what: `the POST of host record ${name} to reach the appliance`,
    });
    letGo();
    await deleting;
    assert.ok(await gone(() => claims().get({ namespace: ns, name })), `claim ${name} is gone`);
    // And says so (an ordinary deletion does not: test/integration/capv-claims.test.ts).
    await waitFor(() => vanishedLog.some((l) => JSON.parse(l).name === name), {
      what: `the manager to log the release for claim ${name}`,
      timeoutMs: 30_000,
    });
  }

  it('gives back a host record the appliance commits after the write timed out and the claim went', async () => {
    // Beyond the client's timeout: the manager gives up on the POST, the appliance applies it later.
    const before = created();
    await vanishWhileAllocating('late', testTuning.wapiTimeoutMs! + 1000);
    await waitFor(() => created() > before, { what: 'the late POST to be applied' });
    await waitFor(() => !recordsByName(env.sim).has('late'), {
      what: 'host record late to be released',
      timeoutMs: 30_000,
    });
    assert.ok(await gone(() => env.client.resource(IPAddresses).get({ namespace: ns, name: 'late' })));
  });

  it('gives back an address allocated, and an IPAddress written, after the claim went', async () => {
    // Answered within the timeout, but after the claim is gone: the manager goes on and writes the IPAddress.
    const before = created();
    await vanishWhileAllocating('answered', 800);
    await waitFor(() => created() > before, { what: 'the POST to be applied' });
    await waitFor(
      async () =>
        !recordsByName(env.sim).has('answered') &&
        (await gone(() => env.client.resource(IPAddresses).get({ namespace: ns, name: 'answered' }))),
      { what: 'host record and IPAddress of claim answered to be released', timeoutMs: 30_000 },
    );
  });
});
