/** Metrics of the node exporter. Dashboards and alerts read these names; change them only here. */
import { counter, gauge } from './catalogue.js';

/**
 * Node exporter metrics that the exporter itself computes. Hardware telemetry (slmops_node_*, slmops_gpu_*)
 * comes from the plugins' collectors and is listed in `pluginCollectorMetrics` so dashboards can check names.
 * Energy and cost figures are per node: one node's energy cannot be split honestly between the models it serves.
 */
export const nodeMetrics = {
  exporterInfo: gauge<'node' | 'plugin'>({ name: 'slmops_exporter_info', help: 'The node exporter, its node and the hardware plugin whose collectors serve the node; always 1.', labelNames: ['node', 'plugin'] }),
  modelCacheBytes: gauge<'model' | 'version' | 'digest'>({ name: 'slmops_model_cache_bytes', help: 'Bytes on disk of each SLM package in the node model cache (archive plus unpacked folder).', labelNames: ['model', 'version', 'digest'] }),
  modelCachePackages: gauge({ name: 'slmops_model_cache_packages', help: 'Distinct SLM package digests present in the node model cache.', labelNames: [] }),
  energyPerToken: gauge({ name: 'slmops_energy_per_token_joules', help: 'Node energy per generated token over the last window; absent where energy is not measurable or no token was generated.', labelNames: [] }),
  costPer1kTokens: gauge({ name: 'slmops_cost_per_1k_tokens', help: 'Estimated cost per 1,000 generated tokens over the last window, from the configured hourly node cost.', labelNames: [] }),
  nodeCostPerHour: gauge({ name: 'slmops_node_cost_per_hour', help: 'Configured hourly cost of the node.', labelNames: [] }),
  windowGeneratedTokens: gauge({ name: 'slmops_exporter_window_generated_tokens', help: 'Tokens the local sidecars generated over the last derived-figure window.', labelNames: [] }),
  collectorErrors: counter<'collector'>({ name: 'slmops_exporter_collector_errors_total', help: 'Collector runs that failed, by collector (a plugin name, model_cache or sidecar).', labelNames: ['collector'] }),
} as const;

/** Names the hardware plugins' collectors expose (plugins may not import this library; a test keeps them in step). */
export const pluginCollectorMetrics = [
  'slmops_node_cpu_seconds_total',
  'slmops_node_memory_total_bytes',
  'slmops_node_memory_available_bytes',
  'slmops_node_thermal_zone_celsius',
  'slmops_node_energy_joules_total',
  'slmops_gpu_utilization_ratio',
  'slmops_gpu_memory_total_bytes',
  'slmops_gpu_memory_used_bytes',
  'slmops_gpu_power_watts',
  'slmops_gpu_temperature_celsius',
  'slmops_gpu_frequency_mhz',
] as const;
