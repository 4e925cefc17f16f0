/**
 * Pure mapping between KServe Open Inference Protocol v2 messages and text generation: BYTES `text_input`
 * (typed bytes_contents or raw_input_contents with 4-byte little-endian length prefixes), request
 * parameters max_tokens/temperature/top_p/top_k/seed/stop, BYTES `text_output`.
 */
import type { GenerateRequest } from '../inference/engine-port.js';
import { InferenceError, invalidArgument } from '../inference/errors.js';
import { DEFAULT_MAX_PROMPT_BYTES, checkEchoed, checkPromptBytes } from '../inference/limits.js';
import type { Completion, ModelInfo } from '../inference/service.js';

export type WireParam = { bool_param?: boolean; int64_param?: number; string_param?: string; double_param?: number; uint64_param?: number; parameter_choice?: string };

export interface WireInferInput {
  name?: string;
  datatype?: string;
  shape?: number[];
  parameters?: Record<string, WireParam>;
  contents?: { bytes_contents?: Buffer[] } & Record<string, unknown[] | undefined>;
}

export interface WireInferRequest {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, WireParam>;
  inputs?: WireInferInput[];
  outputs?: { name?: string }[];
  raw_input_contents?: Buffer[];
}

export const TEXT_INPUT = 'text_input';
export const TEXT_OUTPUT = 'text_output';
/** Prompts one ModelInfer may batch (each becomes its own sequence in the engine's batch). */
export const MAX_INFER_BATCH = 64;

export interface ParsedInfer {
  id: string;
  prompts: string[];
  params: Omit<GenerateRequest, 'prompt' | 'promptIds'>;
  /** The caller used raw_input_contents, so the answer comes back as raw_output_contents too. */
  raw: boolean;
}

/** Decodes a raw BYTES tensor: each element is a uint32 little-endian length followed by that many bytes. */
export function decodeRawBytes(buf: Buffer, field: string): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  while (o < buf.length) {
    if (o + 4 > buf.length) throw invalidArgument(field, `truncated length prefix at byte ${o}`);
    const n = buf.readUInt32LE(o);
    o += 4;
    if (o + n > buf.length) throw invalidArgument(field, `element of ${n} bytes overruns the ${buf.length}-byte buffer`);
    out.push(buf.subarray(o, o + n));
    o += n;
  }
  return out;
}

/** Encodes BYTES elements with 4-byte little-endian length prefixes. */
export function encodeRawBytes(items: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const it of items) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(it.length);
    parts.push(len, it);
  }
  return Buffer.concat(parts);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function numberParam(name: string, p: WireParam, integer: boolean): number {
  const v =
    p.parameter_choice === 'int64_param' ? p.int64_param
    : p.parameter_choice === 'uint64_param' ? p.uint64_param
    : p.parameter_choice === 'double_param' ? p.double_param
    : p.parameter_choice === 'string_param' && p.string_param !== undefined && p.string_param.trim() !== '' ? Number(p.string_param)
    : undefined;
  if (v === undefined || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw invalidArgument(`parameters.${name}`, `must be ${integer ? 'an integer' : 'a number'} (int64_param, uint64_param or double_param)`);
  }
  return v;
}

function stopParam(p: WireParam): string[] {
  if (p.parameter_choice !== 'string_param' || p.string_param === undefined) throw invalidArgument('parameters.stop', 'must be a string_param');
  const s = p.string_param;
  if (s.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(s);
    } catch {
      throw invalidArgument('parameters.stop', 'a value starting with "[" must be a JSON array of strings');
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw invalidArgument('parameters.stop', 'must be a JSON array of strings');
    return parsed as string[];
  }
  return [s];
}

/**
 * Validates a ModelInfer request for the loaded model and extracts prompts and sampling parameters. Fields that
 * may be echoed are bounded (MAX_ECHOED_CHARS) and each prompt's bytes (`maxPromptBytes`) before it is decoded.
 */
