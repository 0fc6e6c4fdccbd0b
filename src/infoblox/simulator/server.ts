// The WAPI simulator's HTTPS server: authentication (basic auth, the ibapauth cookie, optionally a client
// certificate), `/wapi/v<version>/<object or ref>` onto the state, fault injection around each request, and the
// admin endpoints under /_admin/ (a path no WAPI object uses) that tests drive it with.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { once, setMaxListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import { selfSignedServingCertificate } from '../../tls/certs.ts';
import { FaultInjector, FaultSpecError, type Fault, type FaultKind, type FaultWhen } from './faults.ts';
import { protoError, unknownField, WapiFault } from './errors.ts';
import { parseRef } from './model.ts';
import { applySeed } from './seed.ts';
import { WapiState, type ReturnFields } from './state.ts';

export interface WapiSimulatorOptions {
  /** Where to listen (default 127.0.0.1; port 0, the default, picks a free one). */
  host?: string;
  port?: number;
  /** The one account basic auth accepts (also for /_admin/). */
  username: string;
  password: string;
  /** The highest WAPI version served (default 2.12); any lower `v<major>.<minor>` is answered too. */
  wapiVersion?: string;
  /** A serving certificate from elsewhere; by default a CA and a certificate are made at start. */
  certificate?: { certPem: string; keyPem: string; caPem?: string };
  /** Names the self-made certificate is for (default: the host, localhost, 127.0.0.1 and ::1). */
  certificateHosts?: string[];
  /** Client certificates this CA signed authenticate as well as basic auth does. */
  clientCAPem?: string;
  /** Objects to create at start (see seed.ts). */
  seed?: unknown;
}

export interface RequestCounters {
  total: number;
  /** `<METHOD> <object type>` → requests (a ref counts as its type). */
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  /** Requests a fault of that kind hit. */
  faults: Record<FaultKind, number>;
  /** Requests a fault hit, by `<kind>/<when>` (`latency/before`, `status/after`, ...). */
  byFault: Record<string, number>;
}

export interface RequestLogEntry {
  at: string;
  method: string;
  /** The path without the query (refs, no credentials). */
  path: string;
  object: string;
  /** `dropped` when the connection was destroyed instead. */
  status: number | 'dropped';
  fault?: string;
  ms: number;
}

/** Counters since start (or the last reset) and the most recent requests. */
export class RequestLog {
  counters: RequestCounters = RequestLog.empty();
  recent: RequestLogEntry[] = [];

  constructor(private readonly keep = 1000) {}

  private static empty(): RequestCounters {
    return {
      total: 0,
      byRoute: {},
      byStatus: {},
      faults: { latency: 0, status: 0, drop: 0, unauthorized: 0 },
      byFault: {},
    };
  }

  record(entry: RequestLogEntry, hits: readonly (readonly [FaultKind, FaultWhen])[]): void {
    const c = this.counters;
    c.total++;
    const route = `${entry.method} ${entry.object}`;
    c.byRoute[route] = (c.byRoute[route] ?? 0) + 1;
    c.byStatus[entry.status] = (c.byStatus[entry.status] ?? 0) + 1;
    for (const kind of new Set(hits.map(([k]) => k))) c.faults[kind]++;
    for (const [kind, when] of hits) c.byFault[`${kind}/${when}`] = (c.byFault[`${kind}/${when}`] ?? 0) + 1;
    this.recent.push(entry);
    if (this.recent.length > this.keep) this.recent.shift();
  }

  reset(): void {
    this.counters = RequestLog.empty();
    this.recent = [];
  }
}

export interface WapiSimulator {
  /** `https://<host>:<port>` */
  readonly url: string;
  /** `https://<host>:<port>/wapi/v<version>` */
  readonly wapiUrl: string;
  readonly host: string;
  readonly port: number;
  readonly wapiVersion: string;
  /** PEM of the CA that signed the serving certificate (the self-made one, or the one given, if any). */
  readonly caPem: string | undefined;
  readonly state: WapiState;
  readonly faults: FaultInjector;
  readonly requests: RequestLog;
  close(): Promise<void>;
}

