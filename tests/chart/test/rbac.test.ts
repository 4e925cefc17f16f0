import { describe, expect, it } from 'vitest';
import { type ApiRequest, type RbacObject, checkRbac, describeRequest, grantAllows, grantsFor, requestFromLog } from '../src/rbac.js';

const sa = { name: 'op', namespace: 'sys' };
const subjects = [{ kind: 'ServiceAccount', name: 'op', namespace: 'sys' }];

const clusterRole = (name: string, rules: RbacObject['rules']): RbacObject => ({ kind: 'ClusterRole', metadata: { name }, rules });
const role = (name: string, namespace: string, rules: RbacObject['rules']): RbacObject => ({ kind: 'Role', metadata: { name, namespace }, rules });
const crb = (name: string, roleName: string, subs = subjects): RbacObject => ({
  kind: 'ClusterRoleBinding',
  metadata: { name },
  roleRef: { kind: 'ClusterRole', name: roleName },
  subjects: subs,
});
const rb = (name: string, namespace: string, roleRef: { kind: string; name: string }): RbacObject => ({
  kind: 'RoleBinding',
  metadata: { name, namespace },
  roleRef,
  subjects,
});

const req = (verb: string, group: string, resource: string, extra: Partial<ApiRequest> = {}): ApiRequest => ({ verb, group, resource, ...extra });

describe('grantsFor', () => {
  it('resolves ClusterRoleBindings to cluster-wide grants and RoleBindings to their namespace', () => {
    const objects = [
      clusterRole('nodes', [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]),
      role('leases', 'sys', [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] }]),
      crb('nodes', 'nodes'),
      rb('leases', 'sys', { kind: 'Role', name: 'leases' }),
    ];
    const grants = grantsFor(objects, sa);
    expect(grants.map((g) => [g.source, g.namespace])).toEqual([
      ['ClusterRole/nodes', undefined],
      ['Role/sys/leases', 'sys'],
    ]);
  });

  it('ignores bindings of other subjects and scopes a ClusterRole bound by a RoleBinding to that namespace', () => {
    const objects = [
      clusterRole('pods', [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }]),
      crb('other', 'pods', [{ kind: 'ServiceAccount', name: 'someone-else', namespace: 'sys' }]),
      rb('edge-pods', 'edge', { kind: 'ClusterRole', name: 'pods' }),
    ];
    const grants = grantsFor(objects, sa);
    expect(grants).toHaveLength(1);
    expect(grants[0]!.namespace).toBe('edge');
  });

  it('names the missing role when a binding references one that was not rendered', () => {
    expect(() => grantsFor([crb('dangling', 'nope')], sa)).toThrow(/ClusterRoleBinding dangling references ClusterRole\/nope/);
  });
});

describe('grantAllows', () => {
  const grant = (rule: NonNullable<RbacObject['rules']>[number], namespace?: string) => ({ source: 'x', ruleIndex: 0, rule, ...(namespace ? { namespace } : {}) });

  it('matches subresources only when the rule names them', () => {
    const g = grant({ apiGroups: ['slmops.io'], resources: ['slmdeployments'], verbs: ['patch'] });
    expect(grantAllows(g, req('patch', 'slmops.io', 'slmdeployments'))).toBe(true);
    expect(grantAllows(g, req('patch', 'slmops.io', 'slmdeployments', { subresource: 'status' }))).toBe(false);
    const status = grant({ apiGroups: ['slmops.io'], resources: ['slmdeployments/status'], verbs: ['patch'] });
    expect(grantAllows(status, req('patch', 'slmops.io', 'slmdeployments', { subresource: 'status' }))).toBe(true);
    expect(grantAllows(status, req('patch', 'slmops.io', 'slmdeployments'))).toBe(false);
    const anyScale = grant({ apiGroups: ['apps'], resources: ['*/scale'], verbs: ['get'] });
    expect(grantAllows(anyScale, req('get', 'apps', 'deployments', { subresource: 'scale' }))).toBe(true);
    expect(grantAllows(anyScale, req('get', 'apps', 'deployments'))).toBe(false);
  });

  it('requires the group, verb and namespace to match, and wildcards to match anything', () => {
    const g = grant({ apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['list'] }, 'edge');
    expect(grantAllows(g, req('list', 'apps', 'daemonsets', { namespace: 'edge' }))).toBe(true);
    expect(grantAllows(g, req('list', 'apps', 'daemonsets', { namespace: 'other' }))).toBe(false);
    expect(grantAllows(g, req('list', 'apps', 'daemonsets'))).toBe(false);
    expect(grantAllows(g, req('list', 'extensions', 'daemonsets', { namespace: 'edge' }))).toBe(false);
    expect(grantAllows(g, req('watch', 'apps', 'daemonsets', { namespace: 'edge' }))).toBe(false);
    const wild = grant({ apiGroups: ['*'], resources: ['*'], verbs: ['*'] });
    expect(grantAllows(wild, req('delete', 'anything.io', 'widgets', { subresource: 'status', namespace: 'n' }))).toBe(true);
  });

  it('limits named rules to requests for those names', () => {
    const g = grant({ apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['slmops-operator'], verbs: ['get', 'update'] });
    expect(grantAllows(g, req('get', 'coordination.k8s.io', 'leases', { name: 'slmops-operator' }))).toBe(true);
    expect(grantAllows(g, req('get', 'coordination.k8s.io', 'leases', { name: 'other' }))).toBe(false);
    expect(grantAllows(g, req('list', 'coordination.k8s.io', 'leases'))).toBe(false);
  });
});

