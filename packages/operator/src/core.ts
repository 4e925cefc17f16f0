/**
 * The operator's pure core behind the contract's seam: `planReconcile` (Observation -> Plan) and
 * `scrapeTargets` (which updated pods' /metrics analysis needs). No I/O, no clock (time comes in the
 * observation), deterministic: the same observation yields byte-identical objects, so steady state writes nothing.
 */
import {
  Annotations,
  ConditionType,
  Labels,
  Reason,
  findCondition,
  formatFieldErrors,
  parseSLMDeployment,
  validateSLMDeployment,
  type SLMDeploymentSpec,
  type SLMDeploymentStatus,
} from '@slmops/api';
import type { KubeObject } from '@slmops/kube';
import { analyze, type AnalysisResult } from './analysis/index.js';
import type { CoreContext, Deletion, Observation, Plan, PlanReconcileFn, PlannedEvent, ScrapeTarget, ScrapeTargetsFn } from './contract.js';
import {
  SpecError,
  controllerRevision,
  isDeleting,
  isNodeOffline,
  isPodReady,
  labelValue,
  planFleet,
  podFailure,
  podIP,
  podNode,
  podRevision,
  podSecurityArgs,
  replanClasses,
  replicatedClass,
  renderChildren,
  unplacedReplicatedClass,
  revisionOf,
  revisionSpecOf,
  securityArgs,
  securitySettingsOf,
  type FleetPlan,
  type Owner,
  type RenderedRevision,
  type RevisionSpec,
} from './desired/index.js';
import { isActivePhase, planWave, unitPod, type FleetUnit, type PodView, type WaveState } from './rollout/index.js';
import { computeStatus, invalidSpecStatus, type PlacementCount } from './status/index.js';

export { analyze, type AnalysisResult } from './analysis/index.js';
export * from './desired/index.js';
export * from './rollout/index.js';
export * from './status/index.js';

/** ControllerRevisions kept besides the current and update revisions (for `kubectl slm rollout undo`). */
export const REVISION_HISTORY = 3;

/** Kinds of children the operator owns and removes when no longer desired (ControllerRevisions are pruned separately). */
const MANAGED_KINDS = new Set(['DaemonSet', 'Deployment', 'Service', 'ConfigMap', 'NetworkPolicy', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']);

const ownerOf = (d: KubeObject): Owner => ({ name: d.metadata.name, namespace: d.metadata.namespace ?? 'default', uid: d.metadata.uid ?? '' });

function podView(pod: KubeObject): PodView {
  const failure = podFailure(pod);
  const revision = podRevision(pod);
  return {
    name: pod.metadata.name,
    ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}),
    ...(revision ? { revision } : {}),
    ready: isPodReady(pod),
    ...(failure ? { failure } : {}),
    deleting: isDeleting(pod),
  };
}

const ownPods = (obs: Pick<Observation, 'pods' | 'deployment'>): KubeObject[] =>
  obs.pods.filter((p) => p.metadata.labels?.[Labels.deployment] === labelValue(obs.deployment.metadata.name));

/** The fleet's nodes as rollout units, each with its pods. */
function fleetUnits(fleet: FleetPlan, nodes: readonly KubeObject[], pods: readonly KubeObject[]): FleetUnit[] {
  const nodeByName = new Map(nodes.map((n) => [n.metadata.name, n]));
  const podsByNode = new Map<string, KubeObject[]>();
  for (const p of pods) {
    const n = podNode(p);
    if (n) podsByNode.set(n, [...(podsByNode.get(n) ?? []), p]);
  }
  return fleet.classes.flatMap((c) =>
    c.nodeClass.nodes.map((node) => ({
      node,
      classKey: c.nodeClass.key,
      offline: isNodeOffline(nodeByName.get(node)!),
      pods: (podsByNode.get(node) ?? []).map(podView).sort((a, b) => (a.name < b.name ? -1 : 1)),
    })),
  );
}

interface Revisions {
  byRevision: Map<string, { obj: KubeObject; rev?: RevisionSpec; number: number }>;
  max: number;
}

function readRevisions(children: readonly KubeObject[], ownerUid: string): Revisions {
  const byRevision = new Map<string, { obj: KubeObject; rev?: RevisionSpec; number: number }>();
  let max = 0;
  for (const c of children) {
    if (c.kind !== 'ControllerRevision' || !isControlledBy(c, ownerUid)) continue;
    const revision = c.metadata.labels?.[Labels.revision];
    const number = typeof c['revision'] === 'number' ? (c['revision'] as number) : 0;
    max = Math.max(max, number);
    if (!revision) continue;
    const data = c['data'] as Partial<RevisionSpec> | undefined;
    const valid = data && typeof data === 'object' && data.model && data.hardware && data.serving && typeof data.image === 'string';
    byRevision.set(revision, { obj: c, ...(valid ? { rev: data as RevisionSpec } : {}), number });
  }
  return { byRevision, max };
}

