import { describe, expect, it } from 'vitest';
import {
  ExpositionParseError,
  createInstruments,
  createRegistry,
  histogramBuckets,
  histogramQuantile,
  mergeBuckets,
  parseExposition,
  servingMetrics,
  sumSamples,
} from '../src/index.js';

const model = { model_name: 'stories260k', model_version: '1.0.0' };

/** The exposition a sidecar serves: the catalogue's serving instruments on a fresh prom-client registry. */
async function sidecarExposition(): Promise<string> {
  const registry = createRegistry({ defaultMetrics: true });
  const m = createInstruments(registry, servingMetrics, { maxModelLen: 512 });
  m.requestSuccess.inc({ ...model, finished_reason: 'stop' }, 7);
  m.requestSuccess.inc({ ...model, finished_reason: 'length' }, 3);
  m.requestFailure.inc({ ...model, code: 'RESOURCE_EXHAUSTED' }, 2);
  for (const s of [0.2, 0.4, 0.9, 1.2, 1.2, 3, 3, 4, 6, 70]) m.e2eLatency.observe(model, s);
  for (const s of [0.003, 0.003, 0.009, 0.05]) m.timeToFirstToken.observe(model, s);
  m.modelInfo.set({ name: 'stories260k', version: '1.0.0', digest: 'sha256:ab', precision: 'fp32', execution_provider: 'cpu' }, 1);
  return registry.metrics();
}

describe('parseExposition', () => {
  it('parses prom-client sidecar output into typed families with histogram samples folded in', async () => {
    const families = parseExposition(await sidecarExposition());
    const e2e = families.find((f) => f.name === 'slmops_e2e_request_latency_seconds');
    expect(e2e?.type).toBe('histogram');
    expect(e2e?.help).toBe(servingMetrics.e2eLatency.help);
    expect(families.some((f) => f.name.endsWith('_bucket') || f.name.endsWith('_sum'))).toBe(false);
    expect(sumSamples(families, 'slmops_e2e_request_latency_seconds_count')).toBe(10);
    expect(sumSamples(families, 'slmops_e2e_request_latency_seconds_sum')).toBeCloseTo(89.9, 6);
    expect(sumSamples(families, 'slmops_request_success_total')).toBe(10);
    expect(sumSamples(families, 'slmops_request_success_total', { finished_reason: 'length' })).toBe(3);
    expect(sumSamples(families, 'slmops_request_failure_total', { code: 'RESOURCE_EXHAUSTED' })).toBe(2);
    expect(families.find((f) => f.name === 'slmops_request_success_total')?.type).toBe('counter');
    const info = families.find((f) => f.name === 'slmops_model_info')?.samples[0];
    expect(info?.labels).toMatchObject({ digest: 'sha256:ab', execution_provider: 'cpu' });
    // Default process metrics are parsed too (gauges with no labels).
    expect(families.find((f) => f.name === 'process_cpu_user_seconds_total')?.type).toBe('counter');
    // prom-client writes an idle event-loop histogram's mean as `Nan`, which Prometheus (Go ParseFloat) accepts.
    expect(parseExposition('x Nan\ny inf\nz -Infinity').map((f) => f.samples[0]!.value)).toEqual([NaN, Infinity, -Infinity]);
  });

  it('reads cumulative buckets and their p95 as Prometheus would', async () => {
    const families = parseExposition(await sidecarExposition());
    const b = histogramBuckets(families, 'slmops_e2e_request_latency_seconds', { model_version: '1.0.0' });
    expect(b.at(-1)).toEqual({ upperBound: Infinity, count: 10 });
    expect(b.find((x) => x.upperBound === 1)?.count).toBe(3);
    // rank 9.5 falls in (60, 120] holding 1 observation above 9: 60 + 60 * 0.5
    expect(histogramQuantile(b, 0.95)).toBeCloseTo(90, 9);
    // rank 5 falls in (1, 1.5] with 2 observations, 3 below: 1 + 0.5 * (2/2)
    expect(histogramQuantile(b, 0.5)).toBeCloseTo(1.5, 9);
    expect(histogramBuckets(families, 'slmops_e2e_request_latency_seconds', { model_version: 'other' })).toEqual([]);
    const ttft = histogramBuckets(families, 'slmops_time_to_first_token_seconds');
    expect(histogramQuantile(ttft, 0.5)).toBeCloseTo(0.005, 9);
  });

  it('handles escapes, timestamps, special values, untyped samples and blank or comment lines', () => {
    const text = [
      '# HELP weird_total A help with a \\\\ backslash\\nand newline',
      '# TYPE weird_total counter',
      'weird_total{path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb",} 3 1700000000000',
      '',
      '# some comment',
      'bare_metric 1.5e3',
      'nan_metric{a="1"} NaN',
      'inf_metric +Inf',
      'neg_metric -Inf',
      '# EOF',
    ].join('\n');
    const f = parseExposition(text);
    const w = f.find((x) => x.name === 'weird_total')!;
    expect(w.help).toBe('A help with a \\ backslash\nand newline');
    expect(w.samples[0]).toEqual({ name: 'weird_total', labels: { path: 'C:\\dir', quote: 'say "hi"', nl: 'a\nb' }, value: 3, timestamp: 1700000000000 });
    expect(f.find((x) => x.name === 'bare_metric')).toMatchObject({ type: 'untyped', samples: [{ value: 1500 }] });
    expect(Number.isNaN(f.find((x) => x.name === 'nan_metric')!.samples[0]!.value)).toBe(true);
    expect(f.find((x) => x.name === 'inf_metric')!.samples[0]!.value).toBe(Infinity);
    expect(f.find((x) => x.name === 'neg_metric')!.samples[0]!.value).toBe(-Infinity);
  });

  it('folds _sum/_count into summaries but not into counters or undeclared names', () => {
    const text = [
      '# TYPE rpc summary',
      'rpc{quantile="0.5"} 1',
      'rpc_sum 10',
      'rpc_count 4',
      '# TYPE jobs_count counter',
      'jobs_count 5',
      'other_bucket{le="1"} 2',
    ].join('\n');
    const f = parseExposition(text);
    expect(f.map((x) => [x.name, x.type, x.samples.length])).toEqual([
      ['rpc', 'summary', 3],
      ['jobs_count', 'counter', 1],
      ['other_bucket', 'untyped', 1],
    ]);
  });

  it('names the line and the problem in errors', () => {
    expect(() => parseExposition('ok 1\nbad{a="1" 2')).toThrow(/line 2: expected ',' or '}' after label a/);
    expect(() => parseExposition('x{a="1\\q"} 1')).toThrow(/invalid escape \\q/);
    expect(() => parseExposition('x 1 2 3')).toThrow(ExpositionParseError);
    expect(() => parseExposition('x abc')).toThrow(/"abc" is not a number/);
    expect(() => parseExposition('# TYPE x widget')).toThrow(/unknown metric type "widget"/);
    expect(() => parseExposition('x{a="1",a="2"} 1')).toThrow(/label a appears twice/);
    expect(() => parseExposition('x')).toThrow(/sample x has no value/);
  });
});

