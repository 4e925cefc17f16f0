/** Test helpers of the chart and image checks, shared with the end-to-end suites (RBAC sufficiency and minimality). */
export * from './rbac.js';
export * from './operator-rbac.js';
export * from './manifests.js';
export * from './dockerfile.js';
export * from './workspace.js';
export * from './helm.js';
