import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineError} from '../src/index.js';
import { createEngine, type Engine, type GenerationEvent, type SessionPortFactory } from '../src/index.js';
import { collect, idTokenizer, loadGpt2, rejection, tokenIds, withOverrides } from './helpers.js';

/** The GPT-2 fixture (eos 98) with `<id>` token text; `eos` replaces its EOS id, `llamaBos` makes it stop on BOS. */
const gpt2 = async (o: { contextLength?: number; eos?: number; llamaBos?: number } = {}) =>
  withOverrides(await loadGpt2(), {
    ...(o.contextLength ? { contextLength: o.contextLength } : {}),
    tokenizer: idTokenizer(1000, { bos: o.llamaBos ?? 98, eos: o.eos ?? 98 }, o.llamaBos !== undefined ? 'llama2c' : 'hf'),
  });
const greedy = { maxTokens: 6, temperature: 0 };

describe('engine: requests, stop rules and errors', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine(await gpt2({ contextLength: 16 }), { maxBatchSize: 4, maxQueue: 4 });
  });
  afterAll(() => engine.close());

  it('names the field of every bad argument', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ maxTokens: 4 }, 'prompt'],
      [{ prompt: '1', promptIds: [1], maxTokens: 4 }, 'prompt'],
      [{ promptIds: [1], maxTokens: 0 }, 'maxTokens'],
      [{ promptIds: [1], maxTokens: 4, temperature: -1 }, 'temperature'],
      [{ promptIds: [1], maxTokens: 4, temperature: Number.NaN }, 'temperature'],
      [{ promptIds: [1], maxTokens: 4, topK: 1.5 }, 'topK'],
      [{ promptIds: [1], maxTokens: 4, topP: 0 }, 'topP'],
      [{ promptIds: [1], maxTokens: 4, topP: 1.2 }, 'topP'],
      [{ promptIds: [1], maxTokens: 4, repetitionPenalty: 0 }, 'repetitionPenalty'],
      [{ promptIds: [1], maxTokens: 4, seed: -3 }, 'seed'],
      [{ promptIds: [1], maxTokens: 4, stop: [''] }, 'stop'],
      [{ promptIds: [], maxTokens: 4 }, 'promptIds'],
      [{ promptIds: [1000], maxTokens: 4 }, 'promptIds'],
    ];
    for (const [req, field] of cases) {
      const e = await rejection(collect(engine.generate(req as never)));
      expect(e.code, JSON.stringify(req)).toBe('INVALID_ARGUMENT');
      expect(e.field).toBe(field);
      expect(e.message).toContain(field);
    }
  });

  it('a prompt that fills the context is OUT_OF_RANGE; generation stops at the context with "context"', async () => {
    const e = await rejection(collect(engine.generate({ promptIds: Array(16).fill(5), maxTokens: 1 })));
    expect(e.code).toBe('OUT_OF_RANGE');
    expect(e.message).toContain('16 tokens');
    const ev = await collect(engine.generate({ promptIds: Array(12).fill(5), maxTokens: 50, temperature: 0 }));
    expect(tokenIds(ev)).toHaveLength(4);
    expect(ev.at(-1)).toMatchObject({ type: 'done', finishReason: 'context', promptTokens: 12, completionTokens: 4 });
  });

  it('streams token events with index, text and timing, then done with usage and timings', async () => {
    const ev = await collect(engine.generate({ promptIds: [0, 0, 0, 52], ...greedy }));
    const tokens = ev.filter((e) => e.type === 'token');
    expect(tokens.map((t) => t.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(tokens.map((t) => t.text).join('')).toBe('<204>'.repeat(6));
    expect(tokens.every((t, i) => i === 0 || t.timeMs >= tokens[i - 1]!.timeMs)).toBe(true);
    expect(tokens[0]!.logits).toBeUndefined();
    const done = ev.at(-1) as Extract<GenerationEvent, { type: 'done' }>;
    expect(done.timings.totalMs).toBeGreaterThanOrEqual(done.timings.ttftMs);
    expect(done.timings.ttftMs).toBeGreaterThan(0);
    expect(done.timings.prefillMs).toBeGreaterThan(0);
    expect(done.timings.decodeMs).toBeGreaterThan(0);
  });

  it('returns the logits of each position when asked; the token is their argmax', async () => {
    const ev = await collect(engine.generate({ promptIds: [0, 0, 195, 731], ...greedy, returnLogits: true }));
    for (const t of ev.filter((e) => e.type === 'token')) {
      expect(t.logits).toHaveLength(1000);
      expect(t.logits!.indexOf(Math.max(...t.logits!))).toBe(t.id);
    }
  });

  it('stop strings end generation before the stop text', async () => {
    const ev = await collect(engine.generate({ promptIds: [0, 0, 0, 52], ...greedy, stop: ['4><2'] }));
    expect(tokenIds(ev)).toEqual([204, 204]);
    expect(ev.map((e) => (e.type === 'token' ? e.text : '')).join('')).toBe('<20');
    expect(ev.at(-1)).toMatchObject({ finishReason: 'stop', completionTokens: 2 });
  });

  it('same seed, same sampled tokens; another seed, other tokens', async () => {
    const run = async (seed: number) => tokenIds(await collect(engine.generate({ promptIds: [64, 275], maxTokens: 10, temperature: 1.5, seed })));
    const a = await run(11);
    expect(await run(11)).toEqual(a);
    expect(await run(12)).not.toEqual(a);
  });
});

