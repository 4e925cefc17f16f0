/**
 * Pure comparisons that keep steady state free of API writes: a planned object is applied only when the live
 * object lacks one of the fields we own with the value we want, or when the set of fields we apply changed
 * (recorded as a hash annotation, because a field we stop applying is invisible to a subset check).
 */
import type { KubeObject } from '@slmops/kube';
import { canonicalJson, stableHash } from '../desired/names.js';

/** Annotation holding the hash of the last applied configuration of an object the operator owns. */
export const APPLIED_HASH_ANNOTATION = 'slmops.io/applied-hash';

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const hashOf = (value: unknown): string => stableHash(value, 16);

/**
 * True when every field set in `want` is present in `have` with the same value: objects may carry extra keys
 * (server defaults, other managers' fields), arrays must have the same length with each element a subset.
 * Numbers and their decimal strings compare equal (quantities written either way).
 */
export function isSubset(want: unknown, have: unknown): boolean {
  if (want === undefined) return true;
  if (want === null) return have === null || have === undefined;
  if (Array.isArray(want)) {
    if (!Array.isArray(have) || have.length !== want.length) return false;
    return want.every((w, i) => isSubset(w, have[i]));
  }
  if (isPlainObject(want)) {
    if (!isPlainObject(have)) return false;
    for (const [k, v] of Object.entries(want)) if (!isSubset(v, have[k])) return false;
    return true;
  }
  if (typeof want === 'number' || typeof have === 'number') return have !== undefined && have !== null && String(want) === String(have);
  return want === have;
}

/** Deep equality ignoring key order and undefined members. */
export const semanticEqual = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

/** The planned object with its applied-hash annotation added: what the runtime sends. */
export function withAppliedHash(planned: KubeObject): { object: KubeObject; hash: string } {
  const hash = hashOf(planned);
  const annotations = { ...(planned.metadata.annotations ?? {}), [APPLIED_HASH_ANNOTATION]: hash };
  return { object: { ...planned, metadata: { ...planned.metadata, annotations } }, hash };
}

/**
 * Why `planned` must be applied over `live` ("" when it need not be): missing, applied from another
 * configuration, or drifted in a field we own. The reason goes into logs.
 */
export function applyReason(planned: KubeObject, live: KubeObject | undefined): string {
  if (!live) return 'missing';
  // Applying to an object that is being deleted would be lost; its DELETED event brings us back.
  if (live.metadata.deletionTimestamp) return '';
  const { object, hash } = withAppliedHash(planned);
  if (live.metadata.annotations?.[APPLIED_HASH_ANNOTATION] !== hash) return 'changed';
  if (!isSubset(object, live)) return 'drifted';
  return '';
}
