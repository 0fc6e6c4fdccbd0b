// The validating admission webhook of the in-cluster pools, served by the manager over HTTPS (AdmissionReview v1),
// with a certificate it makes itself (certs.ts) or one mounted from elsewhere and followed as it is renewed
// (cert-dir.ts), and a ValidatingWebhookConfiguration it registers with that CA.
// It answers on every replica (the informer caches run on stand-bys too), from the manager's caches once synced and
// from live LISTs before. The decisions are in pools.ts.
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { IPAddresses, IPAddressLedgers, IPAddressReservations } from '../api/index.ts';
import { resourceType, isNotFound, type KubeObject } from '../kube/index.ts';
import { poolKey, tryParseAddress } from '../providers/in-cluster/names.ts';
import type { PoolObject } from '../providers/in-cluster/pools.ts';
import { inClusterProvider } from '../providers/in-cluster/provider.ts';
import type { ControllerSetup, Manager } from '../runtime/index.ts';
import type { Address } from '../core/index.ts';
import { isWriteRefused } from '../kube/index.ts';
import { followServingCertificate, readServingCertificate } from './cert-dir.ts';
import { selfSignedServingCertificate } from '../tls/certs.ts';
import { reviewPool, type Operation, type Verdict } from './pools.ts';

interface WebhookConfiguration extends KubeObject {
  webhooks: Record<string, unknown>[];
}

export const ValidatingWebhookConfigurations = resourceType<WebhookConfiguration>({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  kind: 'ValidatingWebhookConfiguration',
  plural: 'validatingwebhookconfigurations',
  namespaced: false,
});

export const poolWebhookPath = '/validate-ipam-cluster-x-k8s-io-v1alpha2-pools';
/** How long an idle connection from the API server stays open: longer than its own 90 s idle timeout. */
export const webhookKeepAliveMs = 120_000;

export interface PoolWebhookOptions {
  /** Where to listen (default 0.0.0.0 on port 9443; port 0 picks a free one). */
  host?: string;
  port?: number;
  /**
   * How the API server reaches the webhook: a Service (in the cluster), or a URL (outside it; default
   * https://<host>:<port><path> once listening).
   */
  service?: { namespace: string; name: string; port?: number };
  url?: string;
  /** Names the serving certificate is for (default: the Service's DNS names, else the host). */
  hosts?: string[];
  /**
   * Where a certificate from elsewhere (e.g. cert-manager) is mounted: served while there, reloaded when it changes
   * (and re-registered, when registering). Without one (or with an empty directory) a self-signed one is made.
   */
  certificateDir?: string;
  /** Default cluster-ipam-in-cluster-pools. */
  configurationName?: string;
  /** Only pools with these labels go through this webhook (tests sharing a control plane use it). */
  matchLabels?: Record<string, string>;
  /** Default Fail: a change the webhook cannot judge is refused. */
  failurePolicy?: 'Fail' | 'Ignore';
  /** Default true; false where the configuration is installed by other means (the Helm chart owns it). */
  register?: boolean;
  /** Stops the server; with `unregisterOnStop` the configuration is deleted too. */
  signal?: AbortSignal;
  unregisterOnStop?: boolean;
}

interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  operation: Operation;
  name?: string;
  namespace?: string;
  object?: PoolObject | null;
  oldObject?: PoolObject | null;
}

const poolKinds = ['InClusterIPPool', 'GlobalInClusterIPPool'];

