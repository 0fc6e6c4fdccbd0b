// A client of Infoblox WAPI (spec 04 §4.3/§4.4) for the ipam-infoblox provider: HTTPS that verifies the appliance's
// certificate unless told not to (with a custom CA honoured on every request), basic auth and/or a client
// certificate, a timeout on every request, retries with backoff for transient failures of requests that can be
// repeated, and typed errors (errors.ts).
//
// Writes are where WAPI bites (§4.4): a POST the appliance committed but whose answer was lost creates a second host
// record when repeated, and so does a PUT adding a `func:nextavailableip` address (a second address). Those are never
// retried here: they fail with `maybeCommitted` and the caller searches before allocating again. They also go out on
// a connection of their own, never on a reused keep-alive socket the appliance may be closing at that moment.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { isIP } from 'node:net';
import { formatAddress, formatCidr, parseAddress, parseCidr } from '../core/ip.ts';
import { Backoff, linkedSignal, sleep } from '../runtime/backoff.ts';
import type { Logger } from '../runtime/log.ts';
import {
  parseErrorBody,
  WapiAuthError,
  WapiConnectionError,
  WapiResponseError,
  type ConnectionFailure,
} from './errors.ts';
import {
  hostRecordFields,
  nextAvailableIP,
  type HostRecordIdentity,
  type WireDNSView,
  type WireExtAttrs,
  type WireHostRecord,
  type WireNetwork,
  type WireNetworkView,
} from './wire.ts';

/** From the InfobloxInstance's Secret: username + password, clientCert + clientKey (PEM), or both. */
export interface WapiCredentials {
  username?: string;
  password?: string;
  clientCert?: string;
  clientKey?: string;
}

export interface WapiClientOptions {
  host: string;
  /** Default 443. */
  port?: string | number;
  /** e.g. `2.12`: URLs are `https://host:port/wapi/v<wapiVersion>/...`. */
  wapiVersion: string;
  credentials: WapiCredentials;
  /** Skip verifying the appliance's certificate (lab use only). */
  disableTLSVerification?: boolean;
  /** A PEM CA bundle file to trust instead of the system's CAs; read when the client is made. */
  customCAPath?: string;
  /** The same as PEM text (added to customCAPath's). */
  caPem?: string;
  /** Per request, each attempt (default 15 s). */
  timeoutMs?: number;
  /** Attempts of a request that can be repeated (default 4), and the backoff between them (200 ms doubling to 5 s). */
  retry?: { attempts?: number; initialMs?: number; maxMs?: number };
  logger?: Pick<Logger, 'debug'>;
  /** Told of every attempt's outcome and duration (for request metrics). */
  observe?: RequestObserver;
  /** For tests: the backoff's jitter. */
  random?: () => number;
}

/** How an attempt ended: `ok`, `client_error` (4xx), `server_error` (5xx), `auth` (401/403), or why no answer came. */
export type RequestOutcome = 'ok' | 'client_error' | 'server_error' | 'auth' | WapiConnectionError['reason'];

/** `object` is the WAPI object type (`record:host`, `network`, ...), never a ref or search argument. */
export type RequestObserver = (method: string, object: string, outcome: RequestOutcome, seconds: number) => void;

function outcomeOf(err: unknown): RequestOutcome {
  if (err instanceof WapiAuthError) return 'auth';
  if (err instanceof WapiConnectionError) return err.reason;
  if (err instanceof WapiResponseError && err.status >= 500) return 'server_error';
  return 'client_error';
}

export interface NetworkView {
  ref: string;
  name: string;
  isDefault: boolean;
}

export interface DNSView {
  ref: string;
  name: string;
  networkView: string;
  isDefault: boolean;
}

/** A `network` or `ipv6network`. */
export interface Network {
  ref: string;
  /** Canonical CIDR. */
  network: string;
  networkView: string;
}

export interface HostAddress {
  ref: string;
  /** Canonical text, as the appliance wrote it. */
  address: string;
  configureForDHCP: boolean;
  mac?: string;
  duid?: string;
}

export interface HostRecord extends HostRecordIdentity {
  ipv4: HostAddress[];
  ipv6: HostAddress[];
  comment?: string;
  extattrs: WireExtAttrs;
  aliases: string[];
}

