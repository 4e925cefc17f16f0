/** slm.json: the manifest of an SLM package, and the checks that keep it honest. */
import type { Precision } from '@slmops/api';
import type { DecoderIO } from './io.js';

export type { Precision };

export interface SlmVariant {
  precision: Precision;
  file: string;
  sha256: string;
  bytes: number;
  /** Fraction of weights that are zero (pruned variants). */
  sparsity?: number;
}

export interface SlmEvaluation {
  greedyAgreement?: number;
  perplexity?: number;
  perplexityDelta?: number;
  prompts?: number;
  evaluatedAt?: string;
}

export interface SlmManifest {
  schemaVersion: 1;
  name: string;
  version: string;
  architecture: string;
  contextLength: number;
  /** `bytes` is written by packages built since the package digest was introduced; older ones omit it. */
  tokenizer: { kind: 'llama2c' | 'hf'; file: string; sha256: string; bytes?: number };
  specialIds: { bos?: number; eos?: number; pad?: number };
  /** How the decoder's IO is named, read from the ONNX file when the package was built/loaded. */
  io: DecoderIO;
  variants: SlmVariant[];
  evaluation?: Record<string, SlmEvaluation>;
}

export const MANIFEST_FILE = 'slm.json';
const PRECISIONS: readonly string[] = ['fp32', 'fp16', 'int8', 'int4'];
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** Parses and checks slm.json text; errors name the file and the field. */
export function parseManifest(text: string, file: string): SlmManifest {
  let m: SlmManifest;
  try {
    m = JSON.parse(text) as SlmManifest;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const bad = (field: string, why: string) => new Error(`${file}: ${field}: ${why}`);
  if (typeof m !== 'object' || m === null) throw bad('<root>', 'must be an object');
  if (m.schemaVersion !== 1) throw bad('schemaVersion', `must be 1, got ${JSON.stringify(m.schemaVersion)}`);
  for (const k of ['name', 'version', 'architecture'] as const) if (typeof m[k] !== 'string' || !m[k]) throw bad(k, 'must be a non-empty string');
  if (!Number.isInteger(m.contextLength) || m.contextLength <= 0) throw bad('contextLength', 'must be a positive integer');
  const checkFile = (field: string, f: unknown) => {
    if (typeof f !== 'string' || !FILE_NAME.test(f)) throw bad(field, `must be a plain file name inside the package, got ${JSON.stringify(f)}`);
  };
  if (!m.tokenizer || (m.tokenizer.kind !== 'llama2c' && m.tokenizer.kind !== 'hf')) throw bad('tokenizer.kind', 'must be llama2c or hf');
  checkFile('tokenizer.file', m.tokenizer.file);
  if (!SHA256.test(String(m.tokenizer.sha256))) throw bad('tokenizer.sha256', 'must be 64 lowercase hex digits');
  if (m.tokenizer.bytes !== undefined && (!Number.isSafeInteger(m.tokenizer.bytes) || m.tokenizer.bytes <= 0)) throw bad('tokenizer.bytes', 'must be a positive integer');
  if (!Array.isArray(m.variants) || m.variants.length === 0) throw bad('variants', 'must list at least one variant');
  m.variants.forEach((v, i) => {
    if (!PRECISIONS.includes(v.precision)) throw bad(`variants[${i}].precision`, `must be one of ${PRECISIONS.join(', ')}`);
    checkFile(`variants[${i}].file`, v.file);
    if (!SHA256.test(String(v.sha256))) throw bad(`variants[${i}].sha256`, 'must be 64 lowercase hex digits');
    if (!Number.isSafeInteger(v.bytes) || v.bytes <= 0) throw bad(`variants[${i}].bytes`, 'must be a positive integer');
  });
  if (!m.io || typeof m.io.inputIds !== 'string' || !Array.isArray(m.io.pastNames)) throw bad('io', 'must describe the decoder IO');
  if (typeof m.specialIds !== 'object' || m.specialIds === null) throw bad('specialIds', 'must be an object');
  return m;
}

/** slm.json text: stable key order, two-space indent, trailing newline. */
export const formatManifest = (m: SlmManifest): string => `${JSON.stringify(m, null, 2)}\n`;
