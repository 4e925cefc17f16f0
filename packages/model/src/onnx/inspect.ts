/** A summary of an ONNX graph for humans: IO, op histogram, parameter count and bytes. */
import { dataTypeName, type Dim, type ModelProto } from './proto.js';

export interface OnnxSummary {
  producer: string;
  opsets: Record<string, number>;
  inputs: Array<{ name: string; type: string; shape: Dim[] | undefined }>;
  outputs: Array<{ name: string; type: string; shape: Dim[] | undefined }>;
  /** op type (domain-qualified when not ai.onnx) -> node count, most frequent first. */
  ops: Record<string, number>;
  nodes: number;
  /** Elements of all initializers (an int4 byte holds two weights but counts once). */
  parameters: number;
  initializerBytes: number;
}

/** Summarises a decoded model. */
export function summarizeOnnx(m: ModelProto): OnnxSummary {
  const counts = new Map<string, number>();
  for (const n of m.graph.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const io = (v: { name: string; elemType: number; shape: Dim[] | undefined }) => ({ name: v.name, type: dataTypeName(v.elemType), shape: v.shape });
  return {
    producer: m.producerName,
    opsets: Object.fromEntries(m.opsetImports.map((o) => [o.domain || 'ai.onnx', o.version])),
    inputs: m.graph.inputs.map(io),
    outputs: m.graph.outputs.map(io),
    ops: Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
    nodes: m.graph.nodes.length,
    parameters: m.graph.initializers.reduce((a, t) => a + t.dims.reduce((x, d) => x * d, 1), 0),
    initializerBytes: m.graph.initializers.reduce((a, t) => a + t.rawData.length, 0),
  };
}
