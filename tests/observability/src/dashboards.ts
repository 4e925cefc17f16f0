/**
 * The three SLMOps dashboards. Every metric name comes from the catalogue (@slmops/metrics), so a rename there
 * changes the dashboards on the next `generate` and the currency test fails until they are regenerated.
 *
 * Labels the dashboards rely on besides the metrics' own: the scrape of serving pods adds `namespace`, `pod`,
 * `node` and `plugin` (from the pod label slmops.io/plugin); the operator is scraped with honor_labels so its
 * `namespace` label (the SLMDeployment's) wins; the node exporter sets `node` and `plugin` on slmops_exporter_info.
 */
import { nodeMetrics, operatorMetrics, type pluginCollectorMetrics, servingMetrics } from '@slmops/metrics';
import type { DashboardSpec, PanelSpec, Target } from './grafana.js';

const S = servingMetrics;
const O = operatorMetrics;
const N = nodeMetrics;
type PluginMetric = (typeof pluginCollectorMetrics)[number];
/** A hardware collector metric name, checked against the catalogue's list at compile time. */
const hw = (name: PluginMetric): PluginMetric => name;

const RATE = '$__rate_interval';
const QUANTILES = [0.5, 0.95, 0.99] as const;

// --- Serving -------------------------------------------------------------------------------------------------
const SEL = 'namespace=~"$namespace", model_name=~"$model", plugin=~"$plugin"';
const bucketRate = (name: string) => `sum by (le, model_name, model_version) (rate(${name}_bucket{${SEL}}[${RATE}]))`;
const quantiles = (name: string): Target[] =>
  QUANTILES.map((q) => ({ expr: `histogram_quantile(${q}, ${bucketRate(name)})`, legendFormat: `p${q * 100} {{model_name}} {{model_version}}` }));
const mean = (name: string): Target => ({
  expr: `sum by (model_name, model_version) (rate(${name}_sum{${SEL}}[${RATE}])) / sum by (model_name, model_version) (rate(${name}_count{${SEL}}[${RATE}]))`,
  legendFormat: 'mean {{model_name}} {{model_version}}',
});
const INFO = `${S.modelInfo.name}{namespace=~"$namespace", name=~"$model", plugin=~"$plugin"}`;

const servingPanels: PanelSpec[] = [
  { title: 'Time to first token', description: 'p50/p95/p99 of the time from request arrival to the first token, per model version.', unit: 's', targets: [...quantiles(S.timeToFirstToken.name), mean(S.timeToFirstToken.name)] },
  { title: 'Inter-token latency', description: 'p50/p95/p99 of the time between consecutive tokens of a request.', unit: 's', targets: [...quantiles(S.interTokenLatency.name), mean(S.interTokenLatency.name)] },
  { title: 'End-to-end request latency', description: 'p50/p95/p99 of the whole request, queue included.', unit: 's', targets: [...quantiles(S.e2eLatency.name), mean(S.e2eLatency.name)] },
  { title: 'Time per output token', description: 'p95 of each request\'s mean decode time per output token, and the queue time p95.', unit: 's', targets: [
    { expr: `histogram_quantile(0.95, ${bucketRate(S.timePerOutputToken.name)})`, legendFormat: 'TPOT p95 {{model_name}} {{model_version}}' },
    { expr: `histogram_quantile(0.95, ${bucketRate(S.queueTime.name)})`, legendFormat: 'queue p95 {{model_name}} {{model_version}}' },
  ] },
  { title: 'Token throughput', description: 'Generated and prompt tokens per second.', unit: 'suffix:tok/s', targets: [
    { expr: `sum by (model_name, model_version) (rate(${S.generationTokens.name}{${SEL}}[${RATE}]))`, legendFormat: 'generated {{model_name}} {{model_version}}' },
    { expr: `sum by (model_name, model_version) (rate(${S.promptTokens.name}{${SEL}}[${RATE}]))`, legendFormat: 'prompt {{model_name}} {{model_version}}' },
  ] },
  { title: 'Requests running and waiting', description: 'Requests in decode batches and requests waiting for a batch slot.', unit: 'short', targets: [
    { expr: `sum by (model_name) (${S.requestsRunning.name}{${SEL}})`, legendFormat: 'running {{model_name}}' },
    { expr: `sum by (model_name) (${S.requestsWaiting.name}{${SEL}})`, legendFormat: 'waiting {{model_name}}' },
  ] },
  { title: 'Errors by gRPC code', description: 'Failed requests per second by gRPC status code.', unit: 'reqps', stack: true, targets: [
    { expr: `sum by (code) (rate(${S.requestFailure.name}{${SEL}}[${RATE}]))`, legendFormat: '{{code}}' },
  ] },
  { title: 'Error ratio', description: 'Failed requests over all finished requests.', unit: 'percentunit', targets: [
    { expr: `sum by (model_name) (rate(${S.requestFailure.name}{${SEL}}[${RATE}])) / (sum by (model_name) (rate(${S.requestFailure.name}{${SEL}}[${RATE}])) + sum by (model_name) (rate(${S.requestSuccess.name}{${SEL}}[${RATE}])))`, legendFormat: '{{model_name}}' },
  ] },
  { title: 'Finish reasons', description: 'Finished requests per second by finish reason (stop, length, eos, context, abort).', unit: 'reqps', stack: true, targets: [
    { expr: `sum by (finished_reason) (rate(${S.requestSuccess.name}{${SEL}}[${RATE}]))`, legendFormat: '{{finished_reason}}' },
  ] },
  { title: 'Throughput by precision and execution provider', description: 'Generated tokens per second grouped by the loaded variant and the provider it runs on.', unit: 'suffix:tok/s', targets: [
    { expr: `sum by (precision, execution_provider) (rate(${S.generationTokens.name}{${SEL}}[${RATE}]) * on (instance) group_left (precision, execution_provider) ${S.modelInfo.name})`, legendFormat: '{{precision}} on {{execution_provider}}' },
  ] },
  { title: 'KV cache usage', description: 'Fraction of KV cache positions in use.', unit: 'percentunit', targets: [
    { expr: `avg by (model_name) (${S.kvCacheUsage.name}{${SEL}})`, legendFormat: '{{model_name}}' },
  ] },
  { title: 'Execution-provider fallbacks', description: 'Pods whose preferred execution provider could not be used, by provider pair.', unit: 'short', targets: [
    { expr: `sum by (from, to) (${S.epFallback.name}{namespace=~"$namespace", plugin=~"$plugin"})`, legendFormat: '{{from}} → {{to}}' },
  ] },
  { title: 'Loaded models', description: 'Serving pods by model, version, digest, precision and execution provider.', type: 'table', unit: 'none', w: 24, targets: [
    { expr: `count by (name, version, digest, precision, execution_provider, plugin) (${INFO})`, legendFormat: '', instant: true },
  ] },
];

