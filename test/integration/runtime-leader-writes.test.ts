// Leadership fences the writes controllers make through `mgr.client`, against the real API server: a reconcile that
// ignores ctx.signal and writes after the lease was lost writes nothing; a write the API server is still working on
// (held in a validating webhook) when the lease is lost is abandoned; a replica that never led writes nothing. Every
// assertion is on what the API server has.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { selfSignedServingCertificate } from '../../src/tls/certs.ts';
import { ValidatingWebhookConfigurations } from '../../src/admission/webhook.ts';
import {
  ConfigMaps,
  Events,
  KubeClient,
  Leases,
  isConflict,
  isNotFound,
  isWriteRefused,
  type ConfigMap,
  type WriteRefusedError,
} from '../../src/kube/index.ts';
import { LeaderElectionLostError, Manager, NotLeaderError, microTime, type Request } from '../../src/runtime/index.ts';
import { testKubeconfig, testNamespace } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';

let kubeconfig: string;
let namespace: string;
let direct: KubeClient;
const clients: KubeClient[] = [];

before(async () => {
  kubeconfig = await testKubeconfig();
  namespace = await testNamespace('leader-writes');
  direct = KubeClient.load({ kubeconfig });
});

after(() => {
  for (const c of clients) c.close();
  direct.close();
});

const cms = () => direct.resource(ConfigMaps);

async function exists(name: string): Promise<boolean> {
  return cms()
    .get({ namespace, name })
    .then(
      () => true,
      (err: unknown) => {
        if (isNotFound(err)) return false;
        throw err;
      },
    );
}

/** What another replica does when it takes over: the Lease names it, freshly renewed. */
async function stealLease(name: string, holder = 'intruder'): Promise<void> {
  for (;;) {
    const lease = await direct.resource(Leases).get({ namespace, name });
    const now = microTime(Date.now());
    try {
      await direct.resource(Leases).update({
        ...lease,
        spec: { ...lease.spec, holderIdentity: holder, acquireTime: now, renewTime: now, leaseDurationSeconds: 3600 },
      });
      return;
    } catch (err) {
      if (!isConflict(err)) throw err; // the leader renewed in between: read again
    }
  }
}

interface Blocked {
  /** Resolves when the reconcile of `req` has started and is blocked. */
  entered: Promise<Request>;
  release(): void;
  /** The reconcile's write: its result or its error. */
  outcome: Promise<unknown>;
}

/**
 * A manager with fast leader election whose controller, for the ConfigMap named `lease`, waits until released and then
 * calls `write` (with no signal, as writes.ts helpers do).
 */
function leaderWithBlockedReconcile(lease: string, write: (mgr: Manager) => Promise<unknown>) {
  const client = KubeClient.load({ kubeconfig });
  clients.push(client);
  const mgr = new Manager({
    client,
    leaderElection: { namespace, id: lease, leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 300 },
  });
  let enter!: (req: Request) => void;
  let release!: () => void;
  let settle!: (outcome: unknown) => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const blocked: Blocked = {
    entered: new Promise((resolve) => (enter = resolve)),
    release,
    outcome: new Promise((resolve) => (settle = resolve)),
  };
  mgr.addController({
    name: `blocked-${lease}`,
    for: ConfigMaps,
    scope: { namespace, fieldSelector: `metadata.name=${lease}` },
    reconcile: async (req) => {
      enter(req);
      await released;
      settle(await write(mgr).catch((err: unknown) => err));
    },
  });
  const stop = new AbortController();
  const done = mgr.start(stop.signal);
  done.catch(() => {});
  return { mgr, blocked, done, stop };
}

function assertRefused(err: unknown, inFlight: boolean): asserts err is WriteRefusedError {
  assert.ok(isWriteRefused(err), `expected a refused write, got ${String(err)}`);
  assert.equal(err.inFlight, inFlight);
}

