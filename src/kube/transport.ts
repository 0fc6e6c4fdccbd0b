import http from 'node:http';
import https from 'node:https';
import type { ClusterAccess } from './config.ts';
import { ApiError, WriteRefusedError } from './errors.ts';
import type { Status } from './types.ts';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export interface StreamOptions {
  query?: Query;
  signal?: AbortSignal;
  /** Fail with WatchIdleError when no byte arrives for this long (a silently dead connection). */
  idleTimeoutMs?: number;
}

/**
 * Consulted before each write (POST, PUT, PATCH, DELETE), and again right before its bytes go out: the request is
 * bound to the signal it returns. An aborted signal refuses the write before a byte is sent; one that aborts while
 * the write is in flight cuts the connection. Either way the caller gets a WriteRefusedError whose cause is the
 * signal's reason.
 */
export type WriteGate = () => AbortSignal;

/** Told of every non-watch request's outcome: HTTP status, or 0 when no answer came (for request metrics). */
export type RequestObserver = (method: string, resource: string, code: number) => void;

/** `configmaps`, `ipaddressclaims/status`: the resource (and subresource) a request path addresses. */
export function resourceOfPath(path: string): string {
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  let rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  return rest.length > 2 ? `${rest[0]}/${rest[2]}` : (rest[0] ?? '');
}

export class WatchIdleError extends Error {
  override readonly name = 'WatchIdleError';
}

interface RawResponse {
  status: number;
  body: Buffer;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
const READS = new Set(['GET', 'HEAD']);

/** The server closed an idle keep-alive connection just as we reused it: the request never got an answer. */
class StaleSocketError extends Error {}

function parseStatus(body: Buffer): Status | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Status;
    return parsed && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return body.length ? { message: body.toString('utf8').slice(0, 512) } : undefined;
  }
}

