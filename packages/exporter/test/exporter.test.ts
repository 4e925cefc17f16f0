import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ExporterDeps, createExporter, knownPlugins, parseExporterArgs } from '../src/index.js';
import { type FixtureNode, SMI, fixtureNode, raplFiles } from './fixtures.js';

const nodes: FixtureNode[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.cleanup();
});

/** A sidecar /metrics body with the given generated-token counters per model. */
const sidecarText = (tokens: Record<string, number>) =>
  ['# HELP slmops_generation_tokens_total Tokens generated.', '# TYPE slmops_generation_tokens_total counter']
    .concat(Object.entries(tokens).map(([m, v]) => `slmops_generation_tokens_total{model_name="${m}",model_version="1"} ${v}`))
    .concat(['slmops_generation_tokens_total_other 5'])
    .join('\n');

function harness(files: Record<string, string>, args: string[], opts: { nvidiaSmi?: string } = {}) {
  const node = fixtureNode(files, opts);
  nodes.push(node);
  let t = 100;
  const bodies = new Map<string, string | Error>();
  const warnings: string[] = [];
  const deps: ExporterDeps = {
    plugins: knownPlugins(),
    host: node.ctx,
    fetchText: async (url) => {
      const b = bodies.get(url);
      if (b instanceof Error || b === undefined) throw b ?? new Error('connection refused');
      return b;
    },
    now: () => t,
    warn: (msg, fields) => warnings.push(`${msg} ${JSON.stringify(fields ?? {})}`),
    defaultMetrics: false,
  };
  const config = parseExporterArgs(['--node-name', 'edge-7', '--model-cache-dir', join(node.root, 'cache'), ...args]);
  return { node, deps, config, bodies, warnings, advance: (s: number) => (t += s) };
}

const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

