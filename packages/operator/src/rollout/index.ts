/**
 * The rollout state machine, pure: `planWave(state, observation, now)` decides which pods to delete in this
 * reconcile and the next rollout state, which the runtime persists in the SLMDeployment's status.
 *
 * Rules: a new updateRevision starts wave 1. A wave's pods (a per-node-class share of the fleet, chosen by
 * node-name hash) are deleted so their DaemonSet recreates them from the new template; pods outside the wave are
 * never deleted. A wave is done when every chosen online node serves the new revision Ready; then analysis of
 * the updated pods' metrics must pass (inconclusive until minSamples, failing after a timeout) and the wave's
 * pause must run out. Offline nodes are pending while they stay within maxOfflinePercent; above it the rollout
 * holds. Updated pods that crash-loop, or stay not Ready past progressDeadline, fail the wave. A failure rolls
 * back (autoRollback) by restoring the current revision's template and deleting the updated pods.
 */
import { Reason, type SLMDeploymentSpec, type SLMDeploymentStatus } from '@slmops/api';
import type { AnalysisResult } from '../analysis/index.js';
import { durationMs, fnv1a, rfc3339 } from '../desired/names.js';

export type RolloutSettings = SLMDeploymentSpec['rollout'];
export type RolloutStatus = NonNullable<SLMDeploymentStatus['rollout']>;
export type LastAnalysis = NonNullable<RolloutStatus['lastAnalysis']>;

/** The persisted rollout state: status.currentRevision, status.updateRevision and status.rollout. */
export interface WaveState {
  currentRevision?: string;
  updateRevision?: string;
  rollout: RolloutStatus;
}

export interface PodView {
  name: string;
  uid?: string;
  revision?: string;
  ready: boolean;
  /** Why the pod is failing (CrashLoopBackOff…), when it is. */
  failure?: string;
  deleting: boolean;
}

/** One node of the fleet (Fleet mode) with the pods of this SLMDeployment on it. */
export interface FleetUnit {
  node: string;
  classKey: string;
  offline: boolean;
  pods: PodView[];
}

export interface WaveObservation {
  mode: 'Fleet' | 'Replicated';
  settings: RolloutSettings;
  /** The revision the spec asks for now. */
  updateRevision: string;
  /** False when the current revision's ControllerRevision is gone, so its template cannot be rendered. */
  currentRenderable: boolean;
  /** Fleet: every placed node. */
  units: readonly FleetUnit[];
  /** Replicated: desired replicas and all pods. */
  replicas: number;
  pods: readonly PodView[];
  /** Analysis of the updated pods' scrapes taken for this observation; undefined when none were taken. */
  analysis?: AnalysisResult;
  /** Values of the slmops.io/promote and slmops.io/abort annotations. */
  promote?: string;
  abort?: string;
}

export type RolloutAction =
  | { kind: 'deletePod'; pod: string; uid?: string; node?: string; reason: string }
  | { kind: 'event'; type: 'Normal' | 'Warning'; reason: string; message: string };

export interface WavePlan {
  actions: RolloutAction[];
  nextState: WaveState;
  /** Which revision the main workload renders (Fleet DaemonSets, Replicated stable Deployment). */
  template: 'update' | 'current';
  /** Replicated: replicas of the canary Deployment (0 = no canary). */
  canaryReplicas: number;
  requeueAfterMs?: number;
}

const ACTIVE: ReadonlySet<string> = new Set(['Pending', 'Progressing', 'Analyzing', 'Paused', 'Promoting']);
const POLL_MS = 5_000;

/** True while a rollout moves forward or holds (not Complete, RolledBack, RollingBack or Failed). */
export const isActivePhase = (phase: string | undefined): boolean => phase !== undefined && ACTIVE.has(phase);

/** Strategy-effective waves: Recreate is one wave of 100 percent without analysis. */
export function effectiveWaves(settings: RolloutSettings): { percent: number; pause?: string }[] {
  return settings.strategy === 'Recreate' ? [{ percent: 100 }] : settings.waves;
}

