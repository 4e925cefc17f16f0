/** A minimal greedy loop over onnxruntime-node driven by a DecoderIO (the engine package has the real one). */
import * as ort from 'onnxruntime-node';
import type { DecoderIO } from '../src/index.js';

export async function session(bytesOrPath: Uint8Array | string): Promise<ort.InferenceSession> {
  const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, graphOptimizationLevel: 'all' };
  return typeof bytesOrPath === 'string' ? ort.InferenceSession.create(bytesOrPath, opts) : ort.InferenceSession.create(bytesOrPath, opts);
}

const ints = (type: 'int64' | 'int32', vals: number[], dims: number[]) =>
  type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(vals.map(BigInt)), dims) : new ort.Tensor('int32', Int32Array.from(vals), dims);

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** The converter's IO for a (layers, kvHeads, headDim, vocab) Llama graph. */
export function llamaIo(layers: number, kvHeads: number, headDim: number, vocab: number): DecoderIO {
  return {
    inputIds: 'input_ids', attentionMask: 'attention_mask', positionIds: 'position_ids', logits: 'logits', kvLayout: 'split',
    pastNames: Array.from({ length: layers }, (_, i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]),
    presentNames: Array.from({ length: layers }, (_, i) => [`present.${i}.key`, `present.${i}.value`]),
    logitsToKeep: 'num_logits_to_keep',
    numLayers: layers, numKvHeads: kvHeads, headDim, vocabSize: vocab, idsType: 'int64', maskType: 'int64', kvType: 'float32',
  };
}

/**
 * Runs rows of (left-padded) prompts then `steps` greedy decode steps; returns per row the generated ids and
 * the logits of every position fed (prompt positions included).
 */
export async function greedy(s: ort.InferenceSession, io: DecoderIO, prompts: number[][], steps: number, opts: { prefillOneByOne?: boolean; unpadded?: boolean } = {}) {
  const B = prompts.length;
  const V = io.vocabSize;
  const maxLen = Math.max(...prompts.map((p) => p.length));
  const padded = prompts.map((p) => [...new Array(maxLen - p.length).fill(0), ...p]);
  // unpadded: every id is real (the genai golden test feeds leading 0 ids with mask 1).
  let attn = prompts.map((p) => [...new Array(maxLen - p.length).fill(opts.unpadded ? 1 : 0), ...new Array(p.length).fill(1)]);
  const emptyKv = () => {
    const dims = io.kvLayout === 'stacked' ? [2, B, io.numKvHeads, 0, io.headDim] : [B, io.numKvHeads, 0, io.headDim];
    return io.kvType === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
  };
  let past: Record<string, ort.Tensor> = {};
  for (const names of io.pastNames) for (const n of names) past[n] = emptyKv();
  const logitsPerRow: Float32Array[][] = prompts.map(() => []);
  const generated: number[][] = prompts.map(() => []);
  const nextPos = attn.map((m) => m.reduce((a, b) => a + b, 0));
  let feeds: number[][] = padded;
  let posIds = attn.map((m) => { let c = -1; return m.map((v) => (v ? ++c : 0)); });
  for (let step = 0; step <= steps; step++) {
    const len = feeds[0]!.length;
    const pieces = step === 0 && opts.prefillOneByOne ? Array.from({ length: len }, (_, i) => [i, i + 1]) : [[0, len]];
    let last: Float32Array[] = [];
    for (const [a, b] of pieces) {
      const S = b! - a!;
      const total = attn[0]!.length - len + b!;
      const input: Record<string, ort.Tensor> = { [io.inputIds]: ints(io.idsType, feeds.flatMap((r) => r.slice(a, b)), [B, S]), ...past };
      if (io.attentionMask) input[io.attentionMask] = ints(io.maskType, attn.flatMap((r) => r.slice(0, total)), [B, total]);
      if (io.positionIds) input[io.positionIds] = ints(io.idsType, posIds.flatMap((r) => r.slice(a, b)), [B, S]);
      // Every position's logits are wanted here.
      if (io.logitsToKeep) input[io.logitsToKeep] = new ort.Tensor('int64', BigInt64Array.of(BigInt(S)), []);
      const out = await s.run(input);
      const raw = out[io.logits]!.data as Float32Array | Uint16Array;
      const logits = raw instanceof Uint16Array ? Float32Array.from(raw, halfToFloat) : raw;
      past = {};
      io.pastNames.forEach((names, l) => names.forEach((n, j) => (past[n] = out[io.presentNames[l]![j]!]!)));
      for (let r = 0; r < B; r++) for (let t = 0; t < S; t++) logitsPerRow[r]!.push(logits.slice((r * S + t) * V, (r * S + t + 1) * V));
      last = Array.from({ length: B }, (_, r) => logits.slice((r * S + S - 1) * V, (r * S + S) * V));
    }
    if (step === steps) break;
    const next = last.map((row) => { let best = 0; for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i; return best; });
    next.forEach((id, r) => generated[r]!.push(id));
    feeds = next.map((id) => [id]);
    posIds = nextPos.map((p, r) => { nextPos[r] = p + 1; return [p]; });
    attn = attn.map((m) => [...m, 1]);
  }
  return { generated, logits: logitsPerRow };
}
