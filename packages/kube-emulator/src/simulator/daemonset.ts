/**
 * The DaemonSet controller as a pure function: observed DaemonSet, nodes, its pods and its ControllerRevisions in,
 * the writes a real kube-controller-manager would make out. Semantics follow pkg/controller/daemon (v1.33):
 * node eligibility by node selector, required node affinity and taints (with the tolerations the controller
 * adds to every daemon pod), ControllerRevisions named `<ds>-<hash>` whose hash labels the pods as
 * `controller-revision-hash`, RollingUpdate bounded by maxUnavailable, and OnDelete, which only recreates pods
 * that are gone, from the current template. Pods are bound directly through spec.nodeName (plus the node
 * affinity term the real controller writes) because the simulator has no separate scheduler step for them.
 */
import {
  untoleratedTaints,
  canonicalJson,
  jsonEqual,
  clone,
  computeTemplateHash,
  controllerOf,
  controllerRef,
  isPodAvailable,
  isPodReady,
  isTerminating,
  nodeMatchesPodSpec,
  resolveIntOrPercent,
} from './meta.js';
import type { Action, ControllerRevision, DaemonSet, DaemonSetStatus, Node, Pod, PodTemplateSpec, Toleration } from './types.js';

export const REVISION_HASH_LABEL = 'controller-revision-hash';
export const POD_TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

/** Tolerations the DaemonSet controller adds to every daemon pod (util.AddOrUpdateDaemonPodTolerations). */
export const DAEMON_POD_TOLERATIONS: readonly Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

export interface DaemonSetReconcileResult {
  actions: Action[];
  /** The status computed from the observed state (also in an `updateStatus` action when it changed). */
  status: DaemonSetStatus;
  /** The current revision's hash (the value of `controller-revision-hash` on updated pods). */
  hash: string;
  /** Human-readable reasons for each action, for logs and test failure messages. */
  details: string[];
}

/** Tolerations of a daemon pod: the template's plus the controller's defaults (without duplicates). */
export function daemonPodTolerations(template: PodTemplateSpec): Toleration[] {
  const own = template.spec.tolerations ?? [];
  const extra = DAEMON_POD_TOLERATIONS.filter(
    (d) => !own.some((t) => t.key === d.key && t.effect === d.effect && (t.operator ?? 'Equal') === d.operator),
  );
  return [...own, ...extra.map((t) => ({ ...t }))];
}

/**
 * Whether a daemon pod should be placed on the node (`shouldRun`) and whether an existing one may stay
 * (`shouldContinueRunning`: NoSchedule taints do not evict, untolerated NoExecute taints do).
 * Like the real controller, node readiness and spec.unschedulable do not matter by themselves: the
 * node lifecycle controller's taints carry them.
 */
export function daemonNodeFit(
  template: PodTemplateSpec,
  node: Node,
  tolerations: readonly Toleration[] = daemonPodTolerations(template),
): { shouldRun: boolean; shouldContinueRunning: boolean } {
  if (!nodeMatchesPodSpec(template.spec, node)) return { shouldRun: false, shouldContinueRunning: false };
  if (untoleratedTaints(tolerations, node, ['NoSchedule', 'NoExecute']).length === 0) return { shouldRun: true, shouldContinueRunning: true };
  return { shouldRun: false, shouldContinueRunning: untoleratedTaints(tolerations, node, ['NoExecute']).length === 0 };
}

function stripPatch(template: unknown): unknown {
  if (!template || typeof template !== 'object') return template;
  const { $patch: _patch, ...rest } = template as Record<string, unknown>;
  return rest;
}

/** The template stored in a ControllerRevision's data (`{spec: {template: {..., $patch: replace}}}`). */
export function revisionTemplate(rev: ControllerRevision): unknown {
  const data = rev.data as { spec?: { template?: unknown } } | undefined;
  return stripPatch(data?.spec?.template);
}

