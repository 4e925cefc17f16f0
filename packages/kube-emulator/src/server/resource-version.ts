/**
 * The API server's rules for a list's `resourceVersion` and `resourceVersionMatch` (pure): which state a list
 * serves, and the errors for parameters it cannot honour (422 for bad combinations, 410 Expired for an exact
 * resourceVersion older than the retained history, 504 "Too large resource version" for one not issued yet).
 */
import { ApiError, badRequest, gone, invalid } from './errors.js';

export type ResourceVersionMatch = 'NotOlderThan' | 'Exact';

/** What a list serves: the current state, or the state at an exact older resourceVersion. */
export type ListRead = { at: 'current' } | { at: number };

/** 504 Timeout with the `ResourceVersionTooLarge` cause, as a real server answers once its 3 s wait runs out. */
export function tooLargeResourceVersion(requested: number, current: number): ApiError {
  return new ApiError(504, 'Timeout', `Timeout: Too large resource version: ${requested}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}

/**
 * Decides what a list with these parameters serves. `current` is the store's latest resourceVersion, `oldest`
 * the oldest one whose state can still be rebuilt (older ones are compacted).
 */
export function listRead(resourceVersion: string | undefined, match: string | undefined, current: number, oldest: number): ListRead {
  const rv = resourceVersion ?? '';
  if (match !== undefined && match !== '') {
    if (match !== 'Exact' && match !== 'NotOlderThan') {
      throw invalid('ListOptions', 'meta.k8s.io', '', [{ path: 'resourceVersionMatch', type: 'NotSupported', message: `Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan"` }]);
    }
    if (rv === '') throw invalid('ListOptions', 'meta.k8s.io', '', [{ path: 'resourceVersionMatch', type: 'Forbidden', message: 'resourceVersionMatch is forbidden unless resourceVersion is provided' }]);
    if (match === 'Exact' && rv === '0') throw invalid('ListOptions', 'meta.k8s.io', '', [{ path: 'resourceVersionMatch', type: 'Forbidden', message: 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"' }]);
  }
  if (rv === '' || rv === '0') return { at: 'current' };
  const n = Number(rv);
  if (!/^\d+$/.test(rv) || !Number.isSafeInteger(n)) throw badRequest(`invalid resource version "${rv}"`);
  if (n > current) throw tooLargeResourceVersion(n, current);
  if (match === 'Exact' && n < current) {
    if (n < oldest) throw gone('The resourceVersion for the provided list is too old.');
    return { at: n };
  }
  // NotOlderThan (and a resourceVersion without a match): any state at least this new; the current one is.
  return { at: 'current' };
}
