/** Creating and changing SLM packages on disk: convert, add a variant, pack. */
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseLlama2cCheckpoint } from '../llama2c/checkpoint.js';
import { llama2cToOnnx } from '../llama2c/convert.js';
import { decodeModel, encodeModel } from '../onnx/proto.js';
import { gzipBytes, pruneModel, type PruneOptions, type PruneReport } from '../quant/prune.js';
import { quantizeModel, type QuantizeOptions, type QuantPrecision } from '../quant/quantize.js';
import { parseLlama2cVocab } from '../tokenizer/llama2c.js';
import { packageDigest, readManifestBytes } from './digest.js';
import { sha256Hex, tempPathFor, writeDirAtomic, writeFileAtomic } from './files.js';
import { decoderIoFromModel } from './io.js';
import { loadModel } from './load.js';
import { formatManifest, MANIFEST_FILE, parseManifest, type SlmManifest, type SlmVariant } from './manifest.js';
import { writeTar } from './tar.js';

export interface ConvertOptions {
  checkpoint: string;
  tokenizer: string;
  out: string;
  name?: string;
  version?: string;
  overwrite?: boolean;
  /** Called with (done, total, stage) as the conversion advances. */
  onProgress?: (done: number, total: number, stage: string) => void;
}

/** Converts a llama2.c checkpoint + tokenizer into an SLM package folder (atomically); returns its manifest. */
export async function convertLlama2cPackage(o: ConvertOptions): Promise<SlmManifest> {
  const progress = o.onProgress ?? (() => undefined);
  progress(0, 1, 'reading checkpoint');
  const ckpt = parseLlama2cCheckpoint(readFileSync(o.checkpoint), o.checkpoint);
  const tokBytes = readFileSync(o.tokenizer);
  parseLlama2cVocab(tokBytes, o.tokenizer, ckpt.config.vocabSize); // rejects a vocabulary of another size
  // Steps: read, one per layer, serialise, write.
  const total = ckpt.config.nLayers + 3;
  progress(1, total, 'building ONNX graph');
  const name = o.name ?? basename(o.checkpoint).replace(/\.bin$/, '').toLowerCase();
  const model = llama2cToOnnx(ckpt, { name, onLayer: (done, layers) => progress(1 + done, total, `layer ${done}/${layers}`) });
  progress(total - 2, total, 'serialising');
  const onnx = encodeModel(model);
  const io = decoderIoFromModel(decodeModel(onnx, { skipInitializers: true }), 'model.onnx');
  const manifest: SlmManifest = {
    schemaVersion: 1,
    name,
    version: o.version ?? '0.1.0',
    architecture: 'llama',
    contextLength: ckpt.config.seqLen,
    tokenizer: { kind: 'llama2c', file: 'tokenizer.bin', sha256: sha256Hex(tokBytes), bytes: tokBytes.length },
    specialIds: { bos: 1, eos: 2 },
    io,
    variants: [{ precision: 'fp32', file: 'model.onnx', sha256: sha256Hex(onnx), bytes: onnx.length }],
  };
  progress(total - 1, total, 'writing package');
  await writeDirAtomic(
    resolve(o.out),
    (dir) => {
      writeFileSync(join(dir, 'model.onnx'), onnx);
      writeFileSync(join(dir, 'tokenizer.bin'), tokBytes);
      writeFileSync(join(dir, MANIFEST_FILE), formatManifest(manifest));
    },
    o.overwrite,
  );
  progress(total, total, 'done');
  return manifest;
}

/** Reads a package's slm.json (no digest checks). */
export function readManifest(dir: string): SlmManifest {
  const path = join(dir, MANIFEST_FILE);
  return parseManifest(readFileSync(path, 'utf8'), path);
}

/**
 * Adds (or replaces, by file name) a variant: the ONNX file is written through a temporary name, then slm.json is
 * rewritten the same way, so readers see either the old package or the new one.
 */
export function addVariant(dir: string, variant: Omit<SlmVariant, 'sha256' | 'bytes'>, onnx: Uint8Array): SlmManifest {
  const manifest = readManifest(dir);
  writeFileAtomic(join(dir, variant.file), onnx);
  const entry: SlmVariant = { ...variant, sha256: sha256Hex(onnx), bytes: onnx.length };
  const variants = manifest.variants.filter((v) => v.file !== variant.file);
  const next: SlmManifest = { ...manifest, variants: [...variants, entry] };
  writeFileAtomic(join(dir, MANIFEST_FILE), formatManifest(next));
  return next;
}

