/**
 * Prometheus alert rules for SLMOps, as rule groups (the `spec` of a PrometheusRule, or a plain rules file).
 * Names come from the catalogue; thresholds are the defaults the chart ships.
 */
import type { RolloutPhase } from '@slmops/api';
import { nodeMetrics, operatorMetrics, servingMetrics } from '@slmops/metrics';

const S = servingMetrics;
const O = operatorMetrics;

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: 'warning' | 'critical' };
  annotations: { summary: string; description: string };
}

export interface RuleGroups {
  groups: Array<{ name: string; rules: AlertRule[] }>;
}

/** Phases in which a rollout is expected to move; staying in one without progress is "stuck". */
const MOVING: readonly RolloutPhase[] = ['Progressing', 'Analyzing', 'Promoting', 'RollingBack'];
/** Accelerator execution providers (the ids the plugins' provider chains use). */
const ACCELERATOR_EPS = ['tensorrt', 'cuda', 'openvino', 'migraphx', 'rocm', 'qnn', 'webgpu', 'dml', 'coreml'];

const ttftP95 = (by: string) => `histogram_quantile(0.95, sum by (le, ${by}) (rate(${S.timeToFirstToken.name}_bucket[10m])))`;

export const alertRules: RuleGroups = {
  groups: [
    {
      name: 'slmops-serving',
      rules: [
        {
          alert: 'SLMOpsHighErrorRate',
          expr: `sum by (namespace, model_name) (rate(${S.requestFailure.name}[5m])) / (sum by (namespace, model_name) (rate(${S.requestFailure.name}[5m])) + sum by (namespace, model_name) (rate(${S.requestSuccess.name}[5m]))) > 0.05`,
          for: '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'More than 5% of requests to {{ $labels.model_name }} fail',
            description: '{{ $labels.namespace }}/{{ $labels.model_name }}: {{ $value | humanizePercentage }} of requests ended in an error over 5 minutes (see the Errors by gRPC code panel).',
          },
        },
        {
          alert: 'SLMOpsTTFTRegression',
          // Compares each version with the fastest version of the same model serving at the same time: during a
          // rollout the update revision against the stable one. Needs some traffic on both to mean anything.
          expr:
            `(${ttftP95('namespace, model_name, model_version')} > on (namespace, model_name) group_left () 1.5 * min by (namespace, model_name) (${ttftP95('namespace, model_name, model_version')})) ` +
            `and on (namespace, model_name, model_version) sum by (namespace, model_name, model_version) (rate(${S.timeToFirstToken.name}_count[10m])) > 0.1`,
          for: '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'TTFT p95 of {{ $labels.model_name }} {{ $labels.model_version }} is 50% above another version',
            description: '{{ $labels.namespace }}/{{ $labels.model_name }} version {{ $labels.model_version }} has a time-to-first-token p95 of {{ $value | humanizeDuration }}, more than 1.5x the fastest version serving alongside it.',
          },
        },
        {
          alert: 'SLMOpsExecutionProviderFallback',
          expr: `max by (namespace, pod, from, to) (${S.epFallback.name}{from=~"(?i)${ACCELERATOR_EPS.join('|')}"}) > 0`,
          for: '5m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Pod {{ $labels.pod }} runs on {{ $labels.to }} instead of {{ $labels.from }}',
            description: '{{ $labels.namespace }}/{{ $labels.pod }} could not use the {{ $labels.from }} execution provider on its accelerator node and fell back to {{ $labels.to }}; check the device plugin, drivers and the runtime class.',
          },
        },
      ],
    },
    {
      name: 'slmops-rollouts',
      rules: [
        {
          alert: 'SLMOpsRolloutStuck',
          expr: `max by (namespace, deployment, phase) (${O.rolloutPhase.name}{phase=~"${MOVING.join('|')}"}) == 1 and on (namespace, deployment) changes(${O.rolloutUpdatedPercent.name}[30m]) == 0 and on (namespace, deployment) changes(${O.rolloutWave.name}[30m]) == 0`,
          for: '15m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Rollout of {{ $labels.namespace }}/{{ $labels.deployment }} has not progressed for 45 minutes',
            description: 'The rollout is in phase {{ $labels.phase }} but neither its wave nor its updated percent changed in 30 minutes (plus 15 minutes pending).',
          },
        },
        {
          alert: 'SLMOpsVersionSkew',
          expr: `count by (namespace, deployment) (${O.servedDigest.name} > 0) > 1`,
          for: '2h',
          labels: { severity: 'warning' },
          annotations: {
            summary: '{{ $labels.namespace }}/{{ $labels.deployment }} serves {{ $value }} digests for over 2 hours',
            description: 'Pods of the deployment serve more than one package digest past the 2 hour deadline: a rollout is paused, stuck, or nodes are offline.',
          },
        },
      ],
    },
    {
      name: 'slmops-components',
      rules: [
        {
          alert: 'SLMOpsNodeExporterDown',
          expr: `max_over_time(${nodeMetrics.exporterInfo.name}[1h]) unless ${nodeMetrics.exporterInfo.name}`,
          for: '5m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'The SLMOps node exporter on {{ $labels.node }} stopped reporting',
            description: 'slmops_exporter_info from node {{ $labels.node }} ({{ $labels.plugin }}) was scraped in the last hour but not now: hardware, energy and cache metrics of that node are missing.',
          },
        },
        {
          alert: 'SLMOpsOperatorNotLeading',
          expr: `max(${O.leader.name}) < 1 or absent(${O.leader.name})`,
          for: '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'No SLMOps operator replica holds the leader lease',
            description: 'No replica reports slmops_operator_leader 1: SLMDeployments are not reconciled and rollouts do not advance.',
          },
        },
      ],
    },
  ],
};
