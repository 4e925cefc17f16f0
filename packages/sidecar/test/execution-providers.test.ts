/** Execution-provider fallback with the real onnxruntime-node build of this machine (cpu only usable). */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonLogger } from '../src/log.js';
import { openWithFallback, parseProviderList } from '../src/execution-providers.js';
import { productionDeps } from '../src/main.js';
import { baseConfig, collect, generateCall, startHarness, unary } from './helpers.js';
import { type ConvertedModel, convertStories, reference } from './real-model.js';
import { createFakeEngine } from './fake-engine.js';

let model: ConvertedModel;
beforeAll(async () => {
  model = await convertStories();
});
afterAll(() => model?.cleanup());

describe('execution providers', () => {
  it('falls back openvino -> cuda -> cpu honestly: counted, logged once, in GetModelInfo; output unchanged', async () => {
    const sink = new PassThrough();
    let logs = '';
    sink.on('data', (c: Buffer) => (logs += c.toString()));
    const h = await startHarness(baseConfig({ model: model.dir, executionProviders: 'openvino,cuda,cpu' }), productionDeps(createJsonLogger(sink)));
    try {
      await h.sidecar.ready;
      const info = await unary(h.inference, 'GetModelInfo', {});
      expect(info['execution_provider']).toBe('cpu');
      const fb = info['fallbacks'] as { from: string; to: string; reason: string }[];
      expect(fb.map((f) => [f.from, f.to])).toEqual([['openvino', 'cuda'], ['cuda', 'cpu']]);
      expect(fb[0]!.reason).toBe('OpenVINO is not available in this runtime build');
      expect(fb[1]!.reason).toMatch(/^CUDA session creation failed: /);
      const metrics = await (await fetch(`http://${h.sidecar.metricsAddress}/metrics`)).text();
      expect(metrics).toContain('slmops_ep_fallback_total{from="openvino",to="cuda"} 1');
      expect(metrics).toContain('slmops_ep_fallback_total{from="cuda",to="cpu"} 1');
      expect(logs.match(/execution provider fallback/g)).toHaveLength(2);
      const ref = reference();
      const { messages } = await collect(generateCall(h, { prompt: ref.prompt, max_tokens: 30, temperature: 0 }));
      expect(messages.slice(0, -1).map((m) => m['token_id'])).toEqual(ref.continuation.slice(0, 30));
    } finally {
      await h.close();
    }
  });

  it('with the nvidia plugin on this GPU-less machine falls back to cpu: metric, GetModelInfo, same tokens', async () => {
    const h = await startHarness(baseConfig({ model: model.dir, plugin: 'nvidia' }), productionDeps(createJsonLogger(new PassThrough())));
    try {
      await h.sidecar.ready;
      const info = await unary(h.inference, 'GetModelInfo', {});
      expect(info['execution_provider']).toBe('cpu');
      const fb = info['fallbacks'] as { from: string; to: string; reason: string }[];
      expect(fb.map((f) => [f.from, f.to])).toEqual([['cuda', 'cpu']]);
      expect(fb[0]!.reason).toMatch(/cuda|CUDA|nvidia/);
      const metrics = await (await fetch(`http://${h.sidecar.metricsAddress}/metrics`)).text();
      expect(metrics).toContain('slmops_ep_fallback_total{from="cuda",to="cpu"} 1');
      const ref = reference();
      const { messages } = await collect(generateCall(h, { prompt: ref.prompt, max_tokens: 30, temperature: 0 }));
      expect(messages.slice(0, -1).map((m) => m['token_id'])).toEqual(ref.continuation.slice(0, 30));
    } finally {
      await h.close();
    }
  });

  it('uses the cpu plugin chain by default and rejects unknown provider names', async () => {
    let opened: string[] = [];
    const r = await openWithFallback({ chain: [{ name: 'cpu' }], availableProviders: ['cpu'], open: async (ep) => ((opened = [...opened, ep.name]), createFakeEngine()) });
    expect(opened).toEqual(['cpu']);
    expect(r.fallbacks).toEqual([]);
    expect(() => parseProviderList('cuda,gpu9', ['cuda', 'cpu'])).toThrow('--execution-providers: unknown provider "gpu9"; known: cuda, cpu');
    await expect(openWithFallback({ chain: [{ name: 'cpu' }], availableProviders: ['cpu'], open: async () => Promise.reject(new Error('bad model')) })).rejects.toThrow(/last execution provider \(cpu\): bad model/);
  });
});
