/**
 * llama2.c checkpoint -> ONNX Llama decoder with KV cache and Optimum / onnxruntime-genai IO names.
 * The graph reproduces run.c's forward pass: RMSNorm (eps 1e-5), interleaved-pair RoPE read from a cos/sin table
 * at position_ids, grouped-query attention (q head h uses kv head h / (n_heads / n_kv_heads)), SwiGLU FFN.
 * attention_mask gives the padding; together with the cache index it gives the causal mask, so left-padded
 * batches compute the same values per row as single sequences.
 */
import { float, GraphBuilder } from '../onnx/builder.js';
import { DataType, type ModelProto } from '../onnx/proto.js';
import { NUM_LOGITS_TO_KEEP, kvDeltaNames } from '../package/io.js';
import type { Llama2cCheckpoint, Llama2cConfig } from './checkpoint.js';

const { FLOAT, INT64, BOOL } = DataType;

/** Transposes a (rows, cols) row-major matrix to (cols, rows): llama2.c's (out,in) to MatMul's (in,out). */
export function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) t[c * rows + r] = m[base + c]!;
  }
  return t;
}

/** RoPE frequency of each pair j of a head, in float32 as run.c computes it: 1 / powf(10000, 2j / head_size). */
export function ropeFrequencies(headSize: number): Float32Array {
  const f = Math.fround;
  return Float32Array.from({ length: headSize / 2 }, (_, j) => f(1 / f(Math.pow(10000, f(f(2 * j) / headSize)))));
}

/** Names of the graph's IO, as issue 3 and the Optimum exporter spell them. */
export const llamaIoNames = (nLayers: number) => ({
  past: Array.from({ length: nLayers }, (_, i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]),
  present: Array.from({ length: nLayers }, (_, i) => [`present.${i}.key`, `present.${i}.value`]),
  /** This step's keys and values alone (present minus past), so a runtime can keep the cache itself. */
  delta: kvDeltaNames(nLayers),
});

