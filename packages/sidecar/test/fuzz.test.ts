/** 5,000+ malformed and random requests over both gRPC services against the real model: proper codes only. */
import { type Client, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productionDeps } from '../src/main.js';
import { silentLogger } from '../src/log.js';
import { type Harness, baseConfig, collect, generateCall, unary } from './helpers.js';
import { type ConvertedModel, convertStories, reference } from './real-model.js';

let model: ConvertedModel;
let h: Harness;

beforeAll(async () => {
  model = await convertStories();
  h = await startReal();
});
afterAll(async () => {
  await h?.close();
  model?.cleanup();
});

const startReal = async () => {
  const { startHarness } = await import('./helpers.js');
  const harness = await startHarness(baseConfig({ model: model.dir, cacheDir: model.root, defaultMaxTokens: 4, maxBatchSize: 16, maxQueue: 32 }), productionDeps(silentLogger));
  await harness.sidecar.ready;
  return harness;
};

/** xorshift32: the fuzz corpus is the same on every run. */
function rng(seed: number) {
  let x = seed;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const str = () => pick(['', 'Once upon a time', 'a', '\u0000\uffff', 'Lily ' + 'x'.repeat(int(40)), '🙂 ünïcødé', '\ud800', bytes(int(20)).toString('latin1'), 'x'.repeat(3000)]);
  const num = () => pick([0, 1, -1, 0.5, 2, 5, 1e9, -1e9, Number.NaN, Infinity, -Infinity, 1e-9, 600, 513, 512, 3]);
  const maybe = <T>(f: () => T): T | undefined => (next() < 0.5 ? f() : undefined);
  return { next, int, pick, bytes, str, num, maybe };
}

const GENERATE_CODES = new Set([status.OK, status.INVALID_ARGUMENT, status.OUT_OF_RANGE, status.RESOURCE_EXHAUSTED]);
const OIP_CODES = new Set([status.OK, status.INVALID_ARGUMENT, status.OUT_OF_RANGE, status.NOT_FOUND, status.RESOURCE_EXHAUSTED]);
// Bytes that are not a protobuf message: gRPC's status code table answers INTERNAL ("error parsing request proto").
const GARBAGE_CODES = new Set([status.OK, status.INTERNAL, status.INVALID_ARGUMENT, status.OUT_OF_RANGE, status.NOT_FOUND, status.RESOURCE_EXHAUSTED]);

function randomGenerate(r: ReturnType<typeof rng>): Record<string, unknown> {
  const req: Record<string, unknown> = {};
  if (r.next() < 0.8) req['prompt'] = r.str();
  if (r.next() < 0.3) req['prompt_ids'] = Array.from({ length: r.int(8) }, () => r.pick([0, 1, 5, 511, 512, 100000, -3]));
  req['max_tokens'] = r.pick([0, 1, 2, 3, 5, 513, 100000, 4294967295]);
  for (const k of ['temperature', 'top_p', 'repetition_penalty']) if (r.next() < 0.4) req[k] = r.num();
  if (r.next() < 0.3) req['top_k'] = r.pick([0, 1, 5, 4294967295]);
  if (r.next() < 0.3) req['seed'] = r.pick([0, 1, 42, 2 ** 60]);
  if (r.next() < 0.3) req['stop'] = Array.from({ length: r.int(20) }, () => r.pick(['', '.', 'x'.repeat(300), 'the']));
  if (r.next() < 0.5) req['coalesce_tokens'] = true;
  return req;
}

function randomParam(r: ReturnType<typeof rng>) {
  return r.pick([{ int64_param: r.pick([0, 3, -1, 100000]) }, { double_param: r.num() }, { string_param: r.pick(['', '3', 'abc', '["."]', '[1,2]', '[']) }, { bool_param: true }, { uint64_param: 2 }, {}]);
}

function randomInfer(r: ReturnType<typeof rng>): Record<string, unknown> {
  if (r.next() < 0.3) {
    // A valid request, so the success path is fuzzed too (random prompt, batch size and parameters).
    const n = r.pick([1, 1, 2]);
    return {
      model_name: 'stories260k',
      parameters: { max_tokens: { int64_param: r.pick([1, 3]) }, ...(r.next() < 0.5 ? { temperature: { double_param: r.pick([0, 0.8]) } } : {}), ...(r.next() < 0.3 ? { stop: { string_param: '.' } } : {}) },
      inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [n], contents: { bytes_contents: Array.from({ length: n }, () => Buffer.from(r.pick(['Once upon a time', 'Lily', '', 'ü']))) } }],
    };
  }
  const req: Record<string, unknown> = { model_name: r.pick(['stories260k', 'stories260k', '', 'other']), model_version: r.pick(['', '', '1', '2']) };
  const params: Record<string, unknown> = {};
  for (const k of ['max_tokens', 'temperature', 'top_p', 'top_k', 'seed', 'stop', 'priority']) if (r.next() < 0.4) params[k] = randomParam(r);
  if (r.next() < 0.7) params['max_tokens'] = { int64_param: r.pick([1, 2, 4]) };
  req['parameters'] = params;
  const n = r.pick([0, 1, 1, 1, 2, 3]);
  const inputs = Array.from({ length: n }, () => {
    const shape = r.pick([[1], [2], [1, 1], [], [0], [-1], [100]]);
    const input: Record<string, unknown> = { name: r.pick(['text_input', 'text_input', 'prompt', '']), datatype: r.pick(['BYTES', 'BYTES', 'FP32', 'INT64', '']), shape };
    if (r.next() < 0.6) input['contents'] = r.pick([{ bytes_contents: [Buffer.from(r.str())] }, { bytes_contents: [Buffer.from('a'), Buffer.from('b')] }, { fp32_contents: [1, 2] }, { bytes_contents: [r.bytes(5)] }, {}]);
    return input;
  });
  req['inputs'] = inputs;
  if (r.next() < 0.35) {
    req['raw_input_contents'] = Array.from({ length: r.pick([0, 1, 2, n]) }, () =>
      r.pick([r.bytes(r.int(12)), Buffer.concat([Buffer.from([5, 0, 0, 0]), Buffer.from('Once ')]), Buffer.from([255, 255, 255, 255, 1]), Buffer.from([1, 0])]),
    );
  }
  if (r.next() < 0.2) req['outputs'] = [{ name: r.pick(['text_output', 'logits']) }];
  return req;
}