// --- Fleet rollouts ------------------------------------------------------------------------------------------
const D = 'namespace=~"$namespace"';
/** Keeps the series of SLMDeployments that serve the selected models (slmops_deployment_info is always 1). */
const ofModel = (expr: string) => `${expr} * on (namespace, deployment) group_left (model) ${O.deploymentInfo.name}{${D}, model=~"$model"}`;

const rolloutPanels: PanelSpec[] = [
  { title: 'Deployments by rollout phase', description: 'SLMDeployments in each rollout phase.', type: 'bargauge', unit: 'none', targets: [
    { expr: `sum by (phase) (${ofModel(`${O.rolloutPhase.name}{${D}}`)})`, legendFormat: '{{phase}}' },
  ] },
  { title: 'Current wave', description: 'Rollout wave each SLMDeployment is in (0 before the first).', unit: 'none', targets: [
    { expr: ofModel(`${O.rolloutWave.name}{${D}}`), legendFormat: '{{namespace}}/{{deployment}}' },
  ] },
  { title: 'Updated pods', description: 'Percent of pods on the update revision.', unit: 'percent', targets: [
    { expr: ofModel(`${O.rolloutUpdatedPercent.name}{${D}}`), legendFormat: '{{namespace}}/{{deployment}}' },
  ] },
  { title: 'Served digests (version skew)', description: 'Pods serving each package digest; more than one line per deployment is skew.', unit: 'none', stack: true, targets: [
    { expr: ofModel(`sum by (namespace, deployment, digest) (${O.servedDigest.name}{${D}})`), legendFormat: '{{deployment}} {{digest}}' },
  ] },
  { title: 'Digests served by node plugin', description: 'Serving pods per digest and hardware plugin, from the sidecars\' own model info.', unit: 'none', stack: true, targets: [
    { expr: `count by (digest, plugin) (${INFO})`, legendFormat: '{{plugin}} {{digest}}' },
  ] },
  { title: 'Pods by state', description: 'Desired, updated, ready and offline pods per deployment; offline edge nodes count as pending.', unit: 'none', targets: [
    { expr: ofModel(`${O.deploymentNodes.name}{${D}}`), legendFormat: '{{deployment}} {{state}}' },
  ] },
  { title: 'Offline nodes', description: 'Pods of each deployment on nodes that are offline.', type: 'stat', unit: 'none', targets: [
    { expr: `sum(${ofModel(`${O.deploymentNodes.name}{${D}, state="offline"}`)})`, legendFormat: 'offline' },
  ] },
  { title: 'Rollbacks', description: 'Rollbacks in the selected time range.', type: 'stat', unit: 'none', targets: [
    { expr: `sum(increase(${O.rollbacks.name}{${D}}[$__range]))`, legendFormat: 'rollbacks' },
  ] },
  { title: 'Analysis results', description: 'Wave analyses per second by result.', unit: 'short', stack: true, targets: [
    { expr: `sum by (result) (rate(${O.analysisResults.name}{${D}}[${RATE}]))`, legendFormat: '{{result}}' },
  ] },
  { title: 'Reconciles', description: 'Reconciles per second by result.', unit: 'reqps', targets: [
    { expr: `sum by (result) (rate(${O.reconcileTotal.name}[${RATE}]))`, legendFormat: '{{result}}' },
  ] },
  { title: 'Reconcile duration p95', description: 'p95 reconcile duration by result.', unit: 's', targets: [
    { expr: `histogram_quantile(0.95, sum by (le, result) (rate(${O.reconcileDuration.name}_bucket[${RATE}])))`, legendFormat: '{{result}}' },
  ] },
  { title: 'Reconcile errors', description: 'Failed reconciles per second by cause.', unit: 'reqps', stack: true, targets: [
    { expr: `sum by (reason) (rate(${O.reconcileErrors.name}[${RATE}]))`, legendFormat: '{{reason}}' },
  ] },
  { title: 'Work queue and leadership', description: 'Keys waiting in the work queue, and replicas holding the leader lease.', unit: 'short', targets: [
    { expr: `sum(${O.queueDepth.name})`, legendFormat: 'queue depth' },
    { expr: `sum(${O.leader.name})`, legendFormat: 'leaders' },
  ] },
  { title: 'Kubernetes API writes', description: 'API write requests per second by verb and HTTP status code.', unit: 'reqps', targets: [
    { expr: `sum by (verb, code) (rate(${O.apiRequests.name}[${RATE}]))`, legendFormat: '{{verb}} {{code}}' },
  ] },
];

