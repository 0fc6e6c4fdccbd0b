import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** `:8080`, `127.0.0.1:8080`, `[::1]:0`; `0` (or empty) disables the endpoint, as in controller-runtime. */
export function parseBindAddress(address: string): { host: string | undefined; port: number } | undefined {
  if (address === '0' || address === '') return undefined;
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!match) throw new Error(`invalid bind address "${address}": want [host]:port, or 0 to disable`);
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`invalid port in "${address}"`);
  return { host: match[1] ?? (match[2] || undefined), port };
}

export type Routes = Record<string, () => Promise<{ status: number; body: string; contentType?: string }>>;

export interface Serving {
  /** host:port actually bound (useful with port 0). */
  address: string;
  close(): Promise<void>;
}

/** A plain HTTP server for probes and metrics; GET only, unknown paths are 404. */
export async function serve(bindAddress: string, routes: Routes): Promise<Serving | undefined> {
  const bind = parseBindAddress(bindAddress);
  if (!bind) return undefined;
  const server = http.createServer((req, res) => {
    const route = routes[(req.url ?? '/').split('?')[0]!];
    if (!route || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(route ? 405 : 404).end();
      return;
    }
    route().then(
      ({ status, body, contentType }) =>
        res.writeHead(status, { 'Content-Type': contentType ?? 'text/plain; charset=utf-8' }).end(body),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const info = server.address() as AddressInfo;
  const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  return {
    address: `${host}:${info.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
