import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  convertLlama2cPackage, decodeModel, loadModel, prune2of4, prunePackage, pruneUnstructured, quantizePackage, quantizeRowsInt4,
  type LoadedModel,
} from '../src/index.js';
import { stories } from './fixtures.js';
import { greedy, session } from './ort.js';

const prompt = [1, 403, 407, 261, 378];
let dir: string;
let fp32: { generated: number[][]; logits: Float32Array[][] };
let loaded: LoadedModel;

beforeAll(async () => {
  dir = join(mkdtempSync(join(tmpdir(), 'slmops-quant-')), 'pkg');
  await convertLlama2cPackage({ checkpoint: join(stories, 'stories260K.bin'), tokenizer: join(stories, 'tok512.bin'), out: dir });
  loaded = await loadModel(dir);
  fp32 = await greedy(await session(loaded.variantPath('fp32')), loaded.manifest.io, [prompt], 40);
});

const agreement = (a: number[], b: number[]) => a.filter((v, i) => v === b[i]).length / a.length;

describe('quantization', () => {
  it.each([
    ['int8', 0.3],
    ['int4', 0.2],
  ] as const)('adds a %s variant under its size budget that runs in onnxruntime-node CPU', async (precision, budget) => {
    const r = quantizePackage(dir, precision);
    expect(r.ratio).toBeLessThanOrEqual(budget);
    expect(r.bytes).toBe(readFileSync(join(dir, r.file)).length);
    const m = await loadModel(dir);
    expect(m.manifest.variants.map((v) => v.precision)).toContain(precision);
    const graph = decodeModel(readFileSync(m.variantPath(precision)), { skipInitializers: true });
    const ops = new Set(graph.graph.nodes.map((n) => n.opType));
    if (precision === 'int8') expect(ops).toContain('MatMulInteger');
    else expect(ops).toContain('MatMulNBits');
    expect(ops.has('Gemm')).toBe(false);
    const q = await greedy(await session(m.variantPath(precision)), m.manifest.io, [prompt], 40);
    // The first token after the prompt has a 1.6-logit margin in fp32; a working quantized graph keeps it.
    expect(q.generated[0]![0]).toBe(fp32.generated[0]![0]);
    expect(agreement(q.generated[0]!, fp32.generated[0]!)).toBeGreaterThan(0.1);
    const last = fp32.logits[0]![4]!;
    const mine = q.logits[0]![4]!;
    const maxErr = Math.max(...last.map((v, i) => Math.abs(v - mine[i]!)));
    expect(maxErr).toBeLessThan(precision === 'int8' ? 1.5 : 3);
    expect(maxErr).toBeGreaterThan(0); // really quantized
  }, 60_000);

  it('int8 weight-only (DequantizeLinear per channel) keeps logits closer to fp32 than dynamic int8', async () => {
    const r = quantizePackage(dir, 'int8', { int8Scheme: 'weight-only' });
    const graph = decodeModel(readFileSync(join(dir, r.file)), { skipInitializers: true });
    expect(graph.metadata['slmops.int8Scheme']).toBe('weight-only');
    const ops = graph.graph.nodes.map((n) => n.opType);
    expect(ops).toContain('DequantizeLinear');
    expect(ops).not.toContain('MatMulInteger');
    expect(r.ratio).toBeLessThanOrEqual(0.3);
    const q = await greedy(await session(join(dir, r.file)), loaded.manifest.io, [prompt], 3);
    const last = fp32.logits[0]![4]!;
    const maxErr = Math.max(...last.map((v, i) => Math.abs(v - q.logits[0]![4]![i]!)));
    expect(maxErr).toBeGreaterThan(0);
    expect(maxErr).toBeLessThan(0.5);
  });

  it('packs int4 blocks as MatMulNBits expects (low nibble first, zero point per block)', () => {
    const K = 40; // two blocks, the second padded
    const row = Float32Array.from({ length: K }, (_, i) => (i - 20) / 10);
    const { packed, scales, zeroPoints, kBlocks } = quantizeRowsInt4(row, 1, K);
    expect(kBlocks).toBe(2);
    const dequant = (k: number) => {
      const b = Math.floor(k / 32);
      const byte = packed[b * 16 + Math.floor((k % 32) / 2)]!;
      const q = k % 2 === 0 ? byte & 15 : byte >> 4;
      const zp = (zeroPoints[0]! >> (4 * b)) & 15;
      return (q - zp) * scales[b]!;
    };
    for (let k = 0; k < K; k++) expect(Math.abs(dequant(k) - row[k]!)).toBeLessThanOrEqual(scales[Math.floor(k / 32)]! / 2 + 1e-6);
  });
});

describe('pruning', () => {
  it('prunes to 50% unstructured with a per-tensor report; the compressed file is smaller, the dense one is not', async () => {
    const r = prunePackage(dir, { sparsity: 0.5 });
    expect(r.file).toBe('model.pruned-50.onnx');
    expect(r.report.tensors.length).toBe(35); // 7 matrices x 5 layers
    for (const t of r.report.tensors) expect(t.sparsity).toBeCloseTo(0.5, 2);
    expect(r.gzipBytes).toBeLessThan(r.denseGzipBytes * 0.8);
    expect(r.bytes).toBeGreaterThan(r.gzipBytes);
    const m = await loadModel(dir);
    const v = m.manifest.variants.find((x) => x.file === r.file)!;
    expect(v.sparsity).toBeCloseTo(0.5, 2);
    expect(m.variantPath('fp32')).toBe(join(dir, 'model.onnx'));
    const out = await greedy(await session(join(dir, r.file)), m.manifest.io, [prompt], 5);
    expect(out.generated[0]!.length).toBe(5);
  });

  it('2:4 keeps the two largest of every 4 along the input dimension', () => {
    const K = 8, N = 2;
    const w = Float32Array.from([1, -8, 2, 7, -3, 6, 4, -5, 0.5, 1, -9, 2, 3, -4, 8, 0.1]);
    const p = prune2of4(w, K, N);
    for (let n = 0; n < N; n++) {
      for (let g = 0; g < K; g += 4) {
        const group = [0, 1, 2, 3].map((i) => p[(g + i) * N + n]!);
        expect(group.filter((v) => v === 0).length).toBe(2);
        const kept = group.filter((v) => v !== 0).map(Math.abs);
        const orig = [0, 1, 2, 3].map((i) => Math.abs(w[(g + i) * N + n]!)).sort((a, b) => b - a);
        expect(kept.sort((a, b) => b - a)).toEqual(orig.slice(0, 2));
      }
    }
    expect(Array.from(pruneUnstructured(Float32Array.from([3, -1, 2, -4]), 0.5))).toEqual([3, 0, 0, -4]);
    expect(() => prunePackage(dir, { sparsity: 0.7, structured: '2:4' })).toThrow('2:4 structured pruning has sparsity 0.5');
    const r = prunePackage(dir, { sparsity: 0.5, structured: '2:4' });
    expect(r.report.method).toBe('2:4');
    expect(r.report.overall).toBeGreaterThan(0.49);
  });
});
