import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkpointBytes, decodeModel, decoderIoFromModel, encodeModel, llama2cTokenizer, llama2cToOnnx, parseLlama2cCheckpoint, parseLlama2cVocab, randomLlama2cWeights,
  writeLlama2cCheckpoint, type Llama2cConfig,
} from '../src/index.js';
import { stories } from './fixtures.js';
import { greedy, llamaIo, session } from './ort.js';
import * as ort from 'onnxruntime-node';

const ref = JSON.parse(readFileSync(join(stories, 'reference-greedy.json'), 'utf8')) as {
  runs: Array<{ prompt_tokens: number[]; tokens: number[]; top5: Array<Array<[number, number]>> }>;
};
const run = ref.runs[0]!;

describe('llama2.c -> ONNX converter on stories260K', () => {
  const ckpt = parseLlama2cCheckpoint(readFileSync(join(stories, 'stories260K.bin')), 'stories260K.bin');
  const bytes = encodeModel(llama2cToOnnx(ckpt));

  it('matches run.c: greedy ids and top-5 logits within 1e-4 at every position', async () => {
    const s = await session(bytes);
    const steps = run.tokens.length - run.prompt_tokens.length + 1;
    const { generated, logits } = await greedy(s, llamaIo(5, 4, 8, 512), [run.prompt_tokens], steps);
    expect([...run.prompt_tokens.slice(1), ...generated[0]!].slice(0, run.tokens.length)).toEqual(run.tokens);
    let worst = 0;
    run.top5.forEach((top, p) => {
      for (const [id, value] of top) worst = Math.max(worst, Math.abs(logits[0]![p]![id]! - value));
    });
    expect(worst).toBeLessThan(1e-4);
  }, 60_000);

  it('gives a left-padded batch of 4 different prompts the same tokens as 4 single runs', async () => {
    const tok = llama2cTokenizer(parseLlama2cVocab(readFileSync(join(stories, 'tok512.bin')), 'tok512.bin', 512));
    const prompts = ['Once upon a time', 'The dog', 'Lily and Tom went to the big park with', 'One day'].map((p) => tok.encode(p));
    const s = await session(bytes);
    const batch = await greedy(s, llamaIo(5, 4, 8, 512), prompts, 24);
    for (const [i, p] of prompts.entries()) {
      const single = await greedy(s, llamaIo(5, 4, 8, 512), [p], 24);
      expect(batch.generated[i]).toEqual(single.generated[0]);
      const last = (r: Float32Array[]) => r[r.length - 1]!;
      const diff = Math.max(...last(batch.logits[i]!).map((v, j) => Math.abs(v - last(single.logits[0]!)[j]!)));
      expect(diff).toBeLessThan(1e-4);
    }
    expect(new Set(batch.generated.map((g) => g.join())).size).toBe(4);
  }, 60_000);

  it('exposes each step\'s keys and values alone (kv_delta.*), equal to the tail of present', async () => {
    const io = decoderIoFromModel(decodeModel(bytes), 'stories260K.onnx');
    expect(io.deltaNames).toEqual(Array.from({ length: 5 }, (_, i) => [`kv_delta.${i}.key`, `kv_delta.${i}.value`]));
    const s = await session(bytes);
    const P = 3;
    const S = 2;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from([300n, 301n]), [1, S]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from([3n, 4n]), [1, S]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(P + S).fill(1n), [1, P + S]),
      num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(S)), []),
    };
    for (const [k, v] of io.pastNames) {
      feeds[k!] = new ort.Tensor('float32', Float32Array.from({ length: 4 * P * 8 }, (_, i) => Math.sin(i)), [1, 4, P, 8]);
      feeds[v!] = new ort.Tensor('float32', Float32Array.from({ length: 4 * P * 8 }, (_, i) => Math.cos(i)), [1, 4, P, 8]);
    }
    const out = await s.run(feeds);
    io.presentNames.flat().forEach((name, i) => {
      const present = out[name]!.data as Float32Array;
      const delta = out[io.deltaNames!.flat()[i]!]!;
      expect(delta.dims).toEqual([1, 4, S, 8]);
      for (let h = 0; h < 4; h++) expect([...(delta.data as Float32Array).subarray(h * S * 8, (h + 1) * S * 8)]).toEqual([...present.subarray((h * (P + S) + P) * 8, (h + 1) * (P + S) * 8)]);
    });
  });

  it('computes logits for the last num_logits_to_keep positions only, equal to those rows of all', async () => {
    const io = decoderIoFromModel(decodeModel(bytes), 'stories260K.onnx');
    expect(io.logitsToKeep).toBe('num_logits_to_keep');
    const s = await session(bytes);
    const ids = run.prompt_tokens.slice(0, 6);
    const S = ids.length;
    const feeds = (keep: number): Record<string, ort.Tensor> => {
      const f: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, S]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, S]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
        num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(keep)), []),
      };
      for (const n of io.pastNames.flat()) f[n] = new ort.Tensor('float32', new Float32Array(0), [1, 4, 0, 8]);
      return f;
    };
    const all = (await s.run(feeds(S)))['logits']!;
    const last = (await s.run(feeds(1)))['logits']!;
    expect(all.dims).toEqual([1, S, 512]);
    expect(last.dims).toEqual([1, 1, 512]);
    expect([...(last.data as Float32Array)]).toEqual([...(all.data as Float32Array).subarray((S - 1) * 512)]);
  });

  it('prefill token by token through the cache equals one prefill', async () => {
    const s = await session(bytes);
    const a = await greedy(s, llamaIo(5, 4, 8, 512), [run.prompt_tokens], 3);
    const b = await greedy(s, llamaIo(5, 4, 8, 512), [run.prompt_tokens], 3, { prefillOneByOne: true });
    expect(b.generated).toEqual(a.generated);
    expect(b.logits[0]!.length).toBe(a.logits[0]!.length);
  });
});

