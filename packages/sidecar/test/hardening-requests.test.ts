/**
 * Issue 17, the request path: no single request may freeze the sidecar (item 1), leave work running after its
 * refusal or lose its status (item 9); requestLogging Metadata logs sizes and codes, never text (item 12).
 */
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine, GenerateRequest } from '../src/inference/engine-port.js';
import type { LoadedModel, Tokenizer } from '@slmops/model';
import { silentLogger } from '../src/log.js';
import { productionDeps } from '../src/main.js';
import { createFakeEngine } from './fake-engine.js';
import { convertStories } from './real-model.js';
import { type Harness, baseConfig, collect, generateCall, startHarness, unary } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const post = (harness: Harness, path: string, body: unknown) =>
  fetch(`http://${harness.sidecar.metricsAddress}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

const oipInput = (prompts: string[]) => ({ name: 'text_input', datatype: 'BYTES', shape: [prompts.length], contents: { bytes_contents: prompts.map((p) => Buffer.from(p)) } });

/**
 * A fake engine whose tokenizer is instrumented: every call is counted and logged in `order`, and a long text
 * handed to tokenizeAsync (the off-thread path) waits until `release()`, as a busy worker would.
 */
function instrumentedEngine(opts: Parameters<typeof createFakeEngine>[0] = {}) {
  const fake = createFakeEngine(opts);
  const order: string[] = [];
  const calls = { sync: 0, async: 0 };
  let entered!: () => void;
  let released!: () => void;
  const tokenizerEntered = new Promise<void>((r) => (entered = r));
  const gate = new Promise<void>((r) => (released = r));
  const engine = {
    ...fake,
    // What a sidecar that tokenizes on its own thread calls.
    tokenize(text: string) {
      calls.sync++;
      entered();
      const ids = fake.tokenize(text);
      order.push('tokenized');
      return ids;
    },
    async tokenizeAsync(text: string) {
      calls.async++;
      entered();
      if (text.length > 1024) await gate;
      const ids = fake.tokenize(text);
      order.push('tokenized');
      return ids;
    },
  };
  return { engine: engine as Engine, fake, order, calls, tokenizerEntered, release: () => released() };
}

describe('hardening item 1: one request cannot freeze the sidecar', () => {
  for (const path of ['Generate', 'Tokenize'] as const) {
    it(`hardening item 1: /healthz and gRPC health answer while a 256 KiB tokenization (${path}) is in flight`, async () => {
      const t = instrumentedEngine({ contextLength: 1_000_000 });
      h = await startHarness(baseConfig(), { createEngine: async () => t.engine });
      await h.sidecar.ready;
      const prompt = 'Once upon a time there was a tiny robot. '.repeat(8000).slice(0, 256 * 1024);
      const answered =
        path === 'Generate' ? collect(generateCall(h, { prompt, max_tokens: 2 })).then((r) => r.error ?? r.messages.length) : unary(h.inference, 'Tokenize', { text: prompt }).then((r) => (r['token_ids'] as number[]).length);
      await t.tokenizerEntered;
      const probe = await fetch(`http://${h.sidecar.metricsAddress}/healthz`);
      expect(probe.status).toBe(200);
      t.order.push('healthz');
      expect((await unary(h.health, 'Check', { service: '' }))['status']).toBe('SERVING');
      t.order.push('grpc health');
      t.release();
      const result = await answered;
      expect(result).toBe(path === 'Generate' ? 3 : 256 * 1024 + 1);
      // Both probes were answered while the prompt was still being tokenized.
      expect(t.order).toEqual(['healthz', 'grpc health', 'tokenized']);
      expect(t.calls.sync).toBe(0);
    });
  }

  it('hardening item 1: an over-limit prompt is refused naming --max-prompt-bytes on every path, before any tokenization', async () => {
    const t = instrumentedEngine({ contextLength: 4096 });
    h = await startHarness(baseConfig({ maxPromptBytes: 1000 }), { createEngine: async () => t.engine });
    await h.sidecar.ready;
    // 501 characters, 1002 UTF-8 bytes: the limit counts bytes.
    const long = 'é'.repeat(501);
    const gen = await collect(generateCall(h, { prompt: long }));
    expect(gen.error?.code).toBe(status.INVALID_ARGUMENT);
    expect(gen.error?.details).toMatch(/^prompt: 1002 bytes .*1000 bytes \(--max-prompt-bytes\)/);
    const tok = await unary(h.inference, 'Tokenize', { text: long }).catch((e: ServiceError) => e);
    expect(tok).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^text: .*--max-prompt-bytes/) });
    const oip = await unary(h.oip, 'ModelInfer', { model_name: 'fake', inputs: [oipInput(['short', long])] }).catch((e: ServiceError) => e);
    expect(oip).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^inputs\[0\]\.contents\[1\]: .*--max-prompt-bytes/) });
    const completion = await post(h, '/v1/completions', { prompt: long });
    expect(completion.status).toBe(400);
    expect(((await completion.json()) as { error: { param: string; message: string } }).error).toMatchObject({ param: 'prompt', message: expect.stringContaining('--max-prompt-bytes') });
    // Each message is under the limit, their sum is not.
    const chat = await post(h, '/v1/chat/completions', { messages: [{ role: 'user', content: 'a'.repeat(600) }, { role: 'user', content: [{ type: 'text', text: 'b'.repeat(600) }] }] });
    expect(chat.status).toBe(400);
    expect(((await chat.json()) as { error: { param: string; message: string } }).error).toMatchObject({ param: 'messages', message: expect.stringContaining('--max-prompt-bytes') });
    expect(t.calls).toEqual({ sync: 0, async: 0 });
    // At the limit exactly, the prompt is served.
    const ok = await collect(generateCall(h, { prompt: 'é'.repeat(500), max_tokens: 1 }));
    expect(ok.error).toBeUndefined();
  });

  it('hardening item 1: oversized packed prompt_ids are refused by their length before any id is checked', async () => {
    h = await startHarness(baseConfig(), { createEngine: async () => createFakeEngine({ contextLength: 128 }) });
    await h.sidecar.ready;
    // 500k ids, every one out of the vocabulary: the length bound answers first.
    const { error } = await collect(generateCall(h, { prompt_ids: new Array(500_000).fill(999) }));
    expect(error?.code).toBe(status.OUT_OF_RANGE);
    expect(error?.details).toBe('prompt_ids: 500000 token ids do not fit the context of 128 tokens');
  });
});

