/** Condition types and reasons of SLMDeployment status, and the Kubernetes condition-update semantics. */
import type { Condition } from '../schema/slmdeployment.js';

export const ConditionType = {
  Ready: 'Ready',
  ModelVerified: 'ModelVerified',
  Progressing: 'Progressing',
  Degraded: 'Degraded',
  RolledBack: 'RolledBack',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const Reason = {
  InvalidSpec: 'InvalidSpec',
  Reconciling: 'Reconciling',
  AllReplicasReady: 'AllReplicasReady',
  ReplicasNotReady: 'ReplicasNotReady',
  NoMatchingNodes: 'NoMatchingNodes',
  DigestVerified: 'DigestVerified',
  DigestMismatch: 'DigestMismatch',
  VerificationPending: 'VerificationPending',
  WaveInProgress: 'WaveInProgress',
  WaveAnalysis: 'WaveAnalysis',
  WavePaused: 'WavePaused',
  RolloutPaused: 'RolloutPaused',
  RolloutComplete: 'RolloutComplete',
  OfflineNodesExceeded: 'OfflineNodesExceeded',
  AnalysisFailed: 'AnalysisFailed',
  RollbackComplete: 'RollbackComplete',
  Aborted: 'Aborted',
  ExecutionProviderFallback: 'ExecutionProviderFallback',
  AsExpected: 'AsExpected',
  ModelLoadFailed: 'ModelLoadFailed',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  AnalysisInconclusive: 'AnalysisInconclusive',
  Promoted: 'Promoted',
  RolloutStarted: 'RolloutStarted',
  WaveStarted: 'WaveStarted',
  AnalysisPassed: 'AnalysisPassed',
  UnplacedNodes: 'UnplacedNodes',
  RollbackInProgress: 'RollbackInProgress',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export type ConditionStatus = Condition['status'];

export interface ConditionUpdate {
  type: ConditionType | string;
  status: ConditionStatus;
  reason: Reason | string;
  message: string;
}

/**
 * Returns `conditions` with `update` set, Kubernetes style: lastTransitionTime changes only when the status
 * changes; observedGeneration is always set to `generation`; other conditions are untouched; order is kept.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  generation: number,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === update.type);
  const previous = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    type: update.type,
    status: update.status,
    observedGeneration: generation,
    lastTransitionTime:
      previous && previous.status === update.status ? previous.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    reason: update.reason,
    message: update.message,
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

/** The condition of a type, if present. */
export const findCondition = (conditions: readonly Condition[] | undefined, type: string): Condition | undefined =>
  conditions?.find((c) => c.type === type);

/** True when the condition is True and was computed for the given generation. */
export const isConditionTrue = (conditions: readonly Condition[] | undefined, type: string, generation?: number): boolean => {
  const c = findCondition(conditions, type);
  return c?.status === 'True' && (generation === undefined || c.observedGeneration === generation);
};
