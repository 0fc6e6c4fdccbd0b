// Where the API server is and how to authenticate to it. Kubeconfigs with static credentials (tokens, token files,
// client certificates, basic auth) and the in-cluster service account are read here; credential plugins (exec,
// auth-provider) and proxies are left to @kubernetes/client-node, imported only then: loading it costs ~80 MB of RSS
// and ~0.8 s (its generated API, which we never use), more than half of the manager's memory budget. Requests go
// through our own transport either way.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
// Credentials are re-derived at most this often (token files and certificates rotate; plugins re-run): reading them
// per request would cost a file read each. A 401 invalidates them at once.
const CREDENTIALS_TTL_MS = 30_000;

export interface Connection {
  agent: http.Agent;
  /** Authorization and impersonation headers. Never log these. */
  headers: Record<string, string>;
}

/** Where the API server is and how to authenticate to it. */
export interface ClusterAccess {
  readonly server: string;
  /** The namespace of the kubeconfig's current context, or the in-cluster one. */
  readonly namespace: string | undefined;
  connection(): Promise<Connection>;
  /** Forget cached credentials (after a 401). */
  invalidate(): void;
  /** Close idle keep-alive sockets. */
  close(): void;
}

/** The namespace a pod runs in, from its service account mount. */
export function inClusterNamespace(): string | undefined {
  try {
    return fs.readFileSync(path.join(SERVICE_ACCOUNT_DIR, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A file path or inline (base64) data, as kubeconfigs give CAs, certificates and keys. */
type Material = { file: string } | { data: string } | undefined;

/** The current context of a kubeconfig (or the service account), resolved to what a connection needs. */
interface Target {
  server: string;
  namespace: string | undefined;
  ca: Material;
  cert: Material;
  key: Material;
  insecure: boolean;
  tlsServerName: string | undefined;
  token: string | undefined;
  tokenFile: string | undefined;
  basic: { username: string; password: string } | undefined;
  /** Credentials only client-node can produce (exec or auth-provider plugins, a proxy): how to load it. */
  plugin: ((kc: KubeConfigLike) => void) | undefined;
  /** The cluster is reached through a proxy: client-node's agent carries it. */
  proxied: boolean;
}

/** The part of client-node's KubeConfig used for plugins. */
interface KubeConfigLike {
  loadFromFile(file: string): void;
  loadFromDefault(): void;
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

/**
 * Loads credentials in controller-runtime's order: an explicit kubeconfig, $KUBECONFIG (a path list), the in-cluster
 * service account, ~/.kube/config. Unlike client-node's loadFromDefault it never falls back to http://localhost:8080.
 */
export function loadClusterAccess(kubeconfig?: string): ClusterAccess {
  const homeConfig = path.join(os.homedir(), '.kube', 'config');
  if (kubeconfig) return new Access(fromKubeconfig([kubeconfig], (kc) => kc.loadFromFile(kubeconfig)));
  const list = (process.env.KUBECONFIG ?? '').split(path.delimiter).filter(Boolean);
  if (list.length) return new Access(fromKubeconfig(list, (kc) => kc.loadFromDefault()));
  if (process.env.KUBERNETES_SERVICE_HOST && fs.existsSync(path.join(SERVICE_ACCOUNT_DIR, 'token'))) {
    return new Access(inCluster());
  }
  if (fs.existsSync(homeConfig)) return new Access(fromKubeconfig([homeConfig], (kc) => kc.loadFromFile(homeConfig)));
  throw new Error(
    'no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, run in a pod or create ~/.kube/config',
  );
}

function inCluster(): Target {
  const host = process.env.KUBERNETES_SERVICE_HOST!;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    namespace: inClusterNamespace(),
    ca: { file: path.join(SERVICE_ACCOUNT_DIR, 'ca.crt') },
    cert: undefined,
    key: undefined,
    insecure: false,
    tlsServerName: undefined,
    token: undefined,
    tokenFile: path.join(SERVICE_ACCOUNT_DIR, 'token'),
    basic: undefined,
    plugin: undefined,
    proxied: false,
  };
}

type Named = { name?: string; [k: string]: unknown };

/**
 * The current context of the merged kubeconfig files, with kubectl's merge rules: the first file that sets
 * `current-context` wins, and so does the first cluster, user or context of a name. Relative paths are relative to
 * the file that holds them.
 */
function fromKubeconfig(files: string[], loadPlugin: (kc: KubeConfigLike) => void): Target {
  let current: string | undefined;
  const entries = {
    clusters: new Map<string, Named>(),
    users: new Map<string, Named>(),
    contexts: new Map<string, Named>(),
  };
  const dirOf = new Map<Named, string>();
  for (const file of files) {
    if (!fs.existsSync(file)) continue;
    const doc = (parse(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
    if (typeof doc !== 'object') throw new Error(`kubeconfig ${file}: not a YAML mapping`);
    current ||= typeof doc['current-context'] === 'string' ? doc['current-context'] : undefined;
    for (const kind of ['clusters', 'users', 'contexts'] as const) {
      const list = doc[kind];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) throw new Error(`kubeconfig ${file}: ${kind} must be a list`);
      for (const item of list as Named[]) {
        if (!item?.name || entries[kind].has(item.name)) continue;
        entries[kind].set(item.name, item);
        dirOf.set(item, path.dirname(path.resolve(file)));
      }
    }
  }
  const where = files.join(path.delimiter);
  if (!current) throw new Error(`kubeconfig ${where}: no current-context`);
  const ctxEntry = entries.contexts.get(current);
  const ctx = section(ctxEntry, 'context');
  if (!ctxEntry) throw new Error(`kubeconfig ${where}: context "${current}" not found`);
  const clusterEntry = entries.clusters.get(String(ctx.cluster ?? ''));
  if (!clusterEntry) throw new Error(`kubeconfig: context "${current}" names no cluster`);
  const cluster = section(clusterEntry, 'cluster');
  const userEntry = entries.users.get(String(ctx.user ?? ''));
  const user = section(userEntry, 'user');
  const server = typeof cluster.server === 'string' ? cluster.server : '';
  if (!server) throw new Error(`kubeconfig: cluster "${clusterEntry.name}" has no server`);
  const material = (entry: Named | undefined, obj: Record<string, unknown>, field: string): Material => {
    if (typeof obj[`${field}-data`] === 'string') return { data: obj[`${field}-data`] as string };
    if (typeof obj[field] !== 'string') return undefined;
    return { file: path.resolve(dirOf.get(entry!) ?? '.', obj[field] as string) };
  };
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
  const needsPlugin =
    user.exec !== undefined || user['auth-provider'] !== undefined || cluster['proxy-url'] !== undefined;
  return {
    server: server.replace(/\/+$/, ''),
    namespace: str(ctx.namespace),
    ca: material(clusterEntry, cluster, 'certificate-authority'),
    cert: material(userEntry, user, 'client-certificate'),
    key: material(userEntry, user, 'client-key'),
    insecure: cluster['insecure-skip-tls-verify'] === true,
    tlsServerName: str(cluster['tls-server-name']),
    token: str(user.token),
    tokenFile: str(user.tokenFile) && path.resolve(dirOf.get(userEntry!) ?? '.', user.tokenFile as string),
    basic: str(user.username)
      ? { username: user.username as string, password: String(user.password ?? '') }
      : undefined,
    plugin: needsPlugin ? loadPlugin : undefined,
    proxied: cluster['proxy-url'] !== undefined,
  };
}

function section(entry: Named | undefined, key: string): Record<string, unknown> {
  const value = entry?.[key];
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

function read(material: Material): Buffer | undefined {
  if (!material) return undefined;
  return 'file' in material ? fs.readFileSync(material.file) : Buffer.from(material.data, 'base64');
}

class Access implements ClusterAccess {
  readonly server: string;
  readonly namespace: string | undefined;
  private pending: { at: number; conn: Promise<Connection> } | undefined;
  private agent: { fingerprint: string; agent: http.Agent } | undefined;
  private plugin: Promise<KubeConfigLike> | undefined;

  constructor(private readonly target: Target) {
    this.server = target.server;
    this.namespace = target.namespace;
  }

  connection(): Promise<Connection> {
    if (this.pending && Date.now() - this.pending.at < CREDENTIALS_TTL_MS) return this.pending.conn;
    const conn = this.resolve();
    this.pending = { at: Date.now(), conn };
    conn.catch(() => {
      if (this.pending?.conn === conn) this.pending = undefined;
    });
    return conn;
  }

  invalidate(): void {
    this.pending = undefined;
  }

  close(): void {
    this.agent?.agent.destroy();
    this.agent = undefined;
    this.invalidate();
  }

  private async resolve(): Promise<Connection> {
    const opts = this.target.plugin ? await this.pluginOptions(this.target.plugin) : this.staticOptions();
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(opts.headers ?? {})) {
      if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    return { agent: this.target.proxied ? (opts.agent as http.Agent) : this.agentFor(opts), headers };
  }

  private staticOptions(): https.RequestOptions {
    const t = this.target;
    const token = t.tokenFile ? fs.readFileSync(t.tokenFile, 'utf8').trim() : t.token;
    const opts: https.RequestOptions = { headers: token ? { Authorization: `Bearer ${token}` } : {} };
    if (t.basic && !token) opts.auth = `${t.basic.username}:${t.basic.password}`;
    const [ca, cert, key] = [read(t.ca), read(t.cert), read(t.key)];
    if (ca) opts.ca = ca;
    if (cert) opts.cert = cert;
    if (key) opts.key = key;
    if (t.insecure) opts.rejectUnauthorized = false;
    if (t.tlsServerName) opts.servername = t.tlsServerName;
    return opts;
  }

  private async pluginOptions(load: (kc: KubeConfigLike) => void): Promise<https.RequestOptions> {
    this.plugin ??= import('@kubernetes/client-node').then(({ KubeConfig }) => {
      const kc = new KubeConfig();
      load(kc);
      return kc;
    });
    const opts: https.RequestOptions = {};
    await (await this.plugin).applyToHTTPSOptions(opts);
    return opts;
  }

  // One keep-alive agent for as long as the TLS material stays the same (a rotated certificate gets a new one).
  private agentFor(opts: https.RequestOptions): http.Agent {
    const hash = createHash('sha256');
    for (const part of [opts.ca, opts.cert, opts.key]) hash.update(part ? String(part) : '-').update('\0');
    hash.update(`${opts.rejectUnauthorized}|${opts.servername}`);
    const fingerprint = hash.digest('hex');
    if (this.agent?.fingerprint === fingerprint) return this.agent.agent;
    const agentOptions: https.AgentOptions = { keepAlive: true, keepAliveMsecs: 30_000 };
    if (opts.ca) agentOptions.ca = opts.ca;
    if (opts.cert) agentOptions.cert = opts.cert;
    if (opts.key) agentOptions.key = opts.key;
    if (opts.rejectUnauthorized !== undefined) agentOptions.rejectUnauthorized = opts.rejectUnauthorized;
    if (opts.servername) agentOptions.servername = opts.servername;
    const agent = this.server.startsWith('http:')
      ? new http.Agent({ keepAlive: true, keepAliveMsecs: 30_000 })
      : new https.Agent(agentOptions);
    this.agent = { fingerprint, agent };
    return agent;
  }
}
