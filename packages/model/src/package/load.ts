/**
 * Loading models: SLM packages (folder or .slm.tar, every file's sha256 checked against slm.json before use),
 * onnxruntime-genai folders (genai_config.json) and Optimum / transformers.js folders (config.json + onnx/).
 * IO names and dtypes always come from the ONNX graph.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { decodeModel } from '../onnx/proto.js';
import { hfTokenizer } from '../tokenizer/hf.js';
import { llama2cTokenizer, parseLlama2cVocab } from '../tokenizer/llama2c.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { MAX_MANIFEST_BYTES, normalizeDigest, packageDigest, readManifestBytes } from './digest.js';
import { sha256File, sha256Hex, writeDirAtomic } from './files.js';
import { decoderIoFromModel, type DecoderIO, type IoHints } from './io.js';
import { MANIFEST_FILE, parseManifest, type Precision, type SlmManifest, type SlmVariant } from './manifest.js';
import { extractTar, readTarMember, type TarWanted } from './tar.js';

export interface LoadedModel {
  dir: string;
  manifest: SlmManifest;
  tokenizer: Tokenizer;
  /** Absolute path of the ONNX file for a precision (default: first variant). Throws naming the precisions present,
   *  and for a variant whose sha256 was not checked yet (see LoadOptions.verifyVariants and verifyVariant). */
  variantPath(precision?: Precision): string;
  /** The package digest ("sha256:" + sha256 of slm.json) of an SLM package; absent for folders without slm.json. */
  digest?: string;
  /** Checks a variant's size and sha256 against slm.json (once; a cached copy from a .slm.tar is re-extracted
   *  when it does not match) and resolves its path. Absent on test doubles. */
  verifyVariant?(precision?: Precision): Promise<string>;
}

