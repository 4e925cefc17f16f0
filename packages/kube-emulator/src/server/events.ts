/**
 * events.k8s.io/v1 Events share storage with core/v1 Events, as in the API server: both APIs see the same
 * objects, converted field by field (regarding <-> involvedObject, note <-> message, deprecated* <-> legacy).
 */
import type { KubeObject } from './types.js';

type Obj = Record<string, unknown>;

const RENAMES: [eventsV1: string, core: string][] = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['reportingController', 'reportingComponent'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
];

function rename(o: Obj, pairs: [string, string][]): Obj {
  const out: Obj = { ...o };
  for (const [from, to] of pairs) {
    if (from in out) {
      out[to] = out[from];
      delete out[from];
    }
  }
  return out;
}

/** An events.k8s.io/v1 Event in the core/v1 shape it is stored in. */
export function eventToCore(o: Obj): KubeObject {
  return { ...rename(o, RENAMES), apiVersion: 'v1', kind: 'Event' } as KubeObject;
}

/** A stored core/v1 Event as events.k8s.io/v1 shows it. */
export function eventFromCore(o: KubeObject): KubeObject {
  return { ...rename(o, RENAMES.map(([a, b]) => [b, a])), apiVersion: 'events.k8s.io/v1', kind: 'Event' } as KubeObject;
}