/** Nodes of a node class in the order waves take them: by FNV-1a hash of the node name, then by name. */
export function waveOrder(nodes: readonly string[]): string[] {
  return [...nodes].sort((a, b) => fnv1a(a) - fnv1a(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** The nodes a wave of `percent` covers: in each node class, the first ceil(percent × class size) in wave order. */
export function chosenNodes(units: readonly FleetUnit[], percent: number): Set<string> {
  const byClass = new Map<string, string[]>();
  for (const u of units) byClass.set(u.classKey, [...(byClass.get(u.classKey) ?? []), u.node]);
  const out = new Set<string>();
  for (const nodes of byClass.values()) {
    const n = Math.ceil((percent * nodes.length) / 100);
    for (const node of waveOrder(nodes).slice(0, n)) out.add(node);
  }
  return out;
}

/** The pod that stands for a node: not being deleted, preferring one of `revision`. */
export function unitPod(unit: FleetUnit, revision: string | undefined): PodView | undefined {
  const live = unit.pods.filter((p) => !p.deleting).sort((a, b) => (a.name < b.name ? -1 : 1));
  return live.find((p) => p.revision === revision) ?? live[0];
}

const elapsed = (since: string | undefined, now: Date): number => (since ? now.getTime() - Date.parse(since) : 0);

/** Canary replicas of a wave in Replicated mode: ceil(percent × replicas), all of them at 100. */
export const canaryTarget = (percent: number, replicas: number): number => Math.ceil((percent * replicas) / 100);

interface Ctx {
  obs: WaveObservation;
  now: Date;
  actions: RolloutAction[];
  timers: number[];
}

function event(ctx: Ctx, type: 'Normal' | 'Warning', reason: string, message: string): void {
  ctx.actions.push({ kind: 'event', type, reason, message });
}

/** Deletes every live pod on online nodes whose revision is not `revision` (catch-up and rollback). */
function replaceStale(ctx: Ctx, revision: string, why: string): number {
  let n = 0;
  for (const u of ctx.obs.units) {
    if (u.offline) continue;
    for (const p of u.pods) {
      if (p.deleting || p.revision === revision || p.revision === undefined) continue;
      ctx.actions.push({ kind: 'deletePod', pod: p.name, ...(p.uid ? { uid: p.uid } : {}), node: u.node, reason: why });
      n++;
    }
  }
  return n;
}

/** Online units (or replicas) that serve `revision` Ready, over those that should. */
function servingCount(obs: WaveObservation, revision: string): { ready: number; want: number } {
  if (obs.mode === 'Replicated') {
    return { ready: obs.pods.filter((p) => !p.deleting && p.ready && p.revision === revision).length, want: obs.replicas };
  }
  const online = obs.units.filter((u) => !u.offline);
  return { ready: online.filter((u) => unitPod(u, revision)?.revision === revision && unitPod(u, revision)?.ready).length, want: online.length };
}

function updatedPercent(obs: WaveObservation, revision: string): number {
  if (obs.mode === 'Replicated') {
    if (obs.replicas === 0) return 100;
    return Math.min(100, Math.floor((100 * obs.pods.filter((p) => !p.deleting && p.revision === revision).length) / obs.replicas));
  }
  if (obs.units.length === 0) return 100;
  return Math.floor((100 * obs.units.filter((u) => unitPod(u, revision)?.revision === revision).length) / obs.units.length);
}

function lastAnalysisOf(a: AnalysisResult, passed: boolean, now: Date): LastAnalysis {
  return {
    time: rfc3339(now),
    passed,
    reason: a.reason.slice(0, 1024),
    samples: a.samples,
    ...(a.errorRate !== undefined ? { errorRate: a.errorRate } : {}),
    ...(a.p95LatencyMs !== undefined ? { p95LatencyMs: a.p95LatencyMs } : {}),
    ...(a.ttftP95Ms !== undefined ? { ttftP95Ms: a.ttftP95Ms } : {}),
  };
}

/** Keeps lastAnalysis (and its time) unless the numbers or the verdict changed, so steady analysis writes nothing. */
function withAnalysis(r: RolloutStatus, next: LastAnalysis): RolloutStatus {
  const prev = r.lastAnalysis;
  if (prev) {
    const { time: _a, ...p } = prev;
    const { time: _b, ...n } = next;
    if (JSON.stringify(p) === JSON.stringify(n)) return r;
  }
  return { ...r, lastAnalysis: next };
}

function startRollback(ctx: Ctx, state: WaveState, r: RolloutStatus, reason: string, message: string): WavePlan {
  const { obs } = ctx;
  const cur = state.currentRevision!;
  if (!obs.settings.autoRollback && reason !== Reason.Aborted) {
    event(ctx, 'Warning', reason, `${message}; autoRollback is off: the rollout holds (abort with the slmops.io/abort annotation)`);
    const next: RolloutStatus = { ...r, phase: 'Failed', reason, message, failedRevision: obs.updateRevision };
    return finish(ctx, { ...state, rollout: next }, 'update');
  }
  event(ctx, 'Warning', reason, `${message}; rolling back to revision ${cur}`);
  const next: RolloutStatus = { ...r, phase: 'RollingBack', reason, message, failedRevision: obs.updateRevision };
  return rollingBack(ctx, { ...state, rollout: next });
}

function rollingBack(ctx: Ctx, state: WaveState): WavePlan {
  const cur = state.currentRevision!;
  const r = state.rollout;
  replaceStale(ctx, cur, `rollback to ${cur}`);
  const { ready, want } = servingCount(ctx.obs, cur);
  const deleting = ctx.actions.some((a) => a.kind === 'deletePod');
  if (!deleting && ready >= want) {
    event(ctx, 'Normal', Reason.RollbackComplete, `every online ${ctx.obs.mode === 'Fleet' ? 'node' : 'replica'} serves revision ${cur} again`);
    return finish(ctx, { ...state, rollout: { ...r, phase: 'RolledBack' } }, 'current');
  }
  ctx.timers.push(POLL_MS);
  return finish(ctx, state, 'current');
}

function finish(ctx: Ctx, state: WaveState, template: 'update' | 'current', canaryReplicas = 0): WavePlan {
  const obs = ctx.obs;
  const rollout: RolloutStatus = { ...state.rollout, updatedPercent: updatedPercent(obs, obs.updateRevision) };
  const timers = ctx.timers.filter((t) => t > 0);
  return {
    actions: ctx.actions,
    nextState: { ...state, updateRevision: obs.updateRevision, rollout },
    template,
    canaryReplicas,
    ...(timers.length ? { requeueAfterMs: Math.max(250, Math.min(...timers)) } : {}),
  };
}

/** Pure: the rollout step for one observation. Deterministic; never deletes a pod outside the current wave. */
export function planWave(state: WaveState, obs: WaveObservation, now: Date): WavePlan {
  const ctx: Ctx = { obs, now, actions: [], timers: [] };
  const upd = obs.updateRevision;
  let r: RolloutStatus = { ...state.rollout };
  const waves = effectiveWaves(obs.settings);

  // First revision ever, or the record of the current one is gone: nothing to roll out from.
  if (!state.currentRevision || (!obs.currentRenderable && state.currentRevision !== upd)) {
    const next: WaveState = { currentRevision: upd, rollout: { ...r, phase: 'Complete', wave: 0 } };
    const { ready, want } = servingCount(obs, upd);
    if (ready < want) next.rollout.phase = 'Progressing';
    delete next.rollout.failedRevision;
    return finish(ctx, next, 'update');
  }
  const cur = state.currentRevision;

  // The annotations act once per value.
  const promote = obs.promote !== undefined && obs.promote !== r.handledPromote ? obs.promote : undefined;
  const abort = obs.abort !== undefined && obs.abort !== r.handledAbort ? obs.abort : undefined;
  if (promote !== undefined) r.handledPromote = promote;
  if (abort !== undefined) r.handledAbort = abort;

  if (upd === cur) {
    // No rollout (or the spec went back to the current revision): replace any pod of another revision.
    const { ready, want } = servingCount(obs, cur);
    const next: RolloutStatus = { ...r, phase: ready < want ? 'Progressing' : 'Complete' };
    if (state.updateRevision !== undefined && state.updateRevision !== upd && isActivePhase(r.phase)) {
      event(ctx, 'Normal', Reason.RolloutComplete, `spec returned to revision ${cur}; replacing pods of revision ${state.updateRevision}`);
    }
    delete next.failedRevision;
    next.reason = next.phase === 'Complete' ? Reason.RolloutComplete : Reason.Reconciling;
    replaceStale(ctx, cur, `catch up to ${cur}`);
    return finish(ctx, { ...state, rollout: next }, 'update');
  }

  // A new target revision starts a rollout at wave 1.
  if (state.updateRevision !== upd) {
    r = {
      ...(r.handledPromote !== undefined ? { handledPromote: r.handledPromote } : {}),
      ...(r.handledAbort !== undefined ? { handledAbort: r.handledAbort } : {}),
      // Kept until wave 1 is analysed: status is server-side applied, and dropping a whole nested object is not reliably pruned.
      ...(r.lastAnalysis ? { lastAnalysis: r.lastAnalysis } : {}),
      wave: 1,
      phase: 'Progressing',
      reason: Reason.WaveInProgress,
      waveStartTime: rfc3339(now),
    };
    event(ctx, 'Normal', Reason.RolloutStarted, `rolling out revision ${upd} over revision ${cur} in ${waves.length} wave(s) (${waves.map((w) => `${w.percent}%`).join(', ')})`);
  }

  if (r.failedRevision === upd) {
    if (abort !== undefined && r.phase === 'Failed') {
      return startRollback(ctx, state, r, Reason.Aborted, `rollout of revision ${upd} aborted by the slmops.io/abort annotation`);
    }
    if (r.phase === 'RollingBack') return rollingBack(ctx, { ...state, rollout: r });
    if (r.phase === 'Failed') return finish(ctx, { ...state, rollout: r }, 'update', obs.mode === 'Replicated' ? (r.canaryReplicas ?? 0) : 0);
    // RolledBack: keep serving the current revision; nodes that were offline catch up.
    replaceStale(ctx, cur, `rollback to ${cur}`);
    return finish(ctx, { ...state, rollout: { ...r, phase: 'RolledBack' } }, 'current');
  }

  if (abort !== undefined) {
    return startRollback(ctx, { ...state, updateRevision: upd }, r, Reason.Aborted, `rollout of revision ${upd} aborted by the slmops.io/abort annotation`);
  }

  if (obs.settings.paused) {
    if (r.reason !== Reason.RolloutPaused) event(ctx, 'Normal', Reason.RolloutPaused, `rollout of revision ${upd} paused at wave ${r.wave ?? 1} by spec.rollout.paused`);
    // A promote does not override the spec's pause (GitOps owns it); say so rather than drop it silently.
    if (promote !== undefined) event(ctx, 'Warning', Reason.RolloutPaused, `slmops.io/promote ignored: spec.rollout.paused holds the rollout at wave ${r.wave ?? 1}; resume it first`);
    r = { ...r, phase: 'Paused', reason: Reason.RolloutPaused, message: `spec.rollout.paused holds the rollout at wave ${r.wave ?? 1} of ${waves.length}` };
    return finish(ctx, { ...state, rollout: r }, 'update', obs.mode === 'Replicated' ? (r.canaryReplicas ?? 0) : 0);
  }

  // Offline nodes: pending within maxOfflinePercent, a hold (or a failure) above it.
  if (obs.mode === 'Fleet' && obs.units.length > 0) {
    const offline = obs.units.filter((u) => u.offline).length;
    const pct = (100 * offline) / obs.units.length;
    if (pct > obs.settings.offline.maxOfflinePercent) {
      const message = `${offline} of ${obs.units.length} nodes (${Math.round(pct)}%) are offline, above rollout.offline.maxOfflinePercent ${obs.settings.offline.maxOfflinePercent}%`;
      if (obs.settings.offline.treatAs === 'Failed') return startRollback(ctx, state, r, Reason.OfflineNodesExceeded, message);
      if (r.reason !== Reason.OfflineNodesExceeded) event(ctx, 'Warning', Reason.OfflineNodesExceeded, `${message}: the rollout holds until nodes return`);
      r = { ...r, phase: 'Paused', reason: Reason.OfflineNodesExceeded, message: `${message}: the rollout holds at wave ${r.wave ?? 1} until nodes return` };
      ctx.timers.push(POLL_MS);
      return finish(ctx, { ...state, rollout: r }, 'update');
    }
  }

  // Walk forward through as many waves as this observation completes; a promote skips one wave's gates.
  let promoteLeft = promote !== undefined;
  for (let guard = 0; guard <= waves.length; guard++) {
    const w = Math.min(Math.max(r.wave ?? 1, 1), waves.length);
    const wave = waves[w - 1]!;
    const last = w === waves.length;
    const forced = promoteLeft;
    promoteLeft = false;

    const failure = waveFailure(obs, r, now);
    if (failure) return startRollback(ctx, state, r, failure.reason, failure.message);

    let done: boolean;
    let canary = 0;
    if (obs.mode === 'Fleet') {
      const chosen = chosenNodes(obs.units, wave.percent);
      done = true;
      for (const u of obs.units) {
        if (!chosen.has(u.node) || u.offline) continue;
        const pod = unitPod(u, upd);
        if (pod?.revision === upd) {
          if (!pod.ready) done = false;
          continue;
        }
        done = false;
        for (const p of u.pods) {
          if (p.deleting || p.revision === upd) continue;
          ctx.actions.push({ kind: 'deletePod', pod: p.name, ...(p.uid ? { uid: p.uid } : {}), node: u.node, reason: `wave ${w} of ${waves.length} (${wave.percent}%) to revision ${upd}` });
        }
      }
    } else {
      canary = canaryTarget(wave.percent, obs.replicas);
      const ready = obs.pods.filter((p) => !p.deleting && p.ready && p.revision === upd).length;
      done = ready >= canary;
    }
    r = { ...r, wave: w, ...(obs.mode === 'Replicated' ? { canaryReplicas: canary } : {}) };
    if (forced) {
      event(ctx, 'Normal', Reason.Promoted, `wave ${w} of ${waves.length} promoted by the slmops.io/promote annotation`);
      r = { ...r, wavePassedTime: rfc3339(now), waveReadyTime: r.waveReadyTime ?? rfc3339(now) };
    }
    if (!done && !forced) {
      r = { ...r, phase: 'Progressing', reason: Reason.WaveInProgress, message: `wave ${w} of ${waves.length} (${wave.percent}%): waiting for updated pods to be Ready` };
      const deadline = durationMs(obs.settings.progressDeadline) - elapsed(r.waveStartTime, now);
      ctx.timers.push(Math.min(POLL_MS, deadline));
      return finish(ctx, { ...state, rollout: r }, 'update', canary);
    }
    if (!r.waveReadyTime) r = { ...r, waveReadyTime: rfc3339(now) };

    // Analysis of the updated pods (Recreate has none).
    if (!r.wavePassedTime && obs.settings.strategy === 'Waves') {
      const interval = durationMs(obs.settings.analysis.interval);
      const timeout = obs.settings.analysis.timeout ? durationMs(obs.settings.analysis.timeout) : 5 * interval;
      const since = elapsed(r.waveReadyTime, now);
      const a: AnalysisResult | undefined =
        obs.analysis ?? (obs.settings.analysis.minSamples === 0 ? { decision: 'pass', reason: 'minSamples is 0 and no metrics were scraped', samples: 0, pods: 0, scrapeErrors: [] } : undefined);
      if (a?.decision === 'fail') {
        r = withAnalysis(r, lastAnalysisOf(a, false, now));
        return startRollback(ctx, state, r, Reason.AnalysisFailed, `analysis of wave ${w} failed: ${a.reason}`);
      }
      if (a?.decision === 'pass' && since >= interval) {
        r = { ...withAnalysis(r, lastAnalysisOf(a, true, now)), wavePassedTime: rfc3339(now) };
        event(ctx, 'Normal', Reason.AnalysisPassed, `analysis of wave ${w} passed: ${a.reason}`);
      } else if (since >= timeout) {
        const why = a ? a.reason : 'no metrics were scraped';
        if (a) r = withAnalysis(r, lastAnalysisOf(a, false, now));
        return startRollback(ctx, state, r, Reason.AnalysisInconclusive, `analysis of wave ${w} stayed inconclusive for ${obs.settings.analysis.timeout ?? `${timeout / 1000}s`}: ${why}`);
      } else {
        if (a) r = withAnalysis(r, lastAnalysisOf(a, false, now));
        r = { ...r, phase: 'Analyzing', reason: Reason.WaveAnalysis, message: `wave ${w} of ${waves.length} (${wave.percent}%): analysing updated pods${a ? ` (${a.reason})` : ''}` };
        ctx.timers.push(Math.min(POLL_MS, a?.decision === 'pass' ? interval - since : timeout - since));
        return finish(ctx, { ...state, rollout: r }, 'update', canary);
      }
    } else if (!r.wavePassedTime) {
      r = { ...r, wavePassedTime: rfc3339(now) };
    }

    // The wave's pause runs from the moment its pods were Ready.
    const pauseMs = wave.pause && !forced ? durationMs(wave.pause) - elapsed(r.waveReadyTime, now) : 0;
    if (pauseMs > 0 && !last) {
      r = { ...r, phase: 'Paused', reason: Reason.WavePaused, message: `wave ${w} of ${waves.length} (${wave.percent}%) is healthy; pausing ${wave.pause} before wave ${w + 1}` };
      ctx.timers.push(pauseMs);
      return finish(ctx, { ...state, rollout: r }, 'update', canary);
    }

    if (last) {
      event(ctx, 'Normal', Reason.RolloutComplete, `revision ${upd} serves every online ${obs.mode === 'Fleet' ? 'node' : 'replica'}`);
      const { waveStartTime: _s, waveReadyTime: _r, wavePassedTime: _p, canaryReplicas: _c, failedRevision: _f, ...rest } = r;
      const offline = obs.units.filter((u) => u.offline).length;
      const next: RolloutStatus = {
        ...rest,
        phase: 'Complete',
        reason: Reason.RolloutComplete,
        message: offline ? `rollout complete; ${offline} offline node(s) pending: they update when they return` : 'rollout complete',
      };
      return finish(ctx, { ...state, currentRevision: upd, rollout: next }, 'update');
    }
    const { waveReadyTime: _r, wavePassedTime: _p, ...rest } = r;
    r = { ...rest, wave: w + 1, phase: 'Progressing', reason: Reason.WaveInProgress, waveStartTime: rfc3339(now) };
    event(ctx, 'Normal', Reason.WaveStarted, `wave ${w + 1} of ${waves.length} (${waves[w]!.percent}%) of revision ${upd} started`);
  }
  return finish(ctx, { ...state, rollout: r }, 'update');
}

/** A failing updated pod, or one not Ready past progressDeadline since the wave started, fails the wave. */
function waveFailure(obs: WaveObservation, r: RolloutStatus, now: Date): { reason: string; message: string } | undefined {
  const updated: { pod: PodView; node?: string }[] =
    obs.mode === 'Fleet'
      ? obs.units.filter((u) => !u.offline).flatMap((u) => u.pods.filter((p) => !p.deleting && p.revision === obs.updateRevision).map((pod) => ({ pod, node: u.node })))
      : obs.pods.filter((p) => !p.deleting && p.revision === obs.updateRevision).map((pod) => ({ pod }));
  const failing = updated.find((u) => u.pod.failure);
  if (failing) {
    return {
      reason: Reason.ModelLoadFailed,
      message: `updated pod ${failing.pod.name}${failing.node ? ` on node ${failing.node}` : ''} is failing (${failing.pod.failure}): the sidecar turns Ready only after the model digest verified and the model loaded`,
    };
  }
  const deadline = durationMs(obs.settings.progressDeadline);
  const notReady = updated.filter((u) => !u.pod.ready);
  if (notReady.length && elapsed(r.waveStartTime, now) > deadline) {
    const first = notReady[0]!;
    return {
      reason: Reason.ProgressDeadlineExceeded,
      message: `${notReady.length} updated pod(s) not Ready within progressDeadline ${obs.settings.progressDeadline} (e.g. ${first.pod.name}${first.node ? ` on node ${first.node}` : ''}; digest mismatch or failing readiness)`,
    };
  }
  return undefined;
}