/** Builds the fp32 ONNX decoder for a checkpoint. */
export function llama2cToOnnx(ckpt: Llama2cCheckpoint, opts: { name?: string; onLayer?: (done: number, total: number) => void } = {}): ModelProto {
  const c: Llama2cConfig = ckpt.config;
  const w = ckpt.weights;
  const { dim: D, hiddenDim: Hd, nLayers: L, nHeads: H, nKvHeads: KV, vocabSize: V } = c;
  const hs = D / H;
  const kvDim = KV * hs;
  const G = H / KV;
  const g = new GraphBuilder(opts.name ?? 'llama2c');
  const names = llamaIoNames(L);

  const ids = g.input('input_ids', INT64, ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', INT64, ['batch_size', 'total_sequence_length']);
  const pos = g.input('position_ids', INT64, ['batch_size', 'sequence_length']);
  const keep = g.input(NUM_LOGITS_TO_KEEP, INT64, []);
  const past = names.past.map(([k, v]) => [
    g.input(k!, FLOAT, ['batch_size', KV, 'past_sequence_length', hs]),
    g.input(v!, FLOAT, ['batch_size', KV, 'past_sequence_length', hs]),
  ]);

  const emb = g.initializer('model.embed_tokens.weight', FLOAT, [V, D], w.tokenEmbedding);
  let x = g.op1('Gather', [emb, ids], { axis: 0 });

  // RoPE angles pos * freq[j] computed in the graph (float32, as run.c), shaped [B,S,1,hs/2,1] to broadcast over
  // heads and the pair axis. Computing them keeps (seq_len x head_size) tables out of every variant's file.
  const theta = g.op1('Mul', [g.op1('Unsqueeze', [g.op1('Cast', [pos], { to: FLOAT }), g.i64([-1])]), g.f32(Array.from(ropeFrequencies(hs)))]);
  const angles = g.op1('Unsqueeze', [theta, g.i64([2, 4])]);
  const cos = g.op1('Cos', [angles]);
  const sin = g.op1('Sin', [angles]);

  // Mask bias [B,1,1,S,T]: key t is visible to query s iff t <= P + s (cache index) and attention_mask[b,t] = 1.
  const scalarDim = (t: string, axis: number) => g.op1('Squeeze', [g.op1('Slice', [g.op1('Shape', [t]), g.i64([axis]), g.i64([axis + 1])]), g.i64([0])]);
  const S = scalarDim(ids, 1);
  const T = scalarDim(mask, 1);
  const P = g.op1('Sub', [T, S]);
  const one = g.i64([1], []);
  const rows = g.op1('Range', [P, T, one]);
  const cols = g.op1('Range', [g.i64([0], []), T, one]);
  const causal = g.op1('LessOrEqual', [g.op1('Unsqueeze', [cols, g.i64([0])]), g.op1('Unsqueeze', [rows, g.i64([1])])]);
  const pad = g.op1('Unsqueeze', [g.op1('Cast', [mask], { to: BOOL }), g.i64([1, 2, 3])]);
  const allowed = g.op1('And', [causal, pad]);
  // A finite floor (not -inf) keeps fully masked rows (pad queries) finite; exp() of it is exactly 0.
  const bias = g.op1('Where', [allowed, g.f32([0], []), g.f32([-1e9], [])]);

  // Pow -> ReduceMean -> Add -> Sqrt -> Div -> Mul is the pattern ONNX Runtime fuses into SimplifiedLayerNormalization.
  const rmsnorm = (t: string, weight: string) => {
    const ms = g.op1('ReduceMean', [g.op1('Pow', [t, g.f32([2], [])])], { axes: [-1], keepdims: 1 });
    const norm = g.op1('Div', [t, g.op1('Sqrt', [g.op1('Add', [ms, g.f32([1e-5], [])])])]);
    return g.op1('Mul', [norm, weight]);
  };
  const linear = (t: string, name: string, m: Float32Array, out: number, inp: number) =>
    g.op1('MatMul', [t, g.initializer(name, FLOAT, [inp, out], transpose(m, out, inp))]);
  /** Rotates pairs (0,1),(2,3)… of each head: [B,S,heads*hs] -> [B,heads,S,hs]. */
  const rope = (t: string, heads: number) => {
    const pairs = g.op1('Reshape', [t, g.i64([0, 0, heads, hs / 2, 2])]);
    const [a, b] = g.op('Split', [pairs], { axis: -1 }, { outputs: 2 }) as [string, string];
    const ra = g.op1('Sub', [g.op1('Mul', [a, cos]), g.op1('Mul', [b, sin])]);
    const rb = g.op1('Add', [g.op1('Mul', [a, sin]), g.op1('Mul', [b, cos])]);
    const rotated = g.op1('Reshape', [g.op1('Concat', [ra, rb], { axis: -1 }), g.i64([0, 0, heads, hs])]);
    return g.op1('Transpose', [rotated], { perm: [0, 2, 1, 3] });
  };
  const slice = (a: Float32Array, l: number, n: number) => a.subarray(l * n, (l + 1) * n);

  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const h = rmsnorm(x, g.initializer(`${p}.input_layernorm.weight`, FLOAT, [D], slice(w.rmsAtt, l, D)));
    const q = rope(linear(h, `${p}.self_attn.q_proj.weight`, slice(w.wq, l, D * D), D, D), H);
    const k = rope(linear(h, `${p}.self_attn.k_proj.weight`, slice(w.wk, l, kvDim * D), kvDim, D), KV);
    const vRaw = linear(h, `${p}.self_attn.v_proj.weight`, slice(w.wv, l, kvDim * D), kvDim, D);
    const v = g.op1('Transpose', [g.op1('Reshape', [vRaw, g.i64([0, 0, KV, hs])])], { perm: [0, 2, 1, 3] });
    const presentK = g.op1('Concat', [past[l]![0]!, k], { axis: 2 }, { output: names.present[l]![0] });
    const presentV = g.op1('Concat', [past[l]![1]!, v], { axis: 2 }, { output: names.present[l]![1] });
    g.op1('Identity', [k], {}, { output: names.delta[l]![0] });
    g.op1('Identity', [v], {}, { output: names.delta[l]![1] });
    // GQA without copying K/V: queries grouped as [B,KV,G,S,hs] against keys [B,KV,1,T,hs].
    const q5 = g.op1('Reshape', [q, g.i64([0, KV, G, -1, hs])]);
    const kT = g.op1('Transpose', [g.op1('Unsqueeze', [presentK, g.i64([2])])], { perm: [0, 1, 2, 4, 3] });
    const scores = g.op1('Add', [g.op1('Mul', [g.op1('MatMul', [q5, kT]), g.f32([1 / Math.sqrt(hs)], [])]), bias]);
    const probs = g.op1('Softmax', [scores], { axis: -1 });
    const o5 = g.op1('MatMul', [probs, g.op1('Unsqueeze', [presentV, g.i64([2])])]);
    const o = g.op1('Reshape', [g.op1('Transpose', [g.op1('Reshape', [o5, g.i64([0, H, -1, hs])])], { perm: [0, 2, 1, 3] }), g.i64([0, 0, D])]);
    x = g.op1('Add', [x, linear(o, `${p}.self_attn.o_proj.weight`, slice(w.wo, l, D * D), D, D)]);
    const h2 = rmsnorm(x, g.initializer(`${p}.post_attention_layernorm.weight`, FLOAT, [D], slice(w.rmsFfn, l, D)));
    const gate = linear(h2, `${p}.mlp.gate_proj.weight`, slice(w.w1, l, Hd * D), Hd, D);
    const up = linear(h2, `${p}.mlp.up_proj.weight`, slice(w.w3, l, Hd * D), Hd, D);
    const act = g.op1('Mul', [g.op1('Mul', [gate, g.op1('Sigmoid', [gate])]), up]);
    x = g.op1('Add', [x, linear(act, `${p}.mlp.down_proj.weight`, slice(w.w2, l, D * Hd), D, Hd)]);
    opts.onLayer?.(l + 1, L);
  }
  // Logits of the last num_logits_to_keep positions only: a prefill needs one row per sequence, and at a 32000-token
  // vocabulary the classifier is most of a position's work.
  const final = rmsnorm(x, g.initializer('model.norm.weight', FLOAT, [D], w.rmsFinal));
  const kept = g.op1('Slice', [final, g.op1('Neg', [g.op1('Unsqueeze', [keep, g.i64([0])])]), g.i64([Number.MAX_SAFE_INTEGER]), g.i64([1])]);
  if (c.sharedClassifier) {
    // The tied classifier reads the embedding table itself (Gemm transB), so the file stores it once.
    const flat = g.op1('Reshape', [kept, g.i64([-1, D])]);
    const logits2d = g.op1('Gemm', [flat, emb], { transB: 1, alpha: float(1) });
    const outShape = g.op1('Concat', [g.op1('Slice', [g.op1('Shape', [kept]), g.i64([0]), g.i64([2])]), g.i64([V])], { axis: 0 });
    g.op1('Reshape', [logits2d, outShape], {}, { output: 'logits' });
  } else {
    g.op1('MatMul', [kept, g.initializer('lm_head.weight', FLOAT, [D, V], transpose(w.wcls, V, D))], {}, { output: 'logits' });
  }
  g.output('logits', FLOAT, ['batch_size', 'num_logits', V]);
  names.present.forEach(([k, v]) => {
    g.output(k!, FLOAT, ['batch_size', KV, 'total_sequence_length', hs]);
    g.output(v!, FLOAT, ['batch_size', KV, 'total_sequence_length', hs]);
  });
  names.delta.forEach(([k, v]) => {
    g.output(k!, FLOAT, ['batch_size', KV, 'sequence_length', hs]);
    g.output(v!, FLOAT, ['batch_size', KV, 'sequence_length', hs]);
  });
  return g.build({
    opsets: { '': 17 },
    doc: 'Llama decoder converted from a llama2.c checkpoint by slmops',
    metadata: { 'slmops.architecture': 'llama', 'slmops.config': JSON.stringify(c) },
  });
}
