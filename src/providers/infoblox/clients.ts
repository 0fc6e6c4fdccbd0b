// One WAPI client per InfobloxInstance, shared by the instance, pool and claim paths (so `customCAPath`, the port and
// the credentials apply to every request, unlike the reference), and rebuilt when what it is made of changes: the
// instance's spec, the credentials Secret (by resourceVersion) or the CA file (by size and mtime). A replaced
// client is closed once the requests that hold it have finished.
//
// The Secret is read from the manager's namespace. Only the Secrets instances name are watched (by name: the namespace
// also holds Helm's release Secrets, which are neither cached nor listed), each once an instance needs it, so a manager
// without Infoblox neither lists Secrets nor needs the right to; until that watch has listed, it is read directly.
import { statSync } from 'node:fs';
import { Histogram } from 'prom-client';
import type { InfobloxInstance } from '../../api/index.ts';
import { WapiClient, type WapiClientOptions, type WapiCredentials } from '../../infoblox/client.ts';
import { Secrets, unlessNotFound, type Secret } from '../../kube/index.ts';
import type { Informer, Logger, Manager } from '../../runtime/index.ts';
import { InfobloxReasons } from './names.ts';

/** The instance cannot be used as configured; `reason` is its Ready condition's. */
export class InstanceConfigError extends Error {
  override readonly name = 'InstanceConfigError';

  constructor(
    readonly reason: typeof InfobloxReasons.AuthenticationFailed | typeof InfobloxReasons.ConnectionFailed,
    message: string,
  ) {
    super(message);
  }
}

/** The client options the provider sets (timeouts, retries); the rest comes from the instance and its Secret. */
export type ClientTuning = Pick<WapiClientOptions, 'timeoutMs' | 'retry'>;

const credentialKeys = ['username', 'password', 'clientCert', 'clientKey'] as const;

/** The credentials a Secret holds; an InstanceConfigError naming what is missing (never a value) if incomplete. */
export function credentialsOf(secret: Secret, where: string): WapiCredentials {
  const creds: WapiCredentials = {};
  for (const key of credentialKeys) {
    const value = secret.data?.[key] ?? secret.stringData?.[key];
    if (value === undefined) continue;
    const text = secret.data?.[key] !== undefined ? Buffer.from(value, 'base64').toString('utf8') : value;
    if (text.trim()) creds[key] = key === 'username' || key === 'password' ? text.replace(/\r?\n$/, '') : text;
  }
  if ((creds.username && creds.password) || (creds.clientCert && creds.clientKey)) return creds;
  const present = credentialKeys.filter((k) => creds[k] !== undefined);
  throw new InstanceConfigError(
    InfobloxReasons.AuthenticationFailed,
    `Secret ${where} holds ${present.length ? present.join(', ') : 'no credentials'}: it needs username and ` +
      'password, or clientCert and clientKey (PEM)',
  );
}

interface Entry {
  fingerprint: string;
  client: WapiClient;
  holders: number;
  retired: boolean;
}

export class WapiClients {
  private readonly entries = new Map<string, Entry>();
  /** Secret name → the watch of that one Secret. */
  private readonly secretInformers = new Map<string, Informer<Secret>>();
  private readonly secretListeners: ((secret: Secret) => void)[] = [];
  private readonly log: Logger;

  private readonly requests: Histogram<'instance' | 'method' | 'object' | 'outcome'>;

