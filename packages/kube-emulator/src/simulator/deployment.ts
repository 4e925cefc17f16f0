/**
 * The Deployment controller as a pure function (pkg/controller/deployment, v1.33): one ReplicaSet per pod
 * template, named `<deployment>-<pod-template-hash>`; RollingUpdate bounded by maxSurge and maxUnavailable;
 * Recreate (old pods gone before new ones start); scaling; revision annotations; history cleanup; status with
 * Available and Progressing conditions and the progress deadline. Like the real controller, each sync takes
 * one step (scale the new ReplicaSet up, or scale old ones down) and relies on the next event for the rest.
 */
import { canonicalJson, clone, computeTemplateHash, controllerOf, controllerRef, isTerminating, jsonEqual, resolveIntOrPercent, rfc3339 } from './meta.js';
import { isActivePod } from './replicaset.js';
import type { Action, Deployment, DeploymentCondition, DeploymentStatus, Pod, PodTemplateSpec, ReplicaSet } from './types.js';

export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';

export interface DeploymentReconcileResult {
  actions: Action[];
  status: DeploymentStatus;
  /** The new ReplicaSet's name (existing or created by these actions). */
  newReplicaSetName?: string;
  /** Earliest time (ms) at which the progress deadline may pass without any event. */
  requeueAt?: number;
  details: string[];
}

function templateWithoutHash(t: PodTemplateSpec): string {
  const copy = clone(t);
  if (copy.metadata?.labels) delete copy.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  if (copy.metadata?.labels && Object.keys(copy.metadata.labels).length === 0) delete copy.metadata.labels;
  return canonicalJson(copy);
}

/** maxSurge (rounded up) and maxUnavailable (rounded down) resolved against replicas; both 0 means 1 unavailable. */
export function resolveRollingLimits(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  const replicas = d.spec.replicas ?? 1;
  if ((d.spec.strategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return { maxSurge: 0, maxUnavailable: 0 };
  const ru = d.spec.strategy?.rollingUpdate;
  const maxSurge = resolveIntOrPercent(ru?.maxSurge, replicas, true, '25%');
  let maxUnavailable = resolveIntOrPercent(ru?.maxUnavailable, replicas, false, '25%');
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable: Math.min(maxUnavailable, replicas) };
}

function revisionOf(rs: ReplicaSet): number {
  const n = Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? '0');
  return Number.isFinite(n) ? n : 0;
}

const specReplicas = (rs: ReplicaSet) => rs.spec.replicas ?? 1;
const sum = (list: readonly ReplicaSet[], f: (rs: ReplicaSet) => number) => list.reduce((n, rs) => n + f(rs), 0);

function byCreation(a: ReplicaSet, b: ReplicaSet): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
}

function setCondition(conditions: DeploymentCondition[], next: DeploymentCondition, now: number): DeploymentCondition[] {
  const prev = conditions.find((c) => c.type === next.type);
  const ts = rfc3339(now);
  if (prev && prev.status === next.status && prev.reason === next.reason && prev.message === next.message) return conditions;
  const cond: DeploymentCondition = {
    ...next,
    lastUpdateTime: ts,
    lastTransitionTime: prev && prev.status === next.status ? prev.lastTransitionTime ?? ts : ts,
  };
  return [...conditions.filter((c) => c.type !== next.type), cond];
}

