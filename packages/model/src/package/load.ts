/**
 * Loading models: SLM packages (folder or .slm.tar, every file's sha256 checked against slm.json before use),
 * onnxruntime-genai folders (genai_config.json) and Optimum / transformers.js folders (config.json + onnx/).
 * IO names and dtypes always come from the ONNX graph.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { decodeModel } from '../onnx/proto.js';
import { hfTokenizer } from '../tokenizer/hf.js';
import { llama2cTokenizer, parseLlama2cVocab } from '../tokenizer/llama2c.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { sha256File, tempPathFor } from './files.js';
import { decoderIoFromModel, type DecoderIO, type IoHints } from './io.js';
import { MANIFEST_FILE, parseManifest, type Precision, type SlmManifest, type SlmVariant } from './manifest.js';
import { extractTar } from './tar.js';

export interface LoadedModel {
  dir: string;
  manifest: SlmManifest;
  tokenizer: Tokenizer;
  /** Absolute path of the ONNX file for a precision (default: first variant). Throws naming the precisions present. */
  variantPath(precision?: Precision): string;
}

export interface LoadOptions {
  /** Where .slm.tar archives are extracted (default: <os tmpdir>/slmops-models). */
  cacheDir?: string;
  /** Check every file's sha256 against slm.json (default true; only SLM packages carry digests). */
  verify?: boolean;
}

/** Reads the structure (not the weights) of an ONNX file and derives its decoder IO. */
export function readDecoderIo(path: string, hints: IoHints = {}): DecoderIO {
  let model;
  try {
    model = decodeModel(readFileSync(path), { skipInitializers: true });
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  return decoderIoFromModel(model, path, hints);
}

function loaded(dir: string, manifest: SlmManifest, tokenizer: Tokenizer): LoadedModel {
  return {
    dir,
    manifest,
    tokenizer,
    variantPath(precision) {
      const v = precision ? manifest.variants.find((x) => x.precision === precision) : manifest.variants[0];
      if (!v) throw new Error(`${dir}: no ${precision} variant; the package has ${manifest.variants.map((x) => x.precision).join(', ')}`);
      return join(dir, v.file);
    },
  };
}

/**
 * The LoadedModel of a package that was already loaded (and verified) elsewhere, rebuilt from its folder and
 * manifest: reads only the tokenizer, hashes nothing (for a worker thread serving the same package).
 */
export function reopenModel(dir: string, manifest: SlmManifest): LoadedModel {
  const t = manifest.tokenizer;
  const tokenizer = t.file
    ? readTokenizer(join(dir, t.file), t.kind, t.kind === 'llama2c' ? manifest.io.vocabSize : undefined, manifest.specialIds)
    : idsOnlyTokenizer(dir, manifest.io.vocabSize, manifest.specialIds);
  return loaded(dir, manifest, tokenizer);
}

/** Opens a tokenizer file of a package. */
export function readTokenizer(path: string, kind: 'llama2c' | 'hf', vocabSize: number | undefined, special: { bos?: number; eos?: number } = {}): Tokenizer {
  const bytes = readFileSync(path);
  return kind === 'llama2c' ? llama2cTokenizer(parseLlama2cVocab(bytes, path, vocabSize)) : hfTokenizer(bytes.toString('utf8'), path, special);
}

async function loadPackageDir(dir: string, verify: boolean): Promise<LoadedModel> {
  const manifestPath = join(dir, MANIFEST_FILE);
  const manifest = parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath);
  const files: Array<{ file: string; sha256: string; bytes?: number }> = [manifest.tokenizer, ...manifest.variants];
  for (const f of files) {
    const path = join(dir, f.file);
    if (!existsSync(path)) throw new Error(`${path}: listed in slm.json but missing from the package`);
    if (f.bytes !== undefined && statSync(path).size !== f.bytes) {
      throw new Error(`${path}: size ${statSync(path).size} does not match slm.json (${f.bytes} bytes)`);
    }
    if (verify) {
      const actual = await sha256File(path);
      if (actual !== f.sha256) throw new Error(`${path}: sha256 mismatch: slm.json says ${f.sha256}, the file has ${actual}`);
    }
  }
  const io = readDecoderIo(join(dir, manifest.variants[0]!.file));
  const tokenizer = readTokenizer(join(dir, manifest.tokenizer.file), manifest.tokenizer.kind, manifest.tokenizer.kind === 'llama2c' ? io.vocabSize : undefined, manifest.specialIds);
  return loaded(dir, { ...manifest, io }, tokenizer);
}