describe('hardening item 1 with stories260K and the threaded engine', () => {
  it('hardening item 1: a 256 KiB Tokenize is encoded on the engine worker, never by the main thread, with the same ids', async () => {
    const converted = await convertStories();
    try {
      const deps = productionDeps(silentLogger);
      /** Lengths of the texts the main thread's tokenizer encoded. */
      const onMain: number[] = [];
      let direct: Tokenizer | undefined;
      h = await startHarness(baseConfig({ model: converted.dir, cacheDir: converted.root }), {
        ...deps,
        loadModel: async (path, opts) => {
          const model = (await deps.loadModel(path, opts)) as LoadedModel;
          direct = model.tokenizer;
          const spy = Object.create(model.tokenizer) as Tokenizer;
          spy.encode = (text: string) => {
            onMain.push(text.length);
            return model.tokenizer.encode(text);
          };
          return { ...model, tokenizer: spy };
        },
      });
      await h.sidecar.ready;
      const text = 'Once upon a time there was a tiny robot. '.repeat(8000).slice(0, 256 * 1024);
      const res = await unary(h.inference, 'Tokenize', { text });
      expect(res['token_ids']).toEqual(direct!.encode(text));
      expect(onMain).not.toContain(text.length);
      const gen = await collect(generateCall(h, { prompt: text.slice(0, 1100), max_tokens: 2 }));
      expect(gen.error).toBeUndefined();
      expect(onMain).not.toContain(1100);
    } finally {
      await h?.close();
      h = undefined;
      converted.cleanup();
    }
  });
});

/** A fake engine that counts generate() calls; `lyingStats` makes it look idle so the service's pre-check passes. */
function countingEngine(opts: Parameters<typeof createFakeEngine>[0], lyingStats = false) {
  const fake = createFakeEngine(opts);
  const seen: GenerateRequest[] = [];
  const engine: Engine = {
    ...fake,
    stats: lyingStats ? () => ({ running: 0, waiting: 0, kvCacheUsage: 0 }) : fake.stats,
    generate(req, signal) {
      seen.push(req);
      return fake.generate(req, signal);
    },
  };
  return { engine, fake, seen };
}

