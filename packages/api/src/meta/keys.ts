/** API coordinates, label and annotation keys shared by the operator, sidecar, CLI and chart. */

export const GROUP = 'slmops.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'SLMDeployment';
export const PLURAL = 'slmdeployments';
export const SINGULAR = 'slmdeployment';
export const SHORT_NAMES = ['slmd'] as const;
export const CATEGORIES = ['slmops'] as const;
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** Server-side apply field manager of everything the operator writes. */
export const FIELD_MANAGER = 'slmops-operator';
/** Finalizer the operator may hold while it cleans up cluster-scoped state. */
export const FINALIZER = `${GROUP}/finalizer`;

export const Labels = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  partOf: 'app.kubernetes.io/part-of',
  version: 'app.kubernetes.io/version',
  /** Name of the owning SLMDeployment. */
  deployment: `${GROUP}/deployment`,
  /** Node class (the plugin that serves the nodes, plus override index). */
  nodeClass: `${GROUP}/node-class`,
  plugin: `${GROUP}/plugin`,
  precision: `${GROUP}/precision`,
  /** Hash of the desired pod template; pods whose hash differs are out of date. */
  specHash: `${GROUP}/spec-hash`,
  /** Stable or canary track in Replicated mode. */
  track: `${GROUP}/track`,
} as const;

export const Annotations = {
  /** Manual rollout control written by `kubectl slm rollout promote|abort|…`. */
  promote: `${GROUP}/promote`,
  abort: `${GROUP}/abort`,
  /** Set on a pod to the model digest it serves. */
  modelDigest: `${GROUP}/model-digest`,
  /** Serving config revision mounted into the pod. */
  configHash: `${GROUP}/config-hash`,
} as const;
