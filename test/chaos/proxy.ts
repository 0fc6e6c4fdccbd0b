// A TCP proxy between one manager replica and the kube-apiserver that the chaos suite can cut: `partition()` drops
// every connection through it and blackholes (accepts, then never answers) or refuses new ones, as a network
// partition does; `heal()` lets connections through again. TLS passes through untouched: the replica talks to the
// API server itself, so the kubeconfig keeps the API server's CA. The API server's self-made serving certificate
// names 127.0.0.1 (its --advertise-address), the address the proxy listens on, so no tls-server-name is needed.
import { readFile, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { parse, stringify } from 'yaml';

export type PartitionMode = 'blackhole' | 'refuse';

export interface ProxyStats {
  /** Connections accepted in all. */
  accepted: number;
  /** Connections cut by a partition (open ones, and new ones blackholed or refused meanwhile). */
  dropped: number;
  partitions: number;
}

export class ChaosProxy {
  readonly stats: ProxyStats = { accepted: 0, dropped: 0, partitions: 0 };
  private server: Server | undefined;
  private readonly open = new Set<Socket>();
  private readonly held = new Set<Socket>();
  private partitioned: PartitionMode | undefined;
  private listenPort = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly listen: { host: string; port?: number } = { host: '127.0.0.1' },
  ) {}

  /** The target of an `https://host:port` URL. */
  static to(url: string, listen?: { host: string; port?: number }): ChaosProxy {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    return new ChaosProxy({ host, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) }, listen);
  }

  get port(): number {
    return this.listenPort;
  }

  /** `https://host:port` of the proxy. */
  get url(): string {
    const host = this.listen.host.includes(':') ? `[${this.listen.host}]` : this.listen.host;
    return `https://${host}:${this.listenPort}`;
  }

  get isPartitioned(): boolean {
    return this.partitioned !== undefined;
  }

  /** Connections being forwarded now. */
  get connections(): number {
    return this.open.size;
  }

  async start(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(this.listen.port ?? 0, this.listen.host, () => {
        server.off('error', fail);
        ok();
      });
    });
    this.listenPort = (server.address() as { port: number }).port;
  }

  private accept(client: Socket): void {
    this.stats.accepted++;
    client.on('error', () => {});
    if (this.partitioned === 'refuse') {
      this.stats.dropped++;
      client.resetAndDestroy();
      return;
    }
    if (this.partitioned === 'blackhole') {
      // Accepted by the kernel, then silence: the client's TLS handshake waits until its own timeout.
      this.stats.dropped++;
      this.held.add(client);
      client.once('close', () => this.held.delete(client));
      client.pause();
      return;
    }
    const upstream = createConnection({ host: this.target.host, port: this.target.port });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.open.delete(client);
    };
    client.once('close', close);
    upstream.once('close', close);
    this.open.add(client);
  }

  /**
   * Cuts the replica off: every open connection is reset (its requests and watches fail), new connections are
   * blackholed (default: accepted and never answered, as packets dropped by a firewall) or refused (reset at once).
   */
  partition(mode: PartitionMode = 'blackhole'): void {
    if (this.partitioned) throw new Error('already partitioned');
    this.partitioned = mode;
    this.stats.partitions++;
    for (const socket of this.open) {
      this.stats.dropped++;
      socket.resetAndDestroy();
    }
    this.open.clear();
  }

  /** Connections go through again; the ones held in the blackhole are reset (their clients will have given up). */
  heal(): void {
    this.partitioned = undefined;
    for (const socket of this.held) socket.resetAndDestroy();
    this.held.clear();
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((ok) => server.close(() => ok()));
    for (const socket of [...this.open, ...this.held]) socket.destroy();
    this.open.clear();
    this.held.clear();
    await closed;
  }
}

interface KubeconfigDoc {
  clusters?: { name: string; cluster: Record<string, unknown> }[];
}

/**
 * Writes a copy of `kubeconfig` whose clusters' server is `server` (the proxy), keeping the CA and credentials; with
 * `tlsServerName` the certificate is checked against that name instead of the proxy's host.
 */
export async function rewriteKubeconfig(
  kubeconfig: string,
  dest: string,
  server: string,
  tlsServerName?: string,
): Promise<string> {
  const doc = parse(await readFile(kubeconfig, 'utf8')) as KubeconfigDoc;
  for (const c of doc.clusters ?? []) {
    c.cluster.server = server;
    if (tlsServerName) c.cluster['tls-server-name'] = tlsServerName;
  }
  await writeFile(dest, stringify(doc), { mode: 0o600 });
  return dest;
}
