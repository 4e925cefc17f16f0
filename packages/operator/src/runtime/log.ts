/** Structured logs of the operator. Callers pass names, counts, reasons and codes only: never prompt text. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export type LogFormat = 'json' | 'text';
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/** One JSON object (or one `time level msg k=v` line) per record on `stream`, at or above `level`. */
export function createLogger(stream: NodeJS.WritableStream, options: { format?: LogFormat; level?: Level; base?: Record<string, unknown> } = {}): Logger {
  const min = LEVELS.indexOf(options.level ?? 'info');
  const base = options.base ?? {};
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(level) < min) return;
    const time = new Date().toISOString();
    if (options.format === 'text') {
      const kv = Object.entries({ ...base, ...fields })
        .map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v ?? null)}`)
        .join(' ');
      stream.write(`${time} ${level.toUpperCase()} ${msg}${kv ? ` ${kv}` : ''}\n`);
    } else stream.write(`${JSON.stringify({ time, level, msg, ...base, ...fields })}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** An error as log fields: message, HTTP status and reason of API errors. */
export function errorFields(e: unknown): Record<string, unknown> {
  const err = e as { message?: unknown; status?: unknown; reason?: unknown; retryAfterSeconds?: unknown };
  const out: Record<string, unknown> = { error: typeof err?.message === 'string' ? err.message : String(e) };
  if (typeof err?.status === 'number') out['status'] = err.status;
  if (typeof err?.reason === 'string') out['reason'] = err.reason;
  if (typeof err?.retryAfterSeconds === 'number') out['retryAfterSeconds'] = err.retryAfterSeconds;
  return out;
}