/** One sync of a Deployment. `replicaSets` and `pods` may include other owners' objects. */
export function reconcileDeployment(
  d: Deployment,
  replicaSets: readonly ReplicaSet[],
  pods: readonly Pod[],
  now: number,
): DeploymentReconcileResult {
  const actions: Action[] = [];
  const details: string[] = [];
  const name = d.metadata.name ?? '';
  const replicas = d.spec.replicas ?? 1;
  const owned = replicaSets.filter((rs) => controllerOf(rs)?.uid === d.metadata.uid && !isTerminating(rs)).sort(byCreation);
  const wanted = templateWithoutHash(d.spec.template);
  let newRS = owned.find((rs) => templateWithoutHash(rs.spec.template) === wanted);
  const oldRSs = owned.filter((rs) => rs !== newRS);
  const { maxSurge, maxUnavailable } = resolveRollingLimits(d);
  const strategy = d.spec.strategy?.type ?? 'RollingUpdate';
  const maxOldRevision = oldRSs.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
  let createdNew = false;

  // Working copies of each ReplicaSet whose spec.replicas this sync changes.
  const scaled = new Map<ReplicaSet, number>();
  const replicasOf = (rs: ReplicaSet) => scaled.get(rs) ?? specReplicas(rs);
  const scale = (rs: ReplicaSet, to: number, why: string) => {
    if (to === replicasOf(rs)) return;
    scaled.set(rs, to);
    details.push(`scale ${rs.metadata.name} to ${to}: ${why}`);
  };

  if (isTerminating(d)) {
    return { actions, status: d.status ?? {}, details: ['Deployment is being deleted; garbage collection removes its ReplicaSets'] };
  }

  const createNewRS = (initial: number): ReplicaSet => {
    const collisionCount = d.status?.collisionCount ?? 0;
    const hash = computeTemplateHash(d.spec.template, collisionCount);
    const template = clone(d.spec.template);
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash } };
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${name}-${hash}`,
        namespace: d.metadata.namespace,
        labels: { ...(d.spec.template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash },
        annotations: {
          [DESIRED_REPLICAS_ANNOTATION]: String(replicas),
          [MAX_REPLICAS_ANNOTATION]: String(replicas + maxSurge),
          [REVISION_ANNOTATION]: String(maxOldRevision + 1),
        },
        ownerReferences: [controllerRef(d, 'Deployment', 'apps/v1')],
      },
      spec: {
        replicas: initial,
        minReadySeconds: d.spec.minReadySeconds ?? 0,
        selector: {
          ...clone(d.spec.selector),
          matchLabels: { ...(d.spec.selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash },
        },
        template,
      },
    };
    actions.push({ type: 'create', kind: 'ReplicaSet', object: rs });
    details.push(`create new ReplicaSet ${rs.metadata.name} with ${initial} replica(s)`);
    createdNew = true;
    return rs;
  };

  if (!d.spec.paused) {
    if (strategy === 'Recreate') {
      const activeOld = oldRSs.filter((rs) => replicasOf(rs) > 0);
      for (const rs of activeOld) scale(rs, 0, 'Recreate scales old ReplicaSets down first');
      const oldUids = new Set(oldRSs.map((rs) => rs.metadata.uid));
      const oldPodsRunning = pods.some((p) => oldUids.has(controllerOf(p)?.uid) && isActivePod(p));
      if (activeOld.length === 0 && !oldPodsRunning) {
        if (!newRS) newRS = createNewRS(replicas);
        else scale(newRS, replicas, 'Recreate: old pods are gone');
      } else if (activeOld.length === 0) {
        details.push('Recreate: waiting for old pods to terminate');
      }
    } else {
      if (!newRS) {
        const current = sum(oldRSs, specReplicas);
        const initial = current >= replicas + maxSurge ? 0 : Math.min(replicas + maxSurge - current, replicas);
        newRS = createNewRS(initial);
      } else {
        // reconcileNewReplicaSet
        const newCount = replicasOf(newRS);
        if (newCount > replicas) scale(newRS, replicas, 'scale down to spec.replicas');
        else if (newCount < replicas) {
          const current = sum(owned, replicasOf);
          const maxTotal = replicas + maxSurge;
          if (current < maxTotal) scale(newRS, newCount + Math.min(maxTotal - current, replicas - newCount), `maxSurge ${maxSurge} allows it`);
        }
      }
      // reconcileOldReplicaSets, only when the new ReplicaSet did not scale up in this sync.
      if (!createdNew && !(newRS && scaled.has(newRS) && replicasOf(newRS) > specReplicas(newRS)) && newRS) {
        const oldCount = sum(oldRSs, replicasOf);
        if (oldCount > 0) {
          const allCount = sum(owned, replicasOf);
          const minAvailable = replicas - maxUnavailable;
          const newUnavailable = replicasOf(newRS) - (newRS.status?.availableReplicas ?? 0);
          let maxScaledDown = allCount - minAvailable - newUnavailable;
          if (maxScaledDown > 0) {
            // cleanupUnhealthyReplicas: old pods that are not available go first, without touching availability.
            for (const rs of oldRSs) {
              if (maxScaledDown <= 0) break;
              const unhealthy = replicasOf(rs) - (rs.status?.availableReplicas ?? 0);
              if (replicasOf(rs) === 0 || unhealthy <= 0) continue;
              const n = Math.min(maxScaledDown, unhealthy);
              scale(rs, replicasOf(rs) - n, `${unhealthy} unhealthy old replica(s)`);
              maxScaledDown -= n;
            }
            // scaleDownOldReplicaSetsForRollingUpdate: then available old pods, keeping minAvailable.
            const availableNow = sum(owned, (rs) => rs.status?.availableReplicas ?? 0);
            let toScaleDown = availableNow - minAvailable;
            for (const rs of oldRSs) {
              if (toScaleDown <= 0) break;
              if (replicasOf(rs) === 0) continue;
              const n = Math.min(replicasOf(rs), toScaleDown);
              scale(rs, replicasOf(rs) - n, `keep ${minAvailable} available (maxUnavailable ${maxUnavailable})`);
              toScaleDown -= n;
            }
          }
        }
      }
    }
  }

  // Scale actions carry the replica annotations the real controller keeps in step.
  for (const [rs, to] of scaled) {
    const next = clone(rs);
    next.spec.replicas = to;
    next.metadata.annotations = {
      ...(next.metadata.annotations ?? {}),
      [DESIRED_REPLICAS_ANNOTATION]: String(replicas),
      [MAX_REPLICAS_ANNOTATION]: String(replicas + maxSurge),
    };
    actions.push({ type: 'update', kind: 'ReplicaSet', object: next });
  }
  // A template rolled back to an old ReplicaSet makes it the newest revision again.
  if (newRS && !createdNew && revisionOf(newRS) <= maxOldRevision) {
    const existing = actions.find((a): a is Extract<Action, { type: 'update' }> => a.type === 'update' && a.object.metadata.uid === newRS?.metadata.uid);
    const target = (existing?.object as ReplicaSet | undefined) ?? clone(newRS);
    target.metadata.annotations = { ...(target.metadata.annotations ?? {}), [REVISION_ANNOTATION]: String(maxOldRevision + 1) };
    if (!existing) actions.push({ type: 'update', kind: 'ReplicaSet', object: target });
  }
  const newRevision = newRS ? (createdNew ? maxOldRevision + 1 : Math.max(revisionOf(newRS), maxOldRevision + 1)) : undefined;
  if (newRevision !== undefined && d.metadata.annotations?.[REVISION_ANNOTATION] !== String(newRevision)) {
    const next = clone(d);
    next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [REVISION_ANNOTATION]: String(newRevision) };
    delete next.status;
    actions.push({ type: 'update', kind: 'Deployment', object: next });
  }

  // History: delete the oldest fully scaled-down old ReplicaSets beyond revisionHistoryLimit.
  const limit = d.spec.revisionHistoryLimit ?? 10;
  const deletable = oldRSs.filter((rs) => replicasOf(rs) === 0 && (rs.status?.replicas ?? 0) === 0).sort((a, b) => revisionOf(a) - revisionOf(b));
  for (const rs of deletable.slice(0, Math.max(deletable.length - limit, 0))) {
    actions.push({ type: 'delete', kind: 'ReplicaSet', namespace: rs.metadata.namespace, name: rs.metadata.name ?? '', uid: rs.metadata.uid });
    details.push(`delete old ReplicaSet ${rs.metadata.name} beyond revisionHistoryLimit ${limit}`);
  }

  // Status from the observed ReplicaSets (as calculateStatus does; the writes above show up next sync).
  const all = newRS && !createdNew ? owned : oldRSs;
  const available = sum(all, (rs) => rs.status?.availableReplicas ?? 0);
  const status: DeploymentStatus = {
    observedGeneration: d.metadata.generation ?? 1,
    replicas: sum(all, (rs) => rs.status?.replicas ?? 0),
    updatedReplicas: newRS && !createdNew ? newRS.status?.replicas ?? 0 : 0,
    readyReplicas: sum(all, (rs) => rs.status?.readyReplicas ?? 0),
    availableReplicas: available,
    unavailableReplicas: Math.max(sum(all, specReplicas) - available, 0),
  };
  if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;

  let conditions = d.status?.conditions ?? [];
  conditions =
    available >= replicas - maxUnavailable
      ? setCondition(conditions, { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }, now)
      : setCondition(conditions, { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }, now);

  let requeueAt: number | undefined;
  const rsName = newRS?.metadata.name ?? '';
  const complete =
    !createdNew &&
    newRS !== undefined &&
    status.updatedReplicas === replicas &&
    status.replicas === replicas &&
    status.availableReplicas === replicas;
  const prevProgressing = conditions.find((c) => c.type === 'Progressing');
  if (d.spec.paused) {
    conditions = setCondition(conditions, { type: 'Progressing', status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' }, now);
  } else if (complete) {
    conditions = setCondition(conditions, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.` }, now);
  } else if (createdNew) {
    conditions = setCondition(conditions, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetCreated', message: `Created new replica set "${rsName}"` }, now);
  } else {
    const old = d.status ?? {};
    const progressed =
      (status.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
      (status.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
      (status.availableReplicas ?? 0) > (old.availableReplicas ?? 0) ||
      (status.replicas ?? 0) - (status.updatedReplicas ?? 0) < (old.replicas ?? 0) - (old.updatedReplicas ?? 0) ||
      (prevProgressing?.reason !== 'ReplicaSetUpdated' && prevProgressing?.reason !== 'ProgressDeadlineExceeded') ||
      !prevProgressing?.message?.includes(`"${rsName}"`);
    const deadline = d.spec.progressDeadlineSeconds ?? 600;
    const lastUpdate = Date.parse(prevProgressing?.lastUpdateTime ?? '');
    if (progressed) {
      const next: DeploymentCondition = { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.` };
      const kept = setCondition(conditions, next, now);
      // Progress refreshes lastUpdateTime even when the condition reads the same, as the real controller does.
      conditions = kept === conditions ? conditions.map((c) => (c.type === 'Progressing' ? { ...c, lastUpdateTime: rfc3339(now) } : c)) : kept;
      requeueAt = now + deadline * 1000;
    } else if (prevProgressing?.reason === 'ReplicaSetUpdated' && Number.isFinite(lastUpdate)) {
      if (lastUpdate + deadline * 1000 <= now) {
        conditions = setCondition(conditions, { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${rsName}" has timed out progressing.` }, now);
      } else requeueAt = lastUpdate + deadline * 1000;
    }
  }
  status.conditions = conditions;
  const merged = { ...(d.status ?? {}), ...status };
  if (!jsonEqual(d.status ?? {}, merged)) actions.push({ type: 'updateStatus', kind: 'Deployment', object: { ...d, status: merged } });
  return { actions, status, newReplicaSetName: newRS?.metadata.name, requeueAt, details };
}
