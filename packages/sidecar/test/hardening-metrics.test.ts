/** Issue 17 item 6: every refusal and expiry is counted under its own status code. */
import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeEngine, regrouped } from './fake-engine.js';
import { type Harness, baseConfig, collect, generateCall, startHarness, unary } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const waitFor = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** slmops_request_failure_total by code, read from the live /metrics. */
async function failures(harness: Harness): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${harness.sidecar.metricsAddress}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^slmops_request_failure_total\{[^}]*code="([A-Z_]+)"[^}]*\} (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

describe('hardening item 6: deadline expiries and parse refusals are counted under their own codes', () => {
  it('hardening item 6: streaming Generate past its deadline counts DEADLINE_EXCEEDED, never CANCELLED', async () => {
    // Long generations (a 5 ms step, thousands of tokens) so every deadline passes mid-stream; tokens arrive in
    // bursts, as a threaded engine's stream interval delivers them, so some are always on their way at the deadline.
    const engine = createFakeEngine({ stepMs: 5, contextLength: 100_000, maxBatchSize: 64 });
    const bursty = regrouped(engine, (ev) => (ev.type === 'done' ? 'release' : 'hold'));
    h = await startHarness(baseConfig({ maxBatchSize: 64 }), { createEngine: async () => bursty });
    await h.sidecar.ready;
    const deadlines = [20, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250, 300];
    const results = await Promise.all(
      deadlines.flatMap((ms, i) => [0, 1].map((j) => collect(generateCall(h!, { prompt: `d${i}.${j}`, max_tokens: 50_000 }, { deadline: Date.now() + ms })))),
    );
    for (const r of results) expect(r.error?.code).toBe(status.DEADLINE_EXCEEDED);
    // The client's own timer may end a call before the server has finished with it (or, on a loaded machine,
    // before the request left): count once the server has nothing in flight.
    await waitFor(() => h!.sidecar.service.inflight === 0);
    const counted = await failures(h);
    expect(counted).toEqual({ DEADLINE_EXCEEDED: expect.any(Number) });
    expect(counted['DEADLINE_EXCEEDED']).toBeGreaterThanOrEqual(1);
    expect(counted['DEADLINE_EXCEEDED']).toBeLessThanOrEqual(results.length);
  });

  it('hardening item 6: OIP and OpenAI parse refusals are counted as failures', async () => {
    h = await startHarness(baseConfig(), { createEngine: async () => createFakeEngine() });
    await h.sidecar.ready;
    await expect(unary(h.oip, 'ModelInfer', { model_name: 'fake', inputs: [{ name: 'nope', datatype: 'BYTES', shape: [1] }] })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(unary(h.oip, 'ModelInfer', { model_name: 'other', inputs: [] })).rejects.toMatchObject({ code: status.NOT_FOUND });
    const post = (path: string, body: string) => fetch(`http://${h!.sidecar.metricsAddress}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await post('/v1/completions', '{not json')).status).toBe(400);
    expect((await post('/v1/chat/completions', JSON.stringify({ messages: [{ role: 'robot', content: 'x' }] }))).status).toBe(400);
    expect((await post('/v1/completions', JSON.stringify({ prompt: 'x', temperature: 'hot' }))).status).toBe(400);
    expect(await failures(h)).toEqual({ INVALID_ARGUMENT: 4, NOT_FOUND: 1 });
  });
});
