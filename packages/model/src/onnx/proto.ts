/**
 * The subset of onnx.proto (ONNX IR) this toolchain writes and reads, with a protobuf wire codec of its own:
 * int64 fields are plain numbers (safe below 2^53, which every dim and attribute here is) and raw_data stays a
 * zero-copy view of the file, so a 400 MB model decodes without copying its weights.
 */

export const DataType = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10,
  DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16, INT4: 22, UINT4: 21,
} as const;

const dataTypeNames = new Map<number, string>(Object.entries(DataType).map(([k, v]) => [v, k.toLowerCase()]));
/** 'float32' | 'int64' | … for an ONNX TensorProto.DataType; 'type<N>' for one this file does not name. */
export function dataTypeName(t: number): string {
  if (t === DataType.FLOAT) return 'float32';
  if (t === DataType.DOUBLE) return 'float64';
  return dataTypeNames.get(t) ?? `type${t}`;
}

/** Bytes per element of the numeric types stored in raw_data (int4 packs two per byte: 0.5). */
export function dataTypeBytes(t: number): number {
  switch (t) {
    case DataType.FLOAT: case DataType.INT32: case DataType.UINT32: return 4;
    case DataType.INT64: case DataType.UINT64: case DataType.DOUBLE: return 8;
    case DataType.FLOAT16: case DataType.BFLOAT16: case DataType.INT16: case DataType.UINT16: return 2;
    case DataType.INT8: case DataType.UINT8: case DataType.BOOL: return 1;
    case DataType.INT4: case DataType.UINT4: return 0.5;
    default: return 0;
  }
}

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian element bytes. Typed *_data fields of a read file are converted into this. */
  rawData: Uint8Array;
}

export type AttributeValue =
  | { type: 'float'; f: number }
  | { type: 'int'; i: number }
  | { type: 'string'; s: string }
  | { type: 'tensor'; t: TensorProto }
  | { type: 'floats'; floats: number[] }
  | { type: 'ints'; ints: number[] }
  | { type: 'graph'; g: GraphProto }
  | { type: 'other'; code: number };

export interface AttributeProto { name: string; value: AttributeValue }

export interface NodeProto {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: AttributeProto[];
}

/** A dimension is a fixed size, a symbolic name, or unknown. */
export type Dim = number | string | undefined;

export interface ValueInfoProto { name: string; elemType: number; shape: Dim[] | undefined }

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
}

export interface ModelProto {
  irVersion: number;
  opsetImports: Array<{ domain: string; version: number }>;
  producerName: string;
  producerVersion: string;
  docString: string;
  metadata: Record<string, string>;
  graph: GraphProto;
}

// ---------------------------------------------------------------- wire writer

/** Growable byte buffer writing protobuf wire format. Sub-messages are written to their own Writer first. */
class Writer {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(1024);
  private pos = 0;
  length = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.pos));
    this.cur = new Uint8Array(Math.max(1024, n));
    this.pos = 0;
  }
  varint(v: number): void {
    this.ensure(10);
    if (v < 0) {
      // Negative int64/int32 are 10-byte two's complement varints.
      let lo = v >>> 0;
      let hi = Math.floor(v / 4294967296) >>> 0;
      for (let i = 0; i < 9; i++) {
        this.cur[this.pos++] = (lo & 0x7f) | 0x80;
        lo = ((lo >>> 7) | (hi << 25)) >>> 0;
        hi >>>= 7;
      }
      this.cur[this.pos++] = 1;
      this.length += 10;
      return;
    }
    while (v > 0x7f) {
      this.cur[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
      this.length++;
    }
    this.cur[this.pos++] = v;
    this.length++;
  }
  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }
  bytes(b: Uint8Array): void {
    if (b.length > 4096) {
      // Large payloads (weights) are referenced, not copied, until finish().
      this.chunks.push(this.cur.subarray(0, this.pos));
      this.chunks.push(b);
      this.cur = new Uint8Array(1024);
      this.pos = 0;
    } else {
      this.ensure(b.length);
      this.cur.set(b, this.pos);
      this.pos += b.length;
    }
    this.length += b.length;
  }
  float32(v: number): void {
    this.ensure(4);
    new DataView(this.cur.buffer, this.cur.byteOffset).setFloat32(this.pos, v, true);
    this.pos += 4;
    this.length += 4;
  }
  parts(): Uint8Array[] {
    return [...this.chunks, this.cur.subarray(0, this.pos)];
  }
  // Field helpers
  int(field: number, v: number): void {
    this.tag(field, 0);
    this.varint(v);
  }
  string(field: number, s: string): void {
    this.lenDelim(field, new TextEncoder().encode(s));
  }
  lenDelim(field: number, b: Uint8Array): void {
    this.tag(field, 2);
    this.varint(b.length);
    this.bytes(b);
  }
  message(field: number, w: Writer): void {
    this.tag(field, 2);
    this.varint(w.length);
    for (const p of w.parts()) this.bytes(p);
  }
  packedInts(field: number, vs: readonly number[]): void {
    const w = new Writer();
    for (const v of vs) w.varint(v);
    this.message(field, w);
  }
  packedFloats(field: number, vs: readonly number[]): void {
    const w = new Writer();
    for (const v of vs) w.float32(v);
    this.message(field, w);
  }
}

