/** Issue 17 item 1 in the engine: long prompts are encoded off the caller's thread; id lists are bounded first. */
import type { LoadedModel, Tokenizer } from '@slmops/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, INLINE_TOKENIZE_CHARS, createEngine, createThreadedEngine } from '../src/index.js';
import { collect, loadStories, rejection } from './helpers.js';

describe('hardening item 1: tokenization off the caller thread, length bounds first', () => {
  let model: LoadedModel;
  /** Text lengths the caller thread's tokenizer was asked to encode. */
  const onCaller: number[] = [];
  let threaded: Engine;
  beforeAll(async () => {
    model = await loadStories();
    const spy = Object.create(model.tokenizer) as Tokenizer;
    spy.encode = (text: string) => {
      onCaller.push(text.length);
      return model.tokenizer.encode(text);
    };
    threaded = await createThreadedEngine({ ...model, tokenizer: spy });
  });
  afterAll(() => threaded.close());

  it('hardening item 1: a threaded engine encodes a long text on its worker: the same ids, the caller thread never encodes it', async () => {
    const long = 'Once upon a time there was a little girl named Lily. '.repeat(400).slice(0, 16 * 1024);
    const expected = model.tokenizer.encode(long);
    expect(await threaded.tokenizeAsync(long)).toEqual(expected);
    expect(onCaller).not.toContain(long.length);
    // A short text is encoded in place: cheaper than the hop to a worker that may be mid-step.
    const short = 'Once upon a time';
    expect(short.length).toBeLessThanOrEqual(INLINE_TOKENIZE_CHARS);
    expect(await threaded.tokenizeAsync(short)).toEqual(model.tokenizer.encode(short));
    expect(onCaller).toContain(short.length);
  });

  it('hardening item 1: a prompt id list longer than the context is refused by its length before any id is checked', async () => {
    const engine = await createEngine(model);
    try {
      const err = await rejection(collect(engine.generate({ promptIds: new Array(100_000).fill(-1), maxTokens: 1 })));
      expect({ code: err.code, field: err.field }).toEqual({ code: 'OUT_OF_RANGE', field: 'promptIds' });
    } finally {
      await engine.close();
    }
  });
});
