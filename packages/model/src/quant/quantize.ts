/**
 * Weight quantization by graph rewriting, for graphs whose weights are MatMul / Gemm / Gather initializers:
 * - int8: symmetric per-output-channel int8 weights; MatMul becomes DynamicQuantizeLinear + MatMulInteger + scale
 *   (the pattern ONNX Runtime fuses into DynamicQuantizeMatMul); embedding rows are dequantized after Gather.
 * - int4: com.microsoft MatMulNBits (4 bits, block 32, per-block scale and zero point); the embedding is gathered
 *   from the same packed table and unpacked in the graph, so a tied embedding/classifier is stored once.
 */
import { DataType, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.js';

export type QuantPrecision = 'int8' | 'int4';
export const INT4_BLOCK = 32;

const f32 = (t: TensorProto): Float32Array => {
  const copy = new Uint8Array(t.rawData);
  return new Float32Array(copy.buffer, 0, copy.length / 4);
};
const tensorOf = (name: string, dataType: number, dims: number[], data: Uint8Array | Float32Array | Int8Array | Int32Array | BigInt64Array): TensorProto => ({
  name, dataType, dims, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
});
const attrInt = (n: NodeProto, name: string, dflt: number) => {
  const a = n.attributes.find((x) => x.name === name);
  return a?.value.type === 'int' ? a.value.i : dflt;
};

/** Symmetric int8 quantization of `rows` rows of length `cols` (row-major): one scale per row. */
export function quantizeRowsInt8(m: Float32Array, rows: number, cols: number): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(rows * cols);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(m[r * cols + c]!));
    const s = max > 0 ? max / 127 : 1;
    scales[r] = s;
    for (let c = 0; c < cols; c++) q[r * cols + c] = Math.max(-127, Math.min(127, Math.round(m[r * cols + c]! / s)));
  }
  return { q, scales };
}

/**
 * MatMulNBits layout for a matrix given as N rows of K values (row-major): B uint8 [N, kBlocks, 16] (element 2i
 * in the low nibble), scales float [N*kBlocks], zero points uint8 [N*ceil(kBlocks/2)] (block 2j in the low nibble).
 */
export function quantizeRowsInt4(m: Float32Array, N: number, K: number): { packed: Uint8Array; scales: Float32Array; zeroPoints: Uint8Array; kBlocks: number } {
  const kBlocks = Math.ceil(K / INT4_BLOCK);
  const blob = INT4_BLOCK / 2;
  const zpBytes = Math.ceil(kBlocks / 2);
  const packed = new Uint8Array(N * kBlocks * blob);
  const scales = new Float32Array(N * kBlocks);
  const zeroPoints = new Uint8Array(N * zpBytes);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = b * INT4_BLOCK;
      const end = Math.min(K, start + INT4_BLOCK);
      let min = 0;
      let max = 0; // the range always includes 0, so zero weights stay exact
      for (let k = start; k < end; k++) {
        const v = m[n * K + k]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const scale = max > min ? (max - min) / 15 : 1;
      const zp = Math.max(0, Math.min(15, Math.round(-min / scale)));
      scales[n * kBlocks + b] = scale;
      zeroPoints[n * zpBytes + (b >> 1)]! |= zp << ((b & 1) * 4);
      for (let i = 0; i < INT4_BLOCK; i++) {
        const k = start + i;
        const q = k < end ? Math.max(0, Math.min(15, Math.round(m[n * K + k]! / scale) + zp)) : zp;
        packed[(n * kBlocks + b) * blob + (i >> 1)]! |= q << ((i & 1) * 4);
      }
    }
  }
  return { packed, scales, zeroPoints, kBlocks };
}

/** Transposes a [rows, cols] float matrix. */
function transposeF(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c]!;
  return t;
}

export interface QuantizeOptions {
  /** int8 only: 'dynamic' (default) quantizes activations per call and multiplies in integers (faster on CPU);
   *  'weight-only' dequantizes the int8 weights (DequantizeLinear, per channel) and multiplies in float (closer
   *  to fp32, no faster). Both store the same int8 weights. */
  int8Scheme?: 'dynamic' | 'weight-only';
}