describe('llama2.c checkpoints', () => {
  const legacy = readFileSync(join(stories, 'stories260K.bin'));
  const config: Llama2cConfig = { dim: 32, hiddenDim: 48, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 40, seqLen: 16, sharedClassifier: false };

  it('reads the legacy header of stories260K', () => {
    const c = parseLlama2cCheckpoint(legacy, 'stories260K.bin');
    expect(c.format).toBe('v0');
    expect(c.config).toEqual({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true });
    expect(c.weights.wcls).toBe(c.weights.tokenEmbedding);
  });

  it('reads v1 (ak42) and unshared-classifier checkpoints to the same weights and the same logits', async () => {
    const w = randomLlama2cWeights(config, 7, 0.2);
    const v0 = parseLlama2cCheckpoint(writeLlama2cCheckpoint(config, w, 'v0'), 'r.bin');
    const v1 = parseLlama2cCheckpoint(writeLlama2cCheckpoint(config, w, 'v1'), 'r1.bin');
    expect(v1.format).toBe('v1');
    expect(v1.config).toEqual(config);
    expect(v0.config.sharedClassifier).toBe(false);
    expect(Array.from(v1.weights.wcls)).toEqual(Array.from(w.wcls));
    expect(Array.from(v0.weights.w2)).toEqual(Array.from(w.w2));
    const a = await greedy(await session(encodeModel(llama2cToOnnx(v0))), llamaIo(2, 2, 8, 40), [[1, 5, 9]], 4);
    const b = await greedy(await session(encodeModel(llama2cToOnnx(v1))), llamaIo(2, 2, 8, 40), [[1, 5, 9]], 4);
    expect(b.generated).toEqual(a.generated);
    expect(Array.from(b.logits[0]![2]!)).toEqual(Array.from(a.logits[0]![2]!));
  });

  it('rejects truncated, oversized and header-inconsistent files, naming the file and sizes', () => {
    expect(() => parseLlama2cCheckpoint(legacy.subarray(0, legacy.length - 4), 'cut.bin')).toThrow(
      /^cut\.bin: truncated: .* needs 1056540 bytes but the file has 1056536$/,
    );
    expect(() => parseLlama2cCheckpoint(Buffer.concat([legacy, Buffer.alloc(8)]), 'big.bin')).toThrow(/^big\.bin: oversized: .*needs 1056540 bytes but the file has 1056548/);
    const lying = Buffer.from(legacy);
    lying.writeInt32LE(6, 8); // n_layers 5 -> 6: the header no longer describes this file
    expect(() => parseLlama2cCheckpoint(lying, 'lying.bin')).toThrow(/^lying\.bin: truncated: .*layers 6/);
    const odd = Buffer.from(legacy);
    odd.writeInt32LE(7, 12); // n_heads 7 does not divide dim 64
    expect(() => parseLlama2cCheckpoint(odd, 'odd.bin')).toThrow('odd.bin: header dim 64 is not divisible by n_heads 7');
    expect(() => parseLlama2cCheckpoint(Buffer.from('hello'), 'tiny.bin')).toThrow(/^tiny\.bin: 5 bytes is too short/);
    expect(checkpointBytes(config, 'v1')).toBe(writeLlama2cCheckpoint(config, randomLlama2cWeights(config), 'v1').length);
  });
});
