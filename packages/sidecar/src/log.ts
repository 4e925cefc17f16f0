import { redactUrlsIn } from '@slmops/metrics';

/** Structured log sink. Callers pass ids, counts and codes only: prompt and completion text never go here. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Every string inside `v` with URL credentials, query strings and fragments cut (see redactUrlsIn). */
function redactDeep(v: unknown): unknown {
  if (typeof v === 'string') return redactUrlsIn(v);
  if (Array.isArray(v)) return v.map(redactDeep);
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactDeep(x)]));
  }
  return v;
}

/**
 * One JSON object per line on the given stream. URLs in the message and fields lose credentials and query strings
 * here as a last line of defence: an error message from a library may quote the URL it was given.
 */
export function createJsonLogger(stream: NodeJS.WritableStream, base: Record<string, unknown> = {}): Logger {
  const write = (level: string, msg: string, fields?: Record<string, unknown>) =>
    stream.write(`${JSON.stringify(redactDeep({ time: new Date().toISOString(), level, msg, ...base, ...fields }))}\n`);
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
