/**
 * Hardware collectors: which plugin serves this node, and its metric families registered on the exporter's
 * prom-client registry. The exporter sees no Kubernetes Node object, so detection uses what is readable locally:
 * the first accelerator plugin (in --plugins order) whose collectors find their device (nvidia-smi answers,
 * /sys/class/drm or the Jetson load file is readable, …) serves the node; otherwise cpu does. The cpu plugin's
 * collectors (CPU, memory, thermal, RAPL energy) run on every node because they describe the node, not a device.
 */
import { pluginCollectorMetrics } from '@slmops/metrics';
import type { Registry } from '@slmops/metrics';
import type { HardwarePlugin, HostContext, MetricFamily, MetricSample, MetricsRegistryPort } from '@slmops/plugin-sdk';
import { checkMetricFamily } from '@slmops/plugin-sdk';
import { Counter, Gauge } from 'prom-client';

export interface RecordedFamily {
  family: MetricFamily;
  type: 'gauge' | 'counter';
  plugin: string;
}

export interface NodeCollectors {
  /** The plugin whose device the node has ("cpu" when no accelerator plugin found one). */
  plugin: string;
  families: RecordedFamily[];
  /** One line per plugin whose collectors threw or offered a name outside the catalogue. */
  warnings: string[];
}

const KNOWN: ReadonlySet<string> = new Set(pluginCollectorMetrics);

/** Runs one plugin's collectors against a recording port; families are checked like a Prometheus registry would. */
async function record(plugin: HardwarePlugin, ctx: HostContext, warnings: string[]): Promise<RecordedFamily[]> {
  const out: RecordedFamily[] = [];
  const add = (type: 'gauge' | 'counter') => (family: MetricFamily) => {
    checkMetricFamily(family, type);
    if (!KNOWN.has(family.name)) throw new Error(`metric ${family.name} is not in the catalogue's pluginCollectorMetrics`);
    out.push({ family, type, plugin: plugin.name });
  };
  const port: MetricsRegistryPort = { gauge: add('gauge'), counter: add('counter') };
  try {
    await plugin.collectors?.(port, ctx);
    return out;
  } catch (e) {
    warnings.push(`plugin ${plugin.name}: collectors failed: ${(e as Error).message}`);
    return [];
  }
}

/** Picks the node's plugin and gathers its families plus the cpu plugin's node families. */
export async function detectNodeCollectors(plugins: readonly HardwarePlugin[], ctx: HostContext): Promise<NodeCollectors> {
  const warnings: string[] = [];
  let accelerator: { plugin: string; families: RecordedFamily[] } | undefined;
  for (const p of plugins.filter((x) => x.name !== 'cpu')) {
    const families = await record(p, ctx, warnings);
    if (families.length) {
      accelerator = { plugin: p.name, families };
      break;
    }
  }
  const cpu = plugins.find((p) => p.name === 'cpu');
  const nodeFamilies = cpu ? await record(cpu, ctx, warnings) : [];
  const families: RecordedFamily[] = [];
  const seen = new Set<string>();
  // The accelerator's families come first; a name both offer is kept once (first wins), as a registry would insist.
  for (const f of [...(accelerator?.families ?? []), ...nodeFamilies]) {
    if (seen.has(f.family.name)) continue;
    seen.add(f.family.name);
    families.push(f);
  }
  return { plugin: accelerator?.plugin ?? 'cpu', families, warnings };
}

/**
 * Registers recorded families as collect-driven prom-client instruments. A family whose collect throws yields no
 * samples for that scrape and counts an error, so one broken source never fails the whole scrape.
 */
export function registerFamilies(registry: Registry, families: readonly RecordedFamily[], onError: (plugin: string, e: Error) => void): void {
  for (const { family, type, plugin } of families) {
    const read = async (): Promise<readonly MetricSample[]> => {
      try {
        return await family.collect();
      } catch (e) {
        onError(plugin, e as Error);
        return [];
      }
    };
    const common = { name: family.name, help: family.help, labelNames: [...(family.labelNames ?? [])], registers: [registry] };
    if (type === 'gauge') {
      new Gauge({
        ...common,
        async collect() {
          const samples = await read();
          this.reset();
          for (const s of samples) this.set(s.labels ?? {}, s.value);
        },
      });
    } else {
      new Counter({
        ...common,
        async collect() {
          const samples = await read();
          this.reset();
          for (const s of samples) if (s.value >= 0) this.inc(s.labels ?? {}, s.value);
        },
      });
    }
  }
}
