/** Metrics of the operator. Dashboards and alerts read these names; change them only here. */
import { counter, gauge, histogram } from './catalogue.js';

const D = ['namespace', 'deployment'] as const;
type DeploymentLabel = (typeof D)[number];

/** Reconcile durations: controller-runtime's layout (5 ms .. 60 s). */
export const RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** Operator metrics: work queue, reconciles, rollouts, analysis, leadership. */
export const operatorMetrics = {
  reconcileTotal: counter<'result'>({ name: 'slmops_operator_reconcile_total', help: 'Reconciles by result (success, error, requeue).', labelNames: ['result'] }),
  reconcileDuration: histogram<'result'>({ name: 'slmops_operator_reconcile_duration_seconds', help: 'Reconcile duration by result.', labelNames: ['result'], buckets: RECONCILE_BUCKETS }),
  reconcileErrors: counter<'reason'>({ name: 'slmops_operator_reconcile_errors_total', help: 'Failed reconciles by cause (Conflict, TooManyRequests, InternalError, Network, …).', labelNames: ['reason'] }),
  queueDepth: gauge({ name: 'slmops_operator_queue_depth', help: 'Keys waiting in the work queue (including those waiting out a backoff).', labelNames: [] }),
  apiRequests: counter<'verb' | 'code'>({ name: 'slmops_operator_api_requests_total', help: 'Kubernetes API write requests by verb and HTTP status code.', labelNames: ['verb', 'code'] }),
  leader: gauge({ name: 'slmops_operator_leader', help: '1 while this replica holds the leader lease, else 0.', labelNames: [] }),
  rolloutPhase: gauge<DeploymentLabel | 'phase'>({ name: 'slmops_rollout_phase', help: 'Current rollout phase per SLMDeployment (1 for the current phase, 0 for the others).', labelNames: [...D, 'phase'] }),
  rolloutWave: gauge<DeploymentLabel>({ name: 'slmops_rollout_wave', help: 'Current rollout wave (1-based; 0 before the first wave).', labelNames: D }),
  rolloutUpdatedPercent: gauge<DeploymentLabel>({ name: 'slmops_rollout_updated_percent', help: 'Percent of pods on the update revision.', labelNames: D }),
  rollbacks: counter<DeploymentLabel>({ name: 'slmops_rollout_rollbacks_total', help: 'Automatic and manual rollbacks.', labelNames: D }),
  analysisResults: counter<DeploymentLabel | 'result'>({ name: 'slmops_rollout_analysis_total', help: 'Wave analyses by result (passed, failed, inconclusive).', labelNames: [...D, 'result'] }),
  deploymentNodes: gauge<DeploymentLabel | 'state'>({ name: 'slmops_deployment_nodes', help: 'Pods of a deployment by state (desired, updated, ready, offline).', labelNames: [...D, 'state'] }),
  servedDigest: gauge<DeploymentLabel | 'digest'>({ name: 'slmops_deployment_served_digest_pods', help: 'Pods serving each package digest (version skew).', labelNames: [...D, 'digest'] }),
  deploymentInfo: gauge<DeploymentLabel | 'model' | 'version' | 'digest'>({ name: 'slmops_deployment_info', help: 'The model an SLMDeployment asks for; always 1.', labelNames: [...D, 'model', 'version', 'digest'] }),
  deploymentCondition: gauge<DeploymentLabel | 'type' | 'status'>({ name: 'slmops_deployment_condition', help: 'Status conditions (1 for the current status of each type).', labelNames: [...D, 'type', 'status'] }),
} as const;