/** The ValidatingWebhookConfiguration that sends pool changes to the webhook `target` serving with `caPem`. */
export function poolWebhookConfiguration(
  name: string,
  opts: {
    caPem: string;
    target: { url: string } | { service: { namespace: string; name: string; port: number; path: string } };
    failurePolicy?: 'Fail' | 'Ignore';
    matchLabels?: Record<string, string>;
  },
): WebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name, labels: { 'app.kubernetes.io/part-of': 'cluster-ipam' } },
    webhooks: [
      {
        name: 'pools.in-cluster.ipam.k0rdent.mirantis.com',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: opts.failurePolicy ?? 'Fail',
        timeoutSeconds: 10,
        clientConfig: { caBundle: Buffer.from(opts.caPem).toString('base64'), ...opts.target },
        rules: [
          {
            apiGroups: ['ipam.cluster.x-k8s.io'],
            apiVersions: ['v1alpha2'],
            resources: ['inclusterippools', 'globalinclusterippools'],
            operations: ['CREATE', 'UPDATE', 'DELETE'],
            scope: '*',
          },
        ],
        ...(opts.matchLabels ? { objectSelector: { matchLabels: opts.matchLabels } } : {}),
      },
    ],
  };
}

export interface PoolWebhook extends ControllerSetup {
  /** The URL the API server calls, once registered. */
  readonly ready: Promise<string>;
}

export function inClusterPoolWebhook(opts: PoolWebhookOptions = {}): PoolWebhook {
  let resolveReady!: (url: string) => void;
  let rejectReady!: (err: unknown) => void;
  const ready = new Promise<string>((ok, fail) => ((resolveReady = ok), (rejectReady = fail)));
  ready.catch(() => {});
  return {
    name: 'inclusterippool-webhook',
    ready,
    async setup(mgr) {
      try {
        resolveReady(await serve(mgr, opts));
      } catch (err) {
        rejectReady(err);
        throw err;
      }
    },
  };
}