function writeTensor(t: TensorProto): Writer {
  const w = new Writer();
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, t.dataType);
  w.string(8, t.name);
  w.lenDelim(9, t.rawData);
  return w;
}

const attrTypeCode = { float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7 } as const;

function writeAttribute(a: AttributeProto): Writer {
  const w = new Writer();
  w.string(1, a.name);
  const v = a.value;
  if (v.type === 'other') throw new Error(`attribute ${a.name}: cannot write attribute type ${v.code}`);
  w.int(20, attrTypeCode[v.type]);
  switch (v.type) {
    case 'float': w.tag(2, 5); w.float32(v.f); break;
    case 'int': w.int(3, v.i); break;
    case 'string': w.string(4, v.s); break;
    case 'tensor': w.message(5, writeTensor(v.t)); break;
    case 'graph': w.message(6, writeGraph(v.g)); break;
    case 'floats': w.packedFloats(7, v.floats); break;
    case 'ints': w.packedInts(8, v.ints); break;
  }
  return w;
}

function writeNode(n: NodeProto): Writer {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes) w.message(5, writeAttribute(a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function writeValueInfo(v: ValueInfoProto): Writer {
  const tensor = new Writer();
  tensor.int(1, v.elemType);
  if (v.shape) {
    const shape = new Writer();
    for (const d of v.shape) {
      const dim = new Writer();
      if (typeof d === 'number') dim.int(1, d);
      else if (typeof d === 'string') dim.string(2, d);
      shape.message(1, dim);
    }
    tensor.message(2, shape);
  }
  const type = new Writer();
  type.message(1, tensor);
  const w = new Writer();
  w.string(1, v.name);
  w.message(2, type);
  return w;
}

function writeGraph(g: GraphProto): Writer {
  const w = new Writer();
  for (const n of g.nodes) w.message(1, writeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, writeTensor(t));
  for (const v of g.inputs) w.message(11, writeValueInfo(v));
  for (const v of g.outputs) w.message(12, writeValueInfo(v));
  for (const v of g.valueInfo) w.message(13, writeValueInfo(v));
  return w;
}

/** Serialises a model to ONNX protobuf bytes. */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new Writer();
  w.int(1, m.irVersion);
  if (m.producerName) w.string(2, m.producerName);
  if (m.producerVersion) w.string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, writeGraph(m.graph));
  for (const o of m.opsetImports) {
    const ow = new Writer();
    if (o.domain) ow.string(1, o.domain);
    ow.int(2, o.version);
    w.message(8, ow);
  }
  for (const [k, v] of Object.entries(m.metadata)) {
    const e = new Writer();
    e.string(1, k);
    e.string(2, v);
    w.message(14, e);
  }
  const out = new Uint8Array(w.length);
  let off = 0;
  for (const p of w.parts()) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

// ---------------------------------------------------------------- wire reader

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    const start = this.pos;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.end) throw new Error('truncated protobuf varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    // Past 49 bits (negative int64s are 10-byte varints) exact arithmetic needs BigInt.
    this.pos = start;
    let big = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated protobuf varint');
      const b = this.buf[this.pos++]!;
      big |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return Number(BigInt.asIntN(64, big));
    }
    throw new Error('malformed protobuf varint');
  }
  sub(): Reader {
    const len = this.varint();
    if (this.pos + len > this.end) throw new Error('truncated protobuf message');
    const r = new Reader(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return r;
  }
  bytes(): Uint8Array {
    const r = this.sub();
    return this.buf.subarray(r.pos, r.end);
  }
  string(): string {
    return new TextDecoder().decode(this.bytes());
  }
  float32(): number {
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) {
      const len = this.varint(); // read first: `pos += varint()` would add to the pre-varint pos
      this.pos += len;
    }
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (this.pos > this.end) throw new Error('truncated protobuf field');
  }
  /** Iterates fields as [fieldNumber, wireType]; the callback must consume or skip the value. */
  each(fn: (field: number, wire: number) => boolean | void): void {
    while (this.pos < this.end) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (!fn(field, wire)) this.skip(wire);
    }
  }
  /** Reads a repeated scalar field that may be packed (wire 2) or not. */
  repeated(wire: number, one: (r: Reader) => number, into: number[]): void {
    if (wire === 2) {
      const r = this.sub();
      while (r.pos < r.end) into.push(one(r));
    } else into.push(one(this));
  }
}