/** Builds the pod the controller creates for `nodeName` from the DaemonSet's current template. */
export function newDaemonPod(ds: DaemonSet, nodeName: string, hash: string): Pod {
  const template = clone(ds.spec.template);
  const spec = template.spec;
  spec.tolerations = daemonPodTolerations(ds.spec.template);
  // The real controller pins the pod with a node-name affinity term and lets the scheduler bind it.
  spec.affinity = {
    ...(spec.affinity ?? {}),
    nodeAffinity: {
      ...(spec.affinity?.nodeAffinity ?? {}),
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] }],
      },
    },
  };
  spec.nodeName = nodeName;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(template.metadata ?? {}),
      generateName: `${ds.metadata.name}-`,
      namespace: ds.metadata.namespace,
      labels: {
        ...(template.metadata?.labels ?? {}),
        [REVISION_HASH_LABEL]: hash,
        [POD_TEMPLATE_GENERATION_LABEL]: String(ds.metadata.generation ?? 1),
      },
      ownerReferences: [controllerRef(ds, 'DaemonSet', 'apps/v1')],
    },
    spec,
    status: { phase: 'Pending' },
  };
}

function ownedBy(uid: string | undefined) {
  return (o: { metadata: { ownerReferences?: { uid: string; controller?: boolean }[] } }) => controllerOf(o as Pod)?.uid === uid;
}

/** Orders pods like the controller does when it picks the one to keep: Ready first, then oldest. */
function byReadyThenAge(a: Pod, b: Pod): number {
  const ra = isPodReady(a) ? 0 : 1;
  const rb = isPodReady(b) ? 0 : 1;
  if (ra !== rb) return ra - rb;
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
}

function deleteAction(pod: Pod): Action {
  return { type: 'delete', kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name ?? '', uid: pod.metadata.uid };
}

function statusEqual(a: DaemonSetStatus | undefined, b: DaemonSetStatus): boolean {
  return jsonEqual(a ?? {}, b);
}

/**
 * One sync of a DaemonSet. `pods` and `revisions` may include objects of other owners; only those whose
 * controller reference is this DaemonSet are considered. `now` (ms) decides pod availability.
 */
