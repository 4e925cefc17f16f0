/**
 * bench:metrics — cost of the metrics hot path and of a scrape: one histogram observation and one counter
 * increment as the sidecar records them (label set bound once / passed per call), and one scrape of a registry
 * holding 10,000 series, rendered in process and fetched over loopback HTTP. Targets: < 1 µs per observation,
 * < 50 ms per scrape. Not a test: prints a Markdown table.
 *
 *   npx nx run bench:metrics
 */
import { availableParallelism, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createInstruments, createRegistry, servingMetrics, startMetricsServer } from '@slmops/metrics';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Nanoseconds per call of fn, median of 7 runs of n calls after a warm-up. */
function perCall(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < n; i++) fn(i);
  const runs: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    runs.push(((performance.now() - t) * 1e6) / n);
  }
  return median(runs);
}

const hot = createInstruments(createRegistry({ defaultMetrics: false }), servingMetrics, { maxModelLen: 2048 });
const l = { model_name: 'stories260k', model_version: '1' };
const ttft = hot.timeToFirstToken.labels(l);
const values = Array.from({ length: 1024 }, (_, i) => (i % 97) / 50);
const N = 1_000_000;
const rows: Array<[string, string, string]> = [];
const ns = (v: number) => `${v.toFixed(0)} ns`;
rows.push(['histogram observe, labels bound once (TTFT, 22 buckets)', ns(perCall(N, (i) => ttft.observe(values[i & 1023]!))), '< 1 µs']);
rows.push(['histogram observe, labels passed per call (ITL)', ns(perCall(N, (i) => hot.interTokenLatency.observe(l, values[i & 1023]!))), '< 1 µs']);
const unlabelled = createInstruments(createRegistry({ defaultMetrics: false }), { h: { ...servingMetrics.timeToFirstToken, labelNames: [] } }, { maxModelLen: 2048 }).h;
rows.push(['histogram observe, no labels (prom-client floor)', ns(perCall(N, (i) => unlabelled.observe(values[i & 1023]!))), '']);
rows.push(['counter inc, labels passed per call (generation tokens)', ns(perCall(N, () => hot.generationTokens.inc(l, 1))), '< 1 µs']);
rows.push(['gauge set, labels passed per call (requests running)', ns(perCall(N, (i) => hot.requestsRunning.set(l, i & 7))), '< 1 µs']);

// 10,000 series: 240 TTFT histograms (25 series each: 22 buckets, +Inf, _sum, _count) = 6,000, 2,000 counter and
// 2,000 gauge series, as 40 models x 6 versions of a large fleet's Prometheus federation would show them.
const registry = createRegistry({ defaultMetrics: false });
const big = createInstruments(registry, servingMetrics, { maxModelLen: 2048 });
for (let i = 0; i < 240; i++) big.timeToFirstToken.observe({ model_name: `model-${i % 40}`, model_version: String(i) }, 0.05);
for (let i = 0; i < 2000; i++) big.requestSuccess.inc({ model_name: `model-${i % 40}`, model_version: String(Math.floor(i / 5)), finished_reason: ['stop', 'length', 'eos', 'context', 'abort'][i % 5]! });
for (let i = 0; i < 2000; i++) big.requestsWaiting.set({ model_name: `model-${i}`, model_version: '1' }, i);
const text = await registry.metrics();
const series = text.split('\n').filter((line) => line && !line.startsWith('#')).length;

const renders: number[] = [];
for (let r = 0; r < 25; r++) {
  const t = performance.now();
  await registry.metrics();
  renders.push(performance.now() - t);
}
const server = await startMetricsServer({ registry, port: 0, host: '127.0.0.1' });
const fetches: number[] = [];
for (let r = 0; r < 25; r++) {
  const t = performance.now();
  await (await fetch(`http://${server.address}/metrics`)).text();
  fetches.push(performance.now() - t);
}
await server.close();
const ms = (v: number) => `${v.toFixed(1)} ms`;
rows.push([`scrape: registry.metrics() with ${series} series (${(text.length / 1024).toFixed(0)} KiB)`, ms(median(renders.slice(5))), '< 50 ms']);
rows.push([`scrape: GET /metrics over loopback, ${series} series`, ms(median(fetches.slice(5))), '< 50 ms']);

console.log(`\nbench:metrics — ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} CPUs, Node ${process.version}\n`);
console.log('| measurement | median | target |\n|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
