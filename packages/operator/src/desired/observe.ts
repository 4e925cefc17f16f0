/** Pure readers of the observed Nodes and Pods: offline nodes, pod readiness and failures, placement matching. */
import { Labels } from '@slmops/api';
import type { KubeObject } from '@slmops/kube';
import { readNode, type NodeInfo, type Toleration } from '@slmops/plugin-sdk';

/** Taints the node lifecycle controller sets on nodes it lost contact with. */
export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';
export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';

/** Taints every DaemonSet pod tolerates (the DaemonSet controller adds these), so they never unplace a node. */
const DAEMON_TOLERATED = new Set([
  UNREACHABLE_TAINT,
  NOT_READY_TAINT,
  'node.kubernetes.io/disk-pressure',
  'node.kubernetes.io/memory-pressure',
  'node.kubernetes.io/pid-pressure',
  'node.kubernetes.io/unschedulable',
  'node.kubernetes.io/network-unavailable',
]);

export const asNodeInfo = (node: KubeObject): NodeInfo => node as unknown as NodeInfo;

/** Offline: the Ready condition is not True, or the node carries the unreachable taint. */
export function isNodeOffline(node: KubeObject): boolean {
  const facts = readNode(node);
  return !facts.ready || facts.taints.some((t) => t.key === UNREACHABLE_TAINT);
}

/** True when every entry of `selector` equals the node's label. */
export function matchesSelector(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>> | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

function tolerates(t: Toleration, taint: { key: string; value?: string; effect: string }): boolean {
  if (t.effect !== undefined && t.effect !== taint.effect) return false;
  if (t.key === undefined || t.key === '') return t.operator === 'Exists';
  if (t.key !== taint.key) return false;
  return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
}

/** The first NoSchedule/NoExecute taint of the node that `tolerations` do not tolerate, or undefined. */
export function untoleratedTaint(node: KubeObject, tolerations: readonly Toleration[]): string | undefined {
  for (const taint of readNode(node).taints) {
    if (taint.effect === 'PreferNoSchedule' || DAEMON_TOLERATED.has(taint.key)) continue;
    if (!tolerations.some((t) => tolerates(t, taint))) return `${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect}`;
  }
  return undefined;
}

interface PodStatusLike {
  phase?: string;
  conditions?: Array<{ type?: string; status?: string }>;
  containerStatuses?: Array<{ restartCount?: number; state?: { waiting?: { reason?: string; message?: string } } }>;
}

const spec = (pod: KubeObject) => (pod['spec'] ?? {}) as { nodeName?: string };
const status = (pod: KubeObject) => (pod['status'] ?? {}) as PodStatusLike & { podIP?: string };

export const podNode = (pod: KubeObject): string | undefined => spec(pod).nodeName;
export const podIP = (pod: KubeObject): string | undefined => status(pod).podIP;
export const podRevision = (pod: KubeObject): string | undefined => pod.metadata.labels?.[Labels.revision];
export const isDeleting = (pod: KubeObject): boolean => pod.metadata.deletionTimestamp !== undefined;

export function isPodReady(pod: KubeObject): boolean {
  return (status(pod).conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

const FAILING_REASONS = new Set(['CrashLoopBackOff', 'CreateContainerError', 'CreateContainerConfigError', 'ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'RunContainerError']);

/** Why a pod is failing (crash loop, image or container errors, Failed phase), or undefined when it is not. */
export function podFailure(pod: KubeObject): string | undefined {
  const s = status(pod);
  if (s.phase === 'Failed') return 'pod phase Failed';
  for (const cs of s.containerStatuses ?? []) {
    const reason = cs.state?.waiting?.reason;
    if (reason && FAILING_REASONS.has(reason)) return `${reason}${cs.restartCount ? ` after ${cs.restartCount} restarts` : ''}`;
  }
  return undefined;
}
