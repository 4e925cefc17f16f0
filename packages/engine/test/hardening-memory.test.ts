/** Issue 17 item 14: memory a load peak takes is bounded by configuration and given back when the engine is idle. */
import type { LoadedModel } from '@slmops/model';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KV_POOL_MAX_BYTES, type Engine, createEngine, createThreadedEngine } from '../src/index.js';
import { loadStories } from './helpers.js';

/** 16 concurrent requests of different lengths (so the batch shrinks as they end); the largest pooled bytes seen. */
async function loadRun(engine: Engine): Promise<number> {
  let most = 0;
  const watch = () => (most = Math.max(most, engine.stats().kvPoolBytes ?? Number.NaN));
  await Promise.all(
    Array.from({ length: 16 }, async (_, i) => {
      for await (const ev of engine.generate({ prompt: 'Once upon a time'.repeat(1 + (i % 4)), maxTokens: 40 + 20 * i, temperature: 0.8, seed: i })) {
        if (ev.type === 'token') watch();
      }
    }),
  );
  watch();
  return most;
}

describe('hardening item 14: the KV pool is bounded by kvPoolMaxBytes and empty when idle', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    model = await loadStories();
  });

  it('hardening item 14: pooled KV bytes never exceed kvPoolMaxBytes under 16 concurrent requests, and are 0 once idle', async () => {
    const cap = 96 * 1024;
    const unbounded = await createEngine(model, { maxBatchSize: 16 });
    const bounded = await createEngine(model, { maxBatchSize: 16, kvPoolMaxBytes: cap });
    try {
      const mostDefault = await loadRun(unbounded);
      const mostBounded = await loadRun(bounded);
      // The run pools more than the small cap when left to the default, so the cap is what holds it down.
      expect(mostDefault).toBeGreaterThan(cap);
      expect(mostDefault).toBeLessThanOrEqual(DEFAULT_KV_POOL_MAX_BYTES);
      expect(mostBounded).toBeLessThanOrEqual(cap);
      expect(unbounded.stats().kvPoolBytes).toBe(0);
      expect(bounded.stats().kvPoolBytes).toBe(0);
    } finally {
      await unbounded.close();
      await bounded.close();
    }
  });

  it('hardening item 14: a threaded engine applies kvPoolMaxBytes on its worker and reports an empty pool once idle', async () => {
    const cap = 96 * 1024;
    const engine = await createThreadedEngine(model, { maxBatchSize: 16, kvPoolMaxBytes: cap });
    try {
      expect(await loadRun(engine)).toBeLessThanOrEqual(cap);
      expect(engine.stats()).toMatchObject({ running: 0, waiting: 0, kvPoolBytes: 0 });
    } finally {
      await engine.close();
    }
  });

  it('hardening item 14: kvPoolMaxBytes must be a non-negative integer', async () => {
    await expect(createEngine(model, { kvPoolMaxBytes: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'kvPoolMaxBytes' });
  });
});