export interface NewHostRecord {
  name: string;
  networkView: string;
  configureForDNS: boolean;
  /** With DNS: the DNS view (default `default`). */
  dnsView?: string;
  /** One address from each of these networks, by `func:nextavailableip:<cidr>,<networkView>`. */
  ipv4Subnets?: readonly string[];
  ipv6Subnets?: readonly string[];
  comment?: string;
  extattrs?: WireExtAttrs;
}

export interface HostRecordChange {
  /** Add one address from each of these networks (of the record's network view). */
  ipv4Subnets?: readonly string[];
  ipv6Subnets?: readonly string[];
  /** Remove these addresses (any spelling; addresses the record does not have are ignored). */
  release?: readonly string[];
}

export interface CallOptions {
  signal?: AbortSignal;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Query = readonly (readonly [string, string])[];

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Connections whose TLS handshake completed. */
const securedSockets = new WeakSet<object>();

const connectCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

/**
 * The PUT body that applies `change` to `record` (§4.4): for each address family touched, the whole list: the
 * addresses kept with their `_ref`, `mac`/`duid` and `configure_for_dhcp`, new ones as `func:nextavailableip`. The
 * rest of the record is left alone (a PUT changes only the fields it names).
 */
export function hostRecordUpdateBody(record: HostRecord, change: HostRecordChange): Record<string, unknown> {
  const canonical = (a: string) => {
    try {
      return formatAddress(parseAddress(a));
    } catch {
      return a;
    }
  };
  const released = new Set((change.release ?? []).map(canonical));
  const body: Record<string, unknown> = { _ref: record.ref };
  const family = (have: HostAddress[], add: readonly string[] = [], v6: boolean) => {
    const kept = have.filter((a) => !released.has(canonical(a.address)));
    if (kept.length === have.length && !add.length) return undefined;
    const field = v6 ? 'ipv6addr' : 'ipv4addr';
    const id = (a?: HostAddress) => (v6 ? { duid: a?.duid ?? '' } : { mac: a?.mac ?? '' });
    return [
      ...kept.map((a) => ({ _ref: a.ref, [field]: a.address, configure_for_dhcp: a.configureForDHCP, ...id(a) })),
      ...add.map((cidr) => ({
        [field]: nextAvailableIP(cidr, record.networkView),
        configure_for_dhcp: false,
        ...id(),
      })),
    ];
  };
  const ipv4 = family(record.ipv4, change.ipv4Subnets, false);
  const ipv6 = family(record.ipv6, change.ipv6Subnets, true);
  if (ipv4) body.ipv4addrs = ipv4;
  if (ipv6) body.ipv6addrs = ipv6;
  return body;
}

function fromWireHost(w: WireHostRecord): HostRecord {
  return {
    ref: w._ref,
    name: w.name ?? '',
    view: w.view ?? ' ',
    networkView: w.network_view ?? '',
    configureForDNS: w.configure_for_dns ?? false,
    ...(w.zone ? { zone: w.zone } : {}),
    ipv4: (w.ipv4addrs ?? []).map((a) => ({
      ref: a._ref ?? '',
      address: a.ipv4addr,
      configureForDHCP: a.configure_for_dhcp ?? false,
      ...(a.mac ? { mac: a.mac } : {}),
    })),
    ipv6: (w.ipv6addrs ?? []).map((a) => ({
      ref: a._ref ?? '',
      address: a.ipv6addr,
      configureForDHCP: a.configure_for_dhcp ?? false,
      ...(a.duid ? { duid: a.duid } : {}),
    })),
    ...(w.comment ? { comment: w.comment } : {}),
    extattrs: w.extattrs ?? {},
    aliases: w.aliases ?? [],
  };
}

/** Refs are sent as the appliance wrote them (already escaped); only what a URL path cannot hold is escaped. */
function pathOf(target: string): string {
  return target.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/g, (c) => encodeURIComponent(c));
}

export class WapiClient {
  readonly baseURL: string;
  private readonly hostname: string;
  private readonly port: number;
  private readonly basePath: string;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly logger: WapiClientOptions['logger'];
  private readonly observe: RequestObserver | undefined;
  private readonly random: (() => number) | undefined;
  // Private fields, which util.inspect does not show: a logged client shows no credential (nor the agents' key).
  readonly #authorization: string | undefined;
  readonly #agent: https.Agent;
  readonly #oneShot: https.Agent;

