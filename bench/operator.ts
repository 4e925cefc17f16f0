/**
 * The operator at fleet scale: 1,000 SLMDeployments over 5,000 simulated nodes (each deployment pinned by
 * nodeSelector to its own group of 5 nodes of three hardware classes, so 5,000 pods in all). The operator runs
 * as its own process (the real bin over the real HTTP client) against the kube emulator + simulator, so its RSS
 * is its own. Prints a Markdown table for docs/BENCHMARKS.md.
 *
 *   npx nx run bench:operator            (OPERATOR_BENCH_DEPLOYMENTS=100 for a quick run)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RequestLog, Simulator, resources, startEmulator } from '@slmops/kube-emulator';
import { parse } from 'yaml';

const DEPLOYMENTS = Number(process.env['OPERATOR_BENCH_DEPLOYMENTS'] ?? 1000);
const NODES_PER_GROUP = 5;
const TIMEOUT_MS = Number(process.env['OPERATOR_BENCH_TIMEOUT_MS'] ?? 600_000);
const SLMD = { group: 'slmops.io', version: 'v1alpha1', resource: 'slmdeployments' };
const GROUP_LABEL = 'bench.slmops.io/group';
// Overridable so the benchmark can run from a bundle on another machine.
const OPERATOR_BIN = process.env['OPERATOR_BENCH_BIN'] ?? join(import.meta.dirname, '../../packages/operator/bin/slmops-operator.js');
const CRD = process.env['OPERATOR_BENCH_CRD'] ?? join(import.meta.dirname, '../../charts/slmops/crds/slmdeployments.slmops.io.yaml');

const rows: [string, string][] = [];
const row = (what: string, value: string) => {
  rows.push([what, value]);
  console.error(`${what}: ${value}`);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** histogram_quantile over the cumulative buckets of one series (linear interpolation, as PromQL does). */
function quantile(text: string, name: string, q: number): number {
  const buckets: [number, number][] = [];
  const re = new RegExp(`^${name}_bucket\\{le="([^"]+)",result="(?:success|requeue)"\\} (\\d+)`, 'gm');
  const sums = new Map<number, number>();
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    sums.set(le, (sums.get(le) ?? 0) + Number(m[2]));
  }
  for (const [le, n] of [...sums].sort((a, b) => a[0] - b[0])) buckets.push([le, n]);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (!total) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevN = 0;
  for (const [le, n] of buckets) {
    if (n >= rank) return le === Infinity ? prevLe : prevLe + ((le - prevLe) * (rank - prevN)) / Math.max(1, n - prevN);
    prevLe = le;
    prevN = n;
  }
  return prevLe;
}

