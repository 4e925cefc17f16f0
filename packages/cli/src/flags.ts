/** Flag value parsers shared by `slmops` and `kubectl slm` (light: no model or transport code). */
import { UsageError } from './context.js';

/** Parses a numeric flag; a bad value is a usage error naming the flag. */
export function numberFlag(flag: string, raw: string | undefined, o: { int?: boolean; min?: number } = {}): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || (o.int && !Number.isSafeInteger(v)) || (o.min !== undefined && v < o.min)) {
    throw new UsageError(`--${flag} must be ${o.int ? 'an integer' : 'a number'}${o.min !== undefined ? ` >= ${o.min}` : ''}, got "${raw}"`);
  }
  return v;
}
