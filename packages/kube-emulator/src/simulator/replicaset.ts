/**
 * The ReplicaSet controller as a pure function (pkg/controller/replicaset, v1.33): keep `spec.replicas` active
 * pods that it controls, create missing ones from the template (unbound; the simulator's scheduler binds them)
 * and delete surplus ones in the real controller's order (unscheduled, pending, not ready, newest first).
 */
import { clone, controllerOf, controllerRef, isPodAvailable, isPodReady, isTerminating, jsonEqual, matchesLabelSelector, podCondition } from './meta.js';
import type { Action, Pod, ReplicaSet, ReplicaSetStatus } from './types.js';

export interface ReplicaSetReconcileResult {
  actions: Action[];
  status: ReplicaSetStatus;
  /** When set, the earliest time (ms) at which availability changes without any event (minReadySeconds). */
  requeueAt?: number;
  details: string[];
}

/** Active = not terminating and not finished (FilterActivePods). */
export function isActivePod(pod: Pod): boolean {
  return !isTerminating(pod) && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

/** Builds an unbound pod from the ReplicaSet's template. */
export function newReplicaSetPod(rs: ReplicaSet): Pod {
  const template = clone(rs.spec.template);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(template.metadata ?? {}),
      generateName: `${rs.metadata.name}-`,
      namespace: rs.metadata.namespace,
      labels: { ...(template.metadata?.labels ?? {}) },
      ownerReferences: [controllerRef(rs, 'ReplicaSet', 'apps/v1')],
    },
    spec: template.spec,
    status: { phase: 'Pending' },
  };
}

const phaseRank: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/** Deletion preference of ActivePodsWithRanks (simplified): earlier in the sorted list = deleted first. */
export function compareForDeletion(a: Pod, b: Pod): number {
  const sa = a.spec.nodeName ? 1 : 0;
  const sb = b.spec.nodeName ? 1 : 0;
  if (sa !== sb) return sa - sb;
  const pa = phaseRank[a.status?.phase ?? 'Pending'] ?? 0;
  const pb = phaseRank[b.status?.phase ?? 'Pending'] ?? 0;
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a) ? 1 : 0;
  const rb = isPodReady(b) ? 1 : 0;
  if (ra !== rb) return ra - rb;
  // Ready for less time first, then newer first.
  const ta = podCondition(a, 'Ready')?.lastTransitionTime ?? '';
  const tb = podCondition(b, 'Ready')?.lastTransitionTime ?? '';
  if (ra === 1 && ta !== tb) return ta > tb ? -1 : 1;
  const ca = a.metadata.creationTimestamp ?? '';
  const cb = b.metadata.creationTimestamp ?? '';
  if (ca !== cb) return ca > cb ? -1 : 1;
  return (a.metadata.name ?? '') > (b.metadata.name ?? '') ? -1 : 1;
}

/** Replica counts of a set of pods as the ReplicaSet status reports them. */
export function replicaSetStatusFor(rs: ReplicaSet, active: readonly Pod[], now: number): { status: ReplicaSetStatus; requeueAt?: number } {
  const minReady = rs.spec.minReadySeconds ?? 0;
  const templateLabels = rs.spec.template.metadata?.labels ?? {};
  let ready = 0;
  let available = 0;
  let fullyLabeled = 0;
  let requeueAt: number | undefined;
  for (const pod of active) {
    const labels = pod.metadata.labels ?? {};
    if (Object.entries(templateLabels).every(([k, v]) => labels[k] === v)) fullyLabeled++;
    if (isPodReady(pod)) {
      ready++;
      if (isPodAvailable(pod, minReady, now)) available++;
      else {
        const since = Date.parse(podCondition(pod, 'Ready')?.lastTransitionTime ?? '');
        const at = (Number.isFinite(since) ? since : now) + minReady * 1000;
        requeueAt = requeueAt === undefined ? at : Math.min(requeueAt, at);
      }
    }
  }
  return {
    status: {
      replicas: active.length,
      fullyLabeledReplicas: fullyLabeled,
      readyReplicas: ready,
      availableReplicas: available,
      observedGeneration: rs.metadata.generation ?? 1,
    },
    requeueAt,
  };
}

/** One sync of a ReplicaSet; `pods` may include pods of other owners (only those it controls count). */
export function reconcileReplicaSet(rs: ReplicaSet, pods: readonly Pod[], now: number): ReplicaSetReconcileResult {
  const actions: Action[] = [];
  const details: string[] = [];
  const own = pods.filter((p) => controllerOf(p)?.uid === rs.metadata.uid && matchesLabelSelector(rs.spec.selector, p.metadata.labels));
  const active = own.filter(isActivePod);
  const { status, requeueAt } = replicaSetStatusFor(rs, active, now);
  if (isTerminating(rs)) return { actions, status, requeueAt, details: ['ReplicaSet is being deleted; garbage collection removes its pods'] };

  const want = rs.spec.replicas ?? 1;
  const diff = active.length - want;
  if (diff < 0) {
    for (let i = 0; i < -diff; i++) actions.push({ type: 'create', kind: 'Pod', object: newReplicaSetPod(rs) });
    details.push(`create ${-diff} pod(s): ${active.length} active, ${want} wanted`);
  } else if (diff > 0) {
    for (const pod of [...active].sort(compareForDeletion).slice(0, diff)) {
      actions.push({ type: 'delete', kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name ?? '', uid: pod.metadata.uid });
      details.push(`delete surplus pod ${pod.metadata.name}`);
    }
  }
  const merged = { ...(rs.status ?? {}), ...status };
  if (!jsonEqual(rs.status ?? {}, merged)) actions.push({ type: 'updateStatus', kind: 'ReplicaSet', object: { ...rs, status: merged } });
  return { actions, status, requeueAt, details };
}
