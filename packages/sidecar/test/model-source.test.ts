/** Model loading from folder, .slm.tar and URLs with a required digest, atomically into the cache. */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonLogger } from '../src/log.js';
import { productionDeps } from '../src/main.js';
import { type DownloadProgress, ModelSourceError, parseDigest, resolveModelSource, throttledProgress } from '../src/model-source.js';
import { baseConfig, collect, generateCall, startHarness, unary } from './helpers.js';
import { type ConvertedModel, convertStories, reference } from './real-model.js';
import { PassThrough } from 'node:stream';

let model: ConvertedModel;
let server: Server;
let base: string;
let hits = 0;
const wrong = `sha256:${'0'.repeat(64)}`;

beforeAll(async () => {
  model = await convertStories();
  server = createServer((req, res) => {
    hits++;
    const tar = readFileSync(model.tar);
    if (req.url?.split('?')[0] === '/m.slm.tar') res.writeHead(200, { 'content-length': String(tar.length) }).end(tar);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  model?.cleanup();
});

const freshCache = () => mkdtempSync(join(tmpdir(), 'slmops-cache-test-'));

describe('resolveModelSource', () => {
  it('parses digests strictly', () => {
    expect(parseDigest(`SHA256:${'AB'.repeat(32)}`)).toBe('ab'.repeat(32));
    expect(() => parseDigest('md5:abc')).toThrow(/--digest: expected sha256:<64 hex digits>/);
  });

  it('resolves a folder, a .slm.tar and a file:// URL in place, normalising the pinned digest', async () => {
    const upper = `SHA256:${model.tarDigest.slice(7).toUpperCase()}`;
    expect(await resolveModelSource(model.dir, { cacheDir: '/unused' })).toEqual({ path: model.dir, shown: model.dir, cached: false });
    expect(await resolveModelSource(model.tar, { cacheDir: '/unused', digest: upper })).toEqual({ path: model.tar, digest: model.tarDigest, shown: model.tar, cached: false });
    const url = pathToFileURL(model.dir).href;
    expect(await resolveModelSource(url, { cacheDir: '/unused' })).toEqual({ path: model.dir, shown: url, cached: false });
    await expect(resolveModelSource('/no/such/model', { cacheDir: '/unused' })).rejects.toThrow('--model: /no/such/model: no such file or directory');
    await expect(resolveModelSource(model.root, { cacheDir: '/unused', digest: wrong })).rejects.toThrow(`--digest: ${model.root} has no slm.json to verify a digest against`);
    await expect(resolveModelSource(model.dir, { cacheDir: '/unused', digest: 'md5:1' })).rejects.toBeInstanceOf(ModelSourceError);
  });

  it('downloads a URL into the cache atomically under its pinned digest, and reuses it', async () => {
    const cacheDir = freshCache();
    try {
      await expect(resolveModelSource(`${base}/m.slm.tar`, { cacheDir })).rejects.toThrow(/--digest is required for a model URL/);
      hits = 0;
      const r = await resolveModelSource(`${base}/m.slm.tar?token=secret`, { cacheDir, digest: model.tarDigest });
      expect(r).toEqual({ path: join(cacheDir, `sha256-${model.tarDigest.slice(7)}.slm.tar`), digest: model.tarDigest, shown: `${base}/m.slm.tar`, cached: true, archiveDigest: model.tarDigest });
      expect(readdirSync(cacheDir)).toEqual([`sha256-${model.tarDigest.slice(7)}.slm.tar`]);
      const again = await resolveModelSource(`${base}/m.slm.tar`, { cacheDir, digest: model.tarDigest });
      expect(again.archiveDigest).toBeUndefined();
      expect(hits).toBe(1);
      await expect(resolveModelSource(`${base}/missing.tar`, { cacheDir, digest: wrong })).rejects.toThrow(`model download failed: GET ${base}/missing.tar: HTTP 404`);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('reports download progress after 1 s and then at most once a second, with the total size', async () => {
    const size = readFileSync(model.tar).length;
    // A clock that moves 300 ms each time it is read: the download "takes" several seconds.
    let t = 0;
    const now = () => (t += 300);
    const seen: DownloadProgress[] = [];
    const cacheDir = freshCache();
    try {
      await resolveModelSource(`${base}/m.slm.tar`, { cacheDir, digest: model.tarDigest, onProgress: (p) => seen.push(p), now });
      expect(seen.length).toBeGreaterThan(1);
      for (const p of seen) expect(p.totalBytes).toBe(size);
      const bytes = seen.map((p) => p.bytes);
      expect(bytes).toEqual([...bytes].sort((a, b) => a - b));
      expect(bytes.at(-1)).toBeLessThanOrEqual(size);
      // A download that finishes within a second reports nothing.
      const quiet: DownloadProgress[] = [];
      await resolveModelSource(`${base}/m.slm.tar`, { cacheDir: freshCache(), digest: model.tarDigest, onProgress: (p) => quiet.push(p) });
      expect(quiet).toEqual([]);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('throttles progress reports', () => {
    let t = 0;
    const got: number[] = [];
    const report = throttledProgress((p) => got.push(p.bytes), () => t);
    for (const [at, bytes] of [[500, 1], [999, 2], [1000, 3], [1500, 4], [1999, 5], [2000, 6], [5000, 7]] as const) {
      t = at;
      report({ bytes });
    }
    expect(got).toEqual([3, 6, 7]);
  });

  it('never keeps or loads a download whose digest does not match, and says so', async () => {
    const cacheDir = freshCache();
    const h = await startHarness(baseConfig({ model: `${base}/m.slm.tar?sig=hidden`, digest: wrong, cacheDir }), productionDeps(createJsonLogger(new PassThrough())));
    try {
      const err = (await h.sidecar.ready.catch((e: Error) => e)) as Error;
      expect(err.message).toMatch(new RegExp(`^${base}/m.slm.tar: .*digest mismatch: pinned sha256:0{64}.*; the model was not loaded$`));
      expect(err.message).not.toContain('hidden');
      expect(readdirSync(cacheDir).filter((n) => n.endsWith('.tar') || n.endsWith('.tmp'))).toEqual([]);
    } finally {
      await h.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

describe('sidecar model loading', () => {
  it('serves a model fetched from a URL pinned by a tar digest of the old meaning, reporting the pin', async () => {
    const cacheDir = freshCache();
    const h = await startHarness(baseConfig({ model: `${base}/m.slm.tar`, digest: model.tarDigest, cacheDir }), productionDeps(createJsonLogger(new PassThrough())));
    try {
      await h.sidecar.ready;
      expect((await unary(h.inference, 'GetModelInfo', {}))['digest']).toBe(model.tarDigest);
      const ref = reference();
      const { messages } = await collect(generateCall(h, { prompt: ref.prompt, max_tokens: 10, temperature: 0 }));
      expect(messages.slice(0, -1).map((m) => m['token_id'])).toEqual(ref.continuation.slice(0, 10));
    } finally {
      await h.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('stays NOT_SERVING and logs why when the digest does not match', async () => {
    const sink = new PassThrough();
    let logs = '';
    sink.on('data', (c: Buffer) => (logs += c.toString()));
    const h = await startHarness(baseConfig({ model: model.tar, digest: wrong }), productionDeps(createJsonLogger(sink)));
    try {
      await expect(h.sidecar.ready).rejects.toThrow(/digest mismatch/);
      expect((await unary(h.health, 'Check', { service: '' }))['status']).toBe('NOT_SERVING');
      expect(h.sidecar.service.state).toBe('failed');
      expect(logs).toMatch(/"level":"error","msg":"model load failed","error":"[^"]*digest mismatch/);
    } finally {
      await h.close();
    }
  });
});
