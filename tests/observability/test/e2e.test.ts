/**
 * The acceptance run: the sidecar binary under client load, the node exporter binary and the operator binary
 * (against the kube emulator, rolling out an SLMDeployment over simulated nodes) are checked by `promtool check
 * metrics`, scraped by a real Prometheus 2.42 on loopback, and every dashboard expression and variable query is
 * evaluated through the Prometheus HTTP API.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertLlama2cPackage, packPackageInfo } from '@slmops/model';
import { generateRemote } from '@slmops/sidecar';
import { dashboards, panelExpressions, renderDashboard, substitute } from '../src/index.js';
import { type Child, EXPORTER_BIN, MODEL_DIR, type Prometheus, SIDECAR_BIN, killChildren, promtool, startNodeProgram, startPrometheus } from '../src/processes.js';
import { type OperatorOnEmulator, createDeployment, startOperatorOnEmulator, touchDeployment } from './operator.js';

let dir: string;
let digest: string;
let sidecar: Child;
let exporter: Child;
let operator: OperatorOnEmulator;
let prom: Prometheus | undefined;
let energyTimer: NodeJS.Timeout | undefined;
let load: { stop(): Promise<void>; counts: Record<string, number> } | undefined;

/** Client load: two streams of short generations, every 4th request cancelled after its first token, every 9th invalid. */
function startLoad(address: string) {
  let running = true;
  const counts: Record<string, number> = { ok: 0, cancelled: 0, invalid: 0 };
  const loop = async (seed: number) => {
    for (let i = 0; running; i++) {
      const abort = new AbortController();
      const invalid = i % 9 === 8;
      try {
        let tokens = 0;
        for await (const ev of generateRemote(address, { prompt: 'Once upon a time', max_tokens: 24, temperature: invalid ? -1 : 0.8, seed: seed * 1000 + i }, abort.signal)) {
          if (ev.type === 'token' && ++tokens === 1 && i % 4 === 3) abort.abort();
        }
        counts['ok']!++;
      } catch {
        counts[invalid ? 'invalid' : 'cancelled']!++;
      }
    }
  };
  const loops = [loop(1), loop(2)];
  return {
    counts,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slmops-obs-e2e-'));
  await convertLlama2cPackage({ checkpoint: join(MODEL_DIR, 'stories260K.bin'), tokenizer: join(MODEL_DIR, 'tok512.bin'), out: join(dir, 'pkg'), name: 'stories260k', version: '1' });
  digest = (await packPackageInfo(join(dir, 'pkg'), join(dir, 'stories260k.slm.tar'))).digest;
  const cache = join(dir, 'cache');
  // cuda first: this machine has no CUDA, so the sidecar really falls back to cpu and counts it.
  sidecar = await startNodeProgram(SIDECAR_BIN, ['--model', join(dir, 'stories260k.slm.tar'), '--cache-dir', cache, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--execution-providers', 'cuda,cpu', '--max-batch-size', '4']);
  for (let i = 0; !(await fetch(sidecar.announced['metrics']!).then((r) => r.text())).includes('slmops_model_info{'); i++) {
    if (i > 300) throw new Error(`sidecar never loaded the model: ${sidecar.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // A fixture /sys with a RAPL package zone drawing 12 W and a thermal zone; /proc is this machine's.
  const sys = join(dir, 'sys');
  const rapl = join(sys, 'class/powercap/intel-rapl:0');
  mkdirSync(rapl, { recursive: true });
  mkdirSync(join(sys, 'class/thermal/thermal_zone0'), { recursive: true });
  writeFileSync(join(sys, 'class/thermal/thermal_zone0/temp'), '47000\n');
  writeFileSync(join(sys, 'class/thermal/thermal_zone0/type'), 'x86_pkg_temp\n');
  writeFileSync(join(rapl, 'name'), 'package-0\n');
  const t0 = Date.now();
  // Written atomically (rename), as sysfs reads are: a reader must never see a half-written counter.
  const writeEnergy = () => {
    writeFileSync(join(rapl, '.energy_uj.tmp'), `${Math.round((Date.now() - t0) * 12_000)}\n`);
    renameSync(join(rapl, '.energy_uj.tmp'), join(rapl, 'energy_uj'));
  };
  writeEnergy();
  energyTimer = setInterval(writeEnergy, 100);
  exporter = await startNodeProgram(
    EXPORTER_BIN,
    ['--metrics-bind-address', '127.0.0.1:0', '--sysfs-root', sys, '--procfs-root', '/proc', '--model-cache-dir', cache, '--sidecar-metrics-url', sidecar.announced['metrics']!, '--node-cost-per-hour', '0.5', '--window-seconds', '4'],
    { NODE_NAME: 'edge-1' },
  );
  operator = await startOperatorOnEmulator({ namespace: 'obs-e2e', nodes: 4 });
  createDeployment(operator.emu, 'obs-e2e', 'stories', '1');
}, 120_000);

afterAll(async () => {
  if (energyTimer) clearInterval(energyTimer);
  await load?.stop();
  await prom?.stop();
  await sidecar?.stop();
  await exporter?.stop();
  await operator?.stop();
  killChildren();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const text = async (url: string) => (await fetch(url)).text();

describe('observability end to end', () => {
  it('the node exporter found the cpu plugin and the package the sidecar unpacked into the cache', async () => {
    expect(exporter.announced).toMatchObject({ node: 'edge-1', plugin: 'cpu' });
    const t = await text(exporter.announced['metrics']!);
    expect(t).toContain(`slmops_model_cache_bytes{model="stories260k",version="1",digest="${digest}"}`);
    expect(t).toContain('slmops_model_cache_packages 1');
  });

  it('Prometheus scrapes all three under load, and every dashboard expression returns data or needs a named event', async () => {
    const clients = startLoad(sidecar.announced['grpc']!);
    // Two API conflicts on the operator's next writes: its reconcile-error counter gets a real Conflict.
    operator.emu.faults.failNext({ verb: 'patch', code: 409, count: 2 });
    load = clients;
    prom = await startPrometheus(join(dir, 'prom'), [
      { job: 'slmops-sidecar', target: new URL(sidecar.announced['metrics']!).host, labels: { namespace: 'obs-e2e', pod: 'stories-0', node: 'edge-1', plugin: 'cpu' } },
      { job: 'slmops-exporter', target: new URL(exporter.announced['metrics']!).host, labels: { namespace: 'slmops-system', pod: 'slmops-exporter-x' } },
      { job: 'slmops-operator', target: operator.metricsAddress, labels: { namespace: 'slmops-system' }, honorLabels: true },
    ]);
    // Long enough for 20 s rate windows and the exporter's 4 s energy window to fill under load.
    let energy: { perToken: number; tokenRate: number } | undefined;
    for (let i = 0; !energy; i++) {
      const [e] = await prom.query('slmops_energy_per_token_joules > 0 and on () count_over_time(slmops_generation_tokens_total[20s]) >= 15');
      const [rate] = await prom.query('sum(rate(slmops_generation_tokens_total[8s]))');
      if (e && rate) energy = { perToken: Number(e.value[1]), tokenRate: Number(rate.value[1]) };
      else if (i > 90) throw new Error(`no energy-per-token figure after 45 s; exporter: ${exporter.stderr().slice(-2000)}`);
      else await new Promise((r) => setTimeout(r, 500));
    }
    expect((await prom.query('up')).map((r) => `${r.metric['job']}=${r.value[1]}`).sort()).toEqual(['slmops-exporter=1', 'slmops-operator=1', 'slmops-sidecar=1']);

    // promtool check metrics on each live /metrics, now that histograms and error counters have samples.
    for (const url of [sidecar.announced['metrics']!, exporter.announced['metrics']!, `http://${operator.metricsAddress}/metrics`]) {
      const body = await text(url);
      const r = promtool(['check', 'metrics'], body);
      expect(r.out, url).toBe('');
      expect(r.status, url).toBe(0);
    }
    expect(promtool(['check', 'metrics'], '# TYPE x_total gauge\nx_total 1\n').status).not.toBe(0); // the check can fail

    // Energy per token in Prometheus is the exporter's 12 W fixture over the sidecar's real token rate. The
    // exporter's 4 s window and this 8 s rate see slightly different stretches of load: allow 40%.
    const ratio = energy.perToken / (12 / energy.tokenRate);
    expect(ratio).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1.4);

    /** Expressions with no data here, and the event each needs that this test does not cause. */
    const needsEvent: Record<string, string> = {
      'slmops-hardware/GPU utilisation/A': 'a GPU node: this machine has none, so the exporter serves it with the cpu plugin',
      'slmops-hardware/GPU memory/A': 'a GPU node (see above)',
      'slmops-hardware/GPU memory/B': 'a GPU node (see above)',
      'slmops-hardware/GPU frequency/A': 'an Intel GPU node (see above)',
      'slmops-hardware/Temperature/B': 'a GPU node (see above)',
      'slmops-hardware/Power/B': 'a GPU node (see above)',
      'slmops-rollouts/Analysis results/A': 'a wave analysis: the test deployment has no analysis gates (the simulated pods serve no /metrics to analyse)',
      'slmops-rollouts/Rollbacks/A': 'a rollback (a failed analysis or a manual abort)',
    };
    // Reconciles inside the 20 s rate window, whatever the rollout's timing: touching the SLMDeployment's
    // metadata is a watch event, and the level-triggered operator reconciles on each.
    for (let i = 0; i < 3; i++) {
      touchDeployment(operator.emu, 'obs-e2e', 'stories', i);
      await new Promise((r) => setTimeout(r, 1000));
    }
    await new Promise((r) => setTimeout(r, 1500));
    const empty: string[] = [];
    const exprs = Object.values(dashboards).flatMap((d) => panelExpressions(renderDashboard(d)));
    for (const x of exprs) {
      const key = `${x.dashboard}/${x.title}/${x.refId}`;
      const result = await prom.query(substitute(x.raw, { rateInterval: '20s', range: '2m' }));
      const values = result.map((r) => Number(r.value[1])).filter((v) => !Number.isNaN(v));
      if (!values.length) empty.push(key);
    }
    expect(empty.sort()).toEqual(Object.keys(needsEvent).sort());

    // Every variable query returns values.
    for (const d of Object.values(dashboards)) {
      for (const v of d.variables) {
        const m = /^label_values\((.+), (\w+)\)$/.exec(v.query)!;
        expect(await prom.labelValues(m[2]!, substitute(m[1]!, { rateInterval: '20s', range: '2m' })), `${d.uid} $${v.name}`).not.toEqual([]);
      }
    }
    await clients.stop();
    expect(clients.counts['ok']).toBeGreaterThan(5);
    expect(clients.counts['cancelled']).toBeGreaterThan(0);
    expect(clients.counts['invalid']).toBeGreaterThan(0);
  }, 150_000);
});
