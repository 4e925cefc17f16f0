/** HTTP side with the real model: OpenAI-compatible endpoints, probes, promtool on live /metrics, privacy. */
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonLogger } from '../src/log.js';
import { productionDeps } from '../src/main.js';
import { type Harness, baseConfig, collect, generateCall, startHarness, unary } from './helpers.js';
import { type ConvertedModel, convertStories, reference } from './real-model.js';

let model: ConvertedModel;
let h: Harness;
let logs = '';
const ref = reference();

beforeAll(async () => {
  model = await convertStories();
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => (logs += c.toString()));
  h = await startHarness(baseConfig({ model: model.dir, cacheDir: model.root }), productionDeps(createJsonLogger(sink)));
  await h.sidecar.ready;
});
afterAll(async () => {
  await h?.close();
  model?.cleanup();
});

const url = (p: string) => `http://${h.sidecar.metricsAddress}${p}`;
const post = (p: string, body: unknown) => fetch(url(p), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const sse = (text: string) =>
  text
    .split('\n\n')
    .filter((b) => b.startsWith('data: '))
    .map((b) => b.slice(6));

describe('HTTP: OpenAI-compatible, probes, metrics', () => {
  it('serves /v1/completions as JSON with usage and as SSE ending in [DONE]', async () => {
    const greedyText = async () => {
      const { messages } = await collect(generateCall(h, { prompt: ref.prompt, max_tokens: 30, temperature: 0 }));
      return messages.map((m) => m['text']).join('');
    };
    const expected = await greedyText();
    const res = await post('/v1/completions', { model: 'stories260k', prompt: ref.prompt, max_tokens: 30, temperature: 0 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; choices: { text: string; finish_reason: string }[]; usage: Record<string, number> };
    expect(body.object).toBe('text_completion');
    expect(body.choices[0]).toMatchObject({ text: expected, finish_reason: 'length' });
    expect(body.usage).toEqual({ prompt_tokens: 5, completion_tokens: 30, total_tokens: 35 });

    const s = await post('/v1/completions', { prompt: ref.prompt, max_tokens: 30, temperature: 0, stream: true, stream_options: { include_usage: true } });
    expect(s.headers.get('content-type')).toBe('text/event-stream');
    const events = sse(await s.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: { text: string; finish_reason: string | null }[]; usage?: Record<string, number> });
    expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe(expected);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.at(-1)!).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 30, total_tokens: 35 } });
  });

  it('serves /v1/chat/completions (JSON and SSE deltas) and OpenAI-shaped errors', async () => {
    const res = await post('/v1/chat/completions', { model: 'stories260k', messages: [{ role: 'user', content: 'Tell a story' }], max_tokens: 8, temperature: 0 });
    const body = (await res.json()) as { object: string; choices: { message: { role: string; content: string }; finish_reason: string }[]; usage: Record<string, number> };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]!.message.role).toBe('assistant');
    expect(body.usage['completion_tokens']).toBe(8);
    const s = await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'Tell a story' }], max_tokens: 8, temperature: 0, stream: true });
    const chunks = sse(await s.text()).slice(0, -1).map((e) => JSON.parse(e) as { object: string; choices: { delta: { content?: string; role?: string } }[] });
    expect(chunks[0]!.object).toBe('chat.completion.chunk');
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(body.choices[0]!.message.content);

    const bad = await post('/v1/completions', { prompt: 'x', temperature: 'hot' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { param: 'temperature', code: 'invalid_argument' } });
    const wrongModel = await post('/v1/completions', { model: 'gpt-4', prompt: 'x' });
    expect(wrongModel.status).toBe(404);
    const notJson = await fetch(url('/v1/completions'), { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    const tooLong = await post('/v1/completions', { prompt: 'Once upon a time '.repeat(200), max_tokens: 2 });
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { error: { code: string } }).error.code).toBe('out_of_range');
    const models = (await (await fetch(url('/v1/models'))).json()) as { data: { id: string }[] };
    expect(models.data[0]!.id).toBe('stories260k');
  });

  it('answers /healthz and /readyz, and `promtool check metrics` passes on the live /metrics', async () => {
    expect((await fetch(url('/healthz'))).status).toBe(200);
    expect((await fetch(url('/readyz'))).status).toBe(200);
    await collect(generateCall(h, { prompt: 'Lily', max_tokens: 5 }));
    const text = await (await fetch(url('/metrics'))).text();
    for (const name of ['slmops_time_to_first_token_seconds_bucket', 'slmops_inter_token_latency_seconds_bucket', 'slmops_e2e_request_latency_seconds_bucket', 'slmops_request_queue_time_seconds_bucket', 'slmops_request_prefill_time_seconds_bucket', 'slmops_request_decode_time_seconds_bucket', 'slmops_prompt_tokens_total', 'slmops_generation_tokens_total', 'slmops_num_requests_running', 'slmops_num_requests_waiting', 'slmops_kv_cache_usage_perc', 'slmops_request_success_total', 'slmops_model_info', 'process_cpu_seconds_total']) {
      expect(text, name).toContain(`${name}`);
    }
    expect(text).toMatch(/slmops_model_info\{name="stories260k",version="1",digest="sha256:[0-9a-f]{64}",precision="fp32",execution_provider="cpu"\} 1/);
    expect(text).toContain('slmops_request_success_total{model_name="stories260k",model_version="1",finished_reason="length"}');
    expect(text).toContain('le="2560"');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.error, 'promtool must be installed (Debian package prometheus)').toBeUndefined();
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('never writes prompt or completion text to logs or metrics', async () => {
    const canary = 'Zqx7Canary once upon a time';
    const texts: string[] = [];
    const { messages } = await collect(generateCall(h, { prompt: canary, max_tokens: 40, temperature: 0 }));
    texts.push(messages.map((m) => m['text']).join(''));
    await unary(h.oip, 'ModelInfer', { model_name: 'stories260k', parameters: { max_tokens: { int64_param: 10 } }, inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from(canary)] } }] });
    const j = (await (await post('/v1/chat/completions', { messages: [{ role: 'user', content: canary }], max_tokens: 20 })).json()) as { choices: { message: { content: string } }[] };
    texts.push(j.choices[0]!.message.content);
    await collect(generateCall(h, { prompt: `${canary} `.repeat(100), max_tokens: 1 }));
    await post('/v1/completions', { prompt: canary, temperature: -5 });
    const metrics = await (await fetch(url('/metrics'))).text();
    expect(logs.length).toBeGreaterThan(100);
    for (const sink of [logs, metrics]) {
      expect(sink).not.toContain('Zqx7Canary');
      for (const t of texts) {
        expect(t.trim().length).toBeGreaterThan(10);
        expect(sink).not.toContain(t.trim().slice(0, 24));
      }
    }
  });
});
