import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '@slmops/model';
import type { EngineError} from '../src/index.js';
import { createEngine, createThreadedEngine, type Engine, type GenerateRequest, type GenerationEvent } from '../src/index.js';
import { collect, loadStories, rejection } from './helpers.js';

/** Events without timings (they differ run to run). */
const comparable = (events: GenerationEvent[]) => events.map((e) => (e.type === 'token' ? { id: e.id, text: e.text, index: e.index } : { finishReason: e.finishReason, completionTokens: e.completionTokens, text: e.text }));

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('threaded engine (session and scheduler on a worker thread)', () => {
  let model: LoadedModel;
  let inline: Engine;
  let threaded: Engine;
  beforeAll(async () => {
    model = await loadStories();
    inline = await createEngine(model, { maxBatchSize: 4, maxQueue: 2 });
    threaded = await createThreadedEngine(model, { maxBatchSize: 4, maxQueue: 2 });
  });
  afterAll(async () => {
    await inline.close();
    await threaded.close();
  });

  it('reports what it runs and streams the same events as the in-thread engine, concurrently', async () => {
    expect({ precision: threaded.precision, ep: threaded.executionProvider, ctx: threaded.contextLength }).toEqual({ precision: inline.precision, ep: inline.executionProvider, ctx: inline.contextLength });
    const requests: GenerateRequest[] = [
      { prompt: 'Once upon a time', maxTokens: 60, temperature: 0 },
      { prompt: 'Tom had a big dog', maxTokens: 40, temperature: 0, stop: ['.'] },
      { prompt: 'The sun', maxTokens: 50, temperature: 0.8, topP: 0.9, seed: 7 },
      { promptIds: [1, 403, 407], maxTokens: 30, temperature: 0, returnLogits: true },
    ];
    const expected = await Promise.all(requests.map((r) => collect(inline.generate(r))));
    const got = await Promise.all(requests.map((r) => collect(threaded.generate(r))));
    expect(got.map(comparable)).toEqual(expected.map(comparable));
    const logits = (evs: GenerationEvent[]) => evs.flatMap((e) => (e.type === 'token' ? [e.logits] : []));
    // Batch composition depends on timing, and a batched step rounds differently: equal to float32 noise, not bits.
    const [a, b] = [logits(got[3]!), logits(expected[3]!)];
    expect(a).toHaveLength(b.length);
    a.forEach((row, i) => {
      expect(row).toBeInstanceOf(Float32Array);
      expect(Math.max(...row!.map((x, v) => Math.abs(x - b[i]![v]!)))).toBeLessThan(1e-4);
    });
    expect(threaded.tokenize('Once upon a time')).toEqual(inline.tokenize('Once upon a time'));
    expect(threaded.stats()).toEqual({ running: 0, waiting: 0, kvCacheUsage: 0, kvPoolBytes: 0 });
  });

  it('fails bad requests with the same code, field and message as the in-thread engine', async () => {
    const bad: GenerateRequest[] = [
      { promptIds: [1], maxTokens: 0.5 },
      { promptIds: [1, 99999], maxTokens: 4 },
      { promptIds: Array(600).fill(5), maxTokens: 1 },
      { prompt: 'x', maxTokens: 4, topP: 3 },
    ];
    for (const req of bad) {
      const a = await rejection(collect(inline.generate(req)));
      const b = await rejection(collect(threaded.generate(req)));
      expect({ code: b.code, field: b.field, message: b.message }).toEqual({ code: a.code, field: a.field, message: a.message });
    }
  });

  it('refuses at once with RESOURCE_EXHAUSTED when the queue is full; the accepted ones complete', async () => {
    const results = await Promise.allSettled(Array.from({ length: 9 }, () => collect(threaded.generate({ prompt: 'Once', maxTokens: 30, temperature: 0 }))));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect((r.reason as EngineError).code).toBe('RESOURCE_EXHAUSTED');
    const done = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.at(-1)] : []));
    expect(done.length).toBeGreaterThanOrEqual(6);
    for (const d of done) expect(d).toMatchObject({ type: 'done', finishReason: 'length', completionTokens: 30 });
    await until(() => threaded.stats().running === 0 && threaded.stats().waiting === 0);
  });

  it('cancels: abort ends with a cancelled event, a TimeoutError reason with DEADLINE_EXCEEDED, an early break frees the slot', async () => {
    const ctrl = new AbortController();
    const events: GenerationEvent[] = [];
    for await (const e of threaded.generate({ prompt: 'Once', maxTokens: 400, temperature: 0 }, ctrl.signal)) {
      events.push(e);
      if (e.type === 'token' && e.index === 2) ctrl.abort();
    }
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'cancelled' });
    expect(events.length).toBeLessThan(400);

    const deadline = new AbortController();
    const it = threaded.generate({ prompt: 'Once', maxTokens: 400, temperature: 0 }, deadline.signal)[Symbol.asyncIterator]();
    await it.next();
    deadline.abort(new DOMException('deadline', 'TimeoutError'));
    const e = await rejection((async () => { for (;;) if ((await it.next()).done) return; })());
    expect(e.code).toBe('DEADLINE_EXCEEDED');

    for await (const ev of threaded.generate({ prompt: 'Once', maxTokens: 400, temperature: 0 })) if (ev.type === 'token') break;
    await until(() => threaded.stats().running === 0);
  });

  it('with relayIntervalMs, later tokens wait to travel together; the events are the same', async () => {
    // Which turn of this thread's event loop each event arrives in: one message from the worker is one turn.
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    tick();
    const arrivals = async (engine: Engine) => {
      const got: Array<{ event: GenerationEvent; turn: number }> = [];
      for await (const event of engine.generate({ prompt: 'Once upon a time', maxTokens: 60, temperature: 0 })) got.push({ event, turn });
      return got;
    };
    const holding = await createThreadedEngine(model, { relayIntervalMs: 60_000 });
    try {
      const every = await arrivals(threaded);
      const held = await arrivals(holding);
      expect(held.map((a) => a.event).filter((e) => e.type === 'token')).toHaveLength(60);
      expect(comparable(held.map((a) => a.event))).toEqual(comparable(every.map((a) => a.event)));
      // The first token goes at once; the other 59 wait for the end (the interval outlasts the request).
      const turns = (got: typeof held) => new Set(got.map((a) => a.turn)).size;
      expect(held[1]!.turn).toBeGreaterThan(held[0]!.turn);
      expect(turns(held)).toBe(2);
      expect(turns(every)).toBeGreaterThan(2);
    } finally {
      ticking = false;
      await holding.close();
    }
    expect((await rejection(createThreadedEngine(model, { relayIntervalMs: -1 }))).field).toBe('relayIntervalMs');
  });

  it('scores a sequence as the in-thread engine does', async () => {
    const ids = threaded.tokenize('Once upon a time there was a little girl');
    expect(await threaded.score(ids)).toEqual(await inline.score(ids));
    expect((await rejection(threaded.score([1]))).code).toBe('INVALID_ARGUMENT');
  });

  it('close ends requests in flight as cancelled and refuses new ones', async () => {
    const engine = await createThreadedEngine(model, { maxBatchSize: 2 });
    const running = collect(engine.generate({ prompt: 'Once', maxTokens: 500, temperature: 0 }));
    await until(() => engine.stats().running === 1);
    await engine.close();
    expect((await running).at(-1)).toMatchObject({ type: 'done', finishReason: 'cancelled' });
    expect((await rejection(collect(engine.generate({ prompt: 'Once', maxTokens: 2 })))).code).toBe('FAILED_PRECONDITION');
  });

  it('a worker that dies fails the requests in flight with INTERNAL and refuses new ones', async () => {
    const engine = await createThreadedEngine(model, { maxBatchSize: 2 }, { entry: new URL('./fixtures/dying-thread.mjs', import.meta.url) });
    const e = await rejection(collect(engine.generate({ prompt: 'Once', maxTokens: 200, temperature: 0 })));
    expect(e).toMatchObject({ code: 'INTERNAL', message: 'the engine thread exited (code 3)' });
    expect((await rejection(collect(engine.generate({ prompt: 'Once', maxTokens: 2 })))).code).toBe('INTERNAL');
    expect(engine.stats()).toEqual({ running: 0, waiting: 0, kvCacheUsage: 0, kvPoolBytes: 0 });
    await engine.close();
  });

  it('rejects with the reason when the worker cannot open the package', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'engine-threaded-')), 'pkg');
    cpSync(model.dir, dir, { recursive: true });
    const copy = await loadModel(dir);
    rmSync(copy.variantPath(), { force: true });
    const e = await createThreadedEngine(copy).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(e?.message).toContain(copy.variantPath());
  });

  it('an idle threaded engine does not keep the process alive', () => {
    const script = `
      import { loadModel } from '@slmops/model';
      import { createThreadedEngine } from '@slmops/engine';
      const engine = await createThreadedEngine(await loadModel(${JSON.stringify(model.dir)}));
      let n = 0;
      for await (const e of engine.generate({ prompt: 'Once', maxTokens: 3, temperature: 0 })) if (e.type === 'token') n++;
      process.stdout.write('tokens ' + n);`;
    const r = spawnSync(process.execPath, ['--input-type=module'], { input: script, cwd: join(import.meta.dirname, '..'), encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('tokens 3');
    expect(r.status).toBe(0);
  });
});

describe('workerExecArgv', () => {
  it('drops the source condition and --input-type, keeps every other flag', async () => {
    const { workerExecArgv } = await import('../src/thread/host.js');
    expect(
      workerExecArgv(['--conditions', '@slmops/source', '--conditions', 'node', '-C=@slmops/source', '--input-type=module', '--input-type', 'commonjs', '--max-old-space-size=256', '--conditions=@slmops/source']),
    ).toEqual(['--conditions', 'node', '--max-old-space-size=256']);
  });
});
