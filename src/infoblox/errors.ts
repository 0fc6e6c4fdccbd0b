// Errors of the WAPI client, typed so that the provider tells apart "cannot connect", "cannot authenticate" and what
// the appliance refused (spec 04 §4.1: the reference lumps them together). Messages name the request (method and
// object or ref) and never a credential: nothing secret is ever put in them.
import { ErrorCodes, type WapiErrorBody } from './wire.ts';

export type ConnectionFailure =
  /** TCP could not connect (refused, unreachable, no such host). */
  | 'connect'
  /** The TLS handshake failed: an untrusted or mismatched certificate, a refused client certificate. */
  | 'tls'
  /** No answer within the request's timeout. */
  | 'timeout'
  /** The connection broke after the request was sent. */
  | 'reset';

export class WapiError extends Error {
  override name = 'WapiError';

  constructor(
    message: string,
    /** The request: method and object type or ref (`GET record:host`, `DELETE record:host/...`). */
    readonly method: string,
    readonly target: string,
    /**
     * Whether the appliance may have applied the request although it failed: the request reached it and the
     * answer was lost, cut off or a 5xx. What a failed POST leaves to the caller: search before allocating again.
     */
    readonly maybeCommitted: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The appliance answered with an error status. */
export class WapiResponseError extends WapiError {
  override name = 'WapiResponseError';
  /** From a `Retry-After` header (429, 503). */
  retryAfterMs?: number;

  constructor(
    method: string,
    target: string,
    readonly status: number,
    /** From a WAPI JSON error body: the class before the first colon of `Error`, e.g. `AdmConDataNotFoundError`. */
    readonly errorClass: string | undefined,
    /** e.g. `Client.Ibap.Data.NotFound`. */
    readonly code: string | undefined,
    /** WAPI's `text`, or the start of a body that is not WAPI JSON. */
    readonly text: string,
    maybeCommitted: boolean,
  ) {
    super(`WAPI ${method} ${target}: ${status}${code ? ` ${code}` : ''}: ${text}`, method, target, maybeCommitted);
  }
}

/** 401 (or 403): the appliance refused the credentials. */
export class WapiAuthError extends WapiResponseError {
  override name = 'WapiAuthError';
}

/** The appliance could not be reached, or did not answer. */
export class WapiConnectionError extends WapiError {
  override name = 'WapiConnectionError';

  constructor(
    method: string,
    target: string,
    readonly reason: ConnectionFailure,
    detail: string,
    maybeCommitted: boolean,
    cause?: unknown,
  ) {
    super(`WAPI ${method} ${target}: ${detail}`, method, target, maybeCommitted, { cause });
  }
}

/** The parts of a WAPI error body; undefined when the body is not one (an HTML page, a proxy's answer). */
export function parseErrorBody(body: string): { errorClass: string; code: string; text: string } | undefined {
  let parsed: Partial<WapiErrorBody>;
  try {
    parsed = JSON.parse(body) as Partial<WapiErrorBody>;
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.Error !== 'string') return undefined;
  const colon = parsed.Error.indexOf(':');
  return {
    errorClass: colon < 0 ? parsed.Error : parsed.Error.slice(0, colon),
    code: typeof parsed.code === 'string' ? parsed.code : '',
    text: typeof parsed.text === 'string' ? parsed.text : parsed.Error,
  };
}

const response = (err: unknown) => (err instanceof WapiResponseError ? err : undefined);

/** An unknown ref (404), or an object a request names that does not exist (a network for nextavailableip). */
export const isNotFound = (err: unknown) =>
  response(err)?.status === 404 || response(err)?.code === ErrorCodes.notFound;

/** The network has no free address left. */
export const isNetworkFull = (err: unknown) =>
  response(err)?.code === ErrorCodes.conflict && /Cannot find \d+ available IP address/.test(response(err)!.text);

/** The data refused the request: a duplicate, a full network, a missing parent zone. */
export const isConflict = (err: unknown) => response(err)?.code === ErrorCodes.conflict;

/** A duplicate: the object (or a DNS record of that name) already exists. */
export const isAlreadyExists = (err: unknown) => isConflict(err) && /already exists/.test(response(err)!.text);

/** A host record configured for DNS whose name lies in no authoritative zone of its DNS view. */
export const isParentNotFound = (err: unknown) =>
  isConflict(err) && response(err)!.text.includes('A parent was not found');

/** The credentials were refused (401/403). */
export const isAuthFailure = (err: unknown) => err instanceof WapiAuthError;

/** The appliance could not be reached or did not answer in time. */
export const isConnectionFailure = (err: unknown) => err instanceof WapiConnectionError;
