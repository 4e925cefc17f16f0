/** Acceptance over loopback with the real stories260K model, engine and onnxruntime. */
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productionDeps } from '../src/main.js';
import { type Harness, baseConfig, collect, generateCall, reflectionServices, startHarness, unary } from './helpers.js';
import { type ConvertedModel, convertStories, reference } from './real-model.js';
import { encodeRawBytes } from '../src/grpc/oip-mapping.js';
import { silentLogger } from '../src/log.js';
import { remoteGenerationSource } from '../src/client.js';
import { EngineError, type GenerationEvent } from '@slmops/engine';

let model: ConvertedModel;
let h: Harness;
const ref = reference();

beforeAll(async () => {
  model = await convertStories();
  h = await startHarness(baseConfig({ model: model.dir, maxBatchSize: 32, maxQueue: 64, cacheDir: model.root }), productionDeps(silentLogger));
  await h.sidecar.ready;
});
afterAll(async () => {
  await h?.close();
  model?.cleanup();
});

const greedy = async (prompt: string, maxTokens: number) => {
  const { messages, error } = await collect(generateCall(h, { prompt, max_tokens: maxTokens, temperature: 0 }));
  if (error) throw error;
  return { ids: messages.filter((m) => m['finish_reason'] === 'FINISH_REASON_UNSPECIFIED').map((m) => m['token_id'] as number), text: messages.map((m) => m['text']).join(''), last: messages.at(-1)! };
};

describe('sidecar with stories260K', () => {
  it('lists the three services over reflection and serves', async () => {
    expect(await reflectionServices(`127.0.0.1:${h.sidecar.grpcPort}`)).toEqual(
      expect.arrayContaining(['slmops.inference.v1.Inference', 'inference.GRPCInferenceService', 'grpc.health.v1.Health']),
    );
    expect((await unary(h.health, 'Check', { service: '' }))['status']).toBe('SERVING');
    const info = await unary(h.inference, 'GetModelInfo', {});
    expect(info).toMatchObject({ name: 'stories260k', version: '1', execution_provider: 'cpu', context_length: 512, vocab_size: 512, fallbacks: [] });
    expect(info['digest']).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('streams the llama2.c reference continuation with temperature 0', async () => {
    const n = 50;
    const r = await greedy(ref.prompt, n);
    expect(r.ids).toEqual(ref.continuation.slice(0, n));
    expect(r.text.startsWith(', there was a little girl named Lily.')).toBe(true);
    expect(r.last['usage']).toEqual({ prompt_tokens: ref.promptTokens.length, completion_tokens: n, total_tokens: ref.promptTokens.length + n });
    expect(r.last['finish_reason']).toBe('FINISH_REASON_LENGTH');
    const tok = await unary(h.inference, 'Tokenize', { text: ref.prompt });
    expect(tok['token_ids']).toEqual(ref.promptTokens);
    // The same continuation with several tokens per message.
    const coalesced = await collect(generateCall(h, { prompt: ref.prompt, max_tokens: n, temperature: 0, coalesce_tokens: true }));
    expect(coalesced.error).toBeUndefined();
    expect(coalesced.messages.flatMap((m) => m['token_ids'] as number[])).toEqual(ref.continuation.slice(0, n));
    expect(coalesced.messages.map((m) => m['text']).join('')).toBe(r.text);
    expect(coalesced.messages.at(-1)).toMatchObject({ finish_reason: 'FINISH_REASON_LENGTH', usage: r.last['usage'] });
  });

  it('OIP ModelInfer with text_input and max_tokens 50 returns the same text, typed and raw', async () => {
    const expected = (await greedy(ref.prompt, 50)).text;
    const typed = await unary(h.oip, 'ModelInfer', {
      model_name: 'stories260k',
      id: 'r1',
      parameters: { max_tokens: { int64_param: 50 }, temperature: { double_param: 0 } },
      inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from(ref.prompt)] } }],
    });
    const out = (typed['outputs'] as { name: string; datatype: string; shape: number[]; contents: { bytes_contents: Buffer[] } }[])[0]!;
    expect(out).toMatchObject({ name: 'text_output', datatype: 'BYTES', shape: [1] });
    expect(out.contents.bytes_contents[0]!.toString('utf8')).toBe(expected);
    expect(typed['id']).toBe('r1');
    const raw = await unary(h.oip, 'ModelInfer', {
      model_name: 'stories260k',
      parameters: { max_tokens: { int64_param: 50 }, temperature: { double_param: 0 } },
      inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1] }],
      raw_input_contents: [encodeRawBytes([Buffer.from(ref.prompt)])],
    });
    const rawOut = (raw['raw_output_contents'] as Buffer[])[0]!;
    expect(rawOut.readUInt32LE(0)).toBe(Buffer.byteLength(expected));
    expect(rawOut.subarray(4).toString('utf8')).toBe(expected);
    const meta = await unary(h.oip, 'ModelMetadata', { name: 'stories260k' });
    expect(meta).toMatchObject({ name: 'stories260k', versions: ['1'], inputs: [{ name: 'text_input', datatype: 'BYTES' }], outputs: [{ name: 'text_output', datatype: 'BYTES' }] });
    expect((await unary(h.oip, 'ModelReady', { name: 'stories260k' }))['ready']).toBe(true);
    await expect(unary(h.oip, 'ModelReady', { name: 'other' })).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it('32 concurrent greedy streams of different prompts finish with the same tokens as alone', async () => {
    const prompts = Array.from({ length: 32 }, (_, i) => ['Once upon a time', 'Lily saw a', 'The dog', 'Tom and Sue', 'One day'][i % 5]! + ' '.repeat(Math.floor(i / 5)) + (i >= 5 ? ['big', 'red', 'sun', 'cat', 'ball', 'tree', 'bird'][i % 7]! : ''));
    const alone: number[][] = [];
    for (const p of prompts) alone.push((await greedy(p, 24)).ids);
    const together = await Promise.all(prompts.map((p) => greedy(p, 24)));
    together.forEach((r, i) => expect(r.ids, prompts[i]).toEqual(alone[i]));
    expect(new Set(alone.map((a) => a.join(','))).size).toBeGreaterThan(5);
  }, 60_000);

  it('offers the engine generate() shape over gRPC for `slmops generate --server`', async () => {
    const source = remoteGenerationSource(`127.0.0.1:${h.sidecar.grpcPort}`);
    try {
      const ids: number[] = [];
      let done: GenerationEvent | undefined;
      for await (const ev of source.generate({ prompt: ref.prompt, maxTokens: 20, temperature: 0 })) {
        if (ev.type === 'token') ids.push(ev.id);
        else done = ev;
      }
      expect(ids).toEqual(ref.continuation.slice(0, 20));
      expect(done).toMatchObject({ type: 'done', finishReason: 'length', promptTokens: 5, completionTokens: 20 });
      const err = await (async () => {
        for await (const _ of source.generate({ prompt: 'x', maxTokens: 9999 })) void _;
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineError);
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'maxTokens' });
      expect((err as Error).message).toMatch(/^maxTokens: must be at most the context length 512/);
    } finally {
      await source.close();
    }
  });

  it('answers OUT_OF_RANGE for a prompt past the 512-token context', async () => {
    const { error } = await collect(generateCall(h, { prompt: 'Once upon a time '.repeat(200), max_tokens: 4 }));
    expect(error?.code).toBe(status.OUT_OF_RANGE);
    expect(error?.details).toMatch(/^prompt: \d+ tokens do not fit the context of 512 tokens/);
  });
});