export interface PackResult {
  /** The package digest, "sha256:" + sha256 of slm.json: what a deployment pins and the loader checks. */
  digest: string;
  /** "sha256:" + sha256 of the .slm.tar file (the pre-package-digest identity, deprecated as a pin). */
  tarDigest: string;
  manifest: SlmManifest;
}

/** Verifies a package folder and writes it as a deterministic tar (atomically); returns both digests. */
export async function packPackageInfo(dir: string, out: string): Promise<PackResult> {
  const loaded = await loadModel(dir, { verify: true });
  // The bytes the load verified would be re-read here; hash the archived slm.json itself instead.
  const manifestBytes = await readManifestBytes(join(dir, MANIFEST_FILE));
  const digest = packageDigest(manifestBytes);
  if (digest !== loaded.digest) throw new Error(`${join(dir, MANIFEST_FILE)}: changed while packing`);
  const manifest = parseManifest(manifestBytes.toString('utf8'), join(dir, MANIFEST_FILE));
  const names = [MANIFEST_FILE, manifest.tokenizer.file, ...manifest.variants.map((v) => v.file)];
  const files = [...new Set(names)].map((name) => ({ name, path: join(dir, name), size: statSync(join(dir, name)).size }));
  const target = resolve(out);
  const tmp = tempPathFor(target);
  try {
    const hex = writeTar(tmp, files);
    renameSync(tmp, target);
    return { digest, tarDigest: `sha256:${hex}`, manifest };
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** packPackageInfo returning only "sha256:<hex>" of the archive (kept for existing callers). */
export async function packPackage(dir: string, out: string): Promise<string> {
  return (await packPackageInfo(dir, out)).tarDigest;
}

/** The fp32 variant of a package (the source of quantization and pruning), decoded. */
function readFp32(dir: string) {
  const manifest = readManifest(dir);
  const base = manifest.variants.find((v) => v.precision === 'fp32' && v.sparsity === undefined);
  if (!base) throw new Error(`${join(dir, MANIFEST_FILE)}: no dense fp32 variant to start from (has ${manifest.variants.map((v) => v.file).join(', ')})`);
  const path = join(dir, base.file);
  const bytes = readFileSync(path);
  if (sha256Hex(bytes) !== base.sha256) throw new Error(`${path}: sha256 mismatch with slm.json; refusing to derive variants from it`);
  return { manifest, base, model: decodeModel(bytes) };
}

export interface QuantizeResult { manifest: SlmManifest; file: string; bytes: number; fp32Bytes: number; ratio: number }

/** Adds an int8 or int4 variant (model.int8.onnx / model.int4.onnx) quantized from the package's fp32 variant. */
export function quantizePackage(dir: string, precision: QuantPrecision, opts: QuantizeOptions = {}): QuantizeResult {
  const { base, model } = readFp32(dir);
  const onnx = encodeModel(quantizeModel(model, precision, opts));
  const file = `model.${precision}.onnx`;
  const manifest = addVariant(dir, { precision, file }, onnx);
  return { manifest, file, bytes: onnx.length, fp32Bytes: base.bytes, ratio: onnx.length / base.bytes };
}

export interface PruneResult {
  manifest: SlmManifest;
  file: string;
  report: PruneReport;
  bytes: number;
  gzipBytes: number;
  denseGzipBytes: number;
}

/** Adds a pruned fp32 variant (model.pruned-50.onnx or model.pruned-2of4.onnx) with its sparsity report. */
export function prunePackage(dir: string, opts: PruneOptions): PruneResult {
  const { base, model } = readFp32(dir);
  const { model: pruned, report } = pruneModel(model, opts);
  const onnx = encodeModel(pruned);
  const file = opts.structured ? 'model.pruned-2of4.onnx' : `model.pruned-${Math.round(opts.sparsity * 100)}.onnx`;
  const manifest = addVariant(dir, { precision: 'fp32', file, sparsity: Number(report.overall.toFixed(4)) }, onnx);
  return { manifest, file, report, bytes: onnx.length, gzipBytes: gzipBytes(onnx), denseGzipBytes: gzipBytes(readFileSync(join(dir, base.file))) };
}
