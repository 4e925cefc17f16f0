/** Deterministic hashing and DNS-valid naming of the operator's children. */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level, so equal values always serialise the same way. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** First `length` hex digits of the sha256 of the canonical JSON of `value`. */
export function stableHash(value: unknown, length = 10): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, length);
}

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * A DNS-1035 label of at most `max` characters built from `parts` joined by "-": dots and other characters
 * outside [a-z0-9-] become "-", a leading digit gets an "s" prefix, and a name over `max` is cut and suffixed
 * with a hash of the full name, so distinct inputs stay distinct. Default 52 leaves room for pod suffixes.
 */
export function childName(parts: readonly string[], max = 52): string {
  const joined = parts
    .filter((p) => p.length > 0)
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-');
  let name = /^[a-z]/.test(joined) ? joined : `s${joined}`;
  name = name.replace(/-+$/, '');
  if (name.length <= max && DNS_LABEL.test(name)) return name;
  const hash = stableHash(parts.join('/'), 8);
  const head = name.slice(0, max - hash.length - 1).replace(/-+$/, '');
  return `${head}-${hash}`;
}

// One definition with the pod index and kubectl-slm, which must select exactly the labels the operator writes.
export { labelValue } from '@slmops/api';

/** FNV-1a 32-bit hash of a string: the deterministic, well-spread order in which a wave picks nodes. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** RFC 3339 with second precision, as Kubernetes writes timestamps. */
export const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Milliseconds of a Go-style duration ("90s", "1h30m", "250ms"); throws naming the value when malformed. */
export function durationMs(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
    consumed += m[0].length;
  }
  if (consumed !== text.length || text.length === 0) throw new Error(`"${text}" is not a duration like 90s, 10m or 1h30m`);
  return Math.round(total);
}