describe('histogramQuantile', () => {
  const b = (pairs: [number, number][]) => pairs.map(([upperBound, count]) => ({ upperBound, count }));

  it('follows PromQL edge cases', () => {
    const h = b([[1, 2], [2, 4], [Infinity, 4]]);
    expect(histogramQuantile(h, -0.1)).toBe(-Infinity);
    expect(histogramQuantile(h, 1.1)).toBe(Infinity);
    expect(histogramQuantile(h, Number.NaN)).toBeNaN();
    expect(histogramQuantile(b([[1, 2], [2, 4]]), 0.5)).toBeNaN(); // no +Inf bucket
    expect(histogramQuantile(b([[Infinity, 4]]), 0.5)).toBeNaN(); // fewer than two buckets
    expect(histogramQuantile(b([[1, 0], [Infinity, 0]]), 0.5)).toBeNaN(); // no observations
    expect(histogramQuantile(h, 0.5)).toBe(1); // rank 2 lands exactly at the top of (0, 1]
    expect(histogramQuantile(h, 0.75)).toBe(1.5);
    expect(histogramQuantile(h, 1)).toBe(2);
    expect(histogramQuantile(b([[1, 1], [2, 1], [Infinity, 3]]), 0.9)).toBe(2); // rank in +Inf: highest finite bound
    expect(histogramQuantile(b([[-1, 2], [0, 3], [Infinity, 3]]), 0.1)).toBe(-1); // first bucket with bound <= 0
  });

  it('sorts, coalesces equal bounds and repairs non-monotonic counts', () => {
    const shuffled = b([[Infinity, 10], [0.5, 4], [0.1, 2], [0.5, 1]]);
    // 0.5 coalesces to 5; p50: rank 5 in (0.1, 0.5] -> 0.1 + 0.4 * (3/3)
    expect(histogramQuantile(shuffled, 0.5)).toBeCloseTo(0.5, 12);
    const dip = b([[1, 5], [2, 3], [Infinity, 6]]); // 2 -> 5 after repair
    expect(histogramQuantile(dip, 0.5)).toBeCloseTo(0.6, 12);
  });

  it('merges buckets from several pods per bound', () => {
    const a = b([[1, 1], [Infinity, 2]]);
    const c = b([[1, 3], [2, 3], [Infinity, 4]]);
    expect(mergeBuckets(a, c)).toEqual(b([[1, 4], [2, 3], [Infinity, 6]]));
  });
});
