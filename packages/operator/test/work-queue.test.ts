import { describe, expect, it } from 'vitest';
import { FakeClock } from '../src/queue/clock.js';
import { WorkQueue } from '../src/queue/work-queue.js';

/** A handler whose calls stay open until the test settles them. */
function controllable() {
  const calls: { key: string; resolve: (v?: { requeueAfterMs?: number }) => void; reject: (e: unknown) => void }[] = [];
  const handler = (key: string) =>
    new Promise<{ requeueAfterMs?: number } | void>((resolve, reject) => calls.push({ key, resolve: (v) => resolve(v), reject }));
  return { calls, handler };
}
const flush = () => new Promise((r) => setImmediate(r));

describe('WorkQueue', () => {
  it('dedupes pending keys and keeps one reconcile in flight per key', async () => {
    const h = controllable();
    const q = new WorkQueue({ handler: h.handler, concurrency: 4, clock: new FakeClock() });
    q.add('a');
    q.add('a');
    q.add('b');
    await flush();
    expect(h.calls.map((c) => c.key)).toEqual(['a', 'b']);
    q.add('a'); // during processing: runs once more afterwards, not in parallel
    q.add('a');
    await flush();
    expect(h.calls).toHaveLength(2);
    h.calls[0]!.resolve();
    await flush();
    expect(h.calls.map((c) => c.key)).toEqual(['a', 'b', 'a']);
    h.calls[1]!.resolve();
    h.calls[2]!.resolve();
    await q.idle();
    expect(h.calls).toHaveLength(3);
  });

  it('never runs more than maxConcurrent keys at once', async () => {
    const h = controllable();
    const q = new WorkQueue({ handler: h.handler, concurrency: 2, clock: new FakeClock() });
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    await flush();
    expect(h.calls.map((c) => c.key)).toEqual(['a', 'b']);
    expect(q.depth()).toBe(2);
    h.calls[0]!.resolve();
    await flush();
    expect(h.calls.map((c) => c.key)).toEqual(['a', 'b', 'c']);
  });

  it('backs off exponentially per key up to the cap and resets after a success', async () => {
    const clock = new FakeClock();
    const delays: number[] = [];
    let fail = 5;
    const runs: number[] = [];
    const q = new WorkQueue({
      clock,
      baseBackoffMs: 100,
      maxBackoffMs: 1000,
      onError: (_k, _e, ms) => delays.push(ms),
      handler: async () => {
        runs.push(clock.now());
        if (fail-- > 0) throw new Error('boom');
      },
    });
    q.add('a');
    for (let i = 0; i < 100; i++) {
      await flush();
      clock.advance(50);
    }
    await flush();
    expect(delays).toEqual([100, 200, 400, 800, 1000]);
    expect(runs.slice(1).map((t, i) => t - runs[i]!)).toEqual([100, 200, 400, 800, 1000]);
    expect(q.failureCount('a')).toBe(0);
    expect(q.depth()).toBe(0);
  });

  it('an add while backing off waits for the retry instead of hammering the API', async () => {
    const clock = new FakeClock();
    let n = 0;
    const q2 = new WorkQueue({
      clock,
      baseBackoffMs: 500,
      handler: async () => {
        n++;
        if (n === 1) throw new Error('first fails');
      },
    });
    q2.add('a');
    await flush();
    expect(n).toBe(1);
    expect(q2.depth()).toBe(1);
    q2.add('a');
    await flush();
    expect(n).toBe(1);
    clock.advance(499);
    await flush();
    expect(n).toBe(1);
    clock.advance(1);
    await flush();
    expect(n).toBe(2);
  });

  it("honours a 429's Retry-After when it is longer than the backoff", async () => {
    const clock = new FakeClock();
    const runs: number[] = [];
    const q = new WorkQueue({
      clock,
      baseBackoffMs: 10,
      handler: async () => {
        runs.push(clock.now());
        if (runs.length === 1) throw Object.assign(new Error('too many requests'), { status: 429, retryAfterSeconds: 3 });
      },
    });
    q.add('a');
    await flush();
    clock.advance(2999);
    await flush();
    expect(runs).toEqual([0]);
    clock.advance(1);
    await flush();
    expect(runs).toEqual([0, 3000]);
  });

  it('requeues after requeueAfterMs, and an earlier delay wins over a later one', async () => {
    const clock = new FakeClock();
    const runs: number[] = [];
    const q = new WorkQueue({ clock, handler: async () => (runs.push(clock.now()), runs.length === 1 ? { requeueAfterMs: 5000 } : {}) });
    q.add('a');
    await flush();
    q.addAfter('a', 8000);
    q.addAfter('a', 2000);
    clock.advance(1999);
    await flush();
    expect(runs).toEqual([0]);
    clock.advance(1);
    await flush();
    expect(runs).toEqual([0, 2000]);
    clock.advance(10_000);
    await flush();
    expect(runs).toEqual([0, 2000]);
    await q.idle();
  });

  it('reports depth, including keys waiting out a backoff', async () => {
    const clock = new FakeClock();
    const depths: number[] = [];
    const q = new WorkQueue({ clock, paused: true, onDepth: (d) => depths.push(d), handler: async (k) => void (k === 'bad' && Promise.reject(new Error('x'))) });
    q.add('a');
    q.add('b');
    expect(q.depth()).toBe(2);
    q.resume();
    await q.idle();
    expect(q.depth()).toBe(0);
    expect(depths).toEqual([1, 2, 1, 0]);
  });

  it('pauses (standby) and shuts down cleanly, waiting for in-flight work and dropping the rest', async () => {
    const h = controllable();
    const clock = new FakeClock();
    const q = new WorkQueue({ handler: h.handler, clock });
    q.add('a');
    await flush();
    q.pause();
    q.add('b');
    await flush();
    expect(h.calls.map((c) => c.key)).toEqual(['a']);
    q.addAfter('c', 1000);
    let done = false;
    const s = q.shutdown().then(() => (done = true));
    await flush();
    expect(done).toBe(false);
    h.calls[0]!.resolve({ requeueAfterMs: 10 });
    await s;
    expect(clock.pending).toBe(0);
    q.add('d');
    q.resume();
    await flush();
    expect(h.calls.map((c) => c.key)).toEqual(['a']);
  });

  it('forget drops a pending key and its backoff', async () => {
    const clock = new FakeClock();
    let n = 0;
    const q = new WorkQueue({
      clock,
      handler: async () => {
        n++;
        throw new Error('x');
      },
    });
    q.add('a');
    await flush();
    expect(q.depth()).toBe(1);
    q.forget('a');
    expect(q.depth()).toBe(0);
    clock.advance(60_000);
    await flush();
    expect(n).toBe(1);
  });
});