function readTensor(r: Reader): TensorProto {
  const t: TensorProto = { name: '', dims: [], dataType: 0, rawData: new Uint8Array(0) };
  const floats: number[] = [];
  const int32s: number[] = [];
  const int64s: number[] = [];
  let external = false;
  r.each((f, w) => {
    if (f === 1) r.repeated(w, (x) => x.varint(), t.dims);
    else if (f === 2) t.dataType = r.varint();
    else if (f === 4) r.repeated(w, (x) => x.float32(), floats);
    else if (f === 5) r.repeated(w, (x) => x.varint(), int32s);
    else if (f === 7) r.repeated(w, (x) => x.varint(), int64s);
    else if (f === 8) t.name = r.string();
    else if (f === 9) t.rawData = r.bytes();
    else if (f === 14) external = r.varint() === 1;
    else return false;
    return true;
  });
  if (external) throw new Error(`tensor ${t.name} keeps its data in an external file, which is not supported`);
  if (floats.length) t.rawData = new Uint8Array(new Float32Array(floats).buffer);
  else if (int64s.length) t.rawData = new Uint8Array(new BigInt64Array(int64s.map((v) => BigInt(v))).buffer);
  else if (int32s.length) {
    const bytes = dataTypeBytes(t.dataType);
    if (bytes === 4) t.rawData = new Uint8Array(new Int32Array(int32s).buffer);
    else if (bytes === 2) t.rawData = new Uint8Array(new Uint16Array(int32s).buffer);
    else t.rawData = new Uint8Array(int32s);
  }
  return t;
}

function readAttribute(r: Reader): AttributeProto {
  let name = '';
  let code = 0;
  let f = 0, i = 0, s = '';
  let t: TensorProto | undefined;
  let g: GraphProto | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  r.each((field, w) => {
    if (field === 1) name = r.string();
    else if (field === 20) code = r.varint();
    else if (field === 2) f = r.float32();
    else if (field === 3) i = r.varint();
    else if (field === 4) s = r.string();
    else if (field === 5) t = readTensor(r.sub());
    else if (field === 6) g = readGraph(r.sub());
    else if (field === 7) r.repeated(w, (x) => x.float32(), floats);
    else if (field === 8) r.repeated(w, (x) => x.varint(), ints);
    else return false;
    return true;
  });
  const value: AttributeValue =
    code === 1 ? { type: 'float', f } :
    code === 2 ? { type: 'int', i } :
    code === 3 ? { type: 'string', s } :
    code === 4 && t ? { type: 'tensor', t } :
    code === 5 && g ? { type: 'graph', g } :
    code === 6 ? { type: 'floats', floats } :
    code === 7 ? { type: 'ints', ints } :
    { type: 'other', code };
  return { name, value };
}