const isControlledBy = (o: KubeObject, uid: string): boolean => (o.metadata.ownerReferences ?? []).some((r) => r.controller === true && r.uid === uid);

function parseSpec(deployment: KubeObject): { spec: SLMDeploymentSpec } | { error: string } {
  const problems = validateSLMDeployment(deployment);
  if (problems.length) return { error: `invalid spec: ${formatFieldErrors(problems).split('\n').join('; ')}` };
  return { spec: parseSLMDeployment(deployment).spec };
}

function invalidPlan(obs: Observation, previous: SLMDeploymentStatus, message: string): Plan {
  const generation = obs.deployment.metadata.generation ?? 0;
  const prevReady = findCondition(previous.conditions, ConditionType.Ready);
  const events: PlannedEvent[] =
    prevReady?.reason === Reason.InvalidSpec && prevReady.message === message ? [] : [{ type: 'Warning', reason: Reason.InvalidSpec, message }];
  return { apply: [], delete: [], status: invalidSpecStatus(previous, generation, obs.now, message), events };
}

/** Why no node serves the deployment, naming the selector (and, in Replicated mode, what happens to its replicas). */
function noNodesMessage(spec: SLMDeploymentSpec, fleet: FleetPlan, replicas: number): string {
  const selector = Object.entries(spec.placement.nodeSelector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const why = fleet.unplaced.length
    ? `no node can serve: ${fleet.unplaced.slice(0, 3).map((u) => `${u.node}: ${u.reason}`).join('; ')}`
    : selector
      ? `no node matches spec.placement.nodeSelector ${selector}`
      : 'no node matches spec.placement.nodeSelector';
  return spec.placement.mode === 'Replicated' ? `${why}; ${replicas} replica(s) stay Pending until one does` : why;
}

/** The replicas a Replicated deployment asks for: spec (or HPA-set) replicas, else minReplicas, else 1. */
const replicasOf = (spec: SLMDeploymentSpec): number => spec.placement.replicas ?? spec.autoscaling?.minReplicas ?? 1;

/** Pure: the whole reconcile decision (see contract.ts). Never throws for a bad spec; reports InvalidSpec. */
export const planReconcile: PlanReconcileFn = (obs, ctx) => {
  const { deployment } = obs;
  const previous = (deployment['status'] ?? {}) as SLMDeploymentStatus;
  const parsed = parseSpec(deployment);
  if ('error' in parsed) return invalidPlan(obs, previous, parsed.error);
  const { spec } = parsed;
  try {
    return plan(obs, ctx, spec, previous);
  } catch (e) {
    if (e instanceof SpecError) return invalidPlan(obs, previous, `invalid spec: ${e.message}`);
    throw e;
  }
};

function plan(obs: Observation, ctx: CoreContext, spec: SLMDeploymentSpec, previous: SLMDeploymentStatus): Plan {
  const { deployment, now } = obs;
  const owner = ownerOf(deployment);
  const generation = deployment.metadata.generation ?? 0;
  const fleet = planFleet(spec, obs.nodes, ctx.host);
  const updRev = revisionSpecOf(spec, ctx.config);
  const upd = revisionOf(updRev);
  const revisions = readRevisions(obs.children, owner.uid);
  const cur = previous.currentRevision;
  const curRev = cur === upd ? updRev : cur ? revisions.byRevision.get(cur)?.rev : undefined;
  const pods = ownPods(obs);
  const mode = spec.placement.mode;
  const units = mode === 'Fleet' ? fleetUnits(fleet, obs.nodes, pods) : [];
  const podViews = pods.map(podView).sort((a, b) => (a.name < b.name ? -1 : 1));
  const replicas = mode === 'Replicated' ? replicasOf(spec) : 0;

  const readyUpdated = new Set(pods.filter((p) => podRevision(p) === upd && isPodReady(p) && !isDeleting(p)).map((p) => p.metadata.name));
  const scrapes = obs.scrapes.filter((s) => readyUpdated.has(s.pod));
  const analysis: AnalysisResult | undefined = scrapes.length ? analyze(scrapes, spec.rollout.analysis) : undefined;

  const annotations = deployment.metadata.annotations ?? {};
  const state: WaveState = {
    ...(cur ? { currentRevision: cur } : {}),
    ...(previous.updateRevision ? { updateRevision: previous.updateRevision } : {}),
    rollout: previous.rollout ?? {},
  };
  const wave = planWave(
    state,
    {
      mode,
      settings: spec.rollout,
      updateRevision: upd,
      currentRenderable: curRev !== undefined,
      units,
      replicas,
      pods: podViews,
      ...(analysis ? { analysis } : {}),
      ...(annotations[Annotations.promote] !== undefined ? { promote: annotations[Annotations.promote] } : {}),
      ...(annotations[Annotations.abort] !== undefined ? { abort: annotations[Annotations.abort] } : {}),
    },
    now,
  );
  const next = wave.nextState;
  const nextCur = next.currentRevision!;

  // What the workloads render.
  const updRendered: RenderedRevision = { rev: updRev, revision: upd, classes: fleet.classes };
  const curRendered = (): RenderedRevision => {
    const rev = nextCur === upd ? updRev : (curRev ?? updRev);
    const revision = revisionOf(rev);
    return { rev, revision, classes: revision === upd ? fleet.classes : replanClasses(fleet.classes, rev, ctx.host) };
  };
  const phase = next.rollout.phase;
  let main: RenderedRevision;
  let canary: { revision: RenderedRevision; replicas: number } | undefined;
  if (mode === 'Fleet') {
    main = wave.template === 'current' ? curRendered() : updRendered;
  } else if (nextCur === upd) {
    main = updRendered;
  } else {
    main = curRendered();
    if (phase !== 'RollingBack' && phase !== 'RolledBack' && wave.canaryReplicas > 0) canary = { revision: updRendered, replicas: wave.canaryReplicas };
  }
  const repClass = mode === 'Replicated' ? (replicatedClass(fleet.classes, ctx.host, spec.hardware.plugins) ?? unplacedReplicatedClass(spec, ctx.host)) : undefined;
  const apply = renderChildren({
    owner,
    spec,
    main,
    ...(canary ? { canary } : {}),
    ...(repClass ? { replicatedClass: repClass, replicas } : {}),
  });

  // ControllerRevisions: create the missing ones for the current and update revisions; prune old ones.
  const keep = new Set([upd, nextCur]);
  let number = revisions.max;
  for (const [revision, rev] of [[upd, updRev], [nextCur, curRev]] as const) {
    if (!rev || revisions.byRevision.has(revision) || apply.some((o) => o.kind === 'ControllerRevision' && o.metadata.labels?.[Labels.revision] === revision)) continue;
    apply.push(controllerRevision(owner, revision, rev, ++number));
  }
  const older = [...revisions.byRevision.entries()].filter(([r]) => !keep.has(r)).sort((a, b) => b[1].number - a[1].number);
  const deletions: Deletion[] = older.slice(REVISION_HISTORY).map(([, v]) => ({
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    namespace: owner.namespace,
    name: v.obj.metadata.name,
    ...(v.obj.metadata.uid ? { uid: v.obj.metadata.uid } : {}),
    reason: 'revision history limit',
  }));

  // Children no longer desired (a node class gone, egress allowed again, autoscaling removed).
  const desiredKeys = new Set(apply.map((o) => `${o.apiVersion}/${o.kind}/${o.metadata.name}`));
  for (const c of [...obs.children].sort((a, b) => (`${a.kind}/${a.metadata.name}` < `${b.kind}/${b.metadata.name}` ? -1 : 1))) {
    if (!MANAGED_KINDS.has(c.kind) || !isControlledBy(c, owner.uid) || desiredKeys.has(`${c.apiVersion}/${c.kind}/${c.metadata.name}`)) continue;
    deletions.push({ apiVersion: c.apiVersion, kind: c.kind, namespace: owner.namespace, name: c.metadata.name, ...(c.metadata.uid ? { uid: c.metadata.uid } : {}), reason: 'stale child' });
  }
  for (const a of wave.actions) {
    if (a.kind !== 'deletePod') continue;
    deletions.push({ apiVersion: 'v1', kind: 'Pod', namespace: owner.namespace, name: a.pod, ...(a.uid ? { uid: a.uid } : {}), reason: a.reason });
  }
  if (mode === 'Fleet') deletions.push(...securityReplacements(pods, units, main.revision, securityArgs(securitySettingsOf(spec)), deletions, owner.namespace));

  // Status.
  const live = podViews.filter((p) => !p.deleting);
  const counts =
    mode === 'Fleet'
      ? {
          desired: units.length,
          updated: units.filter((u) => unitPod(u, upd)?.revision === upd).length,
          ready: units.filter((u) => unitPod(u, upd)?.ready).length,
          offline: units.filter((u) => u.offline).length,
        }
      : { desired: replicas, updated: live.filter((p) => p.revision === upd).length, ready: live.filter((p) => p.ready).length, offline: 0 };
  const readyPods = pods.filter((p) => isPodReady(p) && !isDeleting(p));
  const placements: PlacementCount[] = (mode === 'Fleet' ? main.classes : main.classes.filter((c) => c.nodeClass.key === repClass?.nodeClass.key)).map((c) => ({
    plugin: c.plan.plugin,
    executionProvider: c.plan.executionProviders[0]?.name ?? 'cpu',
    precision: c.plan.precision.precision,
    nodes: mode === 'Fleet' ? c.nodeClass.nodes.length : replicas,
  }));
  const status = computeStatus({
    previous,
    generation,
    now,
    mode,
    currentRevision: nextCur,
    updateRevision: upd,
    rollout: next.rollout,
    counts,
    livePods: live.length,
    selector: `${Labels.deployment}=${labelValue(owner.name)}`,
    readyDigests: readyPods.map((p) => p.metadata.annotations?.[Annotations.modelDigest] ?? 'unknown'),
    updatedReady: readyUpdated.size,
    placements,
    ...(fleet.classes.length === 0 ? { noNodesMessage: noNodesMessage(spec, fleet, replicas) } : {}),
  });

  const events: PlannedEvent[] = wave.actions.flatMap((a) => (a.kind === 'event' ? [{ type: a.type, reason: a.reason, message: a.message }] : []));
  const unplacedMsg = fleet.unplaced.length ? `${fleet.unplaced.length} node(s) match the placement but cannot be served, e.g. ${fleet.unplaced[0]!.node}: ${fleet.unplaced[0]!.reason}` : '';
  if (unplacedMsg && findCondition(previous.conditions, ConditionType.Ready) === undefined) events.push({ type: 'Warning', reason: Reason.UnplacedNodes, message: unplacedMsg });

  const requeue = wave.requeueAfterMs ?? (isActivePhase(phase) || phase === 'RollingBack' ? 5_000 : undefined);
  return { apply, delete: deletions, status, events, ...(requeue !== undefined ? { requeueAfterMs: requeue } : {}) };
}

/**
 * Security flags changed (the sidecar reads them at start; ADR 0011): every pod on an online node that runs the
 * revision the DaemonSets render, with other security flags, is replaced at once (not in waves, never rolled
 * back); its DaemonSet recreates it from the template this plan applies. Pods of another revision get the flags
 * when their wave (or rollback) replaces them.
 */
function securityReplacements(pods: readonly KubeObject[], units: readonly FleetUnit[], revision: string, want: readonly string[], planned: readonly Deletion[], namespace: string): Deletion[] {
  const online = new Set(units.filter((u) => !u.offline).map((u) => u.node));
  const already = new Set(planned.filter((d) => d.kind === 'Pod').map((d) => d.name));
  const wanted = want.join(' ');
  return pods
    .filter((p) => podRevision(p) === revision && !isDeleting(p) && online.has(podNode(p) ?? '') && !already.has(p.metadata.name) && podSecurityArgs(p).join(' ') !== wanted)
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
    .map((p) => ({ apiVersion: 'v1', kind: 'Pod', namespace, name: p.metadata.name, ...(p.metadata.uid ? { uid: p.metadata.uid } : {}), reason: `security settings changed (${wanted || 'defaults'})` }));
}

/** Pure: the /metrics endpoints of Ready pods of the update revision while a rollout to it is under way. */
export const scrapeTargets: ScrapeTargetsFn = (obs, ctx) => {
  const parsed = parseSpec(obs.deployment);
  if ('error' in parsed) return [];
  const { spec } = parsed;
  if (spec.rollout.strategy !== 'Waves') return [];
  const previous = (obs.deployment['status'] ?? {}) as SLMDeploymentStatus;
  const upd = revisionOf(revisionSpecOf(spec, ctx.config));
  if (!previous.currentRevision || previous.currentRevision === upd || previous.rollout?.failedRevision === upd) return [];
  const namespace = obs.deployment.metadata.namespace ?? 'default';
  const out: ScrapeTarget[] = [];
  for (const p of ownPods(obs)) {
    const ip = podIP(p);
    if (!ip || podRevision(p) !== upd || !isPodReady(p) || isDeleting(p)) continue;
    const host = ip.includes(':') ? `[${ip}]` : ip;
    out.push({ pod: p.metadata.name, namespace, url: `http://${host}:${spec.serving.metricsPort}/metrics` });
  }
  return out.sort((a, b) => (a.pod < b.pod ? -1 : 1));
};
