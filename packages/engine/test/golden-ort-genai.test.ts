import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import { collect, loadGpt2, loadQwen, recordingSessions, tokenIds } from './helpers.js';

describe('onnxruntime-genai fixtures reproduce their golden greedy outputs', () => {
  let gpt2: Engine;
  let qwen: Engine;
  // The real onnxruntime session, recording the batch size of every run so the test can see batching happen.
  const batchSizes: number[] = [];
  const prefillBatches: number[] = [];
  const recording = recordingSessions((feeds) => {
    const [b, seq] = feeds['input_ids']!.dims as [number, number];
    batchSizes.push(b);
    if (seq > 1) prefillBatches.push(b);
  });
  beforeAll(async () => {
    gpt2 = await createEngine(await loadGpt2(), { maxBatchSize: 4, session: recording });
    qwen = await createEngine(await loadQwen(), { maxBatchSize: 4, session: recording });
  });
  afterAll(async () => {
    await gpt2.close();
    await qwen.close();
  });

  it('gpt2 (legacy stacked past_N, int32 ids): each row alone', async () => {
    const a = await collect(gpt2.generate({ promptIds: [0, 0, 0, 52], maxTokens: 6, temperature: 0 }));
    const b = await collect(gpt2.generate({ promptIds: [0, 0, 195, 731], maxTokens: 6, temperature: 0 }));
    expect(tokenIds(a)).toEqual([204, 204, 204, 204, 204, 204]);
    expect(tokenIds(b)).toEqual([731, 114, 114, 114, 114, 114]);
    expect(a.at(-1)).toMatchObject({ type: 'done', finishReason: 'length', promptTokens: 4, completionTokens: 6 });
    expect(gpt2.executionProvider).toBe('cpu');
    expect(gpt2.precision).toBe('fp32');
    expect(qwen.precision).toBe('fp16');
  });

  it('gpt2: both rows in one batch give the same tokens', async () => {
    const [a, b] = await Promise.all([
      collect(gpt2.generate({ promptIds: [0, 0, 0, 52], maxTokens: 6, temperature: 0 })),
      collect(gpt2.generate({ promptIds: [0, 0, 195, 731], maxTokens: 6, temperature: 0 })),
    ]);
    expect(tokenIds(a!)).toEqual([204, 204, 204, 204, 204, 204]);
    expect(tokenIds(b!)).toEqual([731, 114, 114, 114, 114, 114]);
  });

  it('gpt2: " of the" greedy gives 322 eight times (README)', async () => {
    expect(tokenIds(await collect(gpt2.generate({ promptIds: [286, 262], maxTokens: 8, temperature: 0 })))).toEqual(Array(8).fill(322));
  });

  it('qwen GQA (split names, fp16 KV and logits, int64 mask, no position_ids)', async () => {
    const ev = await collect(qwen.generate({ promptIds: [1, 17, 42, 99], maxTokens: 8, temperature: 0 }));
    expect(tokenIds(ev)).toEqual([932, 484, 114, 281, 403, 874, 550, 15]);
  });

  it('a batch of 4 different prompts (padded) gives the same tokens as 4 single runs, on both KV layouts', async () => {
    const prompts = [[262, 257, 318, 287], [64, 275], [290, 286, 284, 287, 5, 9, 11], [286, 262]];
    for (const engine of [gpt2, qwen]) {
      const solo: number[][] = [];
      for (const p of prompts) solo.push(tokenIds(await collect(engine.generate({ promptIds: p, maxTokens: 12, temperature: 0 }))));
      batchSizes.length = 0;
      prefillBatches.length = 0;
      const batched = await Promise.all(prompts.map((p) => collect(engine.generate({ promptIds: p, maxTokens: 12, temperature: 0 }))));
      expect(batched.map(tokenIds)).toEqual(solo);
      expect(Math.max(...batchSizes)).toBe(4);
      // gpt2 takes position_ids, so the four prompts are prefilled in one left-padded pass; qwen's GQA derives
      // positions from the mask and prefills one at a time.
      expect(prefillBatches).toEqual(engine === gpt2 ? [4] : [1, 1, 1, 1]);
      expect(new Set(solo.map((s) => s.join())).size).toBeGreaterThan(1);
    }
  });
});