// --- Edge hardware -------------------------------------------------------------------------------------------
const NODE = `on (instance) group_left (node, plugin) ${N.exporterInfo.name}{plugin=~"$plugin"}`;
const perNode = (expr: string) => `(${expr}) * ${NODE}`;

const hardwarePanels: PanelSpec[] = [
  { title: 'Nodes reporting by plugin', description: 'Node exporters reporting, by the hardware plugin that serves their node.', type: 'stat', unit: 'none', targets: [
    { expr: `count by (plugin) (${N.exporterInfo.name}{plugin=~"$plugin"})`, legendFormat: '{{plugin}}' },
  ] },
  { title: 'CPU busy', description: 'Fraction of CPU time not idle, per node.', unit: 'percentunit', targets: [
    { expr: perNode(`1 - sum by (instance) (rate(${hw('slmops_node_cpu_seconds_total')}{mode="idle"}[${RATE}])) / sum by (instance) (rate(${hw('slmops_node_cpu_seconds_total')}[${RATE}]))`), legendFormat: '{{node}}' },
  ] },
  { title: 'Memory in use', description: 'Physical memory minus memory available, per node.', unit: 'bytes', targets: [
    { expr: perNode(`${hw('slmops_node_memory_total_bytes')} - ${hw('slmops_node_memory_available_bytes')}`), legendFormat: '{{node}}' },
  ] },
  { title: 'Temperature', description: 'Hottest thermal zone and GPU core temperature, per node.', unit: 'celsius', targets: [
    { expr: perNode(`max by (instance) (${hw('slmops_node_thermal_zone_celsius')})`), legendFormat: '{{node}} hottest zone' },
    { expr: perNode(`max by (instance) (${hw('slmops_gpu_temperature_celsius')})`), legendFormat: '{{node}} GPU' },
  ] },
  { title: 'Power', description: 'CPU package power from RAPL energy counters and GPU board power, per node.', unit: 'watt', targets: [
    { expr: perNode(`sum by (instance) (rate(${hw('slmops_node_energy_joules_total')}{zone=~"intel-rapl:[0-9]+"}[${RATE}]))`), legendFormat: '{{node}} CPU packages' },
    { expr: perNode(`sum by (instance) (${hw('slmops_gpu_power_watts')})`), legendFormat: '{{node}} GPU' },
  ] },
  { title: 'Energy per generated token', description: 'Node energy over the exporter\'s window divided by the tokens its sidecars generated.', unit: 'joule', targets: [
    { expr: perNode(N.energyPerToken.name), legendFormat: '{{node}} ({{plugin}})' },
  ] },
  { title: 'Estimated cost per 1k tokens', description: 'Configured hourly node cost spread over the tokens generated (currency of the configured cost).', unit: 'short', targets: [
    { expr: perNode(N.costPer1kTokens.name), legendFormat: '{{node}} ({{plugin}})' },
  ] },
  { title: 'Generated tokens by node class', description: 'Tokens per second generated by serving pods, by hardware plugin.', unit: 'suffix:tok/s', targets: [
    { expr: `sum by (plugin) (rate(${S.generationTokens.name}{namespace=~"$namespace", model_name=~"$model", plugin=~"$plugin"}[${RATE}]))`, legendFormat: '{{plugin}}' },
  ] },
  { title: 'GPU utilisation', description: 'Fraction of time each GPU was busy.', unit: 'percentunit', targets: [
    { expr: perNode(hw('slmops_gpu_utilization_ratio')), legendFormat: '{{node}} GPU {{gpu}}' },
  ] },
  { title: 'GPU memory', description: 'GPU memory in use and installed.', unit: 'bytes', targets: [
    { expr: perNode(hw('slmops_gpu_memory_used_bytes')), legendFormat: '{{node}} GPU {{gpu}} used' },
    { expr: perNode(hw('slmops_gpu_memory_total_bytes')), legendFormat: '{{node}} GPU {{gpu}} total' },
  ] },
  { title: 'GPU frequency', description: 'Current GPU frequency (Intel).', unit: 'rotmhz', targets: [
    { expr: perNode(hw('slmops_gpu_frequency_mhz')), legendFormat: '{{node}} {{gpu}}' },
  ] },
  { title: 'Execution-provider fallbacks by node class', description: 'Serving pods that could not use their preferred provider, by plugin.', unit: 'short', targets: [
    { expr: `sum by (plugin, from, to) (${S.epFallback.name}{namespace=~"$namespace", plugin=~"$plugin"})`, legendFormat: '{{plugin}}: {{from}} → {{to}}' },
  ] },
  { title: 'Model cache', description: 'SLM packages in each node\'s model cache.', type: 'table', unit: 'bytes', w: 24, targets: [
    { expr: `${N.modelCacheBytes.name}{model=~"$model"} * ${NODE}`, legendFormat: '', instant: true },
  ] },
  { title: 'Exporter collector errors', description: 'Failed collector runs per second, by collector.', unit: 'short', targets: [
    { expr: `sum by (node, collector) (rate(${N.collectorErrors.name}[${RATE}]) * ${NODE})`, legendFormat: '{{node}} {{collector}}' },
  ] },
];