/** JSON over HTTP(S) to the API server with keep-alive, per-request deadlines and one retry on 401. */
export class Transport {
  constructor(
    private readonly access: ClusterAccess,
    private readonly userAgent: string,
    private readonly timeoutMs: number,
    private readonly writeGate?: WriteGate,
    private readonly observer?: RequestObserver,
  ) {}

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const writeGate = READS.has(method) ? undefined : this.writeGate;
    const gate = writeGate?.();
    // Listened to directly, not through AbortSignal.any or http.request's `signal`: both leave state behind on a
    // long-lived signal (the gate lives as long as the leadership) per request, ~100 B a write retained for good.
    const signals = [opts.signal, gate].filter((s) => s !== undefined);
    // Before every attempt (a retry after a 401 or a stale socket must not go out once the gate closed either), and
    // once more when the connection is ready: the gate may judge by the clock, and time passed meanwhile.
    const refuseIfClosed = (): void => {
      const now = writeGate?.();
      if (now?.aborted) throw new WriteRefusedError(`${method} ${path}`, now.reason, false);
    };
    for (let attempt = 0; ; attempt++) {
      refuseIfClosed();
      let res: RawResponse;
      try {
        res = await this.send(method, path, opts, signals, body, refuseIfClosed);
        this.observer?.(method, resourceOfPath(path), res.status);
      } catch (err) {
        if (err instanceof WriteRefusedError) throw err;
        this.observer?.(method, resourceOfPath(path), 0);
        if (gate?.aborted) throw new WriteRefusedError(`${method} ${path}`, gate.reason, true);
        // Retried once, as Go's net/http does, but only when repeating the request cannot do harm.
        if (err instanceof StaleSocketError && attempt === 0 && IDEMPOTENT.has(method)) continue;
        throw err instanceof StaleSocketError ? (err.cause ?? err) : err;
      }
      // A rotated token (in-cluster projected tokens, exec plugins) shows as 401: re-derive credentials once.
      if (res.status === 401 && attempt === 0) {
        this.access.invalidate();
        continue;
      }
      if (res.status >= 200 && res.status < 300) {
        return (res.body.length ? JSON.parse(res.body.toString('utf8')) : undefined) as T;
      }
      throw new ApiError(res.status, parseStatus(res.body), `${method} ${path}`);
    }
  }

  /** A long-running GET whose body is newline-delimited JSON (a watch); resolves when the server ends it or on abort. */
  async stream(path: string, opts: StreamOptions, onLine: (line: string) => void): Promise<void> {
    const { agent, headers } = await this.access.connection();
    const url = this.url(path, opts.query);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let complete = false;
      let idle: NodeJS.Timeout | undefined;
      const req = (url.protocol === 'http:' ? http : https).request(url, {
        method: 'GET',
        agent,
        headers: { ...headers, Accept: 'application/json', 'User-Agent': this.userAgent },
      });
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        opts.signal?.removeEventListener('abort', onAbort);
        // Destroying after a complete response could kill a socket the agent already handed to someone else.
        if (!complete) req.destroy();
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => finish();
      const arm = (): void => {
        if (!opts.idleTimeoutMs) return;
        clearTimeout(idle);
        idle = setTimeout(
          () => finish(new WatchIdleError(`watch ${path}: nothing received for ${opts.idleTimeoutMs} ms`)),
          opts.idleTimeoutMs,
        );
      };
      req.on('error', (err) => finish(err));
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            complete = true;
            if (res.statusCode === 401) this.access.invalidate();
            finish(new ApiError(res.statusCode ?? 0, parseStatus(Buffer.concat(chunks)), `GET ${path}`));
          });
          res.on('error', (err) => finish(err));
          return;
        }
        res.setEncoding('utf8');
        let buffered = '';
        res.on('data', (chunk: string) => {
          arm();
          buffered += chunk;
          let start = 0;
          for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n', start)) {
            const line = buffered.slice(start, nl);
            start = nl + 1;
            if (!line.trim()) continue;
            try {
              onLine(line);
            } catch (err) {
              finish(err);
            }
            if (settled) return;
          }
          buffered = buffered.slice(start);
        });
        res.on('end', () => {
          complete = true;
          finish();
        });
        res.on('error', (err) => finish(err));
        res.on('close', () => finish(new Error(`watch ${path}: connection closed before the server ended it`)));
      });
      if (opts.signal?.aborted) return finish();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      arm();
      req.end();
    });
  }

  private url(path: string, query: Query | undefined): URL {
    const url = new URL(this.access.server + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  private async send(
    method: string,
    path: string,
    opts: RequestOptions,
    signals: readonly AbortSignal[],
    body: Buffer | undefined,
    beforeSending: () => void,
  ) {
    const { agent, headers } = await this.access.connection();
    beforeSending();
    const url = this.url(path, opts.query);
    const reqHeaders: Record<string, string> = { ...headers, Accept: 'application/json', 'User-Agent': this.userAgent };
    if (body) {
      reqHeaders['Content-Type'] = opts.contentType ?? 'application/json';
      reqHeaders['Content-Length'] = String(body.length);
    }
    return new Promise<RawResponse>((resolve, reject) => {
      const abortedBy = signals.find((s) => s.aborted);
      if (abortedBy) return reject(abortError(method, path, abortedBy));
      const req = (url.protocol === 'http:' ? http : https).request(url, { method, agent, headers: reqHeaders });
      const timer = setTimeout(
        () => req.destroy(new Error(`${method} ${path}: no answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      const onAbort = (event: Event): void => {
        req.destroy(abortError(method, path, event.target as AbortSignal));
      };
      for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true });
      const done = (): void => {
        clearTimeout(timer);
        for (const signal of signals) signal.removeEventListener('abort', onAbort);
      };
      let answered = false;
      const fail = (err: unknown): void => {
        done();
        const code = (err as NodeJS.ErrnoException).code;
        const stale = req.reusedSocket && !answered && (code === 'ECONNRESET' || code === 'EPIPE');
        reject(stale ? new StaleSocketError('stale keep-alive connection', { cause: err }) : err);
      };
      req.on('error', fail);
      req.on('response', (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          done();
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        });
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(new Error(`${method} ${path}: connection closed mid-response`));
        });
      });
      req.end(body);
    });
  }
}

function abortError(method: string, path: string, signal: AbortSignal): Error {
  return Object.assign(new Error(`${method} ${path}: aborted`, { cause: signal.reason }), { name: 'AbortError' });
}
