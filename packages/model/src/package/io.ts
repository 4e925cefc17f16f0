/** Reads a decoder graph's IO contract (names, KV layout, dtypes) from the ONNX file itself. */
import { dataTypeName, type Dim, type ModelProto, type ValueInfoProto } from '../onnx/proto.js';

/** IO names and KV layout of a decoder graph. */
export interface DecoderIO {
  inputIds: string;
  attentionMask?: string;
  positionIds?: string;
  logits: string;
  /** 'split': past_key_values.{i}.key|value [B,kvHeads,P,headDim] -> present.{i}.key|value;
   *  'stacked': past_{i} [2,B,kvHeads,P,headDim] -> present_{i} (legacy GPT-2 onnxruntime.transformers) */
  kvLayout: 'split' | 'stacked';
  pastNames: string[][];
  presentNames: string[][];
  /** Split float32 layout only: outputs holding just this step's keys/values, [B,kvHeads,S,headDim] per layer
   *  (`kv_delta.{i}.key|value`, written by slmops convert), so a runtime can build the cache without fetching
   *  present. Absent for graphs that lack them. */
  deltaNames?: string[][];
  /** Scalar int64 input: logits are computed for the last this-many positions only (HF's num_logits_to_keep).
   *  Absent for graphs that compute them for every position. */
  logitsToKeep?: string;
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  idsType: 'int64' | 'int32';
  maskType: 'int64' | 'int32';
  kvType: 'float32' | 'float16';
}

/** Name patterns a config may give (genai_config's "%d" templates); defaults are the Optimum names. */
export interface IoHints {
  inputIds?: string;
  attentionMask?: string;
  positionIds?: string;
  logits?: string;
  pastKey?: string;
  pastValue?: string;
  presentKey?: string;
  presentValue?: string;
  past?: string;
  present?: string;
  numKvHeads?: number;
  headDim?: number;
  vocabSize?: number;
}

/** The input that limits logits to the last positions (see DecoderIO.logitsToKeep). */
export const NUM_LOGITS_TO_KEEP = 'num_logits_to_keep';

/** Names of the per-layer outputs holding only a step's keys and values (see DecoderIO.deltaNames). */
export const kvDeltaNames = (layers: number): string[][] => Array.from({ length: layers }, (_, i) => [`kv_delta.${i}.key`, `kv_delta.${i}.value`]);

const num = (d: Dim | undefined) => (typeof d === 'number' && d > 0 ? d : undefined);

/**
 * Derives the DecoderIO of a graph; `file` names it in errors. Throws "not a decoder" when the graph lacks
 * input ids, logits or a matching past/present pair per layer.
 */
export function decoderIoFromModel(m: ModelProto, file: string, hints: IoHints = {}): DecoderIO {
  const inputs = new Map(m.graph.inputs.map((i) => [i.name, i]));
  const outputs = new Map(m.graph.outputs.map((o) => [o.name, o]));
  const list = (map: Map<string, ValueInfoProto>) => [...map.keys()].join(', ') || '(none)';
  const notDecoder = (why: string) =>
    new Error(`${file}: not a decoder graph: ${why} (inputs: ${list(inputs)}; outputs: ${list(outputs)})`);
  const idsName = hints.inputIds ?? 'input_ids';
  const ids = inputs.get(idsName);
  if (!ids) throw notDecoder(`no ${idsName} input`);
  const logitsName = hints.logits ?? 'logits';
  const logits = outputs.get(logitsName);
  if (!logits) throw notDecoder(`no ${logitsName} output`);
  const maskName = hints.attentionMask ?? 'attention_mask';
  const posName = hints.positionIds ?? 'position_ids';
  const fmt = (pattern: string, i: number) => pattern.replace('%d', String(i));

  const pastNames: string[][] = [];
  const presentNames: string[][] = [];
  let kvLayout: DecoderIO['kvLayout'] = 'split';
  const stackedPattern = hints.past ?? 'past_%d';
  if (inputs.has(fmt(stackedPattern, 0)) && !inputs.has(fmt(hints.pastKey ?? 'past_key_values.%d.key', 0))) {
    kvLayout = 'stacked';
    for (let i = 0; inputs.has(fmt(stackedPattern, i)); i++) {
      const present = fmt(hints.present ?? 'present_%d', i);
      if (!outputs.has(present)) throw notDecoder(`input ${fmt(stackedPattern, i)} has no output ${present}`);
      pastNames.push([fmt(stackedPattern, i)]);
      presentNames.push([present]);
    }
  } else {
    const pk = hints.pastKey ?? 'past_key_values.%d.key';
    const pv = hints.pastValue ?? 'past_key_values.%d.value';
    const tk = hints.presentKey ?? 'present.%d.key';
    const tv = hints.presentValue ?? 'present.%d.value';
    for (let i = 0; inputs.has(fmt(pk, i)); i++) {
      for (const [p, t] of [[fmt(pk, i), fmt(tk, i)], [fmt(pv, i), fmt(tv, i)]] as const) {
        if (!inputs.has(p)) throw notDecoder(`layer ${i} has no ${p} input`);
        if (!outputs.has(t)) throw notDecoder(`layer ${i} has no ${t} output`);
      }
      pastNames.push([fmt(pk, i), fmt(pv, i)]);
      presentNames.push([fmt(tk, i), fmt(tv, i)]);
    }
  }
  if (pastNames.length === 0) throw notDecoder('no past key/value inputs (a KV cache is required)');
  const past0 = inputs.get(pastNames[0]![0]!)!;
  const shape = past0.shape ?? [];
  // split: [B, kvHeads, P, headDim]; stacked: [2, B, kvHeads, P, headDim]
  const off = kvLayout === 'stacked' ? 1 : 0;
  const numKvHeads = num(shape[off + 1]) ?? hints.numKvHeads;
  const headDim = num(shape[off + 3]) ?? hints.headDim;
  const vocabSize = num(logits.shape?.[2]) ?? hints.vocabSize;
  if (!numKvHeads || !headDim) throw notDecoder(`cannot tell kv heads/head size from ${past0.name} shape [${shape.join(',')}]`);
  if (!vocabSize) throw notDecoder('cannot tell the vocabulary size from the logits shape');
  const intType = (v: ValueInfoProto | undefined, what: string): 'int64' | 'int32' => {
    const t = v ? dataTypeName(v.elemType) : 'int64';
    if (t !== 'int64' && t !== 'int32') throw notDecoder(`${what} has type ${t}, expected int64 or int32`);
    return t;
  };
  const kvType = dataTypeName(past0.elemType);
  if (kvType !== 'float32' && kvType !== 'float16') throw notDecoder(`${past0.name} has type ${kvType}`);
  const mask = inputs.get(maskName);
  const pos = inputs.get(posName);
  const deltaNames = kvDeltaNames(pastNames.length);
  const hasDelta = kvLayout === 'split' && kvType === 'float32' && deltaNames.every((pair) => pair.every((n) => outputs.has(n)));
  return {
    inputIds: idsName,
    ...(mask ? { attentionMask: maskName } : {}),
    ...(pos ? { positionIds: posName } : {}),
    logits: logitsName,
    kvLayout,
    pastNames,
    presentNames,
    ...(hasDelta ? { deltaNames } : {}),
    ...(inputs.get(NUM_LOGITS_TO_KEEP)?.shape?.length === 0 ? { logitsToKeep: NUM_LOGITS_TO_KEEP } : {}),
    numLayers: pastNames.length,
    numKvHeads,
    headDim,
    vocabSize,
    idsType: intType(ids, idsName),
    maskType: intType(mask, maskName),
    kvType,
  };
}