describe('writes through mgr.client are fenced by leadership', () => {
  it('a reconcile blocked while the lease is lost cannot write afterwards; reads still work', async () => {
    const lease = 'fence-after-loss';
    const { mgr, blocked, done } = leaderWithBlockedReconcile(lease, (m) =>
      m.client.resource(ConfigMaps).create({ metadata: { namespace, name: 'written-after-loss' } }),
    );
    await mgr.elected;
    await cms().create({ metadata: { namespace, name: lease } });
    await blocked.entered;

    await stealLease(lease);
    await assert.rejects(done, LeaderElectionLostError);
    blocked.release();
    const err = await blocked.outcome;
    assertRefused(err, false);
    assert.ok(err.cause instanceof LeaderElectionLostError, String(err.cause));
    assert.match(err.message, /^POST \/api\/v1\/namespaces\/.*\/configmaps not sent: leader election lost/);
    assert.equal(await exists('written-after-loss'), false, 'the API server has no such ConfigMap');

    // Events are dropped, not queued for later.
    const recorder = mgr.eventRecorder('fence-test');
    recorder.event(
      (await mgr.client.resource(ConfigMaps).get({ namespace, name: lease })) as ConfigMap,
      'Normal',
      'AfterLoss',
      'x',
    );
    await recorder.flush();
    const events = await direct.resource(Events).list({ namespace });
    assert.deepEqual(
      events.items.filter((e) => e.reason === 'AfterLoss'),
      [],
    );
    const lost = await direct.resource(Leases).get({ namespace, name: lease });
    assert.equal(lost.spec?.holderIdentity, 'intruder', 'the old leader did not take the lease back');
  });

  it('a write still inside the API server when the lease is lost is abandoned, and never lands', async () => {
    // A validating webhook holds the ConfigMap's admission: the write has fully left the client and is being
    // processed by the API server when the lease goes.
    const cert = selfSignedServingCertificate(['127.0.0.1']);
    let held: { closedByServer: Promise<void>; allow(): void } | undefined;
    const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const { request } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          request: { uid: string; object: ConfigMap };
        };
        const answer = (allowed: boolean) =>
          res.end(
            JSON.stringify({
              apiVersion: 'admission.k8s.io/v1',
              kind: 'AdmissionReview',
              response: { uid: request.uid, allowed, status: allowed ? undefined : { code: 403, message: 'probe' } },
            }),
          );
        if (request.object.metadata.name === 'probe') return answer(false);
        held = {
          closedByServer: new Promise((resolve) => res.on('close', () => res.writableEnded || resolve())),
          allow: () => answer(true),
        };
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const webhooks = direct.resource(ValidatingWebhookConfigurations);
    const configuration = `hold-${namespace}`;
    const label = { 'hold-in-webhook': namespace };
    await webhooks.create({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: configuration },
      webhooks: [
        {
          name: 'hold.cluster-ipam.test',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          timeoutSeconds: 30,
          clientConfig: { url: `https://127.0.0.1:${port}/`, caBundle: Buffer.from(cert.caPem).toString('base64') },
          rules: [
            { apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'], operations: ['CREATE'], scope: '*' },
          ],
          objectSelector: { matchLabels: label },
        },
      ],
    });
    try {
      const lease = 'fence-in-flight';
      const { mgr, blocked, done } = leaderWithBlockedReconcile(lease, (m) =>
        m.client.resource(ConfigMaps).create({
          metadata: { namespace, name: 'in-flight', labels: label },
        }),
      );
      // The API server picks the webhook configuration up asynchronously: wait until it calls the webhook.
      await waitFor(
        () =>
          cms()
            .create({ metadata: { namespace, name: 'probe', labels: label } }, { dryRun: true })
            .then(
              () => false,
              (err: unknown) => /probe/.test(String(err)),
            ),
        { what: 'the webhook in the admission chain' },
      );
      await mgr.elected;
      await cms().create({ metadata: { namespace, name: lease } });
      await blocked.entered;
      blocked.release();
      const review = await waitFor(() => held, { what: 'the write held in the webhook' });

      await stealLease(lease);
      await assert.rejects(done, LeaderElectionLostError);
      const err = await blocked.outcome;
      assertRefused(err, true);
      // The client hung up, so the API server gives up the request: it closes its call to the webhook unanswered.
      await review.closedByServer;
      review.allow();
      assert.equal(await exists('in-flight'), false, 'the API server did not persist the abandoned write');
    } finally {
      await webhooks.delete({ name: configuration });
      server.closeAllConnections();
      server.close();
    }
  });

  it('a replica that has not acquired the lease writes nothing; writes made during setup do go out', async () => {
    const lease = 'fence-standby';
    const now = microTime(Date.now());
    await direct.resource(Leases).create({
      metadata: { namespace, name: lease },
      spec: { holderIdentity: 'intruder', leaseDurationSeconds: 3600, acquireTime: now, renewTime: now },
    });
    const client = KubeClient.load({ kubeconfig });
    clients.push(client);
    const mgr = new Manager({
      client,
      leaderElection: { namespace, id: lease, leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 300 },
    });
    // Setup runs on every replica before `start` (the webhook registers itself then): not fenced.
    await mgr.client.resource(ConfigMaps).create({ metadata: { namespace, name: 'during-setup' } });
    const stop = new AbortController();
    const done = mgr.start(stop.signal);
    try {
      await mgr.serving;
      const err = await mgr.client
        .resource(ConfigMaps)
        .create({ metadata: { namespace, name: 'by-standby' } })
        .catch((e: unknown) => e);
      assertRefused(err, false);
      assert.ok(err.cause instanceof NotLeaderError);
      assert.equal(await exists('by-standby'), false);
      assert.equal(await exists('during-setup'), true);
      assert.equal(
        (await mgr.client.resource(ConfigMaps).get({ namespace, name: 'during-setup' })).metadata.name,
        'during-setup',
      );
      assert.equal(mgr.isLeader(), false);
    } finally {
      stop.abort();
      await done;
    }
  });
});