export function parseInferRequest(req: WireInferRequest, model: Pick<ModelInfo, 'name' | 'version'>, maxPromptBytes = DEFAULT_MAX_PROMPT_BYTES): ParsedInfer {
  if (req === null || typeof req !== 'object') throw invalidArgument('request', 'must be a message');
  checkEchoed('model_name', req.model_name);
  checkEchoed('model_version', req.model_version);
  checkEchoed('id', req.id);
  (req.inputs ?? []).forEach((input, i) => {
    checkEchoed(`inputs[${i}].name`, input?.name);
    checkEchoed(`inputs[${i}].datatype`, input?.datatype);
  });
  (req.outputs ?? []).forEach((o, i) => checkEchoed(`outputs[${i}].name`, o?.name));
  if (req.model_name !== model.name) throw new InferenceError('NOT_FOUND', `model_name: unknown model "${req.model_name ?? ''}"; this server serves "${model.name}"`, { field: 'model_name' });
  if (req.model_version && req.model_version !== model.version) {
    throw new InferenceError('NOT_FOUND', `model_version: "${req.model_version}" is not loaded; loaded version is "${model.version}"`, { field: 'model_version' });
  }
  const inputs = req.inputs ?? [];
  const raw = req.raw_input_contents ?? [];
  const idx = inputs.findIndex((i) => i.name === TEXT_INPUT);
  if (idx < 0) throw invalidArgument('inputs', `a BYTES input named "${TEXT_INPUT}" is required`);
  for (let i = 0; i < inputs.length; i++) {
    if (inputs[i]!.name !== TEXT_INPUT) throw invalidArgument(`inputs[${i}].name`, `unknown input "${inputs[i]!.name ?? ''}"; this model takes only "${TEXT_INPUT}"`);
  }
  const input = inputs[idx]!;
  if (input.datatype !== 'BYTES') throw invalidArgument(`inputs[${idx}].datatype`, `must be BYTES, got "${input.datatype ?? ''}"`);
  const shape = input.shape ?? [];
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) throw invalidArgument(`inputs[${idx}].shape`, 'must list positive dimensions');
  const count = shape.reduce((a, b) => a * b, 1);
  if (count > MAX_INFER_BATCH) throw invalidArgument(`inputs[${idx}].shape`, `at most ${MAX_INFER_BATCH} prompts per request`);

  const typed = input.contents?.bytes_contents ?? [];
  const otherTyped = Object.entries(input.contents ?? {}).some(([k, v]) => k !== 'bytes_contents' && Array.isArray(v) && v.length > 0);
  if (otherTyped) throw invalidArgument(`inputs[${idx}].contents`, 'a BYTES tensor carries bytes_contents only');
  let elements: Buffer[];
  if (raw.length > 0) {
    if (typed.length > 0) throw invalidArgument('raw_input_contents', 'give the tensor in contents or in raw_input_contents, not both');
    if (raw.length !== inputs.length) throw invalidArgument('raw_input_contents', `needs one entry per input (${inputs.length}), got ${raw.length}`);
    elements = decodeRawBytes(raw[idx]!, `raw_input_contents[${idx}]`);
  } else elements = typed;
  if (elements.length !== count) throw invalidArgument(`inputs[${idx}].contents`, `shape [${shape.join(',')}] needs ${count} element(s), got ${elements.length}`);

  elements.forEach((b, i) => checkPromptBytes(`inputs[${idx}].contents[${i}]`, b.length, maxPromptBytes));
  const prompts = elements.map((b, i) => {
    try {
      return utf8.decode(b);
    } catch {
      throw invalidArgument(`inputs[${idx}].contents[${i}]`, 'must be UTF-8 text');
    }
  });
  for (const o of req.outputs ?? []) {
    if (o.name !== TEXT_OUTPUT) throw invalidArgument('outputs', `unknown output "${o.name ?? ''}"; this model produces only "${TEXT_OUTPUT}"`);
  }

  const params: ParsedInfer['params'] = { maxTokens: 0 };
  for (const [name, p] of Object.entries(req.parameters ?? {})) {
    switch (name) {
      case 'max_tokens':
        params.maxTokens = numberParam(name, p, true);
        break;
      case 'temperature':
        params.temperature = numberParam(name, p, false);
        break;
      case 'top_p':
        params.topP = numberParam(name, p, false);
        break;
      case 'top_k':
        params.topK = numberParam(name, p, true);
        break;
      case 'seed':
        params.seed = numberParam(name, p, true);
        break;
      case 'repetition_penalty':
        params.repetitionPenalty = numberParam(name, p, false);
        break;
      case 'stop':
        params.stop = stopParam(p);
        break;
      default:
      // Other OIP/Triton request parameters (priority, timeout, binary_data_output, …) do not change generation.
    }
  }
  if (params.maxTokens < 0) throw invalidArgument('parameters.max_tokens', 'must be a non-negative integer');
  return { id: req.id ?? '', prompts, params, raw: raw.length > 0 };
}

export type InferResult = Pick<Completion, 'text' | 'promptTokens' | 'completionTokens'> & { finishReason: string };

/** Builds the ModelInferResponse with BYTES `text_output` shaped like the input's element count. */
export function buildInferResponse(parsed: ParsedInfer, model: Pick<ModelInfo, 'name' | 'version'>, results: InferResult[]): Record<string, unknown> {
  const texts = results.map((r) => Buffer.from(r.text, 'utf8'));
  const output: Record<string, unknown> = { name: TEXT_OUTPUT, datatype: 'BYTES', shape: [results.length] };
  const single = results.length === 1 ? results[0]! : undefined;
  const response: Record<string, unknown> = {
    model_name: model.name,
    model_version: model.version,
    id: parsed.id,
    outputs: [output],
    parameters: {
      completion_tokens: { int64_param: results.reduce((a, r) => a + r.completionTokens, 0) },
      prompt_tokens: { int64_param: results.reduce((a, r) => a + r.promptTokens, 0) },
      ...(single ? { finish_reason: { string_param: single.finishReason } } : {}),
    },
  };
  if (parsed.raw) response['raw_output_contents'] = [encodeRawBytes(texts)];
  else output['contents'] = { bytes_contents: texts };
  return response;
}

/** ModelMetadata for the text-generation model: one BYTES input, one BYTES output. */
export function modelMetadata(info: ModelInfo): Record<string, unknown> {
  return {
    name: info.name,
    versions: [info.version],
    platform: `onnxruntime_${info.executionProvider}`,
    inputs: [{ name: TEXT_INPUT, datatype: 'BYTES', shape: [-1] }],
    outputs: [{ name: TEXT_OUTPUT, datatype: 'BYTES', shape: [-1] }],
    properties: {
      digest: info.digest,
      precision: info.precision,
      execution_provider: info.executionProvider,
      context_length: String(info.contextLength),
      architecture: info.architecture,
    },
  };
}
