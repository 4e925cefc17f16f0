import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeModel, llama2cToOnnx, parseLlama2cCheckpoint, type LoadedModel } from '@slmops/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, defaultEvalSet, evaluateVariant, type Engine } from '../src/index.js';
import { scoreLogits } from '../src/sampler.js';
import { loadStories, storiesDir } from './helpers.js';

describe('evaluation against fp32', () => {
  let stories: LoadedModel;
  let reference: Engine;
  beforeAll(async () => {
    stories = await loadStories();
    reference = await createEngine(stories);
  });
  afterAll(() => reference.close());

  it('the shipped set has prompts and texts the model can encode', () => {
    const set = defaultEvalSet();
    expect(set.prompts.length).toBeGreaterThanOrEqual(10);
    expect(set.texts.length).toBeGreaterThanOrEqual(10);
  });

  it('a variant identical to fp32 agrees fully with zero perplexity delta', async () => {
    const same = await createEngine(stories);
    const r = await evaluateVariant(reference, same, defaultEvalSet(), { maxTokens: 16 });
    await same.close();
    expect(r.greedyAgreement).toBe(1);
    expect(r.perplexityDelta).toBe(0);
    expect(r.agreementPositions).toBe(15 * 16);
    expect(r.perplexityTokens).toBeGreaterThan(200);
  });

  it('a perturbed copy of the weights loses agreement and perplexity', async () => {
    const ckpt = parseLlama2cCheckpoint(readFileSync(join(storiesDir, 'stories260K.bin')), 'stories260K.bin');
    const w1 = Float32Array.from(ckpt.weights.w1);
    // Deterministic noise of ~40% of each weight's magnitude in the first FFN matrix of every layer.
    for (let i = 0; i < w1.length; i++) w1[i]! *= 1 + 0.4 * Math.sin(i * 12.9898);
    const file = join(stories.dir, 'noisy.onnx');
    writeFileSync(file, encodeModel(llama2cToOnnx({ ...ckpt, weights: { ...ckpt.weights, w1 } })));
    const noisy = await createEngine({ ...stories, variantPath: () => file });
    const r = await evaluateVariant(reference, noisy, defaultEvalSet(), { maxTokens: 16 });
    await noisy.close();
    expect(r.greedyAgreement).toBeLessThan(1);
    expect(r.greedyAgreement).toBeGreaterThan(0.2);
    expect(r.perplexityDelta).toBeGreaterThan(0);
  }, 60_000); // converts a second model and runs two evaluations

  it('score gives -log softmax of the next id and the argmax per position', () => {
    const logits = [Float32Array.from([0, Math.log(3)]), Float32Array.from([2, 0])];
    const s = scoreLogits([0, 1, 1], (i) => logits[i]!);
    expect(s.argmax).toEqual([1, 0]);
    expect(s.nll[0]).toBeCloseTo(-Math.log(0.75), 6);
    expect(s.nll[1]).toBeCloseTo(-Math.log(1 / (1 + Math.exp(2))), 6);
  });
});