  constructor(opts: WapiClientOptions) {
    const c = opts.credentials;
    const basic = Boolean(c.username && c.password);
    const cert = Boolean(c.clientCert && c.clientKey);
    if (!basic && !cert) throw new Error('WAPI credentials: need username and password, or clientCert and clientKey');
    this.#authorization = basic
      ? `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`
      : undefined;
    this.hostname = opts.host.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(opts.port ?? 443);
    if (!Number.isInteger(this.port) || this.port < 1 || this.port > 65535) {
      throw new Error(`WAPI port ${JSON.stringify(opts.port)} is not 1-65535`);
    }
    this.basePath = `/wapi/v${opts.wapiVersion}/`;
    this.baseURL = `https://${isIP(this.hostname) === 6 ? `[${this.hostname}]` : this.hostname}:${this.port}${this.basePath}`;
    let ca = opts.caPem;
    if (opts.customCAPath) {
      try {
        ca = readFileSync(opts.customCAPath, 'utf8') + (ca ?? '');
      } catch (err) {
        throw new Error(`WAPI custom CA ${opts.customCAPath}: ${(err as Error).message}`);
      }
    }
    const tls = {
      rejectUnauthorized: !opts.disableTLSVerification,
      ...(ca ? { ca } : {}),
      ...(cert ? { cert: c.clientCert, key: c.clientKey } : {}),
    };
    // Keep-alive connections for requests that may be repeated; a connection per request for the others.
    this.#agent = new https.Agent({ keepAlive: true, maxSockets: 16, ...tls });
    this.#oneShot = new https.Agent({ keepAlive: false, ...tls });
    this.logger = opts.logger;
    this.observe = opts.observe;
    this.random = opts.random;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.attempts = Math.max(1, opts.retry?.attempts ?? 4);
    this.backoff = { initialMs: opts.retry?.initialMs ?? 200, maxMs: opts.retry?.maxMs ?? 5_000 };
  }

  close(): void {
    this.#agent.destroy();
    this.#oneShot.destroy();
  }

  /** An authenticated request that reads nothing in particular: whether the appliance can be used at all. */
  async ping(opts: CallOptions = {}): Promise<void> {
    await this.search('networkview', { _max_results: '-1' }, ['name'], opts);
  }

  async getNetworkView(name: string, opts: CallOptions = {}): Promise<NetworkView | undefined> {
    const [v] = await this.search<WireNetworkView>('networkview', { name }, ['name', 'is_default'], opts);
    return v && { ref: v._ref, name: v.name ?? name, isDefault: v.is_default ?? false };
  }

  async getDNSView(name: string, opts: CallOptions = {}): Promise<DNSView | undefined> {
    const [v] = await this.search<WireDNSView>('view', { name }, ['name', 'network_view', 'is_default'], opts);
    return (
      v && { ref: v._ref, name: v.name ?? name, networkView: v.network_view ?? '', isDefault: v.is_default ?? false }
    );
  }

  /** The `network` (IPv4) or `ipv6network` (IPv6) of that CIDR in the network view. */
  async getNetwork(cidr: string, networkView: string, opts: CallOptions = {}): Promise<Network | undefined> {
    const c = parseCidr(cidr);
    // WAPI matches the text: ask in canonical form (IPv6 compressed).
    const network = formatCidr(c.family, c.lo, c.prefix);
    const type = c.family === 4 ? 'network' : 'ipv6network';
    const fields = ['network', 'network_view'];
    const [n] = await this.search<WireNetwork>(type, { network, network_view: networkView }, fields, opts);
    return n && { ref: n._ref, network: n.network ?? network, networkView: n.network_view ?? networkView };
  }

  /** Host records of exactly that name in the network view (more than one is the caller's to report). */
  findHostRecords(name: string, networkView: string, opts: CallOptions = {}): Promise<HostRecord[]> {
    return this.searchHostRecords({ name, network_view: networkView }, opts);
  }

  /** Host records matching every search argument (`comment=...`, `*<attribute>=...`, ...). */
  async searchHostRecords(args: Readonly<Record<string, string>>, opts: CallOptions = {}): Promise<HostRecord[]> {
    return (await this.search<WireHostRecord>('record:host', args, hostRecordFields, opts)).map(fromWireHost);
  }

