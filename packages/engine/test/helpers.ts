/** Test helpers: fixture paths, models loaded by @slmops/model, and small overrides for stop-rule tests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertLlama2cPackage, loadModel, type LoadedModel, type Tokenizer } from '@slmops/model';
import { expect } from 'vitest';
import { createOrtSession, EngineError, type SessionPort, type SessionPortFactory } from '../src/index.js';

export const fixtures = join(import.meta.dirname, '../../../../shared/fixtures/models');
export const gpt2Dir = join(fixtures, 'ort-genai-tiny/tiny-random-gpt2-fp32');
export const qwenDir = join(fixtures, 'ort-genai-tiny/tiny-qwen35-gqa-fp16');
export const storiesDir = join(fixtures, 'stories260K');

/** A tokenizer that prints ids as `<id>`, so tests can reason about the text stream token by token. */
export function idTokenizer(vocabSize: number, special: { bos?: number; eos?: number }, kind: 'hf' | 'llama2c' = 'hf'): Tokenizer {
  return {
    kind,
    vocabSize,
    bosId: special.bos,
    eosId: special.eos,
    encode: (text: string) => [...(special.bos !== undefined ? [special.bos] : []), ...text.split(' ').filter(Boolean).map(Number)],
    decode: (ids: readonly number[]) => ids.map((i) => `<${i}>`).join(''),
    createStreamDecoder: () => ({ push: (id: number) => `<${id}>`, flush: () => '' }),
  };
}

/** A loaded model with a different context length or tokenizer (to exercise the stop rules). */
export function withOverrides(m: LoadedModel, o: { contextLength?: number; tokenizer?: Tokenizer }): LoadedModel {
  return { ...m, tokenizer: o.tokenizer ?? m.tokenizer, manifest: { ...m.manifest, contextLength: o.contextLength ?? m.manifest.contextLength } };
}

export const loadGpt2 = () => loadModel(gpt2Dir);
export const loadQwen = () => loadModel(qwenDir);

/** stories260K converted by @slmops/model into a package in a temporary folder, then loaded. */
export async function loadStories(): Promise<LoadedModel> {
  const out = join(mkdtempSync(join(tmpdir(), 'engine-stories-')), 'pkg');
  await convertLlama2cPackage({ checkpoint: join(storiesDir, 'stories260K.bin'), tokenizer: join(storiesDir, 'tok512.bin'), out });
  return loadModel(out);
}

export async function collect<T extends { type: string }>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const e of it) out.push(e);
  return out;
}

export const tokenIds = (events: ReadonlyArray<{ type: string; id?: number }>) => events.filter((e) => e.type === 'token').map((e) => e.id!);

/** The EngineError a promise rejects with (fails the test when it resolves or rejects with something else). */
export async function rejection(p: Promise<unknown>): Promise<EngineError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(EngineError);
  return e as EngineError;
}

/** Real onnxruntime sessions that call `onRun` with every run's feeds and requested outputs first. */
export const recordingSessions =
  (onRun: (...args: Parameters<SessionPort['run']>) => void): SessionPortFactory =>
  async (path, opts) => {
    const s = await createOrtSession(path, opts);
    return {
      ...s,
      inputs: s.inputs,
      outputs: s.outputs,
      run: (feeds, outputs) => {
        onRun(feeds, outputs);
        return s.run(feeds, outputs);
      },
    };
  };