export function reconcileDaemonSet(
  ds: DaemonSet,
  nodes: readonly Node[],
  pods: readonly Pod[],
  revisions: readonly ControllerRevision[],
  now: number,
): DaemonSetReconcileResult {
  const actions: Action[] = [];
  const details: string[] = [];
  const dsName = ds.metadata.name ?? '';
  const collisionCount = ds.status?.collisionCount ?? 0;
  const hash = computeTemplateHash(ds.spec.template, collisionCount);
  const ownPods = pods.filter(ownedBy(ds.metadata.uid));
  const ownRevisions = revisions.filter(ownedBy(ds.metadata.uid));

  if (isTerminating(ds)) {
    return { actions, status: ds.status ?? emptyStatus(), hash, details: ['DaemonSet is being deleted; garbage collection removes its pods'] };
  }

  // 1. The current ControllerRevision: reuse the one with an identical template, else create `<ds>-<hash>`.
  const wanted = canonicalJson(ds.spec.template);
  const maxRevision = ownRevisions.reduce((m, r) => Math.max(m, r.revision ?? 0), 0);
  const current = ownRevisions.find((r) => canonicalJson(revisionTemplate(r)) === wanted);
  let statusCollisionCount = collisionCount;
  if (current) {
    if ((current.revision ?? 0) < maxRevision) {
      // Rolling back to an earlier template makes that revision the newest again, as the real controller does.
      const bumped = clone(current);
      bumped.revision = maxRevision + 1;
      actions.push({ type: 'update', kind: 'ControllerRevision', object: bumped });
      details.push(`revision ${current.metadata.name} becomes current again as revision ${maxRevision + 1}`);
    }
  } else {
    const name = `${dsName}-${hash}`;
    if (ownRevisions.some((r) => r.metadata.name === name) || revisions.some((r) => r.metadata.name === name && !ownedBy(ds.metadata.uid)(r))) {
      statusCollisionCount = collisionCount + 1;
      details.push(`revision name ${name} is taken by a different template; collisionCount -> ${statusCollisionCount}`);
    } else {
      const rev: ControllerRevision = {
        apiVersion: 'apps/v1',
        kind: 'ControllerRevision',
        metadata: {
          name,
          namespace: ds.metadata.namespace,
          labels: { ...(ds.spec.template.metadata?.labels ?? {}), [REVISION_HASH_LABEL]: hash },
          ownerReferences: [controllerRef(ds, 'DaemonSet', 'apps/v1')],
        },
        data: { spec: { template: { ...clone(ds.spec.template), $patch: 'replace' } } },
        revision: maxRevision + 1,
      };
      actions.push({ type: 'create', kind: 'ControllerRevision', object: rev });
      details.push(`create revision ${name} (revision ${maxRevision + 1})`);
    }
  }

  // 2. Pods per node.
  const podsByNode = new Map<string, Pod[]>();
  const unbound: Pod[] = [];
  for (const pod of ownPods) {
    const nodeName = pod.spec.nodeName;
    if (!nodeName) {
      unbound.push(pod);
      continue;
    }
    let list = podsByNode.get(nodeName);
    if (!list) podsByNode.set(nodeName, (list = []));
    list.push(pod);
  }

  const minReady = ds.spec.minReadySeconds ?? 0;
  const status: DaemonSetStatus = {
    currentNumberScheduled: 0,
    desiredNumberScheduled: 0,
    numberMisscheduled: 0,
    numberReady: 0,
    numberAvailable: 0,
    numberUnavailable: 0,
    updatedNumberScheduled: 0,
    observedGeneration: ds.metadata.generation ?? 1,
  };
  if (statusCollisionCount > 0) status.collisionCount = statusCollisionCount;

  const toCreateOn: string[] = [];
  const deletes = new Map<string, Pod>();
  const seenNodes = new Set<string>();
  const tolerations = daemonPodTolerations(ds.spec.template);
  const nodesSorted = [...nodes].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
  for (const node of nodesSorted) {
    const nodeName = node.metadata.name ?? '';
    seenNodes.add(nodeName);
    const { shouldRun, shouldContinueRunning } = daemonNodeFit(ds.spec.template, node, tolerations);
    const onNode = (podsByNode.get(nodeName) ?? []).slice().sort(byReadyThenAge);
    const live = onNode.filter((p) => !isTerminating(p));

    if (shouldRun) {
      status.desiredNumberScheduled++;
      if (onNode.length > 0) {
        status.currentNumberScheduled++;
        const first = onNode[0] as Pod;
        if (isPodReady(first)) status.numberReady++;
        if (isPodAvailable(first, minReady, now)) status.numberAvailable = (status.numberAvailable ?? 0) + 1;
        if (first.metadata.labels?.[REVISION_HASH_LABEL] === hash) status.updatedNumberScheduled = (status.updatedNumberScheduled ?? 0) + 1;
      }
    } else if (onNode.length > 0) {
      status.numberMisscheduled++;
    }

    if (shouldRun && onNode.length === 0) {
      toCreateOn.push(nodeName);
    } else if (shouldContinueRunning) {
      const running: Pod[] = [];
      for (const pod of live) {
        if (pod.status?.phase === 'Failed') {
          deletes.set(pod.metadata.uid ?? '', pod);
          details.push(`delete failed pod ${pod.metadata.name} on ${nodeName}`);
        } else running.push(pod);
      }
      // More than one daemon pod on a node: keep the first (Ready, then oldest) and delete the rest.
      for (const extra of running.slice(1)) {
        deletes.set(extra.metadata.uid ?? '', extra);
        details.push(`delete surplus pod ${extra.metadata.name} on ${nodeName}`);
      }
    } else if (live.length > 0) {
      for (const pod of live) {
        deletes.set(pod.metadata.uid ?? '', pod);
        details.push(`delete pod ${pod.metadata.name}: node ${nodeName} no longer fits`);
      }
    }
  }
  // Pods bound to nodes that no longer exist go too (the pod GC controller's job in a real cluster).
  for (const [nodeName, list] of podsByNode) {
    if (seenNodes.has(nodeName)) continue;
    for (const pod of list.filter((p) => !isTerminating(p))) {
      deletes.set(pod.metadata.uid ?? '', pod);
      details.push(`delete pod ${pod.metadata.name}: node ${nodeName} is gone`);
    }
  }
  status.numberUnavailable = status.desiredNumberScheduled - (status.numberAvailable ?? 0);

  // 3. RollingUpdate: replace old pods, at most maxUnavailable nodes without an available pod at a time.
  const strategy = ds.spec.updateStrategy?.type ?? 'RollingUpdate';
  if (strategy === 'RollingUpdate') {
    const ru = ds.spec.updateStrategy?.rollingUpdate;
    const desired = status.desiredNumberScheduled;
    const maxSurge = resolveIntOrPercent(ru?.maxSurge, desired, true, 0);
    let maxUnavailable = resolveIntOrPercent(ru?.maxUnavailable, desired, true, 1);
    if (maxSurge !== 0) details.push('rollingUpdate.maxSurge > 0 is not simulated; treated as 0');
    if (maxUnavailable === 0) maxUnavailable = 1;
    let numUnavailable = 0;
    const allowed: Pod[] = [];
    const candidates: Pod[] = [];
    for (const node of nodesSorted) {
      const onNode = (podsByNode.get(node.metadata.name ?? '') ?? []).filter((p) => !isTerminating(p));
      if (onNode.length === 0) {
        // A node that should run a pod but has none is unavailable too (updatedDesiredNodeCounts adds it).
        if (daemonNodeFit(ds.spec.template, node, tolerations).shouldRun) numUnavailable++;
        continue;
      }
      const news = onNode.filter((p) => p.metadata.labels?.[REVISION_HASH_LABEL] === hash);
      const olds = onNode.filter((p) => p.metadata.labels?.[REVISION_HASH_LABEL] !== hash);
      if (news.length > 1 || olds.length > 1 || (news.length === 1 && olds.length === 1)) {
        numUnavailable++;
        continue;
      }
      const newPod = news[0];
      const oldPod = olds[0];
      if (newPod) {
        if (!isPodAvailable(newPod, minReady, now)) numUnavailable++;
      } else if (oldPod) {
        if (!isPodAvailable(oldPod, minReady, now)) {
          // Not available anyway: replace it now; it still counts as unavailable.
          allowed.push(oldPod);
          numUnavailable++;
        } else if (numUnavailable < maxUnavailable) candidates.push(oldPod);
      }
    }
    const remaining = Math.min(Math.max(maxUnavailable - numUnavailable, 0), candidates.length);
    for (const pod of [...allowed, ...candidates.slice(0, remaining)]) {
      if (!deletes.has(pod.metadata.uid ?? '')) {
        deletes.set(pod.metadata.uid ?? '', pod);
        details.push(`rolling update: delete old pod ${pod.metadata.name} on ${pod.spec.nodeName}`);
      }
    }
  }

  // Unbound daemon pods cannot be placed by this simulator's DaemonSet model; delete so they are recreated bound.
  for (const pod of unbound.filter((p) => !isTerminating(p))) {
    deletes.set(pod.metadata.uid ?? '', pod);
    details.push(`delete unbound daemon pod ${pod.metadata.name}`);
  }

  if (statusCollisionCount === collisionCount) {
    for (const nodeName of toCreateOn) {
      actions.push({ type: 'create', kind: 'Pod', object: newDaemonPod(ds, nodeName, hash) });
      details.push(`create pod on ${nodeName} from revision ${hash}`);
    }
  }
  for (const pod of deletes.values()) actions.push(deleteAction(pod));

  // 4. Revision history: keep the current revision, revisions still used by pods, and revisionHistoryLimit more.
  const limit = ds.spec.revisionHistoryLimit ?? 10;
  const liveHashes = new Set(ownPods.map((p) => p.metadata.labels?.[REVISION_HASH_LABEL]));
  const history = ownRevisions
    .filter((r) => r !== current && !liveHashes.has(r.metadata.labels?.[REVISION_HASH_LABEL]))
    .sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
  for (const rev of history.slice(0, Math.max(history.length - limit, 0))) {
    actions.push({ type: 'delete', kind: 'ControllerRevision', namespace: rev.metadata.namespace, name: rev.metadata.name ?? '', uid: rev.metadata.uid });
    details.push(`delete old revision ${rev.metadata.name}`);
  }

  // Fields this model does not compute (e.g. conditions written by someone else) are kept as they are.
  const merged = { ...(ds.status ?? {}), ...status };
  if (!statusEqual(ds.status, merged)) {
    actions.push({ type: 'updateStatus', kind: 'DaemonSet', object: { ...ds, status: merged } });
  }
  return { actions, status, hash, details };
}

function emptyStatus(): DaemonSetStatus {
  return { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 };
}