function rawCall(client: Client, method: string, payload: Buffer, streaming: boolean): Promise<number> {
  const id = (x: Buffer) => x;
  return new Promise((resolve) => {
    if (streaming) {
      const call = client.makeServerStreamRequest(method, id, id, payload, { deadline: Date.now() + 10_000 });
      call.on('data', () => {});
      call.on('error', (e: { code: number }) => resolve(e.code));
      call.on('end', () => resolve(status.OK));
    } else {
      client.makeUnaryRequest(method, id, id, payload, { deadline: Date.now() + 10_000 }, (e) => resolve(e ? e.code : status.OK));
    }
  });
}

describe('fuzz', () => {
  it('answers 5,000 malformed or random requests on both services with proper codes and keeps serving', async () => {
    const r = rng(0x5eed);
    const seen = new Map<string, number>();
    const count = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
    const bad: string[] = [];
    const one = async (i: number) => {
      const kind = i % 5;
      if (kind === 0 || kind === 1) {
        const req = randomGenerate(r);
        const { error } = await collect(generateCall(h, req, { deadline: Date.now() + 10_000 }));
        const code = error?.code ?? status.OK;
        count(`Generate:${status[code]}`);
        if (!GENERATE_CODES.has(code)) bad.push(`Generate ${JSON.stringify(req).slice(0, 200)} -> ${status[code]} ${error?.details}`);
        if (code === status.INVALID_ARGUMENT && !/^[a-z_]+(\[\d+\])?: /.test(error!.details)) bad.push(`no field named: ${error!.details}`);
      } else if (kind === 2) {
        const req = randomInfer(r);
        const code = await unary(h.oip, 'ModelInfer', req, { deadline: Date.now() + 10_000 }).then(
          () => status.OK,
          (e: { code: number; details: string }) => {
            if (e.code === status.INVALID_ARGUMENT && !/^[a-z_]+(\[\d+\])?(\.[a-z_]+)?(\[\d+\])?(\.[a-z_]+)?: /.test(e.details)) bad.push(`no field named: ${e.details}`);
            return e.code;
          },
        );
        count(`ModelInfer:${status[code]}`);
        if (!OIP_CODES.has(code)) bad.push(`ModelInfer ${JSON.stringify(req).slice(0, 200)} -> ${status[code]}`);
      } else if (kind === 3) {
        const [client, method, streaming] = r.pick([
          [h.inference, '/slmops.inference.v1.Inference/Generate', true],
          [h.inference, '/slmops.inference.v1.Inference/Tokenize', false],
          [h.oip, '/inference.GRPCInferenceService/ModelInfer', false],
          [h.oip, '/inference.GRPCInferenceService/ModelMetadata', false],
        ] as const);
        const code = await rawCall(client, method, r.bytes(r.int(64)), streaming);
        count(`raw:${status[code]}`);
        if (!GARBAGE_CODES.has(code)) bad.push(`raw bytes to ${method} -> ${status[code]}`);
      } else {
        const [client, method, req] = r.pick([
          [h.inference, 'Tokenize', { text: r.str() }],
          [h.inference, 'GetModelInfo', {}],
          [h.oip, 'ModelReady', { name: r.pick(['stories260k', 'x', '']), version: r.pick(['', '1', '9']) }],
          [h.oip, 'ModelMetadata', { name: r.pick(['stories260k', 'x', '']) }],
          [h.oip, 'ServerMetadata', {}],
          [h.oip, 'ServerReady', {}],
        ] as const);
        const code = await unary(client, method, req).then(
          () => status.OK,
          (e: { code: number }) => e.code,
        );
        count(`${method}:${status[code]}`);
        if (!OIP_CODES.has(code)) bad.push(`${method} ${JSON.stringify(req)} -> ${status[code]}`);
      }
    };
    const total = 5000;
    for (let i = 0; i < total; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => one(i + j)));
    expect(bad).toEqual([]);
    const sum = [...seen.values()].reduce((a, b) => a + b, 0);
    expect(sum).toBe(total);
    // The corpus exercises success and failure paths of both services.
    expect(seen.get('Generate:OK')).toBeGreaterThan(100);
    expect(seen.get('Generate:INVALID_ARGUMENT')).toBeGreaterThan(100);
    expect(seen.get('ModelInfer:OK')).toBeGreaterThan(10);
    expect(seen.get('ModelInfer:INVALID_ARGUMENT')).toBeGreaterThan(100);
    expect(seen.get('raw:INTERNAL')).toBeGreaterThan(10);
    // Still healthy and still exact.
    expect((await unary(h.health, 'Check', { service: '' }))['status']).toBe('SERVING');
    const ref = reference();
    const { messages } = await collect(generateCall(h, { prompt: ref.prompt, max_tokens: 20, temperature: 0 }));
    expect(messages.filter((m) => m['finish_reason'] === 'FINISH_REASON_UNSPECIFIED').map((m) => m['token_id'])).toEqual(ref.continuation.slice(0, 20));
    expect(h.sidecar.service.stats()).toMatchObject({ running: 0, waiting: 0 });
  }, 120_000);
});
