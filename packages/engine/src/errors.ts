/** Error codes a transport maps to its own statuses (gRPC codes of the same names). */
export type EngineErrorCode =
  | 'INVALID_ARGUMENT'
  | 'OUT_OF_RANGE'
  | 'RESOURCE_EXHAUSTED'
  | 'CANCELLED'
  | 'DEADLINE_EXCEEDED'
  | 'FAILED_PRECONDITION'
  | 'INTERNAL';

/** An engine failure with a stable `code`; INVALID_ARGUMENT errors name the request `field`. */
export class EngineError extends Error {
  override name = 'EngineError';
  readonly code: EngineErrorCode;
  readonly field?: string;

  constructor(code: EngineErrorCode, message: string, opts: { field?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    if (opts.field !== undefined) this.field = opts.field;
  }
}

/** An abort reason that means the caller's deadline passed (AbortSignal.timeout and our own deadline timers). */
export const isTimeout = (reason: unknown): boolean => reason instanceof Error && reason.name === 'TimeoutError';

export const invalidArgument = (field: string, message: string) => new EngineError('INVALID_ARGUMENT', `${field}: ${message}`, { field });
