import { spawnSync } from 'node:child_process';
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  DROPPED_DEFAULT_METRICS,
  ITL_BUCKETS,
  REQUEST_LATENCY_BUCKETS,
  TTFT_BUCKETS,
  buckets125,
  catalogue,
  createInstruments,
  createRegistry,
  resolveBuckets,
  servingMetrics,
  startMetricsServer,
} from '../src/index.js';

describe('catalogue', () => {
  it('has unique, prefixed names that follow the Prometheus suffix rules', () => {
    const names = catalogue.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const d of catalogue) {
      expect(d.name).toMatch(/^slmops_[a-z0-9_]+$/);
      expect(d.help.length).toBeGreaterThan(5);
      if (d.type === 'counter') expect(d.name).toMatch(/_total$/);
      else expect(d.name).not.toMatch(/_(total|count|sum|bucket)$/);
      if (d.type === 'histogram') {
        const b = resolveBuckets(d, { maxModelLen: 2048 });
        expect(b.length).toBeGreaterThan(3);
        for (let i = 1; i < b.length; i++) expect(b[i]).toBeGreaterThan(b[i - 1]!);
      } else expect(d.buckets).toBeUndefined();
    }
  });

  it('uses the vLLM bucket layouts, not prom-client defaults', () => {
    expect(resolveBuckets(servingMetrics.timeToFirstToken, { maxModelLen: 1 })).toEqual([...TTFT_BUCKETS]);
    expect(TTFT_BUCKETS[0]).toBe(0.001);
    expect(TTFT_BUCKETS.at(-1)).toBe(2560);
    expect(resolveBuckets(servingMetrics.interTokenLatency, { maxModelLen: 1 })).toEqual([...ITL_BUCKETS]);
    expect(ITL_BUCKETS.length).toBe(19);
    expect(resolveBuckets(servingMetrics.e2eLatency, { maxModelLen: 1 })).toEqual([...REQUEST_LATENCY_BUCKETS]);
    expect(REQUEST_LATENCY_BUCKETS.at(-1)).toBe(7680);
  });

  it('builds 1-2-5 token buckets up to the context length', () => {
    expect(buckets125(512)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500]);
    expect(buckets125(2000)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]);
    expect(resolveBuckets(servingMetrics.requestPromptTokens, { maxModelLen: 100 }).at(-1)).toBe(100);
    expect(() => resolveBuckets(servingMetrics.requestsRunning, { maxModelLen: 1 })).toThrow(/slmops_num_requests_running is a gauge/);
  });
});

describe('registry and /metrics server', () => {
  it('never touches the global registry and drops the *_total gauges', async () => {
    const registry = createRegistry();
    createInstruments(registry, servingMetrics, { maxModelLen: 512 });
    const text = await registry.metrics();
    expect(text).toContain('# TYPE slmops_time_to_first_token_seconds histogram');
    expect(text).toContain('nodejs_active_handles');
    for (const n of DROPPED_DEFAULT_METRICS) expect(text).not.toContain(`${n} `);
    expect(await globalRegistry.metrics()).not.toContain('slmops_');
    // A second registry in the same process registers the same names without a clash.
    expect(() => createInstruments(createRegistry({ defaultMetrics: false }), servingMetrics, { maxModelLen: 512 })).not.toThrow();
  });

  it('serves output that `promtool check metrics` accepts', async () => {
    const registry = createRegistry();
    const m = createInstruments(registry, servingMetrics, { maxModelLen: 512 });
    const l = { model_name: 'stories260k', model_version: '1' };
    m.timeToFirstToken.observe(l, 0.012);
    m.requestSuccess.inc({ ...l, finished_reason: 'length' });
    m.epFallback.inc({ from: 'cuda', to: 'cpu' });
    m.modelInfo.set({ name: 'stories260k', version: '1', digest: 'sha256:ab', precision: 'fp32', execution_provider: 'cpu' }, 1);
    const srv = await startMetricsServer({ registry, port: 0 });
    try {
      const res = await fetch(`http://${srv.address}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const body = await res.text();
      expect(body).toContain('slmops_ep_fallback_total{from="cuda",to="cpu"} 1');
      expect(body).toContain('slmops_time_to_first_token_seconds_bucket{le="0.02",model_name="stories260k",model_version="1"} 1');
      const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
      expect(check.error, 'promtool must be installed (Debian package prometheus)').toBeUndefined();
      expect(check.stdout + check.stderr).toBe('');
      expect(check.status).toBe(0);
      expect((await fetch(`http://${srv.address}/nope`)).status).toBe(404);
      expect((await fetch(`http://${srv.address}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await srv.close();
    }
  });
});