  /** Whether the appliance defines the extensible attribute `name` (values of undefined ones are refused). */
  async hasExtAttrDef(name: string, opts: CallOptions = {}): Promise<boolean> {
    return (await this.search('extensibleattributedef', { name }, ['name'], opts)).length > 0;
  }

  async getHostRecord(ref: string, opts: CallOptions = {}): Promise<HostRecord> {
    const w = await this.request<WireHostRecord>('GET', ref, {
      query: [['_return_fields', hostRecordFields.join(',')]],
      ...opts,
    });
    return fromWireHost(w);
  }

  /** `GET <type>?<field>=<value>&..._return_fields=<fields>`: the objects found (`[]` when none). */
  async search<T>(
    type: string,
    args: Readonly<Record<string, string>>,
    fields: readonly string[],
    opts: CallOptions = {},
  ): Promise<T[]> {
    return this.request<T[]>('GET', type, {
      query: [...Object.entries(args), ['_return_fields', fields.join(',')]],
      ...opts,
    });
  }

  /**
   * POSTs a host record with one `func:nextavailableip` address per subnet; its ref. Never retried: on a failure
   * with `maybeCommitted`, search (by the claim's tag) before trying again.
   */
  async createHostRecord(spec: NewHostRecord, opts: CallOptions = {}): Promise<string> {
    const body = {
      name: spec.name,
      network_view: spec.networkView,
      configure_for_dns: spec.configureForDNS,
      ...(spec.configureForDNS ? { view: spec.dnsView ?? 'default' } : {}),
      ipv4addrs: (spec.ipv4Subnets ?? []).map((cidr) => ({
        ipv4addr: nextAvailableIP(cidr, spec.networkView),
        configure_for_dhcp: false,
        mac: '',
      })),
      ipv6addrs: (spec.ipv6Subnets ?? []).map((cidr) => ({
        ipv6addr: nextAvailableIP(cidr, spec.networkView),
        configure_for_dhcp: false,
        duid: '',
      })),
      ...(spec.comment !== undefined ? { comment: spec.comment } : {}),
      ...(spec.extattrs !== undefined ? { extattrs: spec.extattrs } : {}),
    };
    return this.request<string>('POST', 'record:host', { body, ...opts });
  }

  /**
   * PUTs the change (hostRecordUpdateBody); the record's ref. Retried only when it allocates nothing: a PUT adding
   * an address is not repeated, for the same reason as a POST.
   */
  async updateHostRecord(record: HostRecord, change: HostRecordChange, opts: CallOptions = {}): Promise<string> {
    return this.request<string>('PUT', record.ref, { body: hostRecordUpdateBody(record, change), ...opts });
  }

  /** The ref. A DELETE retried after its first attempt was applied fails with 404 (isNotFound): the record is gone. */
  async deleteHostRecord(ref: string, opts: CallOptions = {}): Promise<string> {
    return this.request<string>('DELETE', ref, opts);
  }

  /** Any WAPI request: `target` is an object type (with search arguments in `query`) or a ref. */
  async request<T>(
    method: Method,
    target: string,
    opts: { query?: Query; body?: unknown; signal?: AbortSignal } = {},
  ): Promise<T> {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const repeatable = method === 'GET' || method === 'DELETE' || (method === 'PUT' && !body?.includes('"func:'));
    const backoff = new Backoff({ ...this.backoff }, this.random);
    const object = target.split('/')[0]!;
    for (let attempt = 1; ; attempt++) {
      opts.signal?.throwIfAborted();
      const started = performance.now();
      try {
        const raw = await this.send(method, target, opts.query ?? [], body, repeatable, opts.signal);
        const result = this.result<T>(method, target, raw);
        this.observe?.(method, object, 'ok', (performance.now() - started) / 1000);
        return result;
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        this.observe?.(method, object, outcomeOf(err), (performance.now() - started) / 1000);
        const transient =
          (err instanceof WapiConnectionError && err.reason !== 'tls') ||
          (err instanceof WapiResponseError && (err.status >= 500 || err.status === 429));
        if (!repeatable || !transient || attempt >= this.attempts) throw err;
        const retryAfter = err instanceof WapiResponseError ? (err.retryAfterMs ?? 0) : 0;
        const wait = Math.min(this.backoff.maxMs, Math.max(backoff.next(), retryAfter));
        this.logger?.debug(
          { method, target, attempt, error: (err as Error).message, retryInMs: Math.round(wait) },
          'WAPI request failed, retrying',
        );
        await sleep(wait, opts.signal);
      }
    }
  }

