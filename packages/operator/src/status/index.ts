/** Pure status: conditions, revisions, rollout, node counts, served digests and placements of an SLMDeployment. */
import { ConditionType, Reason, findCondition, setCondition, type Condition, type SLMDeploymentStatus } from '@slmops/api';
import type { RolloutStatus } from '../rollout/index.js';

export interface PlacementCount {
  plugin: string;
  executionProvider: string;
  precision: 'fp32' | 'fp16' | 'int8' | 'int4';
  nodes: number;
}

export interface StatusInput {
  previous: SLMDeploymentStatus;
  generation: number;
  now: Date;
  mode: 'Fleet' | 'Replicated';
  currentRevision: string;
  updateRevision: string;
  rollout: RolloutStatus;
  /** Pods (Fleet: nodes) that should serve, are updated, are Ready, and nodes offline. */
  counts: { desired: number; updated: number; ready: number; offline: number };
  /** Live pods, for /scale. */
  livePods: number;
  selector: string;
  /** Digest annotation of each Ready pod ("unknown" when missing). */
  readyDigests: readonly string[];
  /** Ready pods that serve the update revision. */
  updatedReady: number;
  placements: readonly PlacementCount[];
  /** Why no node is placed, when none is (first unplaced reasons); set, Ready is False NoMatchingNodes in any mode. */
  noNodesMessage?: string;
}

const CONDITION_ORDER = [ConditionType.Ready, ConditionType.ModelVerified, ConditionType.Progressing, ConditionType.Degraded, ConditionType.RolledBack];

type Update = { status: Condition['status']; reason: string; message: string };

/** Sets each condition with setCondition (lastTransitionTime kept while the status is unchanged), in a fixed order. */
export function applyConditions(previous: readonly Condition[] | undefined, updates: Partial<Record<string, Update>>, generation: number, now: Date): Condition[] {
  let list = [...(previous ?? [])];
  for (const type of CONDITION_ORDER) {
    const u = updates[type];
    if (u) list = setCondition(list, { type, ...u }, generation, now);
  }
  const rank = (t: string) => (CONDITION_ORDER as string[]).indexOf(t) >>> 0;
  return list.sort((a, b) => rank(a.type) - rank(b.type));
}

function serving(phase: string | undefined): 'forward' | 'back' | 'failed' | 'idle' {
  if (phase === 'RollingBack' || phase === 'RolledBack') return 'back';
  if (phase === 'Failed') return 'failed';
  if (phase === 'Complete' || phase === undefined) return 'idle';
  return 'forward';
}