describe('engine: stop ids', () => {
  it('stops on EOS, and on BOS for llama2.c models, without emitting it', async () => {
    const eos = await createEngine(await gpt2({ eos: 114 }));
    const a = await collect(eos.generate({ promptIds: [0, 0, 195, 731], ...greedy }));
    expect(tokenIds(a)).toEqual([731]);
    expect(a.at(-1)).toMatchObject({ finishReason: 'eos', completionTokens: 1 });
    await eos.close();
    const llama = await createEngine(await gpt2({ llamaBos: 204, eos: 2 }));
    const b = await collect(llama.generate({ promptIds: [0, 0, 0, 52], ...greedy }));
    expect(tokenIds(b)).toEqual([]);
    expect(b.at(-1)).toMatchObject({ finishReason: 'eos', completionTokens: 0 });
    await llama.close();
  });
});

describe('engine: scheduling', () => {
  it('sequences join and leave running batches and still match their solo runs', async () => {
    const engine = await createEngine(await gpt2(), { maxBatchSize: 3 });
    const prompts = [[262, 257, 318, 287], [64, 275, 269, 288], [290, 286], [286, 262, 7]];
    const lengths = [30, 5, 12, 9];
    const solo: number[][] = [];
    for (const [i, p] of prompts.entries()) solo.push(tokenIds(await collect(engine.generate({ promptIds: p, maxTokens: lengths[i]!, temperature: 0 }))));
    const late: Array<Promise<GenerationEvent[]>> = [];
    const first: GenerationEvent[] = [];
    for await (const e of engine.generate({ promptIds: prompts[0]!, maxTokens: 30, temperature: 0 })) {
      first.push(e);
      // Three more arrive while the first decodes; the batch holds 3, so one waits for a slot.
      if (e.type === 'token' && e.index === 4) for (const i of [1, 2, 3]) late.push(collect(engine.generate({ promptIds: prompts[i]!, maxTokens: lengths[i]!, temperature: 0 })));
    }
    expect([first, ...(await Promise.all(late))].map(tokenIds)).toEqual(solo);
    await engine.close();
  });

  it('a full queue refuses at once with RESOURCE_EXHAUSTED; accepted requests complete', async () => {
    const engine = await createEngine(await gpt2(), { maxBatchSize: 1, maxQueue: 2 });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => collect(engine.generate({ promptIds: [64, 275], maxTokens: 20, temperature: 0 }))));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(3);
    for (const r of refused) expect((r.reason as EngineError).code).toBe('RESOURCE_EXHAUSTED');
    for (const r of results.filter((x) => x.status === 'fulfilled')) expect(tokenIds(r.value)).toHaveLength(20);
    expect(engine.stats()).toEqual({ running: 0, waiting: 0, kvCacheUsage: 0, kvPoolBytes: 0 });
    await engine.close();
  });

  it('cancellation frees the slot within one step; a waiting request then runs', async () => {
    const engine = await createEngine(await gpt2(), { maxBatchSize: 1, maxQueue: 4 });
    const ctrl = new AbortController();
    const a: GenerationEvent[] = [];
    let waiting: Promise<GenerationEvent[]> | undefined;
    let abortedAt = -1;
    for await (const e of engine.generate({ promptIds: [64, 275], maxTokens: 400, temperature: 0 }, ctrl.signal)) {
      a.push(e);
      if (e.type === 'token' && e.index === 0) waiting = collect(engine.generate({ promptIds: [290, 286], maxTokens: 5, temperature: 0 }));
      if (e.type === 'token' && e.index === 3) {
        expect(engine.stats()).toMatchObject({ running: 1, waiting: 1 });
        expect(engine.stats().kvCacheUsage).toBeGreaterThan(0);
        ctrl.abort();
        abortedAt = a.length;
      }
    }
    expect(a.at(-1)).toMatchObject({ type: 'done', finishReason: 'cancelled' });
    expect(a.length - abortedAt).toBeLessThanOrEqual(2);
    expect(tokenIds(await waiting!)).toHaveLength(5);
    await engine.close();
  });

  it('a consumer that stops iterating frees its slot; a deadline answers DEADLINE_EXCEEDED', async () => {
    const engine = await createEngine(await gpt2(), { maxBatchSize: 2 });
    for await (const e of engine.generate({ promptIds: [64, 275], maxTokens: 400, temperature: 0 })) if (e.type === 'token') break;
    await new Promise((r) => setTimeout(r, 50));
    expect(engine.stats().running).toBe(0);
    const ctrl = new AbortController();
    const it = engine.generate({ promptIds: [64, 275], maxTokens: 400, temperature: 0 }, ctrl.signal)[Symbol.asyncIterator]();
    await it.next();
    ctrl.abort(new DOMException('deadline', 'TimeoutError'));
    const e = await rejection((async () => { for (;;) if ((await it.next()).done) return; })());
    expect(e.code).toBe('DEADLINE_EXCEEDED');
    await engine.close();
  });

  it('a session failure fails the request with INTERNAL and the engine keeps serving', async () => {
    let fail = true;
    const real = (await import('../src/session.js')).createOrtSession;
    const flaky: SessionPortFactory = async (path, opts) => {
      const s = await real(path, opts);
      return { ...s, inputs: s.inputs, outputs: s.outputs, run: (f) => (fail ? Promise.reject(new Error('device lost')) : s.run(f)) };
    };
    const engine = await createEngine(await gpt2(), { session: flaky });
    const e = await rejection(collect(engine.generate({ promptIds: [64], ...greedy })));
    expect(e.code).toBe('INTERNAL');
    expect(e.message).toContain('device lost');
    fail = false;
    expect(tokenIds(await collect(engine.generate({ promptIds: [0, 0, 0, 52], ...greedy })))).toEqual(Array(6).fill(204));
    await engine.close();
    await expect(collect(engine.generate({ promptIds: [64], ...greedy }))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });

  it('a failure in one sequence (its text decoder) fails only that request', async () => {
    const base = await gpt2();
    const tokenizer = { ...base.tokenizer, createStreamDecoder: () => ({ push: (id: number) => { if (id === 114) throw new Error('bad piece'); return `<${id}>`; }, flush: () => '' }) };
    const engine = await createEngine({ ...base, tokenizer }, { maxBatchSize: 2 });
    const [bad, good] = await Promise.allSettled([
      collect(engine.generate({ promptIds: [0, 0, 195, 731], ...greedy })),
      collect(engine.generate({ promptIds: [0, 0, 0, 52], ...greedy })),
    ]);
    expect(bad.status === 'rejected' && (bad.reason as EngineError).code).toBe('INTERNAL');
    expect(bad.status === 'rejected' && (bad.reason as Error).message).toContain('bad piece');
    expect(good.status === 'fulfilled' && tokenIds(good.value)).toEqual(Array(6).fill(204));
    await engine.close();
  });

  it('refuses a graph whose IO differs from the package\'s decoder IO, naming the file and the names', async () => {
    const notDecoder: SessionPortFactory = async () => ({
      inputs: [{ name: 'x', type: 'float32', shape: [1] }],
      outputs: [{ name: 'y', type: 'float32', shape: [1] }],
      executionProvider: 'cpu',
      run: async () => ({}),
      release: async () => undefined,
    });
    await expect(createEngine(await gpt2(), { session: notDecoder })).rejects.toThrow(/past\.onnx: the graph lacks input_ids, attention_mask, position_ids, past_0, .*present_4 named/);
  });
});
