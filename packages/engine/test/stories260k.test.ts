import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import { collect, loadStories, recordingSessions, storiesDir, tokenIds } from './helpers.js';

const ref = JSON.parse(readFileSync(join(storiesDir, 'reference-greedy.json'), 'utf8')) as {
  runs: Array<{ prompt: string; prompt_tokens: number[]; tokens: number[]; top5: Array<Array<[number, number]>>; text: string }>;
};
const run = ref.runs[0]!;

describe('stories260K converted from llama2.c reproduces run.c through the engine', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine(await loadStories(), { maxBatchSize: 32 });
  });
  afterAll(() => engine.close());

  it('greedy ids equal reference-greedy.json and every position\'s top-5 logits are within 1e-4', async () => {
    const ev = await collect(engine.generate({ prompt: run.prompt, maxTokens: 190, temperature: 0, returnLogits: true }));
    const generated = tokenIds(ev);
    const P = run.prompt_tokens.length;
    // run.tokens[i] is the id after position i; generated token k follows position P-1+k.
    expect(generated).toEqual(run.tokens.slice(P - 1, P - 1 + 190));
    let worst = 0;
    ev.filter((e) => e.type === 'token').forEach((t, k) => {
      for (const [id, value] of run.top5[P - 1 + k]!) worst = Math.max(worst, Math.abs(t.logits![id]! - value));
    });
    expect(worst).toBeLessThan(1e-4);
    const text = ev.map((e) => (e.type === 'token' ? e.text : '')).join('');
    // The reference text is 195 generated tokens; ours stops 5 tokens earlier (" so she" and 3 more pieces).
    expect(run.text.startsWith(run.prompt + text)).toBe(true);
    expect(run.text.length - (run.prompt + text).length).toBeLessThan(25);
  });

  it('an empty prompt starts from BOS and follows the same path (README prompt 3)', async () => {
    const ev = await collect(engine.generate({ prompt: '', maxTokens: 20, temperature: 0 }));
    expect(tokenIds(ev)).toEqual(run.tokens.slice(0, 20));
    expect(ev.filter((e) => e.type === 'token')[0]).toMatchObject({ id: 403, text: 'Once' });
  });

  it('keeps the KV cache itself: fetches only logits and kv_delta.*, and grows the cache in place', async () => {
    const fetched: Array<readonly string[] | undefined> = [];
    const pastBuffers = new Set<ArrayBufferLike>();
    const pastLengths: number[] = [];
    const recording = recordingSessions((feeds, outputs) => {
      fetched.push(outputs);
      if (feeds['input_ids']!.dims[1] !== 1) return;
      pastBuffers.add(feeds['past_key_values.0.key']!.data.buffer);
      pastLengths.push(feeds['past_key_values.0.key']!.dims[2]!);
    });
    const e = await createEngine(await loadStories(), { maxBatchSize: 1, session: recording });
    const ids = tokenIds(await collect(e.generate({ prompt: run.prompt, maxTokens: 120, temperature: 0 })));
    await e.close();
    expect(ids).toEqual(run.tokens.slice(run.prompt_tokens.length - 1, run.prompt_tokens.length - 1 + 120));
    expect(fetched[0]).toEqual(['logits', ...Array.from({ length: 5 }, (_, i) => [`kv_delta.${i}.key`, `kv_delta.${i}.value`]).flat()]);
    expect(new Set(fetched.map((f) => f?.join()))).toHaveLength(1);
    // 119 decode steps write their keys and values into room the cache keeps: a longer buffer only when the room
    // runs out (half as much again each time), not one per step.
    expect(pastBuffers.size).toBeLessThanOrEqual(8);
    expect(pastLengths.filter((p, i) => i > 0 && p === pastLengths[i - 1]).length).toBeGreaterThan(100);
  });

  it('32 concurrent greedy streams of different prompts equal their solo runs', async () => {
    const subjects = ['Once upon a time', 'The dog', 'Lily and Tom', 'One day', 'Tim', 'She', 'The sun', 'Mom'];
    const verbs = ['', ' saw', ' went to the big park with', ' liked'];
    const prompts = subjects.flatMap((s) => verbs.map((v) => s + v));
    const solo: number[][] = [];
    for (const p of prompts) solo.push(tokenIds(await collect(engine.generate({ prompt: p, maxTokens: 40, temperature: 0 }))));
    const together = await Promise.all(prompts.map((p) => collect(engine.generate({ prompt: p, maxTokens: 40, temperature: 0 }))));
    expect(together.map(tokenIds)).toEqual(solo);
    expect(new Set(solo.map((t) => t.join())).size).toBeGreaterThan(16);
  }, 60_000); // 64 generations of 40 tokens
});