/** Pure: the whole status for one reconcile. Same input, deep-equal output; no field depends on the clock but transitions. */
export function computeStatus(input: StatusInput): SLMDeploymentStatus {
  const { previous, generation, now, rollout, counts, mode } = input;
  const unit = mode === 'Fleet' ? 'nodes' : 'replicas';
  const phase = rollout.phase;
  const kind = serving(phase);
  const online = counts.desired - counts.offline;
  const rolloutMsg = rollout.message ?? '';

  const ready: Update =
    counts.desired === 0 || input.noNodesMessage !== undefined
      ? { status: 'False', reason: Reason.NoMatchingNodes, message: input.noNodesMessage ?? `no ${unit} to serve on` }
      : counts.ready >= online
        ? { status: 'True', reason: Reason.AllReplicasReady, message: `${counts.ready} of ${counts.desired} ${unit} Ready${counts.offline ? `; ${counts.offline} offline, pending` : ''}` }
        : { status: 'False', reason: Reason.ReplicasNotReady, message: `${counts.ready} of ${counts.desired} ${unit} Ready${counts.offline ? `; ${counts.offline} offline, pending` : ''}` };

  let modelVerified: Update;
  const prevVerified = findCondition(previous.conditions, ConditionType.ModelVerified);
  if (input.updatedReady > 0) {
    modelVerified = { status: 'True', reason: Reason.DigestVerified, message: `${input.updatedReady} Ready pod(s) serve revision ${input.updateRevision}; the sidecar turns Ready only after verifying the package digest` };
  } else if ((kind === 'back' || kind === 'failed') && (rollout.reason === Reason.ModelLoadFailed || rollout.reason === Reason.ProgressDeadlineExceeded)) {
    modelVerified = { status: 'False', reason: Reason.ModelLoadFailed, message: rolloutMsg };
  } else if (prevVerified && previous.updateRevision === input.updateRevision && prevVerified.status !== 'Unknown') {
    modelVerified = { status: prevVerified.status, reason: prevVerified.reason, message: prevVerified.message };
  } else {
    modelVerified = { status: 'Unknown', reason: Reason.VerificationPending, message: `no Ready pod serves revision ${input.updateRevision} yet` };
  }

  let progressing: Update;
  if (kind === 'back') progressing = phase === 'RollingBack' ? { status: 'True', reason: Reason.RollbackInProgress, message: rolloutMsg } : { status: 'False', reason: Reason.RollbackComplete, message: rolloutMsg };
  else if (kind === 'failed') progressing = { status: 'False', reason: rollout.reason ?? Reason.AnalysisFailed, message: rolloutMsg };
  else if (kind === 'idle') progressing = { status: 'False', reason: Reason.RolloutComplete, message: `revision ${input.currentRevision} is rolled out` };
  else if (rollout.reason === Reason.OfflineNodesExceeded) progressing = { status: 'False', reason: Reason.OfflineNodesExceeded, message: rolloutMsg };
  else if (rollout.reason === Reason.RolloutPaused) progressing = { status: 'Unknown', reason: Reason.RolloutPaused, message: rolloutMsg };
  else if (input.currentRevision === input.updateRevision) progressing = { status: 'True', reason: Reason.Reconciling, message: `waiting for ${online - counts.ready} ${unit} to become Ready` };
  else progressing = { status: 'True', reason: rollout.reason ?? Reason.WaveInProgress, message: rolloutMsg };

  const degraded: Update =
    kind === 'back' || kind === 'failed' || rollout.reason === Reason.OfflineNodesExceeded
      ? { status: 'True', reason: rollout.reason ?? Reason.AnalysisFailed, message: rolloutMsg }
      : { status: 'False', reason: Reason.AsExpected, message: '' };

  const rolledBack: Update =
    kind === 'back'
      ? { status: 'True', reason: rollout.reason ?? Reason.AnalysisFailed, message: rolloutMsg }
      : { status: 'False', reason: Reason.AsExpected, message: '' };

  const conditions = applyConditions(
    previous.conditions,
    { [ConditionType.Ready]: ready, [ConditionType.ModelVerified]: modelVerified, [ConditionType.Progressing]: progressing, [ConditionType.Degraded]: degraded, [ConditionType.RolledBack]: rolledBack },
    generation,
    now,
  );

  const digests = new Map<string, number>();
  for (const d of input.readyDigests) digests.set(d, (digests.get(d) ?? 0) + 1);
  const placements = new Map<string, PlacementCount>();
  for (const p of input.placements) {
    const key = `${p.plugin}/${p.executionProvider}/${p.precision}`;
    const prev = placements.get(key);
    placements.set(key, prev ? { ...prev, nodes: prev.nodes + p.nodes } : { ...p });
  }
  return {
    observedGeneration: generation,
    conditions,
    currentRevision: input.currentRevision,
    updateRevision: input.updateRevision,
    rollout: stripUndefined(rollout),
    nodes: { ...counts },
    replicas: input.livePods,
    selector: input.selector,
    servedDigests: [...digests.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, 64).map(([digest, count]) => ({ digest, count })),
    placements: [...placements.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, 64).map(([, p]) => p),
  };
}

/** Status for a spec that fails validation: Ready=False InvalidSpec naming the field; everything else kept. */
export function invalidSpecStatus(previous: SLMDeploymentStatus, generation: number, now: Date, message: string): SLMDeploymentStatus {
  const updates: Partial<Record<string, Update>> = {
    [ConditionType.Ready]: { status: 'False', reason: Reason.InvalidSpec, message },
    [ConditionType.Degraded]: { status: 'True', reason: Reason.InvalidSpec, message },
  };
  // Other conditions keep their state but say which generation they were computed for.
  for (const c of previous.conditions ?? []) if (!updates[c.type]) updates[c.type] = { status: c.status, reason: c.reason, message: c.message };
  return { ...previous, observedGeneration: generation, conditions: applyConditions(previous.conditions, updates, generation, now) };
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