  constructor(
    private readonly mgr: Manager,
    readonly namespace: string,
    private readonly tuning: ClientTuning = {},
  ) {
    this.log = mgr.logger.child({ provider: 'ipam-infoblox' });
    this.requests = new Histogram({
      name: 'cluster_ipam_infoblox_request_duration_seconds',
      help:
        'WAPI requests to Infoblox appliances by instance, method, object type and outcome (ok, client_error, ' +
        'server_error, auth, connect, tls, timeout, reset), each attempt counted',
      labelNames: ['instance', 'method', 'object', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
      registers: [mgr.registry],
    });
  }

  /** Called with every credentials Secret that changes, once it is watched. */
  onSecret(listener: (secret: Secret) => void): void {
    this.secretListeners.push(listener);
  }

  /** The instance's credentials Secret; undefined if it does not exist. */
  async secret(instance: InfobloxInstance, signal?: AbortSignal): Promise<Secret | undefined> {
    const name = instance.spec.credentialsSecretRef.name;
    const informer = this.watchSecret(name);
    if (informer.hasSynced()) return informer.get(`${this.namespace}/${name}`);
    return unlessNotFound(this.mgr.client.resource(Secrets).get({ namespace: this.namespace, name }, { signal }));
  }

  /**
   * Runs `fn` with the instance's client, made (or remade) from the instance and its Secret as they are now. Throws
   * InstanceConfigError when the Secret is missing or incomplete or the CA file cannot be read.
   */
  async use<T>(instance: InfobloxInstance, signal: AbortSignal, fn: (client: WapiClient) => Promise<T>): Promise<T> {
    const entry = await this.entry(instance, signal);
    entry.holders++;
    try {
      return await fn(entry.client);
    } finally {
      entry.holders--;
      if (entry.retired && entry.holders === 0) entry.client.close();
    }
  }

  /** The instance is gone: its client goes once idle. */
  forget(name: string): void {
    const entry = this.entries.get(name);
    if (!entry) return;
    this.entries.delete(name);
    this.retire(entry);
  }

  close(): void {
    for (const name of [...this.entries.keys()]) this.forget(name);
  }

  private retire(entry: Entry): void {
    entry.retired = true;
    if (entry.holders === 0) entry.client.close();
  }

  private async entry(instance: InfobloxInstance, signal: AbortSignal): Promise<Entry> {
    const name = instance.metadata.name!;
    const secretName = instance.spec.credentialsSecretRef.name;
    const where = `${this.namespace}/${secretName}`;
    const secret = await this.secret(instance, signal);
    if (!secret) {
      throw new InstanceConfigError(
        InfobloxReasons.AuthenticationFailed,
        `credentials Secret ${where} not found (it belongs in the manager's namespace, ${this.namespace})`,
      );
    }
    const fingerprint = JSON.stringify([
      instance.metadata.uid,
      instance.spec,
      secret.metadata.uid,
      secret.metadata.resourceVersion,
      caStamp(instance.spec.customCAPath),
    ]);
    const current = this.entries.get(name);
    if (current?.fingerprint === fingerprint) return current;
    const credentials = credentialsOf(secret, where);
    let client: WapiClient;
    try {
      client = new WapiClient({
        host: instance.spec.host,
        port: instance.spec.port ?? '443',
        wapiVersion: instance.spec.wapiVersion,
        credentials,
        ...(instance.spec.disableTLSVerification ? { disableTLSVerification: true } : {}),
        ...(instance.spec.customCAPath ? { customCAPath: instance.spec.customCAPath } : {}),
        ...this.tuning,
        logger: this.log.child({ instance: name }),
        observe: (method, object, outcome, seconds) =>
          this.requests.labels(name, method, object, outcome).observe(seconds),
      });
    } catch (err) {
      throw new InstanceConfigError(InfobloxReasons.ConnectionFailed, (err as Error).message);
    }
    // Another caller may have made one meanwhile: the newer wins, the other is retired.
    const raced = this.entries.get(name);
    if (raced?.fingerprint === fingerprint) {
      client.close();
      return raced;
    }
    if (raced) this.retire(raced);
    const entry: Entry = { fingerprint, client, holders: 0, retired: false };
    this.entries.set(name, entry);
    if (current) this.log.info({ instance: name }, 'WAPI client remade: the instance, its Secret or its CA changed');
    return entry;
  }

  private watchSecret(name: string): Informer<Secret> {
    let informer = this.secretInformers.get(name);
    if (!informer) {
      informer = this.mgr.informer(Secrets, { namespace: this.namespace, fieldSelector: `metadata.name=${name}` });
      const changed = (s: Secret) => this.secretListeners.forEach((l) => l(s));
      informer.addEventHandler({ onAdd: changed, onUpdate: (_, s) => changed(s), onDelete: changed });
      this.secretInformers.set(name, informer);
    }
    return informer;
  }
}

/** What identifies the CA file's content cheaply: a replaced or rewritten file changes it. */
function caStamp(path: string | undefined): string {
  if (!path) return '';
  try {
    const st = statSync(path);
    return `${st.size}/${st.mtimeMs}/${st.ino}`;
  } catch {
    return 'unreadable';
  }
}
