/** GPU metrics from nvidia-smi, registered only when nvidia-smi answers at start-up. */
import type { HostContext, MetricSample, MetricsRegistryPort } from '@slmops/plugin-sdk';
import { queryNvidiaSmi, type GpuReading } from './smi.js';

const LABELS = ['gpu', 'uuid', 'name'] as const;

/** Registers the GPU families; returns their names ([] when nvidia-smi is absent). */
export async function registerNvidiaCollectors(registry: MetricsRegistryPort, ctx: HostContext): Promise<string[]> {
  if (!(await queryNvidiaSmi(ctx))?.length) return [];
  // One nvidia-smi run serves all families of a scrape: registries collect families concurrently.
  let inFlight: Promise<GpuReading[] | undefined> | undefined;
  const readings = (): Promise<GpuReading[] | undefined> => {
    inFlight ??= queryNvidiaSmi(ctx).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  const family = (name: string, help: string, pick: (g: GpuReading) => number | undefined) =>
    registry.gauge({
      name,
      help,
      labelNames: LABELS,
      async collect(): Promise<MetricSample[]> {
        const samples: MetricSample[] = [];
        for (const g of (await readings()) ?? []) {
          const value = pick(g);
          if (value !== undefined) samples.push({ labels: { gpu: g.index, uuid: g.uuid, name: g.name }, value });
        }
        return samples;
      },
    });
  family('slmops_gpu_utilization_ratio', 'Fraction of time the GPU was busy over the last sample period (nvidia-smi utilization.gpu).', (g) => g.utilization);
  family('slmops_gpu_memory_used_bytes', 'GPU memory in use (nvidia-smi memory.used).', (g) => g.memoryUsedBytes);
  family('slmops_gpu_memory_total_bytes', 'GPU memory installed (nvidia-smi memory.total).', (g) => g.memoryTotalBytes);
  family('slmops_gpu_temperature_celsius', 'GPU core temperature (nvidia-smi temperature.gpu).', (g) => g.temperatureCelsius);
  family('slmops_gpu_power_watts', 'GPU board power draw (nvidia-smi power.draw).', (g) => g.powerWatts);
  return ['slmops_gpu_utilization_ratio', 'slmops_gpu_memory_used_bytes', 'slmops_gpu_memory_total_bytes', 'slmops_gpu_temperature_celsius', 'slmops_gpu_power_watts'];
}