async function serve(mgr: Manager, opts: PoolWebhookOptions): Promise<string> {
  const log = mgr.logger.child({ component: 'webhook' });
  const provider = inClusterProvider(mgr);
  const host = opts.host ?? '0.0.0.0';
  const svc = opts.service;
  const hosts =
    opts.hosts ??
    (svc ? [`${svc.name}.${svc.namespace}.svc`, `${svc.name}.${svc.namespace}.svc.cluster.local`] : [host]);
  const mounted = opts.certificateDir ? await readServingCertificate(opts.certificateDir) : undefined;
  const cert = mounted ?? selfSignedServingCertificate(hosts);
  let caPem = cert.caPem;

  /** Addresses held from the pool: its IPAddresses and live reservations (cache once synced, else the API). */
  async function allocated(key: string, namespace: string | undefined): Promise<Address[]> {
    const [kind] = key.split('/');
    const ns = kind === 'InClusterIPPool' ? namespace : undefined;
    // Once synced, the address book has them per pool; before, the API is asked.
    if (provider.ipAddresses.hasSynced() && provider.reservations.hasSynced() && provider.ledgers.hasSynced()) {
      return provider.book.heldBy(key);
    }
    const ips = (await mgr.client.resource(IPAddresses).listAll({ namespace: ns })).items.filter(
      (a) => a.spec.poolRef.kind === kind && poolKey(kind, a.metadata.namespace, a.spec.poolRef.name) === key,
    );
    const reservations = (await mgr.client.resource(IPAddressReservations).listAll()).items.filter(
      (r) => poolKey(r.spec.poolRef.kind, r.spec.poolRef.namespace, r.spec.poolRef.name) === key,
    );
    const entries = (await mgr.client.resource(IPAddressLedgers).listAll()).items.flatMap((l) =>
      Object.entries(l.spec.entries ?? {}).filter(
        ([, e]) => !e.releasedAt && poolKey(e.poolRef.kind, e.poolRef.namespace, e.poolRef.name) === key,
      ),
    );
    const held = new Map<string, Address>();
    for (const text of [
      ...ips.map((a) => a.spec.address),
      ...reservations.filter((r) => !r.spec.releasedAt).map((r) => r.spec.address),
      ...entries.map(([address]) => address),
    ]) {
      const a = tryParseAddress(text);
      if (a) held.set(`${a.family}/${a.value}`, a);
    }
    return [...held.values()];
  }

  async function review(req: AdmissionRequest): Promise<Verdict> {
    if (!poolKinds.includes(req.kind.kind)) return { allowed: true };
    const name = req.name ?? req.object?.metadata.name ?? req.oldObject?.metadata.name ?? '';
    const key = poolKey(req.kind.kind, req.namespace, name);
    const held = req.operation === 'CREATE' ? [] : await allocated(key, req.namespace);
    return reviewPool(req.operation, req.object ?? undefined, req.oldObject ?? undefined, held);
  }

  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (httpReq, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (httpReq.method !== 'POST' || httpReq.url?.split('?')[0] !== poolWebhookPath) return reply(404, {});
    const chunks: Buffer[] = [];
    let size = 0;
    httpReq.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 8 << 20) httpReq.destroy();
      else chunks.push(c);
    });
    httpReq.on('end', () => {
      let request: AdmissionRequest;
      try {
        request = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: AdmissionRequest }).request;
        if (!request?.uid) throw new Error('no request');
      } catch {
        return reply(400, { message: 'expected an AdmissionReview v1' });
      }
      review(request).then(
        (verdict) => {
          if (!verdict.allowed) log.info({ pool: request.name, operation: request.operation }, verdict.message);
          reply(200, {
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: verdict.allowed
              ? { uid: request.uid, allowed: true }
              : {
                  uid: request.uid,
                  allowed: false,
                  status: { status: 'Failure', code: 403, reason: 'Forbidden', message: verdict.message },
                },
          });
        },
        (err: unknown) => {
          log.error({ err }, 'admission review failed');
          reply(500, { message: 'admission review failed' });
        },
      );
    });
  });
  // The API server keeps idle connections to a webhook for up to 90 s (Go's transport default) and does not retry a
  // POST when the server closes one as it is reused: Node's 5 s keep-alive made that race a "connection reset by peer"
  // refusal under load. The server must outlast the client's idle timeout.
  server.keepAliveTimeout = webhookKeepAliveMs;
  server.headersTimeout = webhookKeepAliveMs + 5_000;
  server.listen(opts.port ?? 9443, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = opts.url ?? `https://${host.includes(':') ? `[${host}]` : host}:${port}${poolWebhookPath}`;

  const configurations = mgr.client.resource(ValidatingWebhookConfigurations);
  const configurationName = opts.configurationName ?? 'cluster-ipam-in-cluster-pools';
  const register = opts.register ?? true;
  const registration = () =>
    configurations.apply(
      poolWebhookConfiguration(configurationName, {
        caPem,
        target: svc ? { service: { ...svc, port: svc.port ?? 443, path: poolWebhookPath } } : { url },
        failurePolicy: opts.failurePolicy,
        matchLabels: opts.matchLabels,
      }),
      { force: true },
    );
  // After a renewal only the leader may write: it registers the CA it serves then, and again once elected (a
  // stand-by that reloaded earlier and leads now).
  const reregister = () =>
    registration().then(
      () => log.info({ configuration: configurationName }, 'webhook CA registered'),
      (err: unknown) => isWriteRefused(err) || log.warn({ err }, 'could not register the webhook CA'),
    );
  if (register) {
    await registration();
    if (mounted) void mgr.elected.then(reregister);
  }
  if (mounted) {
    followServingCertificate(
      opts.certificateDir!,
      mounted,
      (next) => {
        server.setSecureContext({ cert: next.certPem, key: next.keyPem });
        log.info({ dir: opts.certificateDir }, 'webhook serving certificate reloaded');
        const caChanged = next.caPem !== caPem;
        caPem = next.caPem;
        if (register && caChanged) void reregister();
      },
      { signal: opts.signal, logger: log },
    );
  }
  log.info(
    { url: svc ? undefined : url, service: svc, configuration: register ? configurationName : undefined },
    'admission webhook serving',
  );

  opts.signal?.addEventListener(
    'abort',
    () => {
      server.close();
      server.closeAllConnections();
      if (register && opts.unregisterOnStop) {
        configurations.delete({ name: configurationName }).catch((err: unknown) => {
          if (!isNotFound(err)) log.warn({ err }, 'could not delete the webhook configuration');
        });
      }
    },
    { once: true },
  );
  return url;
}
