/** llama2.c checkpoints: legacy "v0" (what run.c reads) and export.py's "v1" (ak42). Facts: llama2c-format.md §3. */

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

/** Weights as views into the file; every matrix is (out_features, in_features) row-major, layers stacked. */
export interface Llama2cWeights {
  tokenEmbedding: Float32Array; // (vocab, dim)
  rmsAtt: Float32Array; // (L, dim)
  wq: Float32Array; // (L, dim, dim)
  wk: Float32Array; // (L, kvDim, dim)
  wv: Float32Array; // (L, kvDim, dim)
  wo: Float32Array; // (L, dim, dim)
  rmsFfn: Float32Array; // (L, dim)
  w1: Float32Array; // (L, hidden, dim)
  w2: Float32Array; // (L, dim, hidden)
  w3: Float32Array; // (L, hidden, dim)
  rmsFinal: Float32Array; // (dim)
  wcls: Float32Array; // (vocab, dim); the embedding itself when shared
}

export interface Llama2cCheckpoint {
  format: 'v0' | 'v1';
  config: Llama2cConfig;
  weights: Llama2cWeights;
}

const V1_MAGIC = 0x616b3432;
const V1_HEADER = 256;

function checkConfig(c: Llama2cConfig, file: string): void {
  for (const [k, v] of Object.entries({ dim: c.dim, hidden_dim: c.hiddenDim, n_layers: c.nLayers, n_heads: c.nHeads, n_kv_heads: c.nKvHeads, vocab_size: c.vocabSize, seq_len: c.seqLen })) {
    if (!Number.isInteger(v) || v <= 0 || v > 1 << 24) throw new Error(`${file}: header field ${k} = ${v} is not a plausible size; not a llama2.c checkpoint?`);
  }
  if (c.dim % c.nHeads !== 0) throw new Error(`${file}: header dim ${c.dim} is not divisible by n_heads ${c.nHeads}`);
  if (c.nHeads % c.nKvHeads !== 0) throw new Error(`${file}: header n_heads ${c.nHeads} is not a multiple of n_kv_heads ${c.nKvHeads}`);
  if ((c.dim / c.nHeads) % 2 !== 0) throw new Error(`${file}: head size ${c.dim / c.nHeads} is odd; RoPE needs pairs`);
}

/** Float counts of each tensor, in file order for the given format. */
function tensorSizes(c: Llama2cConfig, format: 'v0' | 'v1'): Array<[keyof Llama2cWeights | 'freq', number]> {
  const { dim, hiddenDim: h, nLayers: L, vocabSize: V, seqLen } = c;
  const headSize = dim / c.nHeads;
  const kvDim = (dim * c.nKvHeads) / c.nHeads;
  const mats: Array<[keyof Llama2cWeights, number]> = [
    ['wq', L * dim * dim], ['wk', L * kvDim * dim], ['wv', L * kvDim * dim], ['wo', L * dim * dim],
    ['w1', L * h * dim], ['w2', L * dim * h], ['w3', L * h * dim],
  ];
  const cls: Array<[keyof Llama2cWeights, number]> = c.sharedClassifier ? [] : [['wcls', V * dim]];
  if (format === 'v1') {
    return [['rmsAtt', L * dim], ['rmsFfn', L * dim], ['rmsFinal', dim], ['tokenEmbedding', V * dim], ...mats, ...cls];
  }
  return [
    ['tokenEmbedding', V * dim], ['rmsAtt', L * dim], ...mats.slice(0, 4), ['rmsFfn', L * dim], ...mats.slice(4),
    ['rmsFinal', dim], ['freq', seqLen * headSize], ...cls,
  ];
}

/** Bytes a checkpoint with this config occupies (header included). */
export function checkpointBytes(c: Llama2cConfig, format: 'v0' | 'v1'): number {
  return (format === 'v1' ? V1_HEADER : 28) + 4 * tensorSizes(c, format).reduce((a, [, n]) => a + n, 0);
}

/**
 * Reads a llama2.c checkpoint from its bytes. The size must match the header exactly: a truncated, oversized
 * or inconsistent file is an error naming `file`, the expected and the actual byte counts.
 */
