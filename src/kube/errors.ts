import type { Status } from './types.ts';

/** A non-2xx answer of the API server (or a watch ERROR event); `message` is the server's own message. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** HTTP status code (or Status.code of a watch ERROR event). */
  readonly statusCode: number;
  /** metav1.StatusReason, e.g. `Conflict`, `NotFound`, `Expired`; '' when the server sent none. */
  readonly reason: string;
  /** `METHOD /path` of the failed request, for logs. */
  readonly request: string;
  readonly status: Status | undefined;

  constructor(statusCode: number, status: Status | undefined, request: string) {
    super(status?.message || `HTTP ${statusCode}`);
    this.statusCode = statusCode;
    this.reason = status?.reason ?? '';
    this.request = request;
    this.status = status;
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

// Like apimachinery's errors.ReasonForError: the reason decides; the code only when the server sent no reason.
function hasReason(err: unknown, reason: string, code: number): boolean {
  if (!isApiError(err)) return false;
  return err.reason === reason || (err.reason === '' && err.statusCode === code);
}

export const isNotFound = (err: unknown): boolean => hasReason(err, 'NotFound', 404);

/** What `read` gives, or undefined if the object does not exist; other errors are thrown. */
export async function unlessNotFound<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
/** 409 from a stale resourceVersion (not AlreadyExists, which is also 409). */
export const isConflict = (err: unknown): boolean => hasReason(err, 'Conflict', 409);
export const isAlreadyExists = (err: unknown): boolean => hasReason(err, 'AlreadyExists', 409);
export const isInvalid = (err: unknown): boolean => hasReason(err, 'Invalid', 422);
/** 410: resourceVersion too old for a watch (`Expired`/`Gone`), or an expired `continue` token. */
export const isGone = (err: unknown): boolean => isApiError(err) && err.statusCode === 410;

/**
 * A write the client's write gate refused (nothing was sent) or cut off in flight (the API server may or may not
 * have applied it). `cause` is the gate's reason, e.g. the leader election that was lost.
 */
export class WriteRefusedError extends Error {
  override readonly name = 'WriteRefusedError';
  /** `METHOD /path` of the refused request. */
  readonly request: string;
  /** False: refused before sending; true: aborted while in flight. */
  readonly inFlight: boolean;

  constructor(request: string, cause: unknown, inFlight: boolean) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`${request} ${inFlight ? 'aborted in flight' : 'not sent'}: ${why}`, { cause });
    this.request = request;
    this.inFlight = inFlight;
  }
}

export const isWriteRefused = (err: unknown): err is WriteRefusedError => err instanceof WriteRefusedError;

/**
 * A write guarded by an object's uid met another object of that name (deleted and re-created meanwhile). The API
 * server says so differently per verb (observed on kube-apiserver 1.34): DELETE with `preconditions.uid` and PUT with
 * `metadata.uid` answer 409 Conflict (so isConflict is true too: test this first, since re-reading and retrying would
 * act on the new object); a PATCH carrying `metadata.uid` answers 422 Invalid ("metadata.uid: field is immutable").
 */
export function isUIDMismatch(err: unknown): boolean {
  if (!isApiError(err)) return false;
  if (isConflict(err)) return /\bUID in (the )?precondition\b/i.test(err.message);
  return isInvalid(err) && (err.status?.details?.causes ?? []).some((c) => c.field === 'metadata.uid');
}