describe('checkRbac', () => {
  const objects = [
    clusterRole('op', [
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['daemonsets', 'deployments'], verbs: ['list', 'patch'] },
      { apiGroups: ['slmops.io'], resources: ['slmdeployments/finalizers'], verbs: ['update'] },
    ]),
    crb('op', 'op'),
  ];
  const grants = grantsFor(objects, sa);

  it('lists denied requests and unused (group, resource, verb) grants', () => {
    const report = checkRbac(grants, [
      req('list', '', 'nodes'),
      req('watch', '', 'nodes'),
      req('patch', 'apps', 'daemonsets', { namespace: 'edge', name: 'a' }),
      req('list', 'apps', 'daemonsets'),
      req('delete', '', 'pods', { namespace: 'edge', name: 'p' }),
    ]);
    expect(report.denied.map(describeRequest)).toEqual(['delete core/pods edge/p']);
    expect(report.unused.map((u) => `${u.verb} ${u.group || 'core'}/${u.resource}`)).toEqual([
      'get core/nodes',
      'list apps/deployments',
      'patch apps/deployments',
      'update slmops.io/slmdeployments/finalizers',
    ]);
    expect(report.excepted).toEqual([]);
  });

  it('moves unused grants an exception names into excepted, with the reason', () => {
    const report = checkRbac(grants, [req('get', '', 'nodes'), req('list', '', 'nodes'), req('watch', '', 'nodes')], [
      { group: 'slmops.io', resource: 'slmdeployments/finalizers', verb: 'update', reason: 'blockOwnerDeletion' },
    ]);
    expect(report.excepted.map((e) => [e.resource, e.reason])).toEqual([['slmdeployments/finalizers', 'blockOwnerDeletion']]);
    expect(report.unused.some((u) => u.resource === 'slmdeployments/finalizers')).toBe(false);
    expect(report.unused).toHaveLength(4);
  });

  it('reports nothing when the requests use exactly what is granted', () => {
    const exact = grantsFor([clusterRole('r', [{ apiGroups: [''], resources: ['events'], verbs: ['create'] }]), crb('r', 'r')], sa);
    expect(checkRbac(exact, [req('create', '', 'events', { namespace: 'a' })])).toEqual({ denied: [], unused: [], excepted: [] });
  });
});

describe('requestFromLog', () => {
  it('splits the emulator resource into group and resource and drops discovery', () => {
    expect(requestFromLog({ verb: 'patch', resource: 'slmdeployments.slmops.io', subresource: 'status', namespace: 'a', name: 'x' })).toEqual({
      verb: 'patch',
      group: 'slmops.io',
      resource: 'slmdeployments',
      subresource: 'status',
      namespace: 'a',
      name: 'x',
    });
    expect(requestFromLog({ verb: 'list', resource: 'pods' })).toEqual({ verb: 'list', group: '', resource: 'pods' });
    expect(requestFromLog({ verb: 'discovery', resource: '' })).toBeUndefined();
  });
});
