/**
 * The resource types the emulator serves: the built-in kinds the project uses, plus one entry per served
 * version of every CustomResourceDefinition in the store (added and removed as CRDs come and go).
 */
import type { JSONSchemaProps, PrinterColumn } from '@slmops/api';
import { eventFromCore, eventToCore } from './events.js';
import type { KubeObject, ResourceRef } from './types.js';

export interface ScaleSpec {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

export interface ResourceType {
  group: string;
  version: string;
  resource: string;
  kind: string;
  listKind: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  /** Has a /status subresource: the main resource ignores status changes and /status changes only status. */
  status: boolean;
  scale?: ScaleSpec;
  /** A custom resource: no strategic merge patch, PUT needs a resourceVersion, schema from its CRD. */
  custom: boolean;
  schema?: JSONSchemaProps;
  printerColumns?: PrinterColumn[];
  /** Field selector labels the resource accepts (metadata.name and metadata.namespace always). */
  fieldSelectors: ReadonlySet<string>;
  /** The CRD that defines a custom resource. */
  crdName?: string;
  /** Another resource's storage this one shares, converting objects on the way in and out (events.k8s.io). */
  storedAs?: { ref: ResourceRef; toStored: (o: Record<string, unknown>) => KubeObject; fromStored: (o: KubeObject) => KubeObject };
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** Kinds that are only ever created and answered, never stored (authorization reviews). */
export const REVIEW_KINDS = new Set(['SelfSubjectAccessReview']);

/** Storage is shared by every version of a group/resource (conversion strategy None rewrites apiVersion only). */
export const storageKey = (ref: { group: string; resource: string; storedAs?: { ref: ResourceRef } }) =>
  ref.storedAs ? `${ref.storedAs.ref.resource}.${ref.storedAs.ref.group}` : `${ref.resource}.${ref.group}`;

export const apiVersionOf = (t: { group: string; version: string }) => (t.group ? `${t.group}/${t.version}` : t.version);

export const refOf = (t: ResourceType): ResourceRef => ({ group: t.group, version: t.version, resource: t.resource });

interface BuiltinSpec {
  gv: string;
  resource: string;
  kind: string;
  namespaced?: boolean;
  short?: string[];
  categories?: string[];
  status?: boolean;
  scale?: ScaleSpec;
  fields?: string[];
}

const deploymentScale: ScaleSpec = { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.spec.selector' };

const builtinSpecs: BuiltinSpec[] = [
  { gv: 'v1', resource: 'namespaces', kind: 'Namespace', namespaced: false, short: ['ns'], status: true, fields: ['status.phase'] },
  { gv: 'v1', resource: 'nodes', kind: 'Node', namespaced: false, short: ['no'], status: true, fields: ['spec.unschedulable'] },
  {
    gv: 'v1',
    resource: 'pods',
    kind: 'Pod',
    short: ['po'],
    categories: ['all'],
    status: true,
    fields: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  },
  { gv: 'v1', resource: 'services', kind: 'Service', short: ['svc'], categories: ['all'], status: true },
  { gv: 'v1', resource: 'endpoints', kind: 'Endpoints', short: ['ep'] },
  { gv: 'v1', resource: 'configmaps', kind: 'ConfigMap', short: ['cm'] },
  { gv: 'v1', resource: 'secrets', kind: 'Secret', fields: ['type'] },
  {
    gv: 'v1',
    resource: 'events',
    kind: 'Event',
    short: ['ev'],
    fields: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
  },
  { gv: 'v1', resource: 'serviceaccounts', kind: 'ServiceAccount', short: ['sa'] },
  { gv: 'apps/v1', resource: 'deployments', kind: 'Deployment', short: ['deploy'], categories: ['all'], status: true, scale: deploymentScale },
  { gv: 'apps/v1', resource: 'daemonsets', kind: 'DaemonSet', short: ['ds'], categories: ['all'], status: true },
  { gv: 'apps/v1', resource: 'replicasets', kind: 'ReplicaSet', short: ['rs'], categories: ['all'], status: true, scale: deploymentScale, fields: ['status.replicas'] },
  { gv: 'apps/v1', resource: 'controllerrevisions', kind: 'ControllerRevision' },
  { gv: 'coordination.k8s.io/v1', resource: 'leases', kind: 'Lease' },
  { gv: 'networking.k8s.io/v1', resource: 'networkpolicies', kind: 'NetworkPolicy', short: ['netpol'] },
  { gv: 'autoscaling/v2', resource: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', short: ['hpa'], categories: ['all'], status: true },
  { gv: 'policy/v1', resource: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', short: ['pdb'], status: true },
  { gv: 'rbac.authorization.k8s.io/v1', resource: 'roles', kind: 'Role' },
  { gv: 'rbac.authorization.k8s.io/v1', resource: 'rolebindings', kind: 'RoleBinding' },
  { gv: 'rbac.authorization.k8s.io/v1', resource: 'clusterroles', kind: 'ClusterRole', namespaced: false },
  { gv: 'rbac.authorization.k8s.io/v1', resource: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false },
  { gv: 'authorization.k8s.io/v1', resource: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview', namespaced: false },
  { gv: 'apiextensions.k8s.io/v1', resource: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false, short: ['crd', 'crds'], status: true },
];

const baseFields = ['metadata.name', 'metadata.namespace'];

function builtinType(s: BuiltinSpec): ResourceType {
  const [group, version] = s.gv.includes('/') ? (s.gv.split('/') as [string, string]) : ['', s.gv];
  return {
    group,
    version,
    resource: s.resource,
    kind: s.kind,
    listKind: `${s.kind}List`,
    singular: s.kind.toLowerCase(),
    namespaced: s.namespaced ?? true,
    shortNames: s.short ?? [],
    categories: s.categories ?? [],
    verbs: REVIEW_KINDS.has(s.kind) ? ['create'] : ALL_VERBS,
    status: s.status ?? false,
    ...(s.scale ? { scale: s.scale } : {}),
    custom: false,
    fieldSelectors: new Set([...baseFields, ...(s.fields ?? [])]),
  };
}

interface CrdVersion {
  name: string;
  served?: boolean;
  storage?: boolean;
  schema?: { openAPIV3Schema?: JSONSchemaProps };
  subresources?: { status?: object; scale?: ScaleSpec };
  additionalPrinterColumns?: PrinterColumn[];
  selectableFields?: { jsonPath: string }[];
}

export interface CrdSpec {
  group: string;
  scope: 'Namespaced' | 'Cluster';
  names: { plural: string; singular?: string; kind: string; listKind?: string; shortNames?: string[]; categories?: string[] };
  versions: CrdVersion[];
}

/** The resource types a CRD serves, one per served version (storage version first). */
export function crdTypes(crd: KubeObject): ResourceType[] {
  const spec = crd['spec'] as CrdSpec;
  const versions = [...spec.versions].filter((v) => v.served !== false).sort((a, b) => Number(b.storage ?? false) - Number(a.storage ?? false));
  return versions.map((v) => ({
    group: spec.group,
    version: v.name,
    resource: spec.names.plural,
    kind: spec.names.kind,
    listKind: spec.names.listKind ?? `${spec.names.kind}List`,
    singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
    namespaced: spec.scope !== 'Cluster',
    shortNames: spec.names.shortNames ?? [],
    categories: spec.names.categories ?? [],
    verbs: ALL_VERBS,
    status: v.subresources?.status !== undefined,
    ...(v.subresources?.scale ? { scale: v.subresources.scale } : {}),
    custom: true,
    ...(v.schema?.openAPIV3Schema ? { schema: v.schema.openAPIV3Schema } : {}),
    ...(v.additionalPrinterColumns ? { printerColumns: v.additionalPrinterColumns } : {}),
    fieldSelectors: new Set([...baseFields, ...(v.selectableFields ?? []).map((f) => f.jsonPath.replace(/^\./, ''))]),
    crdName: crd.metadata.name!,
  }));
}

/** Lookup of resource types by group/version/resource and by group/version/kind. */
export class Registry {
  private readonly byResource = new Map<string, ResourceType>();
  private readonly byKind = new Map<string, ResourceType>();
  private readonly listeners = new Set<() => void>();

  constructor() {
    for (const s of builtinSpecs) this.add(builtinType(s));
    this.add({
      ...builtinType({ gv: 'events.k8s.io/v1', resource: 'events', kind: 'Event', short: ['ev'], fields: ['regarding.kind', 'regarding.name', 'regarding.namespace', 'regarding.uid', 'reason', 'type', 'reportingController'] }),
      storedAs: { ref: { group: '', version: 'v1', resource: 'events' }, toStored: eventToCore, fromStored: eventFromCore },
    });
  }

  private add(t: ResourceType): void {
    this.byResource.set(`${t.group}/${t.version}/${t.resource}`, t);
    this.byKind.set(`${t.group}/${t.version}/${t.kind}`, t);
  }

  /** Replaces the types a CRD defines (or removes them when `types` is empty) and tells discovery listeners. */
  setCrdTypes(crdName: string, types: ResourceType[]): void {
    for (const [key, t] of [...this.byResource]) {
      if (t.crdName === crdName) {
        this.byResource.delete(key);
        this.byKind.delete(`${t.group}/${t.version}/${t.kind}`);
      }
    }
    for (const t of types) this.add(t);
    for (const l of this.listeners) l();
  }

  /** Called whenever the set of types changes (discovery and OpenAPI caches listen). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(ref: ResourceRef): ResourceType | undefined {
    return this.byResource.get(`${ref.group}/${ref.version}/${ref.resource}`);
  }

  forKind(apiVersion: string, kind: string): ResourceType | undefined {
    const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/') as [string, string]) : ['', apiVersion];
    return this.byKind.get(`${group}/${version}/${kind}`);
  }

  all(): ResourceType[] {
    return [...this.byResource.values()];
  }

  /** The other served versions that share `t`'s storage. */
  versionsOf(t: { group: string; resource: string }): ResourceType[] {
    return this.all().filter((o) => o.group === t.group && o.resource === t.resource);
  }
}
