/** Transport behaviour that needs a controllable engine: load gating, queue limits, deadlines, cancellation. */
import { type ClientReadableStream, status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { generateRemote } from '../src/client.js';
import { createFakeEngine, regrouped } from './fake-engine.js';
import { type Harness, baseConfig, collect, generateCall, reflectionServices, startHarness, streamText, unary } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const waitFor = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('gRPC over loopback with a fake engine', () => {
  it('reports NOT_SERVING until the model is loaded, then SERVING (Check and Watch); reflection lists the services', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    h = await startHarness(baseConfig(), {
      loadModel: async () => {
        await gate;
        return {};
      },
      createEngine: async () => createFakeEngine(),
    });
    const watch = (h.health['Watch'] as (r: unknown) => ClientReadableStream<{ status: string }>).call(h.health, { service: '' });
    const seen: string[] = [];
    watch.on('data', (m: { status: string }) => seen.push(m.status));
    watch.on('error', () => {});
    expect((await unary(h.health, 'Check', { service: '' }))['status']).toBe('NOT_SERVING');
    expect((await unary(h.health, 'Check', { service: 'slmops.inference.v1.Inference' }))['status']).toBe('NOT_SERVING');
    await expect(unary(h.health, 'Check', { service: 'nope.Service' })).rejects.toMatchObject({ code: status.NOT_FOUND });
    expect((await unary(h.oip, 'ServerReady', {}))['ready']).toBe(false);
    expect((await unary(h.oip, 'ServerLive', {}))['live']).toBe(true);
    await expect(unary(h.inference, 'GetModelInfo', {})).rejects.toMatchObject({ code: status.UNAVAILABLE });
    const early = await collect(generateCall(h, { prompt: 'x' }));
    expect(early.error?.code).toBe(status.UNAVAILABLE);
    release();
    await h.sidecar.ready;
    expect((await unary(h.health, 'Check', { service: 'inference.GRPCInferenceService' }))['status']).toBe('SERVING');
    await waitFor(() => seen.length >= 2);
    expect(seen).toEqual(['NOT_SERVING', 'SERVING']);
    watch.cancel();
    const services = await reflectionServices(`127.0.0.1:${h.sidecar.grpcPort}`);
    expect(services).toEqual(expect.arrayContaining(['slmops.inference.v1.Inference', 'inference.GRPCInferenceService', 'grpc.health.v1.Health']));
  });

  it('measures inter-token latency between token selections in the engine, not between their arrivals', async () => {
    const fake = createFakeEngine({ stepMs: 20 });
    // Delivers every token after the first in one burst with the end, as a stream interval longer than the request.
    const bursty = regrouped(fake, (ev) => (ev.type === 'token' && ev.index > 0 ? 'hold' : 'release'));
    h = await startHarness(baseConfig(), { createEngine: async () => bursty });
    await h.sidecar.ready;
    const { messages, error } = await collect(generateCall(h, { prompt: 'hello', max_tokens: 6, temperature: 0 }));
    expect(error).toBeUndefined();
    expect(messages).toHaveLength(7);
    const metrics = await (await fetch(`http://${h.sidecar.metricsAddress}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(value('slmops_inter_token_latency_seconds_count')).toBe(5);
    // Five 20 ms steps apart in the engine, though four of them arrived within a millisecond of each other.
    expect(value('slmops_inter_token_latency_seconds_sum')).toBeGreaterThanOrEqual(5 * 0.015);
    expect(Number(/^slmops_inter_token_latency_seconds_bucket\{[^}]*le="0.01"[^}]*\} (\S+)$/m.exec(metrics)?.[1])).toBe(0);
  });

  it('with coalesce_tokens, tokens the engine delivers together share one message; without it, one token per message', async () => {
    const fake = createFakeEngine({ stepMs: 2 });
    // Delivers tokens in groups of three (as the engine's stream interval does), and fails after 7 tokens on request.
    const grouped = regrouped(fake, (ev, held, req) =>
      req.stop?.[0] === 'fail' && ev.type === 'token' && ev.index === 6 ? 'fail' : held === 3 || ev.type === 'done' ? 'release' : 'hold',
    );
    h = await startHarness(baseConfig(), { createEngine: async () => grouped });
    await h.sidecar.ready;
    const one = await collect(generateCall(h, { prompt: 'hello', max_tokens: 10, temperature: 0 }));
    const coalesced = await collect(generateCall(h, { prompt: 'hello', max_tokens: 10, temperature: 0, coalesce_tokens: true }));
    expect(one.error).toBeUndefined();
    expect(coalesced.error).toBeUndefined();
    expect(one.messages).toHaveLength(11);
    const ids = one.messages.slice(0, 10).map((m) => m['token_id']);
    // Groups [0-2] [3-5] [6-8] [9 + end]: the last token travels with the finish reason and usage.
    expect(coalesced.messages.map((m) => m['token_ids'])).toEqual([ids.slice(0, 3), ids.slice(3, 6), ids.slice(6, 9), ids.slice(9)]);
    expect(coalesced.messages.map((m) => m['index'])).toEqual([0, 3, 6, 9]);
    expect(coalesced.messages.map((m) => m['token_id'])).toEqual([ids[0], ids[3], ids[6], ids[9]]);
    expect(streamText(coalesced.messages)).toBe(streamText(one.messages));
    expect(coalesced.messages.slice(0, 3).every((m) => m['finish_reason'] === 'FINISH_REASON_UNSPECIFIED')).toBe(true);
    expect(coalesced.messages[3]).toMatchObject({ finish_reason: 'FINISH_REASON_LENGTH', usage: { prompt_tokens: 6, completion_tokens: 10, total_tokens: 16 } });
    // A request without the option never sees token_ids.
    expect(one.messages.every((m) => (m['token_ids'] as unknown[]).length === 0)).toBe(true);
    // Tokens generated before a failure still reach the client, then the status.
    const failed = await collect(generateCall(h, { prompt: 'hello', max_tokens: 10, stop: ['fail'], coalesce_tokens: true }));
    expect(failed.error?.code).toBe(status.INTERNAL);
    expect(failed.messages.flatMap((m) => m['token_ids'] as number[])).toEqual(ids.slice(0, 7));
    // The client helper hands coalesced messages over as groups, with the same text.
    const events = [];
    for await (const ev of generateRemote(`127.0.0.1:${h.sidecar.grpcPort}`, { prompt: 'hello', max_tokens: 10, temperature: 0, coalesce_tokens: true })) events.push(ev);
    expect(events.map((e) => e.type)).toEqual(['tokens', 'tokens', 'tokens', 'tokens', 'done']);
    expect(events.flatMap((e) => (e.type === 'tokens' ? e.ids : []))).toEqual(ids);
    expect(events.map((e) => (e.type === 'tokens' ? e.text : '')).join('')).toBe(streamText(one.messages));
  });

  it('streams the same tokens the engine generates, with finish reason and usage last', async () => {
    const engine = createFakeEngine();
    h = await startHarness(baseConfig(), { createEngine: async () => engine });
    await h.sidecar.ready;
    const direct: number[] = [];
    for await (const ev of engine.generate({ prompt: 'hello', maxTokens: 12 })) if (ev.type === 'token') direct.push(ev.id);
    const { messages, error } = await collect(generateCall(h, { prompt: 'hello', max_tokens: 12, temperature: 0 }));
    expect(error).toBeUndefined();
    const tokens = messages.filter((m) => m['finish_reason'] === 'FINISH_REASON_UNSPECIFIED');
    expect(tokens.map((m) => m['token_id'])).toEqual(direct);
    expect(tokens.map((m) => m['index'])).toEqual(direct.map((_, i) => i));
    const last = messages.at(-1)!;
    expect(last['finish_reason']).toBe('FINISH_REASON_LENGTH');
    expect(last['usage']).toEqual({ prompt_tokens: 6, completion_tokens: 12, total_tokens: 18 });
    expect(streamText(messages)).toHaveLength(12);
    const info = await unary(h.inference, 'GetModelInfo', {});
    expect(info).toMatchObject({ name: 'fake', version: '1', precision: 'fp32', execution_provider: 'cpu', context_length: 128, max_batch_size: 8 });
    const tok = await unary(h.inference, 'Tokenize', { text: 'hello' });
    expect(tok['token_ids']).toEqual(engine.tokenize('hello'));
  });

  it('answers INVALID_ARGUMENT naming the field and OUT_OF_RANGE for prompts past the context', async () => {
    h = await startHarness(baseConfig(), { createEngine: async () => createFakeEngine({ contextLength: 64 }) });
    await h.sidecar.ready;
    const cases: [unknown, number, RegExp][] = [
      [{ prompt: 'a', temperature: -1 }, status.INVALID_ARGUMENT, /^temperature: /],
      [{ prompt: 'a', top_p: 1.5 }, status.INVALID_ARGUMENT, /^top_p: /],
      [{ prompt: 'a', max_tokens: 65 }, status.INVALID_ARGUMENT, /^max_tokens: /],
      [{ prompt: 'a', prompt_ids: [1, 2] }, status.INVALID_ARGUMENT, /^prompt: .*not both/],
      [{ prompt_ids: [1, 999] }, status.INVALID_ARGUMENT, /^prompt_ids\[1\]: /],
      [{ prompt: 'a', stop: [''] }, status.INVALID_ARGUMENT, /^stop\[0\]: /],
      [{ prompt: 'x'.repeat(100) }, status.OUT_OF_RANGE, /^prompt: 101 tokens do not fit the context of 64/],
    ];
    for (const [req, code, msg] of cases) {
      const { error } = await collect(generateCall(h, req));
      expect(error?.code, JSON.stringify(req)).toBe(code);
      expect(error?.details).toMatch(msg);
    }
    const metrics = await (await fetch(`http://${h.sidecar.metricsAddress}/metrics`)).text();
    expect(metrics).toContain('slmops_request_failure_total{model_name="fake",model_version="1",code="INVALID_ARGUMENT"} 6');
    expect(metrics).toContain('slmops_request_failure_total{model_name="fake",model_version="1",code="OUT_OF_RANGE"} 1');
  });

  it('with maxQueue 4, of 50 simultaneous requests the excess gets RESOURCE_EXHAUSTED at once and the rest complete', async () => {
    const engine = createFakeEngine({ maxBatchSize: 2, maxQueue: 4, stepMs: 5 });
    h = await startHarness(baseConfig({ maxBatchSize: 2, maxQueue: 4 }), { createEngine: async () => engine });
    await h.sidecar.ready;
    const t0 = Date.now();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => collect(generateCall(h!, { prompt: `p${i}`, max_tokens: 5 })).then((r) => ({ ...r, at: Date.now() - t0 }))),
    );
    const rejected = results.filter((r) => r.error);
    const ok = results.filter((r) => !r.error);
    expect(rejected.every((r) => r.error!.code === status.RESOURCE_EXHAUSTED)).toBe(true);
    // A queue of 4 plus 2 running slots admits at most 6 when all 50 land together.
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(ok.length).toBeLessThanOrEqual(6);
    expect(rejected.length).toBe(50 - ok.length);
    for (const r of ok) expect(r.messages.at(-1)!['finish_reason']).toBe('FINISH_REASON_LENGTH');
    // Refusals come before the first admitted request could finish (5 steps of 5 ms).
    expect(Math.max(...rejected.map((r) => r.at))).toBeLessThan(Math.min(...ok.map((r) => r.at)));
    expect((await unary(h.oip, 'ServerLive', {}))['live']).toBe(true);
    expect(engine.stats()).toEqual({ running: 0, waiting: 0, kvCacheUsage: 0 });
  });

  it('answers DEADLINE_EXCEEDED at the deadline and frees the slot; client cancellation frees it too', async () => {
    const engine = createFakeEngine({ maxBatchSize: 1, stepMs: 20 });
    h = await startHarness(baseConfig({ maxBatchSize: 1 }), { createEngine: async () => engine });
    await h.sidecar.ready;
    const { error } = await collect(generateCall(h, { prompt: 'slow', max_tokens: 100 }, { deadline: Date.now() + 400 }));
    expect(error?.code).toBe(status.DEADLINE_EXCEEDED);
    await waitFor(() => engine.stats().running === 0 && engine.stats().waiting === 0);
    const call = generateCall(h, { prompt: 'slow', max_tokens: 100 });
    await new Promise<void>((r) => call.once('data', () => r()));
    expect(engine.stats().running).toBe(1);
    const stepsAtCancel = engine.steps;
    call.on('error', () => {});
    call.cancel();
    await waitFor(() => engine.stats().running === 0);
    expect(engine.steps - stepsAtCancel).toBeLessThanOrEqual(1);
    // The freed slot serves the next request.
    const next = await collect(generateCall(h, { prompt: 'next', max_tokens: 3 }));
    expect(next.error).toBeUndefined();
    const metrics = await (await fetch(`http://${h.sidecar.metricsAddress}/metrics`)).text();
    expect(metrics).toMatch(/slmops_request_failure_total\{model_name="fake",model_version="1",code="DEADLINE_EXCEEDED"\} 1/);
    expect(metrics).toMatch(/slmops_num_requests_running\{model_name="fake",model_version="1"\} 0/);
  });

  it('drains: NOT_SERVING and UNAVAILABLE for new work while in-flight streams finish', async () => {
    const engine = createFakeEngine({ stepMs: 5 });
    h = await startHarness(baseConfig(), { createEngine: async () => engine });
    await h.sidecar.ready;
    const streams = Array.from({ length: 3 }, (_, i) => collect(generateCall(h!, { prompt: `d${i}`, max_tokens: 30 })));
    await waitFor(() => engine.stats().running === 3);
    const stopped = h.sidecar.shutdown(5000);
    expect(h.sidecar.service.state).toBe('draining');
    const refused = await collect(generateCall(h, { prompt: 'late' }));
    expect(refused.error?.code).toBe(status.UNAVAILABLE);
    const done = await Promise.all(streams);
    for (const d of done) {
      expect(d.error).toBeUndefined();
      expect(d.messages.at(-1)!['usage']).toMatchObject({ completion_tokens: 30 });
    }
    expect(await stopped).toEqual({ cancelled: 0 });
  });
});