function readNode(r: Reader): NodeProto {
  const n: NodeProto = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] };
  r.each((f) => {
    if (f === 1) n.inputs.push(r.string());
    else if (f === 2) n.outputs.push(r.string());
    else if (f === 3) n.name = r.string();
    else if (f === 4) n.opType = r.string();
    else if (f === 5) n.attributes.push(readAttribute(r.sub()));
    else if (f === 7) n.domain = r.string();
    else return false;
    return true;
  });
  return n;
}

function readDim(r: Reader): Dim {
  let d: Dim;
  r.each((f) => {
    if (f === 1) d = r.varint();
    else if (f === 2) d = r.string();
    else return false;
    return true;
  });
  return d;
}

function readTensorType(r: Reader, v: ValueInfoProto): void {
  r.each((f) => {
    if (f === 1) v.elemType = r.varint();
    else if (f === 2) {
      const shape: Dim[] = [];
      const s = r.sub();
      s.each((sf) => {
        if (sf !== 1) return false;
        shape.push(readDim(s.sub()));
        return true;
      });
      v.shape = shape;
    } else return false;
    return true;
  });
}

function readValueInfo(r: Reader): ValueInfoProto {
  const v: ValueInfoProto = { name: '', elemType: 0, shape: undefined };
  r.each((f) => {
    if (f === 1) v.name = r.string();
    else if (f === 2) {
      const type = r.sub();
      type.each((tf) => {
        if (tf !== 1) return false;
        readTensorType(type.sub(), v);
        return true;
      });
    } else return false;
    return true;
  });
  return v;
}

function readGraph(r: Reader, skipInitializers = false): GraphProto {
  const g: GraphProto = { name: '', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [] };
  r.each((f) => {
    if (f === 1) g.nodes.push(readNode(r.sub()));
    else if (f === 2) g.name = r.string();
    else if (f === 5 && !skipInitializers) g.initializers.push(readTensor(r.sub()));
    else if (f === 11) g.inputs.push(readValueInfo(r.sub()));
    else if (f === 12) g.outputs.push(readValueInfo(r.sub()));
    else if (f === 13) g.valueInfo.push(readValueInfo(r.sub()));
    else return false;
    return true;
  });
  // ONNX IR < 4 listed initializers among the inputs too; they are not runtime inputs.
  const init = new Set(g.initializers.map((t) => t.name));
  if (init.size) g.inputs = g.inputs.filter((i) => !init.has(i.name));
  return g;
}

/**
 * Parses ONNX protobuf bytes. With `skipInitializers` only the structure (IO, nodes) is read, which is how
 * loaders read a large model's IO names cheaply. Throws 'not an ONNX model' for bytes that lack a graph.
 */
export function decodeModel(bytes: Uint8Array, opts: { skipInitializers?: boolean } = {}): ModelProto {
  const m: ModelProto = { irVersion: 0, opsetImports: [], producerName: '', producerVersion: '', docString: '', metadata: {}, graph: undefined as unknown as GraphProto };
  const r = new Reader(bytes);
  let graph: GraphProto | undefined;
  r.each((f, w) => {
    if (f === 1 && w === 0) m.irVersion = r.varint();
    else if (f === 2 && w === 2) m.producerName = r.string();
    else if (f === 3 && w === 2) m.producerVersion = r.string();
    else if (f === 6 && w === 2) m.docString = r.string();
    else if (f === 7 && w === 2) graph = readGraph(r.sub(), opts.skipInitializers);
    else if (f === 8 && w === 2) {
      const o = { domain: '', version: 0 };
      const s = r.sub();
      s.each((of) => {
        if (of === 1) o.domain = s.string();
        else if (of === 2) o.version = s.varint();
        else return false;
        return true;
      });
      m.opsetImports.push(o);
    } else if (f === 14 && w === 2) {
      const s = r.sub();
      let k = '', v = '';
      s.each((ef) => {
        if (ef === 1) k = s.string();
        else if (ef === 2) v = s.string();
        else return false;
        return true;
      });
      m.metadata[k] = v;
    } else return false;
    return true;
  });
  if (!graph || m.irVersion <= 0) throw new Error('not an ONNX model (no graph or IR version in the protobuf)');
  m.graph = graph;
  return m;
}
