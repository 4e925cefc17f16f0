/** The core/v1 Event the port writes for an EventInput; shared by the client and the fake. */
import type { EventInput, KubeMeta, KubeObject } from './port.js';

/** Kubernetes caps event messages at 1 KiB (client-go's recorder truncates likewise). */
export const MAX_EVENT_MESSAGE = 1024;

/** RFC 3339 with second precision, as the API server writes timestamps. */
export const rfc3339 = (d: Date): string => `${d.toISOString().slice(0, 19)}Z`;

/**
 * The core/v1 Event for an EventInput, named by generateName `<object>.`. Events about cluster-scoped objects go
 * to "default", as client-go's recorder does; the message is cut to 1 KiB.
 */
export function eventObject(event: EventInput, defaultComponent: string, now: Date): KubeObject {
  const { regarding } = event;
  const component = event.reportingController ?? defaultComponent;
  const time = rfc3339(now);
  const message = event.message.length > MAX_EVENT_MESSAGE ? `${event.message.slice(0, MAX_EVENT_MESSAGE - 3)}...` : event.message;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    // No name: the server completes generateName (the API treats an empty name as unset).
    metadata: { generateName: `${regarding.name}.`, namespace: regarding.namespace ?? 'default' } as KubeMeta,
    involvedObject: Object.fromEntries(Object.entries(regarding).filter(([, v]) => v !== undefined)),
    reason: event.reason,
    message,
    type: event.type,
    count: 1,
    firstTimestamp: time,
    lastTimestamp: time,
    source: { component },
    reportingComponent: component,
    reportingInstance: event.reportingInstance ?? '',
    ...(event.action ? { action: event.action } : {}),
  };
}
