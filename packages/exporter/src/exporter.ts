/**
 * The node exporter: hardware families from the node's plugin, the model cache inventory and the derived energy
 * and cost per token, all on one registry. I/O comes in through `ExporterDeps`; main.ts builds the real ones.
 */
import { type HttpHandler, type Instruments, type Registry, createInstruments, createRegistry, nodeMetrics } from '@slmops/metrics';
import type { HardwarePlugin, HostContext, MetricSample } from '@slmops/plugin-sdk';
import { type CacheScan, scanModelCache } from './cache.js';
import { type NodeCollectors, type RecordedFamily, detectNodeCollectors, registerFamilies } from './collectors.js';
import type { ExporterConfig } from './config.js';
import { type DerivedFigures, type WindowSample, counterIncrease, deriveFigures, energyBetween, pushSample } from './derived.js';
import { readSidecarTokens } from './tokens.js';

export interface ExporterDeps {
  plugins: readonly HardwarePlugin[];
  host: HostContext;
  fetchText: (url: string) => Promise<string>;
  /** Monotonic seconds. */
  now: () => number;
  /** Where warnings go (a JSON logger in main). */
  warn: (message: string, fields?: Record<string, unknown>) => void;
  scanCache?: (dir: string) => Promise<CacheScan>;
  /** Default process metrics on the registry (default true). */
  defaultMetrics?: boolean;
}

export interface Exporter {
  registry: Registry;
  /** The plugin serving this node and its families' names. */
  plugin: string;
  families: string[];
  /** Takes one energy/token sample (main calls it every window/4 seconds). */
  sample(): Promise<void>;
  /** The figures over the current window, as last published. */
  figures(): DerivedFigures | undefined;
  /** Updates the cache and derived gauges; runs right before every scrape. */
  refresh(): Promise<void>;
  /** An HTTP handler that refreshes on GET /metrics and lets the metrics handler answer. */
  refreshHandler: HttpHandler;
}

// Only top-level RAPL zones (intel-rapl:N): the sub-zones (intel-rapl:N:M) are parts of their package's energy.
const TOP_LEVEL_RAPL = /^intel-rapl:\d+$/;

function sumOf(samples: readonly MetricSample[], keep: (s: MetricSample) => boolean = () => true): number | undefined {
  const kept = samples.filter(keep);
  return kept.length ? kept.reduce((a, s) => a + s.value, 0) : undefined;
}

