/**
 * List semantics per field, which strategic merge patch and server-side apply need: CRDs declare them with
 * `x-kubernetes-list-type` (atomic unless map/set); built-in kinds use the patch merge keys of their Go types.
 */
import type { JSONSchemaProps } from '@slmops/api';

export type ListKind = { type: 'map'; keys: string[] } | { type: 'set' } | { type: 'atomic' };

/** The list semantics of the list field reached by a path of field names (list indices left out). */
export type ListInfo = (path: readonly string[]) => ListKind;

const ATOMIC: ListKind = { type: 'atomic' };

/** Walks a structural schema; lists without x-kubernetes-list-type are atomic, as for any CRD. */
export function schemaListInfo(schema: JSONSchemaProps | undefined): ListInfo {
  return (path) => {
    let s: JSONSchemaProps | undefined = schema;
    for (const field of path) {
      while (s?.type === 'array') s = s.items;
      if (!s) return ATOMIC;
      s = s.properties?.[field] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
    }
    if (!s) return ATOMIC;
    const lt = s['x-kubernetes-list-type'];
    if (lt === 'map') return { type: 'map', keys: s['x-kubernetes-list-map-keys'] ?? [] };
    if (lt === 'set') return { type: 'set' };
    return ATOMIC;
  };
}

const byName: Record<string, ListKind> = {
  containers: { type: 'map', keys: ['name'] },
  initContainers: { type: 'map', keys: ['name'] },
  ephemeralContainers: { type: 'map', keys: ['name'] },
  env: { type: 'map', keys: ['name'] },
  volumes: { type: 'map', keys: ['name'] },
  volumeMounts: { type: 'map', keys: ['mountPath'] },
  volumeDevices: { type: 'map', keys: ['devicePath'] },
  imagePullSecrets: { type: 'map', keys: ['name'] },
  hostAliases: { type: 'map', keys: ['ip'] },
  conditions: { type: 'map', keys: ['type'] },
  ownerReferences: { type: 'map', keys: ['uid'] },
  topologySpreadConstraints: { type: 'map', keys: ['topologyKey', 'whenUnsatisfiable'] },
  resourceClaims: { type: 'map', keys: ['name'] },
  finalizers: { type: 'set' },
};

/** Merge keys of the built-in kinds the project uses (containers by name, ports by port number, …). */
export function builtinListInfo(kind: string): ListInfo {
  return (path) => {
    const field = path[path.length - 1] ?? '';
    if (field === 'ports') {
      return kind === 'Service' && path.length === 2 ? { type: 'map', keys: ['port'] } : { type: 'map', keys: ['containerPort'] };
    }
    if (path.length === 2 && path[0] === 'metadata' && field === 'finalizers') return { type: 'set' };
    return byName[field] ?? ATOMIC;
  };
}