  private result<T>(method: string, target: string, raw: Raw): T {
    if (raw.status >= 200 && raw.status < 300) {
      try {
        return JSON.parse(raw.body) as T;
      } catch {
        throw new WapiResponseError(method, target, raw.status, undefined, undefined, 'the answer is not JSON', false);
      }
    }
    const parsed = parseErrorBody(raw.body);
    // A body that is not WAPI JSON (an HTML page) is not quoted whole: a line of it says enough.
    const text =
      parsed?.text ??
      (raw.body
        .replace(/<[^>]*>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim()
        .slice(0, 200) ||
        'no body');
    const maybeCommitted = method !== 'GET' && (raw.status >= 500 || raw.status === 429);
    if (raw.status === 401 || raw.status === 403) {
      throw new WapiAuthError(method, target, raw.status, parsed?.errorClass, parsed?.code, text, false);
    }
    const err = new WapiResponseError(
      method,
      target,
      raw.status,
      parsed?.errorClass,
      parsed?.code,
      text,
      maybeCommitted,
    );
    const retryAfter = Number(raw.headers['retry-after']);
    if (Number.isFinite(retryAfter) && retryAfter > 0) err.retryAfterMs = retryAfter * 1000;
    throw err;
  }

  private send(
    method: Method,
    target: string,
    query: Query,
    body: string | undefined,
    keepAlive: boolean,
    external: AbortSignal | undefined,
  ): Promise<Raw> {
    // Not AbortSignal.any: `external` is usually a reconcile's long-lived signal, which would keep a WeakRef per request.
    const { signal, release } = linkedSignal(external ? [external] : [], this.timeoutMs);
    const qs = query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
    const headers: Record<string, string | number> = {
      // On every request, GET and DELETE too, as WAPI clients do (§4.4).
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'User-Agent': 'cluster-ipam',
      ...(this.#authorization ? { Authorization: this.#authorization } : {}),
      ...(body !== undefined ? { 'Content-Length': Buffer.byteLength(body) } : {}),
    };
    return new Promise<Raw>((resolve, reject) => {
      let secured = false;
      const fail = (err: NodeJS.ErrnoException) => {
        release();
        let reason: ConnectionFailure;
        let detail: string;
        if (signal.aborted && !external?.aborted) {
          reason = 'timeout';
          detail = `no answer from ${this.baseURL} within ${this.timeoutMs} ms`;
        } else if (!secured && err.code && connectCodes.has(err.code)) {
          reason = 'connect';
          detail = `cannot connect to ${this.baseURL}: ${err.message}`;
        } else if (!secured) {
          reason = 'tls';
          detail = `TLS with ${this.baseURL} failed: ${err.message}`;
        } else {
          reason = 'reset';
          detail = `the connection to ${this.baseURL} broke: ${err.message}`;
        }
        const maybe = secured && method !== 'GET';
        reject(
          external?.aborted ? external.reason : new WapiConnectionError(method, target, reason, detail, maybe, err),
        );
      };
      const req = https.request(
        {
          hostname: this.hostname,
          port: this.port,
          path: this.basePath + pathOf(target) + (qs ? `?${qs}` : ''),
          method,
          headers,
          agent: keepAlive ? this.#agent : this.#oneShot,
          signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', fail);
          res.on('end', () => {
            if (!res.complete) return fail(Object.assign(new Error('the answer was cut off'), { code: 'ECONNRESET' }));
            release();
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      req.on('socket', (socket) => {
        // A keep-alive connection comes either from the free list (reusedSocket) or straight from the request that
        // just finished on it: both were secured before, and listening for a handshake that already happened would
        // leave a listener on it per request it carries.
        if (req.reusedSocket || securedSockets.has(socket)) secured = true;
        else
          socket.once('secureConnect', () => {
            securedSockets.add(socket);
            secured = true;
          });
      });
      req.on('error', fail);
      req.end(body);
    });
  }
}
