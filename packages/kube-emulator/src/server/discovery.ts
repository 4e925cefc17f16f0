/** API discovery documents: aggregated (apidiscovery.k8s.io/v2) and legacy (APIVersions, APIGroupList, APIResourceList). */
import { apiVersionOf, type Registry, type ResourceType } from './registry.js';

const SUB_VERBS = ['get', 'patch', 'update'];

function groupsOf(registry: Registry): Map<string, Map<string, ResourceType[]>> {
  const groups = new Map<string, Map<string, ResourceType[]>>();
  for (const t of registry.all()) {
    let versions = groups.get(t.group);
    if (!versions) groups.set(t.group, (versions = new Map()));
    let list = versions.get(t.version);
    if (!list) versions.set(t.version, (list = []));
    list.push(t);
  }
  return groups;
}

function aggregatedResource(t: ResourceType) {
  const subresources = [];
  if (t.status) subresources.push({ subresource: 'status', responseKind: { group: t.group, version: t.version, kind: t.kind }, verbs: SUB_VERBS });
  if (t.scale) subresources.push({ subresource: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: SUB_VERBS });
  return {
    resource: t.resource,
    singularResource: t.singular,
    scope: t.namespaced ? 'Namespaced' : 'Cluster',
    responseKind: { group: t.group, version: t.version, kind: t.kind },
    verbs: t.verbs,
    ...(t.shortNames.length > 0 ? { shortNames: t.shortNames } : {}),
    ...(t.categories.length > 0 ? { categories: t.categories } : {}),
    ...(subresources.length > 0 ? { subresources } : {}),
  };
}

/** APIGroupDiscoveryList for `/api` (core only) or `/apis` (every named group). */
export function aggregatedDiscovery(registry: Registry, core: boolean) {
  const items = [];
  for (const [group, versions] of groupsOf(registry)) {
    if ((group === '') !== core) continue;
    items.push({
      metadata: core ? { creationTimestamp: null } : { name: group, creationTimestamp: null },
      versions: [...versions].map(([version, types]) => ({ version, resources: types.map(aggregatedResource), freshness: 'Current' })),
    });
  }
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
}

export function legacyApiVersions(serverAddress: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function apiGroup(group: string, versions: string[]) {
  const list = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { name: group, versions: list, preferredVersion: list[0] };
}

export function legacyGroupList(registry: Registry) {
  const groups = [];
  for (const [group, versions] of groupsOf(registry)) if (group !== '') groups.push(apiGroup(group, [...versions.keys()]));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

/** `/apis/{group}`, or undefined when the group is not served. */
export function legacyGroup(registry: Registry, group: string) {
  const versions = groupsOf(registry).get(group);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, [...versions.keys()]) } : undefined;
}

/** `/api/v1` or `/apis/{group}/{version}`, or undefined when the group/version is not served. */
export function resourceList(registry: Registry, group: string, version: string) {
  const types = groupsOf(registry).get(group)?.get(version);
  if (!types) return undefined;
  const resources = [];
  for (const t of types) {
    resources.push({
      name: t.resource,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: t.verbs,
      ...(t.shortNames.length > 0 ? { shortNames: t.shortNames } : {}),
      ...(t.categories.length > 0 ? { categories: t.categories } : {}),
    });
    if (t.status) resources.push({ name: `${t.resource}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: SUB_VERBS });
    if (t.scale) resources.push({ name: `${t.resource}/scale`, singularName: '', namespaced: t.namespaced, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: SUB_VERBS });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
}