const servingVars = [
  { name: 'namespace', label: 'Namespace', query: `label_values(${S.modelInfo.name}, namespace)` },
  { name: 'model', label: 'Model', query: `label_values(${S.modelInfo.name}{namespace=~"$namespace"}, name)` },
  { name: 'plugin', label: 'Hardware plugin', query: `label_values(${S.modelInfo.name}{namespace=~"$namespace"}, plugin)` },
];

export const dashboards: Record<'serving' | 'rollouts' | 'hardware', DashboardSpec> = {
  serving: {
    uid: 'slmops-serving',
    title: 'SLMOps / Serving',
    description: 'Latency, throughput, errors and finish reasons of the SLMOps inference sidecars, by model, version, precision and execution provider.',
    tags: ['slmops', 'serving'],
    variables: servingVars,
    panels: servingPanels,
  },
  rollouts: {
    uid: 'slmops-rollouts',
    title: 'SLMOps / Fleet rollouts',
    description: 'Rollouts of SLMDeployments across the fleet: phases, waves, version skew, offline nodes, rollbacks, analyses and reconciles.',
    tags: ['slmops', 'rollouts'],
    variables: [
      { name: 'namespace', label: 'Namespace', query: `label_values(${O.deploymentInfo.name}, namespace)` },
      { name: 'model', label: 'Model', query: `label_values(${O.deploymentInfo.name}{namespace=~"$namespace"}, model)` },
      servingVars[2]!,
    ],
    panels: rolloutPanels,
  },
  hardware: {
    uid: 'slmops-hardware',
    title: 'SLMOps / Edge hardware',
    description: 'CPU, memory, temperature, power, energy and cost per token of edge nodes by node class, and execution-provider fallbacks.',
    tags: ['slmops', 'hardware'],
    variables: [
      servingVars[0]!,
      { name: 'model', label: 'Model', query: `label_values(${S.modelInfo.name}{namespace=~"$namespace"}, name)` },
      { name: 'plugin', label: 'Hardware plugin', query: `label_values(${N.exporterInfo.name}, plugin)` },
    ],
    panels: hardwarePanels,
  },
};