const sumOf = (text: string, name: string, filter = '') =>
  [...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\d+(?:\\.\\d+)?)`, 'gm'))].filter((m) => m[1]!.includes(filter)).reduce((a, m) => a + Number(m[2]), 0);

const requestLog = new RequestLog(5_000_000);
const emu = await startEmulator({ requestLog });
const sim = new Simulator({ store: emu.store, podStartDelayMs: 50, podReadyDelayMs: 50, onError: () => {} });
await sim.start();
emu.store.create(resources.customresourcedefinitions, undefined, parse(readFileSync(CRD, 'utf8')), { client: 'bench' });
const t0 = performance.now();
for (let g = 0; g < DEPLOYMENTS; g++)
  sim.addFleet({ nodes: NODES_PER_GROUP, mix: { 'cpu-amd64': 3, 'nvidia-gpu': 1, jetson: 1 }, seed: g + 1, prefix: `g${g}`, labels: { [GROUP_LABEL]: `g${g}` } });
row('Nodes', `${sim.nodeNames().length} (${DEPLOYMENTS} groups of ${NODES_PER_GROUP}: 3 cpu-amd64, 1 nvidia-gpu, 1 jetson)`);
console.error(`fleet created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// e.g. OPERATOR_BENCH_NODE_ARGS=--max-old-space-size=256, as a container memory limit would be paired with.
const NODE_ARGS = (process.env['OPERATOR_BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
const child = spawn(process.execPath, [...NODE_ARGS, OPERATOR_BIN, '--kubeconfig', emu.kubeconfigPath, '--leader-elect=false', '--metrics-bind-address', '127.0.0.1:0', '--health-probe-bind-address', '127.0.0.1:0', '--sidecar-image', 'ghcr.io/slmops/sidecar:bench'], {
  stdio: ['ignore', 'ignore', 'pipe'],
  env: { PATH: process.env['PATH'] ?? '', POD_NAME: 'bench-operator' },
});
let metricsUrl: string | undefined;
let synced = false;
let warnings = 0;
createInterface({ input: child.stderr! }).on('line', (line) => {
  try {
    const l = JSON.parse(line) as { msg: string; metrics?: string; level: string };
    if (l.msg === 'starting') metricsUrl = `http://${l.metrics}/metrics`;
    if (l.msg === 'caches synced') synced = true;
    if (l.level === 'warn' || l.level === 'error') warnings++;
  } catch {
    console.error(line);
  }
});
const rssOf = () => {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
};
while (!synced) {
  if (child.exitCode !== null) throw new Error(`operator exited with ${child.exitCode}`);
  await sleep(50);
}

const mark = requestLog.mark();
const tStart = performance.now();
for (let g = 0; g < DEPLOYMENTS; g++) {
  emu.store.create(SLMD, 'default', {
    apiVersion: 'slmops.io/v1alpha1',
    kind: 'SLMDeployment',
    metadata: { name: `model-${g}` },
    spec: {
      model: { name: 'stories260k', version: '1.0.0', source: { uri: 'file:///models/stories260k' }, precisions: ['int8', 'fp16', 'fp32'] },
      placement: { mode: 'Fleet', nodeSelector: { [GROUP_LABEL]: `g${g}` } },
      hardware: { plugins: ['nvidia', 'jetson', 'cpu'] },
    },
  }, { client: 'bench' });
}
const ready = () =>
  emu.store.list(SLMD, { namespace: 'default', client: 'bench' }).items.filter((o) =>
    ((o as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  ).length;
let n = 0;
let peakDuring = 0;
while ((n = ready()) < DEPLOYMENTS) {
  if (performance.now() - tStart > TIMEOUT_MS) break;
  peakDuring = Math.max(peakDuring, rssOf().rss);
  await sleep(500);
}
const convergeS = (performance.now() - tStart) / 1000;
row('SLMDeployments Ready', `${n} / ${DEPLOYMENTS}`);
row('Time until all Ready', n === DEPLOYMENTS ? `${convergeS.toFixed(1)} s` : `not within ${TIMEOUT_MS / 1000} s`);
await sleep(5000);
const m1 = await (await fetch(metricsUrl!)).text();
row('Reconcile p50 (histogram estimate)', `${(quantile(m1, 'slmops_operator_reconcile_duration_seconds', 0.5) * 1000).toFixed(1)} ms`);
row('Reconcile p99 (histogram estimate)', `${(quantile(m1, 'slmops_operator_reconcile_duration_seconds', 0.99) * 1000).toFixed(1)} ms`);
row('Reconciles', `${sumOf(m1, 'slmops_operator_reconcile_total')} (${sumOf(m1, 'slmops_operator_reconcile_total', 'error')} errors)`);
const writes = requestLog.writesSince(mark, { client: /^slmops-operator\// });
const byResource = new Map<string, number>();
for (const w of writes) {
  const k = `${w.verb} ${w.resource}${w.subresource ? `/${w.subresource}` : ''}`;
  byResource.set(k, (byResource.get(k) ?? 0) + 1);
}
row('API writes per deployment', `${(writes.length / DEPLOYMENTS).toFixed(2)} (${[...byResource].sort().map(([k, v]) => `${k}: ${(v / DEPLOYMENTS).toFixed(2)}`).join(', ')})`);
const steadyMark = requestLog.mark();
await sleep(30_000);
row('Operator writes in 30 s of steady state', String(requestLog.writesSince(steadyMark, { client: /^slmops-operator\// }).length));
const rss = rssOf();
row('Operator RSS (now / peak)', `${rss.rss.toFixed(0)} MiB / ${Math.max(rss.peak, peakDuring).toFixed(0)} MiB`);
row('Operator warnings logged', String(warnings));

child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await sim.stop();
await emu.close();

console.log(`| Operator at scale (${DEPLOYMENTS} SLMDeployments${NODE_ARGS.length ? `, node ${NODE_ARGS.join(' ')}` : ''}) | |\n|---|---|`);
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
process.exit(0);
