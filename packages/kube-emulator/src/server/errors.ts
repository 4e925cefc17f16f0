/**
 * Kubernetes `Status` failures, shaped exactly as the API server writes them (kubectl and client-node parse
 * `reason`, `details` and `code`). Every write-path failure in the emulator is an ApiError.
 */
import type { FieldError } from '@slmops/api';

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface StatusObject {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

/** A failed request: `status` is the body to send, `code` the HTTP status. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;
  /** Extra response headers (Retry-After for 429). */
  readonly headers: Record<string, string>;

  constructor(code: number, reason: string, message: string, details?: StatusDetails, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.details = details;
    this.headers = headers;
  }

  get status(): StatusObject {
    const s: StatusObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.code };
    if (this.details) s.details = this.details;
    return s;
  }
}

/** `slmdeployments.slmops.io` or `pods` (core resources have no group suffix). */
export const qualifiedResource = (resource: string, group: string) => (group ? `${resource}.${group}` : resource);

const detailsFor = (resource: string, group: string, name: string): StatusDetails => ({ name, group, kind: resource });

export const notFound = (resource: string, group: string, name: string) =>
  new ApiError(404, 'NotFound', `${qualifiedResource(resource, group)} "${name}" not found`, detailsFor(resource, group, name));

export const alreadyExists = (resource: string, group: string, name: string) =>
  new ApiError(409, 'AlreadyExists', `${qualifiedResource(resource, group)} "${name}" already exists`, detailsFor(resource, group, name));

export const conflict = (resource: string, group: string, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again') =>
  new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(resource, group)} "${name}": ${why}`, detailsFor(resource, group, name));

export const badRequest = (message: string) => new ApiError(400, 'BadRequest', message);

export const methodNotAllowed = (message: string) => new ApiError(405, 'MethodNotAllowed', message);

export const gone = (message: string) => new ApiError(410, 'Expired', message);

export const unsupportedMediaType = (accepted: string[]) =>
  new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`);

export const forbidden = (resource: string, group: string, name: string, why: string) =>
  new ApiError(403, 'Forbidden', `${qualifiedResource(resource, group)} "${name}" is forbidden: ${why}`, detailsFor(resource, group, name));

const causeReason: Record<FieldError['type'], string> = {
  Required: 'FieldValueRequired',
  Invalid: 'FieldValueInvalid',
  NotSupported: 'FieldValueNotSupported',
  TooLong: 'FieldValueTooLong',
  TooMany: 'FieldValueTooMany',
  Duplicate: 'FieldValueDuplicate',
  Forbidden: 'FieldValueForbidden',
  TypeInvalid: 'FieldValueTypeInvalid',
};

/** The error body the API server prints for one field error (`Required value`, `Forbidden: why`, …). */
export function fieldErrorBody(e: FieldError, value?: unknown): string {
  const m = e.message;
  switch (e.type) {
    case 'Required':
      return m === 'Required value' || m.startsWith('Required value') ? m : `Required value: ${m}`;
    case 'Forbidden':
      return m.startsWith('Forbidden') ? m : `Forbidden: ${m}`;
    case 'TypeInvalid':
      return `Invalid value: "${typeName(value)}": ${m}`;
    case 'Invalid':
      return m.startsWith('Invalid value') ? m : `Invalid value: "${typeName(value)}": ${m}`;
    default:
      return m;
  }
}

const typeName = (v: unknown) => (v === null || v === undefined ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' && Number.isInteger(v) ? 'integer' : typeof v);

/** 422 Invalid with one cause per field error; the message lists them as the API server does. */
export function invalid(kind: string, group: string, name: string, errors: FieldError[], valueAt: (path: string) => unknown = () => undefined): ApiError {
  const causes = errors.map((e) => ({ reason: causeReason[e.type], message: fieldErrorBody(e, valueAt(e.path)), field: e.path }));
  const lines = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const list = lines.length === 1 ? lines[0] : `[${lines.join(', ')}]`;
  const gk = group ? `${kind}.${group}` : kind;
  return new ApiError(422, 'Invalid', `${gk} "${name}" is invalid: ${list}`, { name, group, kind, causes });
}
