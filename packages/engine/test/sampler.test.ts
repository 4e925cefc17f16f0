import { describe, expect, it } from 'vitest';
import { halfToFloat, halfsToFloat32 } from '../src/fp16.js';
import { Rng, Sampler, argmax, applyRepetitionPenalty } from '../src/sampler.js';
import { topIndices } from '../src/sampler.js';
import { StopMatcher } from '../src/stop.js';

const params = { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed: 7 };
const logits = Float32Array.from([1, 3, 2, 3, -1, 0.5, 2.9, 0]);

describe('sampler', () => {
  it('greedy takes the first maximum, like llama2.c', () => {
    expect(argmax(logits)).toBe(1);
    expect(new Sampler({ ...params, temperature: 0 }).sample(logits, [])).toBe(1);
  });

  it('same seed, same stream; another seed, another stream', () => {
    const draw = (seed: number) => {
      const s = new Sampler({ ...params, seed });
      return Array.from({ length: 40 }, () => s.sample(logits, []));
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    const r = new Rng(0);
    const xs = Array.from({ length: 1000 }, () => r.nextFloat());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(xs.reduce((a, b) => a + b) / xs.length).toBeGreaterThan(0.45);
  });

  it('samples in proportion to softmax(logits / temperature)', () => {
    const two = Float32Array.from([0, Math.log(3)]);
    const s = new Sampler({ ...params, seed: 1 });
    let ones = 0;
    for (let i = 0; i < 4000; i++) ones += s.sample(two, []);
    expect(ones / 4000).toBeGreaterThan(0.72);
    expect(ones / 4000).toBeLessThan(0.78);
  });

  it('top-k keeps only the k best ids', () => {
    const s = new Sampler({ ...params, topK: 2, temperature: 5 });
    const seen = new Set(Array.from({ length: 500 }, () => s.sample(logits, [])));
    expect([...seen].sort()).toEqual([1, 3]);
    expect(topIndices(logits, 3)).toEqual([1, 3, 6]);
  });

  it('top-p keeps the smallest set reaching p', () => {
    // probs ~ [0.665, 0.245, 0.09]: p=0.6 keeps one id, p=0.8 keeps two.
    const l = Float32Array.from([2, 1, 0]);
    const only = new Sampler({ ...params, topP: 0.6 });
    expect(new Set(Array.from({ length: 300 }, () => only.sample(l, [])))).toEqual(new Set([0]));
    const two = new Sampler({ ...params, topP: 0.8 });
    expect(new Set(Array.from({ length: 300 }, () => two.sample(l, [])))).toEqual(new Set([0, 1]));
  });

  it('repetition penalty divides positive and multiplies negative logits of ids already seen', () => {
    const out = applyRepetitionPenalty(Float32Array.from([2, -2, 1]), [0, 1, 0], 2);
    expect(Array.from(out)).toEqual([1, -4, 1]);
    expect(new Sampler({ ...params, temperature: 0, repetitionPenalty: 2 }).sample(Float32Array.from([3, 2]), [0])).toBe(1);
  });
});

describe('stop strings', () => {
  it('holds back a possible prefix and cuts before the stop string', () => {
    const m = new StopMatcher(['The end']);
    expect(m.push('Once. The')).toEqual({ text: 'Once. ', stopped: false });
    expect(m.push(' e')).toEqual({ text: '', stopped: false });
    expect(m.push('nd!')).toEqual({ text: '', stopped: true });
    const n = new StopMatcher(['The end']);
    expect(n.push('It was. The end')).toEqual({ text: 'It was. ', stopped: true });
  });

  it('releases held text when the prefix does not continue', () => {
    const m = new StopMatcher(['\n\n']);
    expect(m.push('a\n')).toEqual({ text: 'a', stopped: false });
    expect(m.push('b')).toEqual({ text: '\nb', stopped: false });
    expect(m.push('\n')).toEqual({ text: '', stopped: false });
    expect(m.flush()).toBe('\n');
  });

  it('earliest of several stop strings wins', () => {
    expect(new StopMatcher(['c', 'ab']).push('xabc')).toEqual({ text: 'x', stopped: true });
  });
});

describe('float16', () => {
  it('decodes half bit patterns (normal, subnormal, signed, infinite) and widens arrays', () => {
    const cases: Array<[number, number]> = [[0x0000, 0], [0x3c00, 1], [0xc000, -2], [0x3800, 0.5], [0x7bff, 65504], [0x0400, 6.103515625e-5], [0x0001, 5.960464477539063e-8], [0x3555, 0.333251953125]];
    for (const [bits, value] of cases) expect(halfToFloat(bits)).toBe(value);
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(Array.from(halfsToFloat32(Uint16Array.from([0x3c00, 0xc000, 0x3800]), 1, 2))).toEqual([-2, 0.5]);
  });
});
