/**
 * A pure RBAC checker with the Kubernetes authorizer's matching rules (rbac/v1 PolicyRule: apiGroups, resources
 * with `res/sub` and `*`, verbs, resourceNames; Roles grant only in their namespace). Given the rendered roles
 * and bindings and the API requests a component made, it says which requests the rules deny and which grants
 * no request used, so a test can prove the chart's RBAC is both sufficient and minimal.
 */

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** A rendered Kubernetes object, as far as RBAC cares. */
export interface RbacObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/** One API request: `group` is '' for the core group; `namespace` is absent for cluster-scoped or all-namespace requests. */
export interface ApiRequest {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** A rule in force for one subject: everywhere (ClusterRoleBinding) or in one namespace (RoleBinding). */
export interface Grant {
  /** `ClusterRole/name` or `Role/namespace/name`. */
  source: string;
  ruleIndex: number;
  rule: PolicyRule;
  /** Undefined: every namespace and cluster-scoped resources. */
  namespace?: string;
}

/** One (group, resource, verb) a rule grants that no request used. */
export interface UnusedPermission {
  source: string;
  ruleIndex: number;
  group: string;
  resource: string;
  verb: string;
  resourceNames?: string[];
  namespace?: string;
}

/** A permission the caller keeps on purpose although no request uses it, with the reason. */
export interface DeliberateException {
  group: string;
  resource: string;
  verb: string;
  reason: string;
}

export interface RbacReport {
  /** Requests no grant allows. */
  denied: ApiRequest[];
  /** Granted permissions no request used and no exception covers. */
  unused: UnusedPermission[];
  /** Unused permissions an exception covers (reported, not failures). */
  excepted: (UnusedPermission & { reason: string })[];
}

const ALL = '*';

/** Grants of one ServiceAccount: its bindings resolved to the rules of the roles they reference. */
export function grantsFor(objects: readonly RbacObject[], serviceAccount: { name: string; namespace: string }): Grant[] {
  const roles = new Map<string, RbacObject>();
  for (const o of objects) {
    if (o.kind === 'ClusterRole') roles.set(`ClusterRole/${o.metadata.name}`, o);
    if (o.kind === 'Role') roles.set(`Role/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o);
  }
  const grants: Grant[] = [];
  for (const b of objects) {
    if (b.kind !== 'ClusterRoleBinding' && b.kind !== 'RoleBinding') continue;
    const bound = (b.subjects ?? []).some(
      (s) => s.kind === 'ServiceAccount' && s.name === serviceAccount.name && (s.namespace ?? b.metadata.namespace) === serviceAccount.namespace,
    );
    if (!bound || !b.roleRef) continue;
    const bindingNs = b.kind === 'RoleBinding' ? b.metadata.namespace ?? '' : undefined;
    const key = b.roleRef.kind === 'ClusterRole' ? `ClusterRole/${b.roleRef.name}` : `Role/${bindingNs ?? ''}/${b.roleRef.name}`;
    const role = roles.get(key);
    if (!role) throw new Error(`${b.kind} ${b.metadata.name} references ${key}, which is not among the rendered objects`);
    (role.rules ?? []).forEach((rule, ruleIndex) => grants.push({ source: key, ruleIndex, rule, ...(bindingNs !== undefined ? { namespace: bindingNs } : {}) }));
  }
  return grants;
}

const has = (list: readonly string[] | undefined, value: string): boolean => (list ?? []).includes(ALL) || (list ?? []).includes(value);

/** One entry of a rule's resources against a request: "*", "pods", "pods/status" or "*" + "/status". */
function resourceEntryMatches(entry: string, req: ApiRequest): boolean {
  if (entry === ALL) return true;
  if (req.subresource === undefined) return entry === req.resource;
  return entry === `${req.resource}/${req.subresource}` || entry === `*/${req.subresource}`;
}

const resourceMatches = (rule: PolicyRule, req: ApiRequest): boolean => (rule.resources ?? []).some((r) => resourceEntryMatches(r, req));

/** True when `grant` allows `req` (the authorizer's RuleAllows plus the binding's namespace scope). */
export function grantAllows(grant: Grant, req: ApiRequest): boolean {
  if (grant.namespace !== undefined && req.namespace !== grant.namespace) return false;
  const r = grant.rule;
  if (!has(r.verbs, req.verb) || !has(r.apiGroups, req.group) || !resourceMatches(r, req)) return false;
  if (r.resourceNames && r.resourceNames.length > 0) return req.name !== undefined && r.resourceNames.includes(req.name);
  return true;
}

/** Which requests the grants deny, and which granted (group, resource, verb) triples no allowed request used. */
export function checkRbac(grants: readonly Grant[], requests: readonly ApiRequest[], exceptions: readonly DeliberateException[] = []): RbacReport {
  const denied: ApiRequest[] = [];
  const used = new Set<string>();
  const usedKey = (g: Grant, group: string, resource: string, verb: string) => `${g.source}#${g.ruleIndex}|${group}|${resource}|${verb}`;
  for (const req of requests) {
    const allowing = grants.filter((g) => grantAllows(g, req));
    if (allowing.length === 0) {
      denied.push(req);
      continue;
    }
    // Every rule that allows the request counts as used, so overlapping rules are not reported as unused.
    for (const g of allowing) {
      for (const group of g.rule.apiGroups ?? []) {
        if (group !== ALL && group !== req.group) continue;
        for (const resource of g.rule.resources ?? []) {
          if (!resourceEntryMatches(resource, req)) continue;
          for (const verb of g.rule.verbs) if (verb === ALL || verb === req.verb) used.add(usedKey(g, group, resource, verb));
        }
      }
    }
  }
  const unused: UnusedPermission[] = [];
  const excepted: (UnusedPermission & { reason: string })[] = [];
  for (const g of grants) {
    for (const group of g.rule.apiGroups ?? []) {
      for (const resource of g.rule.resources ?? []) {
        for (const verb of g.rule.verbs) {
          if (used.has(usedKey(g, group, resource, verb))) continue;
          const entry: UnusedPermission = {
            source: g.source,
            ruleIndex: g.ruleIndex,
            group,
            resource,
            verb,
            ...(g.rule.resourceNames?.length ? { resourceNames: g.rule.resourceNames } : {}),
            ...(g.namespace !== undefined ? { namespace: g.namespace } : {}),
          };
          const exception = exceptions.find((e) => e.group === group && e.resource === resource && e.verb === verb);
          if (exception) excepted.push({ ...entry, reason: exception.reason });
          else unused.push(entry);
        }
      }
    }
  }
  return { denied, unused, excepted };
}

/**
 * An ApiRequest from a kube-emulator request log entry (`deployments.apps`, `pods`); undefined for discovery,
 * OpenAPI and other non-resource requests, which every authenticated user may make (system:discovery).
 */
export function requestFromLog(entry: { verb: string; resource: string; subresource?: string; namespace?: string; name?: string }): ApiRequest | undefined {
  if (!entry.resource || entry.verb === 'discovery' || entry.verb === 'openapi' || entry.verb === 'other') return undefined;
  const dot = entry.resource.indexOf('.');
  return {
    verb: entry.verb,
    group: dot < 0 ? '' : entry.resource.slice(dot + 1),
    resource: dot < 0 ? entry.resource : entry.resource.slice(0, dot),
    ...(entry.subresource ? { subresource: entry.subresource } : {}),
    ...(entry.namespace ? { namespace: entry.namespace } : {}),
    ...(entry.name ? { name: entry.name } : {}),
  };
}

/** `verb group/resource[/sub] [ns/name]`, for readable assertion messages. */
export function describeRequest(r: ApiRequest): string {
  const res = `${r.group || 'core'}/${r.resource}${r.subresource ? `/${r.subresource}` : ''}`;
  return `${r.verb} ${res}${r.namespace || r.name ? ` ${r.namespace ?? ''}/${r.name ?? ''}` : ''}`;
}