export function parseLlama2cCheckpoint(bytes: Uint8Array, file: string): Llama2cCheckpoint {
  if (bytes.length < 28) throw new Error(`${file}: ${bytes.length} bytes is too short for a llama2.c header (28 bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format: 'v0' | 'v1' = dv.getUint32(0, true) === V1_MAGIC ? 'v1' : 'v0';
  let config: Llama2cConfig;
  let off: number;
  if (format === 'v1') {
    if (bytes.length < V1_HEADER) throw new Error(`${file}: truncated v1 header (${bytes.length} of ${V1_HEADER} bytes)`);
    const version = dv.getInt32(4, true);
    if (version !== 1) throw new Error(`${file}: ak42 checkpoint version ${version} is not supported (only 1)`);
    const p = Array.from({ length: 7 }, (_, i) => dv.getInt32(8 + 4 * i, true));
    config = { dim: p[0]!, hiddenDim: p[1]!, nLayers: p[2]!, nHeads: p[3]!, nKvHeads: p[4]!, vocabSize: p[5]!, seqLen: p[6]!, sharedClassifier: dv.getUint8(36) === 1 };
    off = V1_HEADER;
  } else {
    const p = Array.from({ length: 7 }, (_, i) => dv.getInt32(4 * i, true));
    config = { dim: p[0]!, hiddenDim: p[1]!, nLayers: p[2]!, nHeads: p[3]!, nKvHeads: p[4]!, vocabSize: Math.abs(p[5]!), seqLen: p[6]!, sharedClassifier: p[5]! > 0 };
    off = 28;
  }
  checkConfig(config, file);
  const expected = checkpointBytes(config, format);
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated' : 'oversized';
    throw new Error(
      `${file}: ${what}: the ${format} header (dim ${config.dim}, hidden ${config.hiddenDim}, layers ${config.nLayers}, heads ${config.nHeads}/${config.nKvHeads}, vocab ${config.vocabSize}, seq_len ${config.seqLen}, ${config.sharedClassifier ? 'shared' : 'separate'} classifier) needs ${expected} bytes but the file has ${bytes.length}`,
    );
  }
  // Tensors are Float32Array views; copy once only when the bytes are not 4-aligned in their buffer.
  const body = bytes.subarray(off);
  const floats = body.byteOffset % 4 === 0
    ? new Float32Array(body.buffer, body.byteOffset, body.length / 4)
    : new Float32Array(new Uint8Array(body).buffer);
  const w: Partial<Llama2cWeights> = {};
  let at = 0;
  for (const [name, n] of tensorSizes(config, format)) {
    if (name !== 'freq') w[name] = floats.subarray(at, at + n);
    at += n;
  }
  if (config.sharedClassifier) w.wcls = w.tokenEmbedding;
  return { format, config, weights: w as Llama2cWeights };
}

/** Writes a checkpoint (v0 with freq tables, or v1): used to make test and benchmark checkpoints of any shape. */
export function writeLlama2cCheckpoint(c: Llama2cConfig, weights: Llama2cWeights, format: 'v0' | 'v1' = 'v0'): Uint8Array {
  const out = new Uint8Array(checkpointBytes(c, format));
  const dv = new DataView(out.buffer);
  const params = [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.vocabSize, c.seqLen];
  let off: number;
  if (format === 'v1') {
    dv.setUint32(0, V1_MAGIC, true);
    dv.setInt32(4, 1, true);
    params.forEach((p, i) => dv.setInt32(8 + 4 * i, p, true));
    dv.setUint8(36, c.sharedClassifier ? 1 : 0);
    off = V1_HEADER;
  } else {
    params.forEach((p, i) => dv.setInt32(4 * i, i === 5 && !c.sharedClassifier ? -p : p, true));
    off = 28;
  }
  const floats = new Float32Array(out.buffer, off);
  const headSize = c.dim / c.nHeads;
  let at = 0;
  for (const [name, n] of tensorSizes(c, format)) {
    if (name === 'freq') {
      // freq_cis_real then freq_cis_imag, (seq_len, head_size/2) each, as export.py writes them.
      const half = headSize / 2;
      for (let pos = 0; pos < c.seqLen; pos++) {
        for (let j = 0; j < half; j++) {
          const theta = pos * Math.pow(10000, (-2 * j) / headSize);
          floats[at + pos * half + j] = Math.cos(theta);
          floats[at + (c.seqLen * half) + pos * half + j] = Math.sin(theta);
        }
      }
    } else floats.set(weights[name].subarray(0, n), at);
    at += n;
  }
  return out;
}

/** Deterministic pseudo-random weights (N(0, std) via a seeded LCG + Box-Muller) for a config. */
export function randomLlama2cWeights(c: Llama2cConfig, seed = 1, std = 0.02): Llama2cWeights {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 1) / 4294967297;
  };
  const normal = (n: number, scale = std) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(uniform()));
      const t = 2 * Math.PI * uniform();
      a[i] = r * Math.cos(t) * scale;
      if (i + 1 < n) a[i + 1] = r * Math.sin(t) * scale;
    }
    return a;
  };
  const ones = (n: number) => new Float32Array(n).fill(1);
  const { dim, hiddenDim: h, nLayers: L, vocabSize: V } = c;
  const kvDim = (dim * c.nKvHeads) / c.nHeads;
  const emb = normal(V * dim);
  return {
    tokenEmbedding: emb, rmsAtt: ones(L * dim), wq: normal(L * dim * dim), wk: normal(L * kvDim * dim), wv: normal(L * kvDim * dim),
    wo: normal(L * dim * dim), rmsFfn: ones(L * dim), w1: normal(L * h * dim), w2: normal(L * dim * h), w3: normal(L * h * dim),
    rmsFinal: ones(dim), wcls: c.sharedClassifier ? emb : normal(V * dim),
  };
}
