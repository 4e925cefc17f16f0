import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Llama2cConfig, convertLlama2cPackage, packPackage, randomLlama2cWeights, writeLlama2cCheckpoint } from '@slmops/model';

export const FIXTURES = join(import.meta.dirname, '../../../../shared/fixtures/models/stories260K');

export interface Reference {
  prompt: string;
  promptTokens: number[];
  /** Greedy continuation ids (after the prompt) from llama2.c's run.c. */
  continuation: number[];
}

/** The llama2.c reference run for "Once upon a time". */
export function reference(): Reference {
  const ref = JSON.parse(readFileSync(join(FIXTURES, 'reference-greedy.json'), 'utf8')) as { runs: { prompt: string; prompt_tokens: number[]; tokens: number[] }[] };
  const run = ref.runs[0]!;
  // `tokens` repeats the prompt (without BOS) before the generated ids, as run.c prints them.
  return { prompt: run.prompt, promptTokens: run.prompt_tokens, continuation: run.tokens.slice(run.prompt_tokens.length - 1) };
}

export interface ConvertedModel {
  dir: string;
  tar: string;
  tarDigest: string;
  root: string;
  cleanup(): void;
}

/** Converts stories260K into an SLM package folder and a .slm.tar under a fresh temp dir. */
export async function convertStories(): Promise<ConvertedModel> {
  const root = mkdtempSync(join(tmpdir(), 'slmops-sidecar-test-'));
  const dir = join(root, 'stories260k');
  await convertLlama2cPackage({ checkpoint: join(FIXTURES, 'stories260K.bin'), tokenizer: join(FIXTURES, 'tok512.bin'), out: dir, name: 'stories260k', version: '1' });
  const tar = join(root, 'stories260k.slm.tar');
  const tarDigest = await packPackage(dir, tar);
  return { dir, tar, tarDigest, root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** A random-weight model of the given shape with the 512-token vocabulary, converted into a package folder. */
export async function convertRandom(shape: Omit<Llama2cConfig, 'sharedClassifier'>, name: string, tokenizer = join(FIXTURES, 'tok512.bin')): Promise<ConvertedModel> {
  const root = mkdtempSync(join(tmpdir(), `slmops-sidecar-${name}-`));
  const ckpt = join(root, `${name}.bin`);
  const config = { ...shape, sharedClassifier: true };
  writeFileSync(ckpt, writeLlama2cCheckpoint(config, randomLlama2cWeights(config, 1)));
  const dir = join(root, name);
  await convertLlama2cPackage({ checkpoint: ckpt, tokenizer, out: dir, name, version: '1' });
  rmSync(ckpt);
  return { dir, tar: '', tarDigest: '', root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