/** Rewrites a float model's weights to int8 or int4; returns a new model (the input is not changed). */
export function quantizeModel(model: ModelProto, precision: QuantPrecision, opts: QuantizeOptions = {}): ModelProto {
  const weightOnly = opts.int8Scheme === 'weight-only';
  const g: GraphProto = model.graph;
  const init = new Map(g.initializers.map((t) => [t.name, t]));
  const isFloatMatrix = (name: string | undefined) => {
    const t = name === undefined ? undefined : init.get(name);
    return t !== undefined && t.dataType === DataType.FLOAT && t.dims.length === 2;
  };
  const nodes: NodeProto[] = [];
  const newInits: TensorProto[] = [];
  const replaced = new Set<string>();
  let counter = 0;
  const fresh = (p: string) => `${p}_q${counter++}`;
  const add = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, number | number[]> = {}, domain = '') => {
    nodes.push({
      name: '', opType, domain, inputs, outputs,
      attributes: Object.entries(attrs).map(([name, v]) => ({ name, value: typeof v === 'number' ? { type: 'int' as const, i: v } : { type: 'ints' as const, ints: v } })),
    });
    return outputs[0]!;
  };
  const i64 = (vals: number[], dims = [vals.length]) => {
    const name = fresh('const');
    newInits.push(tensorOf(name, DataType.INT64, dims, BigInt64Array.from(vals.map(BigInt))));
    return name;
  };
  // Tensors whose rank is known from the graph inputs (Gather indices are usually input_ids).
  const rankOf = (name: string) => g.inputs.find((i) => i.name === name)?.shape?.length ?? 2;

  // Tables read by a Gather that are also a classifier (Gemm transB=1): quantized once and shared.
  const gemmTables = new Set(g.nodes.filter((n) => n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 1 && attrInt(n, 'transA', 0) === 0 && n.inputs.length === 2 && isFloatMatrix(n.inputs[1])).map((n) => n.inputs[1]!));
  const tables = new Map<string, { int8?: { q: string; s: string; transposed: boolean }; int4?: { b: string; s: string; zp: string; kBlocks: number; N: number; K: number } }>();
  const int8Table = (name: string, transposed: boolean) => {
    const entry = tables.get(name) ?? {};
    if (!entry.int8) {
      const t = init.get(name)!;
      const [V, D] = t.dims as [number, number];
      const { q, scales } = quantizeRowsInt8(f32(t), V, D);
      const qName = `${name}.int8`;
      const data = transposed ? (() => { const out = new Int8Array(V * D); for (let r = 0; r < V; r++) for (let c = 0; c < D; c++) out[c * V + r] = q[r * D + c]!; return out; })() : q;
      newInits.push(tensorOf(qName, DataType.INT8, transposed ? [D, V] : [V, D], data));
      newInits.push(tensorOf(`${name}.scale`, DataType.FLOAT, [V], scales));
      entry.int8 = { q: qName, s: `${name}.scale`, transposed };
      tables.set(name, entry);
      replaced.add(name);
    }
    return entry.int8;
  };
  const int4Table = (name: string, rows: Float32Array, N: number, K: number) => {
    const entry = tables.get(name) ?? {};
    if (!entry.int4) {
      const { packed, scales, zeroPoints, kBlocks } = quantizeRowsInt4(rows, N, K);
      newInits.push(tensorOf(`${name}.int4`, DataType.UINT8, [N, kBlocks, INT4_BLOCK / 2], packed));
      newInits.push(tensorOf(`${name}.scales`, DataType.FLOAT, [N * kBlocks], scales));
      newInits.push(tensorOf(`${name}.zero_points`, DataType.UINT8, [N * Math.ceil(kBlocks / 2)], zeroPoints));
      entry.int4 = { b: `${name}.int4`, s: `${name}.scales`, zp: `${name}.zero_points`, kBlocks, N, K };
      tables.set(name, entry);
      replaced.add(name);
    }
    return entry.int4;
  };
  const dq = new Map<string, [string, string, string]>();
  const dynamicQuant = (a: string) => {
    let r = dq.get(a);
    if (!r) {
      r = [fresh(`${a}_u8`), fresh(`${a}_scale`), fresh(`${a}_zp`)];
      add('DynamicQuantizeLinear', [a], r);
      dq.set(a, r);
    }
    return r;
  };
  const int8MatMul = (a: string, q: string, scale: string, out: string) => {
    if (weightOnly) {
      const zp = `${q}.zero_point`;
      if (!newInits.some((t) => t.name === zp)) {
        const n = newInits.find((t) => t.name === scale)!.dims[0]!;
        newInits.push(tensorOf(zp, DataType.INT8, [n], new Int8Array(n)));
      }
      add('MatMul', [a, add('DequantizeLinear', [q, scale, zp], [fresh('w')], { axis: 1 })], [out]);
      return;
    }
    const [aq, as, azp] = dynamicQuant(a);
    const acc = add('MatMulInteger', [aq, q, azp], [fresh('acc')]);
    const accF = add('Cast', [acc], [fresh('accf')], { to: DataType.FLOAT });
    const s = add('Mul', [as, scale], [fresh('scale')]);
    add('Mul', [accF, s], [out]);
  };
  const nbits = (a: string, t: { b: string; s: string; zp: string; N: number; K: number }, out: string) =>
    add('MatMulNBits', [a, t.b, t.s, t.zp], [out], { K: t.K, N: t.N, bits: 4, block_size: INT4_BLOCK }, 'com.microsoft');
  /** Unpacks gathered int4 rows [..., kBlocks, 16] into float [..., K]. */
  const gatherInt4 = (t: { b: string; s: string; zp: string; kBlocks: number; N: number; K: number }, ids: string, out: string) => {
    const r = rankOf(ids);
    const keep = new Array<number>(r).fill(0);
    const bytes = add('Cast', [add('Gather', [t.b, ids], [fresh('rows4')], { axis: 0 })], [fresh('rows4i')], { to: DataType.INT32 });
    const sixteen = fresh('c16');
    newInits.push(tensorOf(sixteen, DataType.INT32, [], Int32Array.of(16)));
    const high = add('Div', [bytes, sixteen], [fresh('hi')]);
    const low = add('Sub', [bytes, add('Mul', [high, sixteen], [fresh('hi16')])], [fresh('lo')]);
    const pairs = add('Concat', [add('Unsqueeze', [low, i64([-1])], [fresh('lo1')]), add('Unsqueeze', [high, i64([-1])], [fresh('hi1')])], [fresh('pairs')], { axis: -1 });
    const q = add('Cast', [add('Reshape', [pairs, i64([...keep, t.kBlocks, INT4_BLOCK])], [fresh('q')])], [fresh('qf')], { to: DataType.FLOAT });
    const zpRows = add('Gather', [add('Reshape', [t.zp, i64([t.N, Math.ceil(t.kBlocks / 2)])], [fresh('zp2')]), ids], [fresh('zprows')], { axis: 0 });
    const zpi = add('Cast', [zpRows], [fresh('zpi')], { to: DataType.INT32 });
    const zhi = add('Div', [zpi, sixteen], [fresh('zhi')]);
    const zlo = add('Sub', [zpi, add('Mul', [zhi, sixteen], [fresh('zhi16')])], [fresh('zlo')]);
    const zpairs = add('Concat', [add('Unsqueeze', [zlo, i64([-1])], [fresh('zlo1')]), add('Unsqueeze', [zhi, i64([-1])], [fresh('zhi1')])], [fresh('zpairs')], { axis: -1 });
    const zflat = add('Reshape', [zpairs, i64([...keep, -1])], [fresh('zflat')]);
    const zp = add('Cast', [add('Slice', [zflat, i64([0]), i64([t.kBlocks]), i64([-1])], [fresh('zcut')])], [fresh('zpf')], { to: DataType.FLOAT });
    const scales = add('Gather', [add('Reshape', [t.s, i64([t.N, t.kBlocks])], [fresh('s2')]), ids], [fresh('srows')], { axis: 0 });
    const deq = add('Mul', [add('Sub', [q, add('Unsqueeze', [zp, i64([-1])], [fresh('zpu')])], [fresh('qz')]), add('Unsqueeze', [scales, i64([-1])], [fresh('su')])], [fresh('deq')]);
    const flat = add('Reshape', [deq, i64([...keep, t.kBlocks * INT4_BLOCK])], [fresh('flat')]);
    add('Slice', [flat, i64([0]), i64([t.K]), i64([-1])], [out]);
  };

  for (const n of g.nodes) {
    if (n.opType === 'MatMul' && n.domain === '' && isFloatMatrix(n.inputs[1])) {
      const t = init.get(n.inputs[1]!)!;
      const [K, N] = t.dims as [number, number];
      replaced.add(t.name);
      if (precision === 'int8') {
        if (!newInits.some((x) => x.name === `${t.name}.int8`)) {
          // Per output channel = per column of [K, N]: quantize the transpose's rows, store [K, N].
          const { q, scales } = quantizeRowsInt8(transposeF(f32(t), K, N), N, K);
          const qKN = new Int8Array(K * N);
          for (let r = 0; r < N; r++) for (let c = 0; c < K; c++) qKN[c * N + r] = q[r * K + c]!;
          newInits.push(tensorOf(`${t.name}.int8`, DataType.INT8, [K, N], qKN));
          newInits.push(tensorOf(`${t.name}.scale`, DataType.FLOAT, [N], scales));
        }
        int8MatMul(n.inputs[0]!, `${t.name}.int8`, `${t.name}.scale`, n.outputs[0]!);
      } else {
        nbits(n.inputs[0]!, int4Table(t.name, transposeF(f32(t), K, N), N, K), n.outputs[0]!);
      }
    } else if (n.opType === 'Gemm' && gemmTables.has(n.inputs[1] ?? '') && n.inputs.length === 2) {
      const t = init.get(n.inputs[1]!)!;
      const [N, K] = t.dims as [number, number];
      if (precision === 'int8') {
        const e = int8Table(t.name, true);
        int8MatMul(n.inputs[0]!, e.q, e.s, n.outputs[0]!);
      } else nbits(n.inputs[0]!, int4Table(t.name, f32(t), N, K), n.outputs[0]!);
    } else if (n.opType === 'Gather' && attrInt(n, 'axis', 0) === 0 && isFloatMatrix(n.inputs[0])) {
      const t = init.get(n.inputs[0]!)!;
      const [V, D] = t.dims as [number, number];
      const ids = n.inputs[1]!;
      if (precision === 'int8') {
        const e = int8Table(t.name, gemmTables.has(t.name));
        const r = rankOf(ids);
        // A transposed table [D, V] (shared with MatMulInteger) is gathered by column, then moved to [..., D].
        const rows = e.transposed
          ? add('Transpose', [add('Gather', [e.q, ids], [fresh('cols8')], { axis: 1 })], [fresh('rows8')], { perm: [...Array.from({ length: r }, (_, i) => i + 1), 0] })
          : add('Gather', [e.q, ids], [fresh('rows8')], { axis: 0 });
        const s = add('Unsqueeze', [add('Gather', [e.s, ids], [fresh('srow')], { axis: 0 }), i64([-1])], [fresh('srowu')]);
        add('Mul', [add('Cast', [rows], [fresh('rowsf')], { to: DataType.FLOAT }), s], [n.outputs[0]!]);
      } else gatherInt4(int4Table(t.name, f32(t), V, D), ids, n.outputs[0]!);
    } else nodes.push(n);
  }
  const used = new Set(nodes.flatMap((n) => n.inputs));
  const initializers = [...g.initializers.filter((t) => !replaced.has(t.name) || used.has(t.name)), ...newInits.filter((t) => used.has(t.name))];
  const opsets = model.opsetImports.some((o) => o.domain === 'com.microsoft') || precision === 'int8'
    ? model.opsetImports
    : [...model.opsetImports, { domain: 'com.microsoft', version: 1 }];
  return {
    ...model,
    opsetImports: opsets,
    docString: `${model.docString} (${precision} weights by slmops quantize)`.trim(),
    metadata: { ...model.metadata, 'slmops.precision': precision, ...(precision === 'int8' ? { 'slmops.int8Scheme': weightOnly ? 'weight-only' : 'dynamic' } : {}) },
    graph: { ...g, nodes, initializers },
  };
}