async function loadTar(tarPath: string, opts: LoadOptions): Promise<LoadedModel> {
  const digest = await sha256File(tarPath);
  const cache = resolve(opts.cacheDir ?? join(tmpdir(), 'slmops-models'));
  const dir = join(cache, digest);
  if (!existsSync(join(dir, MANIFEST_FILE))) {
    const tmp = tempPathFor(dir);
    try {
      extractTar(tarPath, tmp);
      if (!existsSync(join(tmp, MANIFEST_FILE))) throw new Error(`${tarPath}: archive has no ${MANIFEST_FILE}`);
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  try {
    return await loadPackageDir(dir, opts.verify ?? true);
  } catch (e) {
    throw new Error(`${tarPath}: ${(e as Error).message}`);
  }
}

const readJson = (path: string): Record<string, unknown> => {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
};
const firstId = (v: unknown): number | undefined => (Array.isArray(v) ? firstId(v[0]) : typeof v === 'number' ? v : undefined);

/** A stand-in for folders that ship no tokenizer: ids decode to "<id>", text cannot be encoded. */
function idsOnlyTokenizer(dir: string, vocabSize: number, special: { bos?: number; eos?: number }): Tokenizer {
  const push = (id: number) => `<${id}>`;
  return {
    kind: 'hf',
    vocabSize,
    bosId: special.bos,
    eosId: special.eos,
    encode() {
      throw new Error(`${dir}: has no tokenizer.json; pass token ids instead of text`);
    },
    decode: (ids) => ids.map(push).join(''),
    createStreamDecoder: () => ({ push, flush: () => '' }),
  };
}

async function describeVariants(dir: string, files: Array<[Precision, string]>): Promise<SlmVariant[]> {
  return Promise.all(files.map(async ([precision, file]) => ({ precision, file, sha256: await sha256File(join(dir, file)), bytes: statSync(join(dir, file)).size })));
}

function precisionOf(io: DecoderIO): Precision {
  return io.kvType === 'float16' ? 'fp16' : 'fp32';
}

/** A LoadedModel for a folder without slm.json: digests are computed here, the tokenizer is tokenizer.json. */
async function foreignModel(
  dir: string,
  o: { io: DecoderIO; special: { bos?: number; eos?: number; pad?: number }; architecture: unknown; contextLength: unknown; files: (io: DecoderIO) => Array<[Precision, string]> },
): Promise<LoadedModel> {
  const tokPath = join(dir, 'tokenizer.json');
  const hasTok = existsSync(tokPath);
  const tokenizer = hasTok ? readTokenizer(tokPath, 'hf', undefined, o.special) : idsOnlyTokenizer(dir, o.io.vocabSize, o.special);
  const manifest: SlmManifest = {
    schemaVersion: 1,
    name: basename(dir),
    version: '0.0.0',
    architecture: String(o.architecture ?? 'unknown'),
    contextLength: Number(o.contextLength ?? 0) || 2048,
    tokenizer: { kind: 'hf', file: hasTok ? 'tokenizer.json' : '', sha256: hasTok ? await sha256File(tokPath) : '' },
    specialIds: o.special,
    io: o.io,
    variants: await describeVariants(dir, o.files(o.io)),
  };
  return loaded(dir, manifest, tokenizer);
}

async function loadGenai(dir: string): Promise<LoadedModel> {
  const cfgPath = join(dir, 'genai_config.json');
  const cfg = readJson(cfgPath);
  const model = (cfg['model'] ?? {}) as Record<string, unknown>;
  const decoder = (model['decoder'] ?? {}) as Record<string, unknown>;
  const inputs = (decoder['inputs'] ?? {}) as Record<string, string>;
  const outputs = (decoder['outputs'] ?? {}) as Record<string, string>;
  const filename = decoder['filename'];
  if (typeof filename !== 'string') throw new Error(`${cfgPath}: model.decoder.filename is missing`);
  const hints: IoHints = {
    inputIds: inputs['input_ids'], attentionMask: inputs['attention_mask'], positionIds: inputs['position_ids'],
    pastKey: inputs['past_key_names'], pastValue: inputs['past_value_names'], past: inputs['past_names'],
    logits: outputs['logits'], presentKey: outputs['present_key_names'], presentValue: outputs['present_value_names'], present: outputs['present_names'],
    numKvHeads: decoder['num_key_value_heads'] as number | undefined, headDim: decoder['head_size'] as number | undefined, vocabSize: model['vocab_size'] as number | undefined,
  };
  return foreignModel(dir, {
    io: readDecoderIo(join(dir, filename), hints),
    special: { bos: firstId(model['bos_token_id']), eos: firstId(model['eos_token_id']), pad: firstId(model['pad_token_id']) },
    architecture: model['type'],
    contextLength: model['context_length'],
    files: (io) => [[precisionOf(io), filename]],
  });
}

/** transformers.js file suffixes (src/utils/dtypes.js) and the precision each means. */
const OPTIMUM_SUFFIXES: Array<[string, Precision]> = [['', 'fp32'], ['_fp16', 'fp16'], ['_int8', 'int8'], ['_quantized', 'int8'], ['_q4', 'int4']];

async function loadOptimum(dir: string): Promise<LoadedModel> {
  const cfgPath = join(dir, 'config.json');
  const cfg = readJson(cfgPath);
  const onnxDir = existsSync(join(dir, 'onnx')) ? 'onnx' : '';
  const present = new Set(readdirSync(join(dir, onnxDir)));
  const found = OPTIMUM_SUFFIXES.filter(([s]) => present.has(`model${s}.onnx`)).map(([s, p]): [Precision, string] => [p, join(onnxDir, `model${s}.onnx`)]);
  if (found.length === 0) throw new Error(`${dir}: Optimum layout without ${join(onnxDir, 'model.onnx')} (or model_fp16/_int8/_quantized/_q4.onnx)`);
  const heads = cfg['num_attention_heads'] as number | undefined;
  const hidden = cfg['hidden_size'] as number | undefined;
  const hints: IoHints = {
    numKvHeads: (cfg['num_key_value_heads'] as number | undefined) ?? heads,
    headDim: (cfg['head_dim'] as number | undefined) ?? (heads && hidden ? hidden / heads : undefined),
    vocabSize: cfg['vocab_size'] as number | undefined,
  };
  return foreignModel(dir, {
    io: readDecoderIo(join(dir, found[0]![1]), hints),
    special: { bos: firstId(cfg['bos_token_id']), eos: firstId(cfg['eos_token_id']), pad: firstId(cfg['pad_token_id']) },
    architecture: cfg['model_type'],
    contextLength: cfg['max_position_embeddings'] ?? cfg['n_positions'],
    files: () => found,
  });
}

/** Loads an SLM package folder or .slm.tar (verifying every file's sha256 against slm.json before use), an
 *  onnxruntime-genai folder (genai_config.json) or an Optimum/transformers.js folder. Errors name the file. */
export async function loadModel(pathOrTar: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const path = resolve(pathOrTar);
  if (!existsSync(path)) throw new Error(`${pathOrTar}: no such file or directory`);
  if (statSync(path).isFile()) {
    if (!path.endsWith('.tar')) throw new Error(`${pathOrTar}: expected a package folder or a .slm.tar archive`);
    return loadTar(path, opts);
  }
  if (existsSync(join(path, MANIFEST_FILE))) return loadPackageDir(path, opts.verify ?? true);
  if (existsSync(join(path, 'genai_config.json'))) return loadGenai(path);
  if (existsSync(join(path, 'config.json'))) return loadOptimum(path);
  throw new Error(`${pathOrTar}: not a model folder (no slm.json, genai_config.json or config.json)`);
}
