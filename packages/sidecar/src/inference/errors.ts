/** Status codes the domain speaks; transports map them (gRPC codes of the same names, HTTP in http/). */
export type InferenceErrorCode =
  | 'INVALID_ARGUMENT'
  | 'OUT_OF_RANGE'
  | 'RESOURCE_EXHAUSTED'
  | 'CANCELLED'
  | 'DEADLINE_EXCEEDED'
  | 'FAILED_PRECONDITION'
  | 'UNAVAILABLE'
  | 'NOT_FOUND'
  | 'INTERNAL';

const CODES = new Set<string>(['INVALID_ARGUMENT', 'OUT_OF_RANGE', 'RESOURCE_EXHAUSTED', 'CANCELLED', 'DEADLINE_EXCEEDED', 'FAILED_PRECONDITION', 'UNAVAILABLE', 'NOT_FOUND', 'INTERNAL']);

/** A failure of the sidecar's domain with a stable code; INVALID_ARGUMENT names the request field. */
export class InferenceError extends Error {
  override name = 'InferenceError';
  readonly code: InferenceErrorCode;
  readonly field?: string;

  constructor(code: InferenceErrorCode, message: string, opts: { field?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    if (opts.field !== undefined) this.field = opts.field;
  }
}

export const invalidArgument = (field: string, message: string) => new InferenceError('INVALID_ARGUMENT', `${field}: ${message}`, { field });

/**
 * Normalises anything thrown by the domain or the engine (EngineError has the same `code` names) into an
 * InferenceError; unknown errors become INTERNAL with a generic message so no internals leak to clients.
 */
export function toInferenceError(e: unknown): InferenceError {
  if (e instanceof InferenceError) return e;
  const err = e as { code?: unknown; message?: unknown; field?: unknown; name?: unknown } | undefined;
  if (err && typeof err.code === 'string' && CODES.has(err.code)) {
    return new InferenceError(err.code as InferenceErrorCode, String(err.message ?? err.code), {
      ...(typeof err.field === 'string' ? { field: err.field } : {}),
      cause: e,
    });
  }
  if (err && err.name === 'AbortError') return new InferenceError('CANCELLED', 'request cancelled', { cause: e });
  return new InferenceError('INTERNAL', 'internal error', { cause: e });
}