describe('hardening item 9: no partial work after a refusal; echoed fields are bounded', () => {
  it('hardening item 9: a ModelInfer whose prompts cannot all be admitted is refused before any of them starts', async () => {
    const c = countingEngine({ maxBatchSize: 2, maxQueue: 2, stepMs: 20 });
    h = await startHarness(baseConfig({ maxBatchSize: 2, maxQueue: 2 }), { createEngine: async () => c.engine });
    await h.sidecar.ready;
    const prompts = Array.from({ length: 8 }, (_, i) => `prompt ${i}`);
    const refused = await unary(h.oip, 'ModelInfer', { model_name: 'fake', inputs: [oipInput(prompts)], parameters: { max_tokens: { int64_param: 50 } } }).catch((e: ServiceError) => e);
    expect(refused).toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    expect(c.seen).toHaveLength(0);
    expect(c.fake.stats()).toMatchObject({ running: 0, waiting: 0 });
    // Two fit the queue: they run.
    const ok = (await unary(h.oip, 'ModelInfer', { model_name: 'fake', inputs: [oipInput(prompts.slice(0, 2))], parameters: { max_tokens: { int64_param: 3 } } })) as { outputs: { contents: { bytes_contents: Buffer[] } }[] };
    expect(ok.outputs[0]!.contents.bytes_contents).toHaveLength(2);
  });

  it('hardening item 9: when the engine refuses one prompt anyway, the admitted ones are cancelled before the status is sent', async () => {
    // The engine's stats say it is idle, so the request passes the pre-check; the engine's queue of 2 refuses the rest.
    const c = countingEngine({ maxBatchSize: 2, maxQueue: 2, stepMs: 20 }, true);
    h = await startHarness(baseConfig({ maxBatchSize: 2, maxQueue: 64 }), { createEngine: async () => c.engine });
    await h.sidecar.ready;
    const prompts = Array.from({ length: 8 }, (_, i) => `prompt ${i}`);
    const refused = await unary(h.oip, 'ModelInfer', { model_name: 'fake', inputs: [oipInput(prompts)], parameters: { max_tokens: { int64_param: 50 } } }).catch((e: ServiceError) => e);
    expect(refused).toMatchObject({ code: status.RESOURCE_EXHAUSTED });
    expect(c.seen.length).toBeGreaterThan(0);
    // When the client holds the status, the engine runs nothing for this request.
    expect(c.fake.stats()).toMatchObject({ running: 0, waiting: 0 });
    expect(h.sidecar.service.inflight).toBe(0);
  });

  it('hardening item 9: echoed fields longer than 256 characters are refused INVALID_ARGUMENT naming the field', async () => {
    h = await startHarness(baseConfig(), { createEngine: async () => createFakeEngine() });
    await h.sidecar.ready;
    const huge = 'm'.repeat(100_000);
    const deadline = () => ({ deadline: Date.now() + 10_000 });
    const base = { model_name: 'fake', inputs: [oipInput(['hi'])] };
    const cases: [string, unknown, string][] = [
      ['ModelInfer', { ...base, model_name: huge }, 'model_name'],
      ['ModelInfer', { ...base, model_version: huge }, 'model_version'],
      ['ModelInfer', { ...base, id: huge }, 'id'],
      ['ModelInfer', { ...base, inputs: [{ ...oipInput(['hi']), name: huge }] }, 'inputs[0].name'],
      ['ModelInfer', { ...base, outputs: [{ name: huge }] }, 'outputs[0].name'],
      ['ModelMetadata', { name: huge }, 'name'],
      ['ModelReady', { name: 'fake', version: huge }, 'version'],
    ];
    for (const [method, req, field] of cases) {
      const e = (await unary(h.oip, method, req, deadline()).catch((err: ServiceError) => err)) as ServiceError;
      expect(e.code, field).toBe(status.INVALID_ARGUMENT);
      expect(e.details).toBe(`${field}: longer than 256 characters`);
      expect(e.metadata.get('slmops-field')).toEqual([field]);
    }
    const res = await post(h, '/v1/completions', { model: huge, prompt: 'hi' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('model');
    // At the bound, a name is still echoed in full.
    const e = (await unary(h.oip, 'ModelInfer', { ...base, model_name: 'x'.repeat(256) }).catch((err: ServiceError) => err)) as ServiceError;
    expect(e.code).toBe(status.NOT_FOUND);
    expect(e.details).toContain('x'.repeat(256));
  });
});

describe('hardening item 12: request logging', () => {
  it('hardening item 12: requestLogging Metadata logs sizes and codes, never text', async () => {
    h = await startHarness(baseConfig({ requestLogging: 'metadata' }), { createEngine: async () => createFakeEngine({ stepMs: 1 }) });
    await h.sidecar.ready;
    const marker = 'QUOKKA-7f3a9c-CANARY';
    const gen = await collect(generateCall(h, { prompt: `${marker} once`, max_tokens: 12, temperature: 0 }));
    expect(gen.error).toBeUndefined();
    const completionText = gen.messages.map((m) => m['text']).join('');
    expect(completionText.length).toBe(12);
    await unary(h.inference, 'Tokenize', { text: marker });
    await unary(h.oip, 'ModelInfer', { model_name: 'fake', id: 'req-42', inputs: [oipInput([marker, `${marker}!`])], parameters: { max_tokens: { int64_param: 3 } } });
    const completion = (await (await post(h, '/v1/completions', { prompt: marker, max_tokens: 4 })).json()) as { id: string };
    expect((await post(h, '/v1/chat/completions', { messages: [{ role: 'user', content: marker }], temperature: 'hot' })).status).toBe(400);
    await collect(generateCall(h, { prompt: marker, top_p: 7 }));

    const logs = h.logs();
    expect(logs).not.toContain(marker);
    expect(logs).not.toContain(completionText);
    const records = logs
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['msg'] === 'request');
    const by = (method: string) => records.filter((r) => r['method'] === method);
    expect(records).toHaveLength(7);
    const [ok, refused] = by('Generate');
    expect(ok).toMatchObject({
      protocol: 'grpc',
      status: 'OK',
      finishReason: 'length',
      promptBytes: Buffer.byteLength(`${marker} once`),
      promptTokens: Buffer.byteLength(`${marker} once`) + 1,
      generatedTokens: 12,
      requestId: expect.any(String),
    });
    expect(ok!['ttftMs']).toBeGreaterThanOrEqual(0);
    expect(ok!['durationMs']).toBeGreaterThanOrEqual(ok!['ttftMs'] as number);
    expect(refused).toMatchObject({ status: 'INVALID_ARGUMENT', generatedTokens: 0, promptBytes: marker.length });
    expect(by('Tokenize')).toEqual([expect.objectContaining({ status: 'OK', promptBytes: marker.length, promptTokens: marker.length + 1 })]);
    expect(by('ModelInfer').map((r) => [r['protocol'], r['status'], r['promptBytes'], r['generatedTokens']])).toEqual([
      ['oip', 'OK', marker.length, 3],
      ['oip', 'OK', marker.length + 1, 3],
    ]);
    expect(by('completions')).toEqual([expect.objectContaining({ protocol: 'openai', requestId: completion.id, status: 'OK', generatedTokens: 4 })]);
    expect(by('chat.completions')).toEqual([expect.objectContaining({ status: 'INVALID_ARGUMENT' })]);
    // Nothing but scalars: no field can carry text or token ids.
    const allowed = new Set(['time', 'level', 'msg', 'component', 'requestId', 'protocol', 'method', 'status', 'finishReason', 'promptBytes', 'promptTokens', 'generatedTokens', 'ttftMs', 'durationMs']);
    for (const r of records) for (const [k, v] of Object.entries(r)) {
      expect(allowed.has(k), k).toBe(true);
      expect(typeof v === 'string' || typeof v === 'number').toBe(true);
    }
  });

  it('hardening item 12: without the flag no request is logged', async () => {
    h = await startHarness(baseConfig(), { createEngine: async () => createFakeEngine() });
    await h.sidecar.ready;
    await collect(generateCall(h, { prompt: 'hello', max_tokens: 2 }));
    expect(h.logs()).not.toMatch(/"msg":"request"/);
  });
});