const unauthorizedPage = `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>401 Authorization Required</title>
</head><body>
<h1>Authorization Required</h1>
<p>This server could not verify that you
are authorized to access the document
requested.  Either you supplied the wrong
credentials (e.g., bad password), or your
browser doesn't understand how to supply
the credentials required.</p>
</body></html>
`;

const maxBodyBytes = 8 << 20;
const maxSessions = 1000;

interface Answer {
  status: number;
  json: unknown;
}

function versionParts(v: string): number[] {
  return v.split('.').map(Number);
}

function versionAtMost(v: string, max: string): boolean {
  const [a, b] = [versionParts(v), versionParts(max)];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return true;
}

/** `k=v&k=v`: keys taken literally (`_return_fields+` keeps its plus), values form-decoded. */
function parseQuery(query: string): [string, string][] {
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw protoError(`Malformed query string: ${JSON.stringify(query.slice(0, 200))}`);
    }
  };
  return query
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      return [decode(key), eq < 0 ? '' : decode(pair.slice(eq + 1).replaceAll('+', ' '))];
    });
}

interface Options extends ReturnFields {
  maxResults?: number;
  asObject: boolean;
}

/** Splits WAPI's `_`-options from search arguments. */
function readOptions(pairs: [string, string][]): { opts: Options; args: [string, string][] } {
  const fields: string[] = [];
  const extra: string[] = [];
  let sawFields = false;
  const opts: Options = { asObject: false };
  const args: [string, string][] = [];
  const list = (v: string) =>
    v
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean);
  for (const [key, value] of pairs) {
    if (!key.startsWith('_')) args.push([key, value]);
    else if (key === '_return_fields') {
      sawFields = true;
      fields.push(...list(value));
    } else if (key === '_return_fields+') extra.push(...list(value));
    else if (key === '_max_results') {
      if (!/^-?[0-9]+$/.test(value)) throw protoError(`Invalid value for _max_results: ${JSON.stringify(value)}`);
      opts.maxResults = Number(value);
    } else if (key === '_proxy_search') {
      // GM: answer from the Grid Master, which the simulator is.
      if (value !== 'GM' && value !== 'LOCAL') throw protoError(`Invalid value for _proxy_search: ${value}`);
    } else if (key === '_return_as_object') opts.asObject = value === '1';
    else throw unknownField(key);
  }
  if (sawFields) opts.fields = fields;
  if (extra.length) opts.extra = extra;
  return { opts, args };
}

function parseJSONBody(body: Buffer): unknown {
  if (!body.length) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw protoError(`JSON decoding error: ${(err as Error).message}`);
  }
}

