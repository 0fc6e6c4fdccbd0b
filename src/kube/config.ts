// The one file that imports @kubernetes/client-node: we use it only to read kubeconfigs and to produce credentials
// (tokens, client certificates, exec/OIDC plugins, in-cluster token re-reads). Requests go through our own transport.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
// Credentials are re-derived at most this often: client-node reads CA/cert files and re-runs auth providers on every
// call, which would cost a file read per request. A 401 invalidates them at once.
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

/**
 * Loads credentials in controller-runtime's order: an explicit kubeconfig, $KUBECONFIG (a path list), the in-cluster
 * service account, ~/.kube/config. Unlike client-node's loadFromDefault it never falls back to http://localhost:8080.
 */
export function loadClusterAccess(kubeconfig?: string): ClusterAccess {
  const kc = new KubeConfig();
  const homeConfig = path.join(os.homedir(), '.kube', 'config');
  if (kubeconfig) {
    kc.loadFromFile(kubeconfig);
  } else if (process.env.KUBECONFIG) {
    kc.loadFromDefault();
  } else if (process.env.KUBERNETES_SERVICE_HOST && fs.existsSync(path.join(SERVICE_ACCOUNT_DIR, 'token'))) {
    kc.loadFromCluster();
  } else if (fs.existsSync(homeConfig)) {
    kc.loadFromFile(homeConfig);
  } else {
    throw new Error(
      'no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, run in a pod or create ~/.kube/config',
    );
  }
  return new KubeConfigAccess(kc);
}

class KubeConfigAccess implements ClusterAccess {
  readonly server: string;
  readonly namespace: string | undefined;
  private readonly proxied: boolean;
  private pending: { at: number; conn: Promise<Connection> } | undefined;
  private agent: { fingerprint: string; agent: http.Agent } | undefined;

  constructor(private readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`kubeconfig: context "${kc.getCurrentContext()}" names no cluster`);
    this.server = cluster.server.replace(/\/+$/, '');
    this.proxied = Boolean(cluster.proxyUrl);
    this.namespace = kc.getContextObject(kc.getCurrentContext())?.namespace || undefined;
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
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(opts.headers ?? {})) {
      if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    return { agent: this.agentFor(opts), headers };
  }

  // client-node builds a fresh agent without keep-alive per call (a TLS handshake per request); we keep one
  // keep-alive agent for as long as the TLS material stays the same.
  private agentFor(opts: https.RequestOptions): http.Agent {
    if (this.proxied) return opts.agent as http.Agent;
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
