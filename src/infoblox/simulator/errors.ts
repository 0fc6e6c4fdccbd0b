// The WAPI error answers of the simulator: status and JSON body as a NIOS appliance writes them (spec 04 §4.3/§4.4).
import { ErrorCodes, type WapiErrorBody } from '../wire.ts';

/** A refused WAPI request: the HTTP layer answers `status` with `body` as JSON. */
export class WapiFault extends Error {
  constructor(
    readonly status: number,
    readonly body: WapiErrorBody,
  ) {
    super(body.Error);
  }
}

/** An unknown reference: 404 AdmConDataNotFoundError. */
export function refNotFound(ref: string): WapiFault {
  const text = `Reference ${ref} not found`;
  return new WapiFault(404, { Error: `AdmConDataNotFoundError: ${text}`, code: ErrorCodes.notFound, text });
}

/** An object a request names (a view, a network) does not exist. */
export function dataNotFound(text: string): WapiFault {
  return new WapiFault(400, { Error: `AdmConDataNotFoundError: ${text}`, code: ErrorCodes.notFound, text });
}

/** A malformed request: unknown object type, field or argument, a value of the wrong type. */
export function protoError(text: string): WapiFault {
  return new WapiFault(400, { Error: `AdmConProtoError: ${text}`, code: ErrorCodes.proto, text });
}

/** A request the data refuses: duplicates, a full network, a missing parent zone. */
export function conflict(text: string): WapiFault {
  return new WapiFault(400, {
    Error: `AdmConDataError: None (IBDataConflictError: IB.Data.Conflict:${text})`,
    code: ErrorCodes.conflict,
    text,
  });
}

export const networkFull = () => conflict('Cannot find 1 available IP address(es) in this network');

export const parentNotFound = () => conflict('The action is not allowed. A parent was not found.');

export const duplicateObject = (key: string, type: string) =>
  conflict(`Duplicate object '${key}' of type '${type}' already exists in the database.`);

export const unknownField = (field: string) => protoError(`Unknown argument/field: '${field}'`);