/** One WAPI request against the state. */
function answer(state: WapiState, method: string, target: string, query: string, body: Buffer): Answer {
  const { opts, args } = readOptions(parseQuery(query));
  const isRef = parseRef(target) !== undefined;
  const returned = opts.fields !== undefined || opts.extra !== undefined;
  const wrap = (status: number, json: unknown): Answer => ({ status, json: opts.asObject ? { result: json } : json });
  if (args.length && (isRef || method !== 'GET')) throw unknownField(args[0]![0]);
  switch (method) {
    case 'GET':
      return wrap(200, isRef ? state.read(target, opts) : state.search(target, args, opts));
    case 'POST': {
      if (isRef) throw protoError('The simulator supports no function calls on objects');
      const ref = state.create(target, parseJSONBody(body));
      return wrap(201, returned ? state.read(ref, opts) : ref);
    }
    case 'PUT': {
      if (!isRef) throw protoError(`PUT needs a reference, not an object type (${target})`);
      const ref = state.update(target, parseJSONBody(body));
      return wrap(200, returned ? state.read(ref, opts) : ref);
    }
    case 'DELETE':
      if (!isRef) throw protoError(`DELETE needs a reference, not an object type (${target})`);
      return wrap(200, state.delete(target));
    default:
      throw protoError(`Method ${method} is not supported`);
  }
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function sendUnauthorized(res: ServerResponse): void {
  send(res, 401, unauthorizedPage, {
    'Content-Type': 'text/html; charset=iso-8859-1',
    'WWW-Authenticate': 'Basic realm="InfoBlox ONE Platform"',
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function defaultCertificateHosts(host: string): string[] {
  const hosts = ['localhost', '127.0.0.1', '::1'];
  if (host === '0.0.0.0' || host === '::') {
    hosts.push(hostname());
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) hosts.push(i.address);
  } else hosts.unshift(host);
  return [...new Set(hosts.map((h) => h.replace(/%.*$/, '')))];
}

/** Starts the simulator; `close()` stops it. */
export async function startWapiSimulator(options: WapiSimulatorOptions): Promise<WapiSimulator> {
  const host = options.host ?? '127.0.0.1';
  const wapiVersion = options.wapiVersion ?? '2.12';
  if (!/^[0-9]+\.[0-9]+(\.[0-9]+)?$/.test(wapiVersion)) throw new Error(`WAPI version ${wapiVersion} is not N.N[.N]`);
  const state = new WapiState();
  applySeed(state, options.seed);
  const faults = new FaultInjector();
  const requests = new RequestLog();
  const certificate =
    options.certificate ?? selfSignedServingCertificate(options.certificateHosts ?? defaultCertificateHosts(host));
  const expected = digest(`${options.username}:${options.password}`);
  const sessions = new Set<string>();
  // Ends the delays of latency faults when the simulator closes, so that no timer outlives it.
  const closing = new AbortController();
  // One listener per request held by a latency fault, as many at once as the clients send: not a leak.
  setMaxListeners(0, closing.signal);
  const pause = (ms: number) => delay(ms, undefined, { signal: closing.signal });

  /** Whether the request is authenticated, and the cookie to hand out when it came with basic auth. */
  const authenticate = (req: IncomingMessage): { ok: boolean; cookie?: string } => {
    // A client certificate, verified, on this connection. Node marks a resumed TLS session `authorized` whether or not a
    // certificate came with it: a client without one would pass on its second connection.
    const socket = req.socket as TLSSocket;
    if (options.clientCAPem && socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0) {
      return { ok: true };
    }
    const session = /(?:^|;\s*)ibapauth="?([^";]+)"?/.exec(req.headers.cookie ?? '')?.[1];
    if (session && sessions.has(session)) return { ok: true };
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!basic || !timingSafeEqual(digest(Buffer.from(basic, 'base64').toString('utf8')), expected))
      return { ok: false };
    const token = randomBytes(18).toString('base64url');
    sessions.add(token);
    if (sessions.size > maxSessions) sessions.delete(sessions.values().next().value!);
    return { ok: true, cookie: `ibapauth="${token}"; httponly; Path=/; secure` };
  };

  const admin = (req: IncomingMessage, res: ServerResponse, path: string, body: Buffer): void => {
    const json = (status: number, value: unknown) => send(res, status, JSON.stringify(value));
    const method = req.method ?? 'GET';
    if (path === '/_admin/faults' && method === 'POST') {
      let specs: unknown;
      try {
        specs = JSON.parse(body.toString('utf8') || 'null');
        const added = (Array.isArray(specs) ? specs : [specs]).map((s) => faults.add(s));
        return json(201, { faults: added });
      } catch (err) {
        if (err instanceof FaultSpecError || err instanceof SyntaxError) return json(400, { error: err.message });
        throw err;
      }
    }
    if (path === '/_admin/faults' && method === 'GET') return json(200, { faults: faults.list() });
    if (path === '/_admin/faults' && method === 'DELETE') return json(200, { removed: faults.clear() });
    const id = /^\/_admin\/faults\/([^/]+)$/.exec(path)?.[1];
    if (id && method === 'DELETE') {
      return faults.remove(id) ? json(200, { removed: 1 }) : json(404, { error: `no fault ${id}` });
    }
    if (path === '/_admin/records' && method === 'GET') {
      return json(200, { records: state.hostRecords(), requests: requests.counters });
    }
    if (path === '/_admin/requests' && method === 'GET') {
      return json(200, { counters: requests.counters, recent: requests.recent });
    }
    if (path === '/_admin/requests' && method === 'DELETE') {
      requests.reset();
      return json(200, { reset: true });
    }
    json(404, { error: `no admin endpoint ${method} ${path}` });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const body = await readBody(req);
    if (body === undefined) return send(res, 413, JSON.stringify(protoError('Request body too large').body));
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    if (path.startsWith('/_admin/')) {
      return authenticate(req).ok ? admin(req, res, path, body) : sendUnauthorized(res);
    }
    const m = /^\/wapi\/v([0-9]+\.[0-9]+(?:\.[0-9]+)?)\/(.+)$/.exec(path);
    const target = m?.[2] ?? '';
    const object = parseRef(target)?.type ?? target;
    const hit: [FaultKind, FaultWhen][] = [];
    const log = (status: number | 'dropped', fault?: Fault) =>
      requests.record(
        {
          at: new Date().toISOString(),
          method,
          path,
          object,
          status,
          ...(fault ? { fault: `${fault.kind}/${fault.when}` } : {}),
          ms: Math.round(performance.now() - started),
        },
        hit,
      );
    if (!m) {
      log(404);
      return send(res, 404, '<html><body><h1>Not Found</h1></body></html>\n', { 'Content-Type': 'text/html' });
    }
    const auth = authenticate(req);
    if (!auth.ok) {
      log(401);
      return sendUnauthorized(res);
    }
    const plan = faults.plan(method, object);
    const fault = plan.fail;
    if (plan.delayBeforeMs) hit.push(['latency', 'before']);
    if (plan.delayAfterMs) hit.push(['latency', 'after']);
    if (fault) hit.push([fault.kind, fault.when]);
    const fail = (f: Fault): void => {
      if (f.kind === 'drop') {
        log('dropped', f);
        req.socket.destroy();
      } else if (f.kind === 'unauthorized') {
        log(401, f);
        sendUnauthorized(res);
      } else {
        const text = `injected fault: status ${f.status}`;
        log(f.status!, f);
        send(res, f.status!, JSON.stringify({ Error: `SimulatorFault: ${text}`, code: 'Server.Fault', text }));
      }
    };
    if (plan.delayBeforeMs) await pause(plan.delayBeforeMs);
    if (fault?.when === 'before') return fail(fault);
    let result: Answer;
    if (!versionAtMost(m[1]!, wapiVersion)) {
      result = { status: 400, json: protoError(`Version ${m[1]} is not supported (at most ${wapiVersion})`).body };
    } else {
      try {
        result = answer(state, method, target, query, body);
      } catch (err) {
        if (!(err instanceof WapiFault)) throw err;
        result = { status: err.status, json: err.body };
      }
    }
    if (plan.delayAfterMs) await pause(plan.delayAfterMs);
    if (fault) return fail(fault);
    log(result.status);
    send(res, result.status, JSON.stringify(result.json), auth.cookie ? { 'Set-Cookie': auth.cookie } : {});
  };

  const server = https.createServer(
    {
      cert: certificate.certPem,
      key: certificate.keyPem,
      ...(options.clientCAPem ? { ca: options.clientCAPem, requestCert: true, rejectUnauthorized: false } : {}),
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (closing.signal.aborted || res.headersSent) res.destroy();
        else send(res, 500, JSON.stringify({ Error: String(err), code: 'Server', text: String(err) }));
      });
    },
  );
  server.listen(options.port ?? 0, host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
  const { port } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const url = `https://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}`;
  return {
    url,
    wapiUrl: `${url}/wapi/v${wapiVersion}`,
    host,
    port,
    wapiVersion,
    caPem: certificate.caPem,
    state,
    faults,
    requests,
    async close() {
      const closed = once(server, 'close');
      closing.abort();
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