describe('node exporter', () => {
  it('computes energy per token from RAPL package zones and tokens from the local sidecars', async () => {
    const a = 'http://127.0.0.1:1/metrics';
    const b = 'http://127.0.0.1:2/metrics';
    const h = harness(raplFiles(1_000_000, 400_000), ['--sidecar-metrics-url', a, '--sidecar-metrics-url', b, '--node-cost-per-hour', '1.8', '--window-seconds', '30']);
    const ex = await createExporter(h.config, h.deps);
    expect(ex.plugin).toBe('cpu');
    h.bodies.set(a, sidecarText({ m1: 100 }));
    h.bodies.set(b, sidecarText({}));
    await ex.sample();
    let text = await ex.registry.metrics();
    expect(text).toContain('slmops_exporter_info{node="edge-7",plugin="cpu"} 1');
    expect(text).toContain('slmops_node_cost_per_hour 1.8');
    expect(value(text, 'slmops_energy_per_token_joules')).toBeUndefined();

    // 10 s later: the package zone used 20 J (its core subzone's 8 J are part of it), the sidecars made 400 tokens.
    h.node.write('/sys/class/powercap/intel-rapl:0/energy_uj', '21000000\n');
    h.node.write('/sys/class/powercap/intel-rapl:0:0/energy_uj', '8400000\n');
    h.bodies.set(a, sidecarText({ m1: 300, m2: 50 }));
    h.bodies.set(b, sidecarText({ m3: 150 }));
    h.advance(10);
    await ex.sample();
    text = await ex.registry.metrics();
    expect(value(text, 'slmops_exporter_window_generated_tokens')).toBe(400);
    expect(value(text, 'slmops_energy_per_token_joules')).toBeCloseTo(20 / 400, 12);
    expect(value(text, 'slmops_cost_per_1k_tokens')).toBeCloseTo(((1.8 * 10) / 3600 / 400) * 1000, 12);

    // A sidecar restart (counter back to 10) counts 10 new tokens, not -290.
    h.node.write('/sys/class/powercap/intel-rapl:0/energy_uj', '22000000\n');
    h.bodies.set(a, sidecarText({ m1: 10 }));
    h.advance(10);
    await ex.sample();
    expect(ex.figures()).toMatchObject({ tokens: 410, seconds: 20 });
    expect(ex.figures()!.energyPerTokenJ).toBeCloseTo(21 / 410, 12);

    // An unreachable sidecar is counted as an error and its tokens stop counting until it answers again.
    h.bodies.set(b, new Error('ECONNREFUSED'));
    h.advance(10);
    await ex.sample();
    text = await ex.registry.metrics();
    expect(text).toContain('slmops_exporter_collector_errors_total{collector="sidecar"} 1');
    expect(h.warnings.some((w) => w.includes('ECONNREFUSED') && w.includes(b))).toBe(true);
  });

  it('publishes no energy figure where energy is not measurable, but still the cost', async () => {
    const url = 'http://127.0.0.1:3/metrics';
    const h = harness({}, ['--sidecar-metrics-url', url, '--node-cost-per-hour', '3.6']);
    const ex = await createExporter(h.config, h.deps);
    h.bodies.set(url, sidecarText({ m: 0 }));
    await ex.sample();
    h.bodies.set(url, sidecarText({ m: 1000 }));
    h.advance(20);
    await ex.sample();
    const text = await ex.registry.metrics();
    expect(text).toContain('# TYPE slmops_energy_per_token_joules gauge');
    expect(value(text, 'slmops_energy_per_token_joules')).toBeUndefined();
    expect(value(text, 'slmops_cost_per_1k_tokens')).toBeCloseTo(((3.6 * 20) / 3600 / 1000) * 1000, 12);
  });

  it('integrates GPU power on a GPU node and exposes its families through prom-client', async () => {
    const url = 'http://127.0.0.1:4/metrics';
    const h = harness({}, ['--sidecar-metrics-url', url], { nvidiaSmi: SMI }); // 58.5 W
    const ex = await createExporter(h.config, h.deps);
    expect(ex.plugin).toBe('nvidia');
    h.bodies.set(url, sidecarText({ m: 0 }));
    await ex.sample();
    h.bodies.set(url, sidecarText({ m: 117 }));
    h.advance(4);
    await ex.sample();
    expect(ex.figures()!.energyPerTokenJ).toBeCloseTo((58.5 * 4) / 117, 12);
    const text = await ex.registry.metrics();
    expect(text).toContain('slmops_gpu_power_watts{gpu="0",uuid="GPU-1111",name="NVIDIA A10G"} 58.5');
    expect(text).toContain('slmops_exporter_info{node="edge-7",plugin="nvidia"} 1');
    expect(value(text, 'slmops_node_cost_per_hour')).toBeUndefined();
  });

  it('refreshes the model cache inventory on every scrape and counts unreadable entries', async () => {
    const h = harness({}, []);
    const cacheDir = mkdtempSync(join(tmpdir(), 'slmops-exporter-cachefake-'));
    h.config.modelCacheDir = cacheDir;
    let packages = [{ digest: 'sha256:aa', model: 'm', version: '1', bytes: 10 }];
    const ex = await createExporter(h.config, { ...h.deps, scanCache: async (dir) => (expect(dir).toBe(cacheDir), { packages, errors: ['/c/x: bad'] }) });
    await ex.refresh();
    let text = await ex.registry.metrics();
    expect(text).toContain('slmops_model_cache_bytes{model="m",version="1",digest="sha256:aa"} 10');
    expect(text).toContain('slmops_model_cache_packages 1');
    expect(text).toContain('slmops_exporter_collector_errors_total{collector="model_cache"} 1');
    packages = [{ digest: 'sha256:bb', model: 'm', version: '2', bytes: 20 }, { digest: 'sha256:cc', model: 'n', version: '1', bytes: 5 }];
    await ex.refresh();
    text = await ex.registry.metrics();
    expect(text).not.toContain('digest="sha256:aa"');
    expect(text).toContain('slmops_model_cache_packages 2');
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('refuses a plugin name this build does not have', async () => {
    const h = harness({}, []);
    await expect(createExporter({ ...h.config, plugins: ['cpu'] }, { ...h.deps, plugins: [] })).rejects.toThrow(/--plugins: plugin "cpu" is not built into this exporter/);
  });
});