export async function createExporter(config: ExporterConfig, deps: ExporterDeps): Promise<Exporter> {
  const registry = createRegistry({ defaultMetrics: deps.defaultMetrics ?? true });
  const m: Instruments<typeof nodeMetrics> = createInstruments(registry, nodeMetrics, { maxModelLen: 1 });
  const byName = new Map(deps.plugins.map((p) => [p.name, p]));
  const wanted = config.plugins.map((n) => {
    const p = byName.get(n);
    if (!p) throw new Error(`--plugins: plugin "${n}" is not built into this exporter (have ${[...byName.keys()].join(', ')})`);
    return p;
  });
  const nodeCollectors: NodeCollectors = await detectNodeCollectors(wanted, deps.host);
  for (const w of nodeCollectors.warnings) deps.warn(w);
  registerFamilies(registry, nodeCollectors.families, (plugin, e) => {
    m.collectorErrors.inc({ collector: plugin });
    deps.warn(`collector of plugin ${plugin} failed`, { error: e.message });
  });
  m.exporterInfo.set({ node: config.nodeName, plugin: nodeCollectors.plugin }, 1);
  for (const p of wanted) m.collectorErrors.inc({ collector: p.name }, 0);
  for (const c of ['model_cache', 'sidecar']) m.collectorErrors.inc({ collector: c }, 0);
  if (config.nodeCostPerHour !== undefined) m.nodeCostPerHour.set(config.nodeCostPerHour);
  else m.nodeCostPerHour.remove({});

  const family = (name: string): RecordedFamily | undefined => nodeCollectors.families.find((f) => f.family.name === name);
  const rapl = family('slmops_node_energy_joules_total');
  const gpuPower = family('slmops_gpu_power_watts');
  const readEnergy = async (t: number): Promise<{ t: number; counterJ?: number; powerW?: number }> => {
    const safe = async (f: RecordedFamily | undefined) => (f ? [...(await f.family.collect())] : []);
    const [r, g] = await Promise.all([safe(rapl).catch(() => []), safe(gpuPower).catch(() => [])]);
    const counterJ = sumOf(r, (s) => TOP_LEVEL_RAPL.test(s.labels?.['zone'] ?? ''));
    const powerW = sumOf(g);
    return { t, ...(counterJ !== undefined ? { counterJ } : {}), ...(powerW !== undefined ? { powerW } : {}) };
  };

  let window: WindowSample[] = [];
  let lastEnergy: { t: number; counterJ?: number; powerW?: number } | undefined;
  let energyTotal = 0;
  let lastTokens = new Map<string, number>();
  let tokenTotal = 0;
  let figures: DerivedFigures | undefined;

  const publish = () => {
    figures = deriveFigures(window, config.nodeCostPerHour);
    if (figures) m.windowGeneratedTokens.set(figures.tokens);
    else m.windowGeneratedTokens.remove({});
    if (figures?.energyPerTokenJ !== undefined) m.energyPerToken.set(figures.energyPerTokenJ);
    else m.energyPerToken.remove({});
    if (figures?.costPer1kTokens !== undefined) m.costPer1kTokens.set(figures.costPer1kTokens);
    else m.costPer1kTokens.remove({});
  };
  publish();

  const sample = async (): Promise<void> => {
    const t = deps.now();
    const [energy, tokens] = await Promise.all([readEnergy(t), readSidecarTokens(config.sidecarMetricsUrls, deps.fetchText)]);
    for (const e of tokens.errors) {
      m.collectorErrors.inc({ collector: 'sidecar' });
      deps.warn('sidecar metrics unreadable', { error: e });
    }
    tokenTotal += counterIncrease(lastTokens, tokens.totals);
    lastTokens = new Map([...lastTokens, ...tokens.totals]);
    const measurable = energy.counterJ !== undefined || energy.powerW !== undefined;
    // A sample carries energy only when the interval before it was measured (no missing reading, no counter wrap),
    // so a window that spans a gap gets no energy figure instead of a wrong one.
    const step = lastEnergy ? energyBetween(lastEnergy, energy) : measurable ? 0 : undefined;
    if (step !== undefined) energyTotal += step;
    lastEnergy = energy;
    window = pushSample(window, { t, tokens: tokenTotal, ...(step !== undefined ? { energyJ: energyTotal } : {}) }, config.windowSeconds);
    publish();
  };

  const scan = deps.scanCache ?? scanModelCache;
  const refresh = async (): Promise<void> => {
    try {
      const { packages, errors } = await scan(config.modelCacheDir);
      for (const e of errors) {
        m.collectorErrors.inc({ collector: 'model_cache' });
        deps.warn('model cache entry unreadable', { error: e });
      }
      m.modelCacheBytes.reset();
      for (const p of packages) m.modelCacheBytes.set({ model: p.model, version: p.version, digest: p.digest }, p.bytes);
      m.modelCachePackages.set(packages.length);
    } catch (e) {
      m.collectorErrors.inc({ collector: 'model_cache' });
      deps.warn('model cache scan failed', { error: (e as Error).message });
    }
  };

  return {
    registry,
    plugin: nodeCollectors.plugin,
    families: nodeCollectors.families.map((f) => f.family.name),
    sample,
    figures: () => figures,
    refresh,
    refreshHandler: async (req) => {
      if ((req.url ?? '').split('?')[0] === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) await refresh();
      return false;
    },
  };
}
