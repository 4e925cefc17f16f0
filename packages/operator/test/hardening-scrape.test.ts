/**
 * Hardening item 2: one pod's /metrics must not be able to exhaust the operator. Real HTTP servers answer the
 * analysis scrape with a huge streamed body, a trickle and silence; the runtime's default (bounded) scrape runs.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeKube } from '@slmops/kube';
import { createPluginHost } from '@slmops/plugin-sdk';
import { cpu } from '@slmops/plugin-cpu';
import { afterEach, describe, expect, it } from 'vitest';
import type { OutboundLimits } from '@slmops/metrics';
import { createReconciler } from '../src/reconcile/reconciler.js';
import { type Logger, silentLogger } from '../src/runtime/log.js';
import { startCache } from './support/cache.js';
import { createFakeCore, slmd } from './support/fake-plan.js';

const ctx = { host: createPluginHost([cpu()]), config: { sidecarImage: 'sidecar:test', controllerName: 'slmops-operator' } };
const MiB = 1024 * 1024;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server whose /metrics handler is `handle`; resolves its base URL. */
async function serve(handle: (res: ServerResponse) => void): Promise<string> {
  const server: Server = createServer((_req, res) => handle(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  cleanups.push(() => void server.closeAllConnections());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Streams `total` bytes of valid-looking exposition with backpressure; counts bytes the socket accepted. */
function hugeBody(total: number, counter: { sent: number; closed: boolean }) {
  return (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }); // chunked: no Content-Length to reject early
    const line = Buffer.from(`slmops_request_success_total{model_name="m",finished_reason="stop"} 1\n`);
    const chunk = Buffer.concat(Array.from({ length: Math.ceil(65536 / line.length) }, () => line));
    res.on('close', () => (counter.closed = true));
    const pump = () => {
      while (counter.sent < total && !res.destroyed) {
        counter.sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
  };
}

async function setup(limits: OutboundLimits, logger: Logger = silentLogger) {
  const kube = createFakeKube();
  await kube.create(slmd('m'));
  const { cache, stop } = await startCache(kube);
  cleanups.push(stop);
  const core = createFakeCore();
  // No `scrape` injected: the runtime's own default scrape is what runs.
  const reconcile = createReconciler({ client: kube, cache, planReconcile: core.planReconcile, scrapeTargets: core.scrapeTargets, ctx, scrapeLimits: limits, logger });
  return { core, reconcile };
}

const target = (pod: string, url: string) => ({ pod, namespace: 'default', url });

describe('hardening item 2: a pod\'s /metrics cannot exhaust the operator', () => {
  it('stops reading a 64 MiB streamed body at the byte cap: the reconcile finishes with a scrape error, the body never buffered', async () => {
    const counter = { sent: 0, closed: false };
    const base = await serve(hugeBody(64 * MiB, counter));
    const warnings: { msg: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = { ...silentLogger, warn: (msg: string, fields?: Record<string, unknown>) => void warnings.push({ msg, ...(fields ? { fields } : {}) }) };
    const t = await setup({ maxBytes: 1 * MiB, connectTimeoutMs: 5000, stallTimeoutMs: 5000 }, logger);
    t.core.knobs.targets = [target('huge', `http://user:secret@${base.slice('http://'.length)}/metrics?token=hunter2`)];

    await t.reconcile('default/m');
    const scrape = t.core.seen.at(-1)!.scrapes[0]!;
    expect(scrape.text).toBeUndefined();
    expect(scrape.error).toMatch(/exceeds the limit of 1048576/);
    expect(scrape.error).not.toMatch(/secret|hunter2/);
    // The operator closed the connection once past the cap: the server could not push the rest into it.
    await expect.poll(() => counter.closed).toBe(true);
    const SOCKET_BUFFER_MARGIN = 16 * MiB; // kernel send + receive buffers and the stream's high-water marks on loopback
    expect(counter.sent).toBeLessThanOrEqual(1 * MiB + SOCKET_BUFFER_MARGIN);
    expect(counter.sent).toBeLessThan(64 * MiB);

    // Logged once, with the redacted URL; a second reconcile scrapes again (still an error) without logging again.
    await t.reconcile('default/m');
    expect(t.core.seen.at(-1)!.scrapes[0]!.error).toMatch(/exceeds the limit/);
    const refused = warnings.filter((w) => /scrape refused/.test(w.msg));
    expect(refused).toHaveLength(1);
    expect(JSON.stringify(refused[0])).not.toMatch(/secret|hunter2/);
    expect(refused[0]!.fields?.['url']).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  });

  it('refuses a body announced larger than the cap without reading it', async () => {
    const base = await serve((res) => {
      res.writeHead(200, { 'content-length': String(64 * MiB) });
      res.write(Buffer.alloc(1024, 'a'));
    });
    const t = await setup({ maxBytes: 1 * MiB, connectTimeoutMs: 5000, stallTimeoutMs: 5000 });
    t.core.knobs.targets = [target('announced', `${base}/metrics`)];
    await t.reconcile('default/m');
    expect(t.core.seen.at(-1)!.scrapes[0]).toMatchObject({ pod: 'announced', error: expect.stringMatching(/body of 67108864 bytes exceeds the limit of 1048576/) });
  });

  it('ends a scrape whose body stalls, and one that trickles forever, as scrape errors naming the URL', async () => {
    const stalled = await serve((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('slmops_request_success_total 1\n'); // then silence
    });
    const timers: NodeJS.Timeout[] = [];
    cleanups.push(() => timers.forEach(clearInterval));
    const trickle = await serve((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      timers.push(setInterval(() => res.write('# x\n'), 20)); // never silent for a stall timeout, never done
    });
    const t = await setup({ maxBytes: 1 * MiB, connectTimeoutMs: 400, stallTimeoutMs: 1000 });
    t.core.knobs.targets = [target('stalled', `${stalled}/metrics`), target('trickle', `${trickle}/metrics?sig=abc`)];
    await t.reconcile('default/m');
    const [s1, s2] = t.core.seen.at(-1)!.scrapes;
    expect(s1).toMatchObject({ pod: 'stalled', error: expect.stringMatching(new RegExp(`^GET ${stalled}/metrics: no data for 1000 ms`)) });
    expect(s1!.text).toBeUndefined();
    expect(s2).toMatchObject({ pod: 'trickle', error: `GET ${trickle}/metrics: no complete response within 1400 ms` });
    expect(s2!.text).toBeUndefined();
  });
});