export interface LoadOptions {
  /** Where .slm.tar archives are extracted (default: <os tmpdir>/slmops-models), one folder per package digest. */
  cacheDir?: string;
  /** Check sha256s against slm.json (default true; sizes are always checked; only SLM packages carry digests). */
  verify?: boolean;
  /** The pinned package digest, "sha256:<hex>" of slm.json: a package whose slm.json hashes otherwise is refused.
   *  For a .slm.tar, the sha256 of the archive file is accepted too (deprecated; reported through onWarning). */
  digest?: string;
  /** Variants hashed at load: 'all' (default) or the precisions listed; the others are hashed by verifyVariant
   *  when they are loaded. The tokenizer and slm.json are always checked. */
  verifyVariants?: 'all' | readonly Precision[];
  /** Receives deprecations and cache repairs (one line each, no secrets). */
  onWarning?: (message: string) => void;
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

/** How a LoadedModel checks variants it has not verified yet (SLM packages only). */
interface VariantChecks {
  digest: string;
  verified: Set<string>;
  check(v: SlmVariant): Promise<void>;
}

function loaded(dir: string, manifest: SlmManifest, tokenizer: Tokenizer, checks?: VariantChecks): LoadedModel {
  const variant = (precision?: Precision) => {
    const v = precision ? manifest.variants.find((x) => x.precision === precision) : manifest.variants[0];
    if (!v) throw new Error(`${dir}: no ${precision} variant; the package has ${manifest.variants.map((x) => x.precision).join(', ')}`);
    return v;
  };
  return {
    dir,
    manifest,
    tokenizer,
    ...(checks ? { digest: checks.digest } : {}),
    variantPath(precision) {
      const v = variant(precision);
      if (checks && !checks.verified.has(v.file)) {
        throw new Error(`${join(dir, v.file)}: not verified against slm.json yet (await verifyVariant(${JSON.stringify(v.precision)}) before loading it)`);
      }
      return join(dir, v.file);
    },
    async verifyVariant(precision) {
      const v = variant(precision);
      if (checks && !checks.verified.has(v.file)) {
        await checks.check(v);
        checks.verified.add(v.file);
      }
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

/** Checks one file of a package against its slm.json entry (size always, sha256 when `verify`); errors name it. */
async function checkFile(dir: string, f: { file: string; sha256: string; bytes?: number }, verify: boolean): Promise<void> {
  const path = join(dir, f.file);
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a regular file');
    size = st.size;
  } catch {
    throw new Error(`${path}: listed in slm.json but missing from the package`);
  }
  if (f.bytes !== undefined && size !== f.bytes) throw new Error(`${path}: size ${size} does not match slm.json (${f.bytes} bytes)`);
  if (verify) {
    const actual = await sha256File(path);
    if (actual !== f.sha256) throw new Error(`${path}: sha256 mismatch: slm.json says ${f.sha256}, the file has ${actual}`);
  }
}

const digestMismatch = (where: string, pinned: string, have: string) =>
  new Error(`${where}: package digest mismatch: pinned ${pinned}, but slm.json hashes to ${have}; the model was not loaded`);

interface DirLoad {
  verify: boolean;
  verifyVariants: 'all' | readonly Precision[];
  /** Pinned package digest (normalized). */
  digest?: string;
  /** Files already verified (freshly extracted and hashed). */
  verified?: readonly string[];
  /** Re-creates the folder when a deferred variant check fails (a cache extracted from a tar). */
  repair?: (why: string) => Promise<void>;
}

/**
 * Loads an SLM package folder: slm.json is read once (bounded), its bytes checked against the pinned digest and
 * parsed; then every listed file's size, and the sha256 of the tokenizer and of the variants to verify now.
 */
async function loadPackageDir(dir: string, o: DirLoad): Promise<LoadedModel> {
  const manifestPath = join(dir, MANIFEST_FILE);
  const bytes = await readManifestBytes(manifestPath);
  const digest = packageDigest(bytes);
  if (o.digest !== undefined && digest !== o.digest) throw digestMismatch(manifestPath, o.digest, digest);
  const manifest = parseManifest(bytes.toString('utf8'), manifestPath);
  const verified = new Set(o.verified ?? []);
  const now = (v: SlmVariant) => o.verifyVariants === 'all' || o.verifyVariants.includes(v.precision);
  for (const f of [manifest.tokenizer, ...manifest.variants]) {
    const hash = !verified.has(f.file) && (f === manifest.tokenizer || now(f as SlmVariant));
    await checkFile(dir, f, o.verify && hash);
    if (hash || !o.verify) verified.add(f.file);
  }
  // IO comes from the graph of the first variant verified now; with none, from the pinned slm.json.
  const ioFrom = manifest.variants.find((v) => verified.has(v.file));
  const io = ioFrom ? readDecoderIo(join(dir, ioFrom.file)) : manifest.io;
  const tokenizer = readTokenizer(join(dir, manifest.tokenizer.file), manifest.tokenizer.kind, manifest.tokenizer.kind === 'llama2c' ? io.vocabSize : undefined, manifest.specialIds);
  const check = async (v: SlmVariant) => {
    try {
      await checkFile(dir, v, true);
    } catch (e) {
      if (!o.repair) throw e;
      await o.repair((e as Error).message);
      await checkFile(dir, v, true);
    }
  };
  return loaded(dir, { ...manifest, io }, tokenizer, { digest, verified, check });
}

/** slm.json of a .slm.tar: its bytes (bounded), package digest and parsed manifest. Validates every tar header. */
export async function readTarManifest(tarPath: string): Promise<{ bytes: Buffer; digest: string; manifest: SlmManifest }> {
  const bytes = await readTarMember(tarPath, MANIFEST_FILE, MAX_MANIFEST_BYTES);
  if (!bytes) throw new Error(`${tarPath}: archive has no ${MANIFEST_FILE}`);
  return { bytes, digest: packageDigest(bytes), manifest: parseManifest(bytes.toString('utf8'), `${tarPath}!${MANIFEST_FILE}`) };
}

/** Tokenizer files without a size in slm.json (older packages) are extracted up to this size. */
const MAX_UNSIZED_TOKENIZER_BYTES = 256 << 20;

/** The entries of a package archive to extract: slm.json and the files it lists, with sizes and digests. */
function wantedEntries(bytes: Buffer, m: SlmManifest): TarWanted[] {
  const files: TarWanted[] = [
    { name: MANIFEST_FILE, bytes: bytes.length, sha256: sha256Hex(bytes) },
    { name: m.tokenizer.file, sha256: m.tokenizer.sha256, ...(m.tokenizer.bytes !== undefined ? { bytes: m.tokenizer.bytes } : { maxBytes: MAX_UNSIZED_TOKENIZER_BYTES }) },
    ...m.variants.map((v) => ({ name: v.file, bytes: v.bytes, sha256: v.sha256 })),
  ];
  const seen = new Set<string>();
  return files.filter((f) => {
    if (seen.has(f.name)) {
      if (f.name === MANIFEST_FILE) throw new Error(`${MANIFEST_FILE} lists itself as a package file`);
      return false;
    }
    seen.add(f.name);
    return true;
  });
}

/**
 * A .slm.tar: slm.json is read from the archive first and checked against the pinned digest (or, deprecated, the
 * archive's sha256). The package lives in <cacheDir>/<package digest hex>/, which is never trusted: it is loaded
 * with the same checks as any folder, and re-extracted when they fail. Extraction writes only slm.json and the
 * files it lists, each with its stated size and sha256, into a temporary folder that is then renamed.
 */
async function loadTar(tarPath: string, opts: LoadOptions): Promise<LoadedModel> {
  const { bytes, digest, manifest } = await readTarManifest(tarPath);
  if (opts.digest !== undefined) {
    const pinned = normalizeDigest(opts.digest);
    if (pinned !== digest) {
      const archive = `sha256:${await sha256File(tarPath)}`;
      if (pinned !== archive) {
        throw new Error(`${tarPath}: digest mismatch: pinned ${pinned}, but the package digest (sha256 of slm.json) is ${digest} and the archive's sha256 is ${archive}; the model was not loaded`);
      }
      opts.onWarning?.(`${tarPath}: the pinned digest ${pinned} is the sha256 of the .slm.tar file, which is deprecated and stops working in the next release; pin the package digest ${digest} (the sha256 of slm.json) instead`);
    }
  }
  const cache = resolve(opts.cacheDir ?? join(tmpdir(), 'slmops-models'));
  const dir = join(cache, digest.slice('sha256:'.length));
  const wanted = wantedEntries(bytes, manifest);
  const extract = () => writeDirAtomic(dir, async (tmp) => void (await extractTar(tarPath, tmp, wanted)), true);
  const base: DirLoad = {
    verify: opts.verify ?? true,
    verifyVariants: opts.verifyVariants ?? 'all',
    digest,
    repair: async (why) => {
      opts.onWarning?.(`${dir}: cached copy does not match the package (${why}); extracting ${tarPath} again`);
      await extract();
    },
  };
  try {
    if (existsSync(dir)) {
      try {
        return await loadPackageDir(dir, base);
      } catch (e) {
        opts.onWarning?.(`${dir}: cached copy does not match the package (${(e as Error).message}); extracting ${tarPath} again`);
      }
    }
    await extract();
    return await loadPackageDir(dir, { ...base, verified: wanted.map((w) => w.name) });
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(tarPath) ? msg : `${tarPath}: ${msg}`);
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

/** Loads an SLM package folder or .slm.tar (slm.json checked against the pinned digest, files against slm.json,
 *  before use), an onnxruntime-genai folder (genai_config.json) or an Optimum/transformers.js folder. Errors name
 *  the file. */
export async function loadModel(pathOrTar: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const path = resolve(pathOrTar);
  if (!existsSync(path)) throw new Error(`${pathOrTar}: no such file or directory`);
  if (statSync(path).isFile()) {
    if (!path.endsWith('.tar')) throw new Error(`${pathOrTar}: expected a package folder or a .slm.tar archive`);
    return loadTar(path, opts);
  }
  if (existsSync(join(path, MANIFEST_FILE))) {
    return loadPackageDir(path, { verify: opts.verify ?? true, verifyVariants: opts.verifyVariants ?? 'all', ...(opts.digest !== undefined ? { digest: normalizeDigest(opts.digest) } : {}) });
  }
  if (opts.digest !== undefined) throw new Error(`${pathOrTar}: has no ${MANIFEST_FILE} to check the pinned digest against`);
  if (existsSync(join(path, 'genai_config.json'))) return loadGenai(path);
  if (existsSync(join(path, 'config.json'))) return loadOptimum(path);
  throw new Error(`${pathOrTar}: not a model folder (no slm.json, genai_config.json or config.json)`);
}
