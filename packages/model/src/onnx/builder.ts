/** A small builder for ONNX graphs: values are names, ops return their output names. */
import { type AttributeValue, type Dim, DataType, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';

export type Attr = AttributeValue | number | number[] | string;
/** A float attribute (plain numbers are ints). */
export const float = (f: number): AttributeValue => ({ type: 'float', f });
export const floats = (fs: number[]): AttributeValue => ({ type: 'floats', floats: fs });

type Typed = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array | Uint16Array;

const bytesOf = (a: Typed) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A TensorProto over the bytes of a typed array (no copy). */
export function tensor(name: string, dataType: number, dims: number[], data: Typed): TensorProto {
  return { name, dataType, dims, rawData: bytesOf(data) };
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private counter = 0;
  private consts = new Map<string, string>();

  constructor(readonly name: string) {}

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, elemType: number, shape: Dim[]): string {
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  /** Declares `name` (already produced by an op) as a graph output. */
  output(name: string, elemType: number, shape: Dim[]): void {
    this.outputs.push({ name, elemType, shape });
  }

  initializer(name: string, dataType: number, dims: number[], data: Typed): string {
    this.initializers.push(tensor(name, dataType, dims, data));
    return name;
  }

  /** A small int64 constant, shared between uses. */
  i64(values: number[], dims: number[] = [values.length]): string {
    return this.shared(`i64:${dims}:${values}`, () => this.initializer(this.fresh('const_i64'), DataType.INT64, dims, BigInt64Array.from(values.map(BigInt))));
  }

  /** A small float32 constant, shared between uses. */
  f32(values: number[], dims: number[] = [values.length]): string {
    return this.shared(`f32:${dims}:${values}`, () => this.initializer(this.fresh('const_f32'), DataType.FLOAT, dims, Float32Array.from(values)));
  }

  private shared(key: string, make: () => string): string {
    let name = this.consts.get(key);
    if (!name) {
      name = make();
      this.consts.set(key, name);
    }
    return name;
  }

  /** Adds a node; returns its output names (`outputs` names them, or gives their count). */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, opts: { domain?: string; outputs?: string[] | number; name?: string } = {}): string[] {
    const outs = Array.isArray(opts.outputs) ? opts.outputs : Array.from({ length: opts.outputs ?? 1 }, () => this.fresh(opType.toLowerCase()));
    const attributes = Object.entries(attrs).map(([name, v]) => ({
      name,
      value: typeof v === 'number' ? { type: 'int' as const, i: v } : typeof v === 'string' ? { type: 'string' as const, s: v } : Array.isArray(v) ? { type: 'ints' as const, ints: v } : v,
    }));
    this.nodes.push({ name: opts.name ?? '', opType, domain: opts.domain ?? '', inputs, outputs: outs, attributes });
    return outs;
  }

  /** Single-output op. */
  op1(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, opts: { domain?: string; output?: string } = {}): string {
    return this.op(opType, inputs, attrs, { domain: opts.domain, outputs: opts.output ? [opts.output] : 1 })[0]!;
  }

  build(opts: { opsets: Record<string, number>; producer?: string; doc?: string; metadata?: Record<string, string> }): ModelProto {
    return {
      irVersion: 8,
      opsetImports: Object.entries(opts.opsets).map(([domain, version]) => ({ domain, version })),
      producerName: opts.producer ?? 'slmops',
      producerVersion: '0.1.0',
      docString: opts.doc ?? '',
      metadata: opts.metadata ?? {},
      graph: { name: this.name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs, valueInfo: [] },
    };
  }
}
