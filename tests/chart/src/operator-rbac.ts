/** The operator's RBAC facts shared by the chart test and the end-to-end suite. */
import type { DeliberateException } from './rbac.js';

const CHILDREN: [group: string, resource: string][] = [
  ['apps', 'daemonsets'],
  ['apps', 'deployments'],
  ['', 'services'],
  ['', 'configmaps'],
  ['networking.k8s.io', 'networkpolicies'],
  ['autoscaling', 'horizontalpodautoscalers'],
  ['policy', 'poddisruptionbudgets'],
];

/**
 * Permissions charts/slmops grants the operator although no request shows them (see templates/operator/rbac.yaml):
 * finalizers update for blockOwnerDeletion, and create on every child kind because an apply that creates an
 * object is authorized as create while the request itself is a PATCH.
 */
export const OPERATOR_RBAC_EXCEPTIONS: readonly DeliberateException[] = [
  {
    group: 'slmops.io',
    resource: 'slmdeployments/finalizers',
    verb: 'update',
    reason: 'OwnerReferencesPermissionEnforcement: children set blockOwnerDeletion on their SLMDeployment owner',
  },
  ...[...CHILDREN, ['apps', 'controllerrevisions'] as [string, string]].map(([group, resource]) => ({
    group,
    resource,
    verb: 'create',
    reason: 'server-side apply that creates the object is authorized as create',
  })),
  {
    group: 'apps',
    resource: 'controllerrevisions',
    verb: 'delete',
    reason: 'revision history is pruned only beyond the newest revisions (REVISION_HISTORY), which a short run never reaches',
  },
];
