/**
 * Magnitude pruning of a float model's MatMul weights (embeddings and the classifier are left dense):
 * unstructured (the smallest |w| of each tensor up to the target sparsity) or 2:4 structured (in every group of 4
 * consecutive weights along the input dimension, the 2 smallest are zeroed, the pattern sparse tensor cores use).
 * Zeros are stored densely: the file only gets smaller once compressed, and a CPU runs it no faster.
 */
import { gzipSync } from 'node:zlib';
import { DataType, type ModelProto, type TensorProto } from '../onnx/proto.js';

export interface PruneOptions {
  /** Target fraction of zeros per tensor, 0 <= s < 1 (2:4 implies 0.5). */
  sparsity: number;
  structured?: '2:4';
}

export interface TensorSparsity { name: string; elements: number; zeros: number; sparsity: number }

export interface PruneReport {
  method: 'unstructured' | '2:4';
  target: number;
  tensors: TensorSparsity[];
  /** Zeros over all pruned tensors / their elements. */
  overall: number;
}

const countZeros = (a: Float32Array) => a.reduce((n, v) => (v === 0 ? n + 1 : n), 0);

/** Zeroes the `sparsity` fraction of smallest-magnitude entries (ties broken by position). */
export function pruneUnstructured(w: Float32Array, sparsity: number): Float32Array {
  const out = Float32Array.from(w);
  const k = Math.floor(sparsity * w.length);
  if (k === 0) return out;
  // Threshold from a numeric typed-array sort; entries equal to it are zeroed first-come until k are gone.
  const threshold = w.map(Math.abs).sort()[k - 1]!;
  let left = k;
  for (let i = 0; i < w.length && left > 0; i++) if (Math.abs(w[i]!) < threshold) { out[i] = 0; left--; }
  for (let i = 0; i < w.length && left > 0; i++) if (Math.abs(w[i]!) === threshold && out[i] !== 0) { out[i] = 0; left--; }
  return out;
}

/** 2:4 along the rows of a [K, N] MatMul weight: groups are 4 consecutive k for each output column n. */
export function prune2of4(w: Float32Array, K: number, N: number): Float32Array {
  const out = Float32Array.from(w);
  for (let n = 0; n < N; n++) {
    for (let k0 = 0; k0 + 4 <= K; k0 += 4) {
      const idx = [0, 1, 2, 3].map((i) => (k0 + i) * N + n).sort((a, b) => Math.abs(w[a]!) - Math.abs(w[b]!) || a - b);
      out[idx[0]!] = 0;
      out[idx[1]!] = 0;
    }
  }
  return out;
}

/** Returns the pruned model (a new object) and the per-tensor sparsity report. */
export function pruneModel(model: ModelProto, opts: PruneOptions): { model: ModelProto; report: PruneReport } {
  if (!(opts.sparsity >= 0 && opts.sparsity < 1)) throw new Error(`sparsity must be in [0, 1), got ${opts.sparsity}`);
  if (opts.structured && opts.sparsity !== 0.5) throw new Error(`2:4 structured pruning has sparsity 0.5, got --sparsity ${opts.sparsity}`);
  const weights = new Set(model.graph.nodes.filter((n) => n.opType === 'MatMul' && n.domain === '').map((n) => n.inputs[1]!));
  const tensors: TensorSparsity[] = [];
  const initializers = model.graph.initializers.map((t): TensorProto => {
    if (!weights.has(t.name) || t.dataType !== DataType.FLOAT || t.dims.length !== 2) return t;
    const w = new Float32Array(new Uint8Array(t.rawData).buffer);
    const [K, N] = t.dims as [number, number];
    const pruned = opts.structured ? prune2of4(w, K, N) : pruneUnstructured(w, opts.sparsity);
    const zeros = countZeros(pruned);
    tensors.push({ name: t.name, elements: pruned.length, zeros, sparsity: zeros / pruned.length });
    return { ...t, rawData: new Uint8Array(pruned.buffer) };
  });
  if (tensors.length === 0) throw new Error('no MatMul weight initializers to prune (is this a float model?)');
  const elements = tensors.reduce((a, t) => a + t.elements, 0);
  const zeros = tensors.reduce((a, t) => a + t.zeros, 0);
  return {
    model: { ...model, metadata: { ...model.metadata, 'slmops.pruning': opts.structured ?? `unstructured-${opts.sparsity}` }, graph: { ...model.graph, initializers } },
    report: { method: opts.structured ?? 'unstructured', target: opts.sparsity, tensors, overall: zeros / elements },
  };
}

/** gzip size (level 6) of a file's bytes: what pruning saves in transfer and storage. */
export const gzipBytes = (b: Uint8Array): number => gzipSync(b, { level: 6 }).length;
