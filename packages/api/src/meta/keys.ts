/**
 * API coordinates, label and annotation keys shared by the operator, sidecar, CLI and chart. Also the
 * `@slmops/api/keys` entry point, for start-up-sensitive callers (kubectl-slm, the Kubernetes client) that need
 * these names without loading zod, CEL or the schema.
 */
import { createHash } from 'node:crypto';

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
  /** The SLMDeployment revision (model digest + serving spec hash) a pod was rendered from. */
  revision: `${GROUP}/revision`,
  /** Stable or canary track in Replicated mode. */
  track: `${GROUP}/track`,
} as const;

/**
 * A valid label value (<= 63 chars, alphanumeric ends): the value itself, or a cut plus an 8-hex sha256 suffix
 * when it is not. The operator labels pods `slmops.io/deployment=labelValue(name)`; every selector must match.
 */
export function labelValue(value: string): string {
  if (value.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value)) return value;
  // Hash of the JSON string: the operator's stableHash(value) since 0.1.0, so existing labels keep matching.
  const hash = createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 8);
  const head = value.replace(/[^-A-Za-z0-9_.]/g, '-').slice(0, 54).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return head ? `${head}-${hash}` : hash;
}

/** Label selector of the pods serving one SLMDeployment, as `kubectl -l` and list calls take it. */
export const deploymentSelector = (name: string): string => `${Labels.deployment}=${labelValue(name)}`;

export const Annotations = {
  /** Manual rollout control written by `kubectl slm rollout promote|abort|…`. */
  promote: `${GROUP}/promote`,
  abort: `${GROUP}/abort`,
  /** Set on a pod to the model digest it serves. */
  modelDigest: `${GROUP}/model-digest`,
  /** Serving config revision mounted into the pod. */
  configHash: `${GROUP}/config-hash`,
} as const;
