import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRegistry, pluginCollectorMetrics } from '@slmops/metrics';
import { createSampleRegistry, defineHardwarePlugin } from '@slmops/plugin-sdk';
import { detectNodeCollectors, knownPlugins, registerFamilies } from '../src/index.js';
import { ALL_DEVICES, type FixtureNode, SMI, fixtureNode } from './fixtures.js';

const nodes: FixtureNode[] = [];
const node = (...a: Parameters<typeof fixtureNode>) => {
  const n = fixtureNode(...a);
  nodes.push(n);
  return n;
};
afterEach(() => {
  for (const n of nodes.splice(0)) n.cleanup();
});

describe('plugin collectors and the catalogue', () => {
  it('every family any plugin registers, with all its devices present, is in pluginCollectorMetrics', async () => {
    const n = node(ALL_DEVICES, { nvidiaSmi: SMI });
    const seen = new Map<string, string[]>();
    for (const plugin of knownPlugins()) {
      const registry = createSampleRegistry();
      await plugin.collectors?.(registry, n.ctx);
      seen.set(plugin.name, registry.names());
      await registry.render(); // the families' samples pass the registry's checks
    }
    for (const [plugin, names] of seen) for (const name of names) expect(pluginCollectorMetrics, `${plugin} registers ${name}`).toContain(name);
    // Every plugin with collectors registered something here, so the check above covered it.
    expect(Object.fromEntries([...seen].map(([p, names]) => [p, names.length > 0]))).toEqual({ nvidia: true, jetson: true, intel: true, amd: true, qualcomm: false, cpu: true });
    const all = new Set([...seen.values()].flat());
    expect([...pluginCollectorMetrics].filter((n) => !all.has(n))).toEqual([]);
  });

  it('every slmops_ metric name written in a plugin source file is in pluginCollectorMetrics', () => {
    const pluginsDir = join(import.meta.dirname, '../../plugins');
    const names = new Set<string>();
    for (const p of readdirSync(pluginsDir)) {
      for (const f of readdirSync(join(pluginsDir, p, 'src')).filter((x) => x.endsWith('.ts'))) {
        for (const m of readFileSync(join(pluginsDir, p, 'src', f), 'utf8').matchAll(/'(slmops_[a-z0-9_]+)'/g)) names.add(m[1]!);
      }
    }
    expect(names.size).toBeGreaterThan(5);
    expect([...names].filter((n) => !(pluginCollectorMetrics as readonly string[]).includes(n))).toEqual([]);
  });
});

describe('detectNodeCollectors', () => {
  it('picks the first accelerator plugin whose device is readable and adds the cpu node families', async () => {
    const n = node(ALL_DEVICES, { nvidiaSmi: SMI });
    const c = await detectNodeCollectors(knownPlugins(), n.ctx);
    expect(c.plugin).toBe('nvidia');
    expect(c.families.map((f) => `${f.plugin}:${f.family.name}`)).toEqual([
      'nvidia:slmops_gpu_utilization_ratio',
      'nvidia:slmops_gpu_memory_used_bytes',
      'nvidia:slmops_gpu_memory_total_bytes',
      'nvidia:slmops_gpu_temperature_celsius',
      'nvidia:slmops_gpu_power_watts',
      'cpu:slmops_node_cpu_seconds_total',
      'cpu:slmops_node_memory_total_bytes',
      'cpu:slmops_node_memory_available_bytes',
      'cpu:slmops_node_thermal_zone_celsius',
      'cpu:slmops_node_energy_joules_total',
    ]);
  });

  it('follows --plugins order, and falls back to cpu when no device is readable', async () => {
    const n = node(ALL_DEVICES);
    const byName = new Map(knownPlugins().map((p) => [p.name, p]));
    expect((await detectNodeCollectors(['intel', 'amd', 'cpu'].map((x) => byName.get(x)!), n.ctx)).plugin).toBe('intel');
    expect((await detectNodeCollectors(['amd', 'intel', 'cpu'].map((x) => byName.get(x)!), n.ctx)).plugin).toBe('amd');
    const bare = node();
    const c = await detectNodeCollectors(knownPlugins(), bare.ctx);
    expect(c.plugin).toBe('cpu');
    expect(c.families.map((f) => f.family.name)).toEqual(['slmops_node_cpu_seconds_total', 'slmops_node_memory_total_bytes', 'slmops_node_memory_available_bytes']);
  });

  it('rejects a family outside the catalogue and reports the plugin', async () => {
    const rogue = defineHardwarePlugin({
      name: 'rogue',
      precisions: ['fp32'],
      detect: () => null,
      schedule: () => ({ resources: {}, nodeSelector: {}, tolerations: [], env: [], threads: 1 }),
      executionProviders: () => [{ name: 'cpu' }],
      collectors(r) {
        r.gauge({ name: 'slmops_gpu_mood_ratio', help: 'not a real metric', collect: () => [{ value: 1 }] });
      },
    });
    const c = await detectNodeCollectors([rogue], node().ctx);
    expect(c.plugin).toBe('cpu');
    expect(c.warnings).toEqual(["plugin rogue: collectors failed: metric slmops_gpu_mood_ratio is not in the catalogue's pluginCollectorMetrics"]);
  });
});

describe('registerFamilies', () => {
  it('exposes families on a prom-client registry and turns a failing collect into an error count, not a failed scrape', async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const errors: string[] = [];
    let energy = 10;
    registerFamilies(
      registry,
      [
        { plugin: 'cpu', type: 'counter', family: { name: 'slmops_node_energy_joules_total', help: 'energy', labelNames: ['zone', 'domain'], collect: () => [{ labels: { zone: 'intel-rapl:0', domain: 'package-0' }, value: energy }] } },
        { plugin: 'nvidia', type: 'gauge', family: { name: 'slmops_gpu_power_watts', help: 'power', labelNames: ['gpu'], collect: () => Promise.reject(new Error('nvidia-smi hung')) } },
      ],
      (plugin, e) => errors.push(`${plugin}: ${e.message}`),
    );
    expect(await registry.metrics()).toContain('slmops_node_energy_joules_total{zone="intel-rapl:0",domain="package-0"} 10');
    energy = 12.5;
    const text = await registry.metrics();
    expect(text).toContain('slmops_node_energy_joules_total{zone="intel-rapl:0",domain="package-0"} 12.5');
    expect(text).toContain('# TYPE slmops_gpu_power_watts gauge');
    expect(text).not.toMatch(/^slmops_gpu_power_watts/m);
    expect(errors).toEqual(['nvidia: nvidia-smi hung', 'nvidia: nvidia-smi hung']);
  });
});
