export * from './onnx/proto.js';
export type { Tokenizer, TokenizerOptions } from './tokenizer/types.js';
export { llama2cTokenizer, parseLlama2cVocab, type Llama2cVocab } from './tokenizer/llama2c.js';
export { hfTokenizer } from './tokenizer/hf.js';
export { GraphBuilder, float, floats, tensor, type Attr } from './onnx/builder.js';
export * from './llama2c/checkpoint.js';
export { llama2cToOnnx, ropeFrequencies, transpose, llamaIoNames } from './llama2c/convert.js';
export type { DecoderIO, IoHints } from './package/io.js';
export { decoderIoFromModel } from './package/io.js';
export * from './package/manifest.js';
export { sha256File, sha256Hex, writeDirAtomic, writeFileAtomic } from './package/files.js';
export { loadModel, readDecoderIo, readTarManifest, readTokenizer, reopenModel, type LoadedModel, type LoadOptions } from './package/load.js';
export { MAX_MANIFEST_BYTES, normalizeDigest, packageDigest, readManifestBytes } from './package/digest.js';
export {
  convertLlama2cPackage, addVariant, packPackage, packPackageInfo, readManifest, quantizePackage, prunePackage,
  type ConvertOptions, type PackResult, type QuantizeResult, type PruneResult,
} from './package/build.js';
export { writeTar, extractTar, listTar, readTarMember, MAX_TAR_ENTRIES, type TarEntry, type TarWanted } from './package/tar.js';
export { quantizeModel, quantizeRowsInt8, quantizeRowsInt4, INT4_BLOCK, type QuantPrecision, type QuantizeOptions } from './quant/quantize.js';
export { pruneModel, pruneUnstructured, prune2of4, gzipBytes, type PruneOptions, type PruneReport, type TensorSparsity } from './quant/prune.js';
export { summarizeOnnx, type OnnxSummary } from './onnx/inspect.js';
