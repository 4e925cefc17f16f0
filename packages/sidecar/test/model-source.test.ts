/** Model loading from folder, .slm.tar and URLs with a required digest, atomically into the cache. */
import { createHash } from 'node:crypto';
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
    if (req.url?.split('?')[0] === '/m.slm.tar') res.writeHead(200).end(readFileSync(model.tar));
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

  it('verifies a folder (sha256 of slm.json) and a .slm.tar against --digest', async () => {
    const folderDigest = `sha256:${createHash('sha256').update(readFileSync(join(model.dir, 'slm.json'))).digest('hex')}`;
    expect(await resolveModelSource(model.dir, { cacheDir: '/unused' })).toEqual({ path: model.dir, digest: folderDigest, cached: false });
    expect((await resolveModelSource(model.dir, { cacheDir: '/unused', digest: folderDigest })).digest).toBe(folderDigest);
    await expect(resolveModelSource(model.dir, { cacheDir: '/unused', digest: wrong })).rejects.toThrow(/digest mismatch .* expected sha256:0{64}, got sha256:[0-9a-f]{64}; the model was not loaded/);
    expect((await resolveModelSource(model.tar, { cacheDir: '/unused', digest: model.tarDigest })).digest).toBe(model.tarDigest);
    await expect(resolveModelSource(model.tar, { cacheDir: '/unused', digest: wrong })).rejects.toBeInstanceOf(ModelSourceError);
    await expect(resolveModelSource('/no/such/model', { cacheDir: '/unused' })).rejects.toThrow('--model: /no/such/model: no such file or directory');
  });

  it('downloads a URL into the cache atomically, verifies it, and reuses it', async () => {
    const cacheDir = freshCache();
    try {
      await expect(resolveModelSource(`${base}/m.slm.tar`, { cacheDir })).rejects.toThrow(/--digest is required for a model URL/);
      hits = 0;
      const r = await resolveModelSource(`${base}/m.slm.tar?token=secret`, { cacheDir, digest: model.tarDigest });
      expect(r.path).toBe(join(cacheDir, `sha256-${model.tarDigest.slice(7)}.slm.tar`));
      expect(readdirSync(cacheDir)).toEqual([`sha256-${model.tarDigest.slice(7)}.slm.tar`]);
      await resolveModelSource(`${base}/m.slm.tar`, { cacheDir, digest: model.tarDigest });
      expect(hits).toBe(1);
      const f = await resolveModelSource(pathToFileURL(model.tar).href, { cacheDir: freshCache(), digest: model.tarDigest });
      expect(f.digest).toBe(model.tarDigest);
      await expect(resolveModelSource(`${base}/missing.tar`, { cacheDir, digest: wrong })).rejects.toThrow(/answered HTTP 404/);
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
      await resolveModelSource(pathToFileURL(model.tar).href, { cacheDir, digest: model.tarDigest, onProgress: (p) => seen.push(p), now });
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
    try {
      const err = await resolveModelSource(`${base}/m.slm.tar?sig=hidden`, { cacheDir, digest: wrong }).catch((e: Error) => e);
      expect((err as Error).message).toMatch(new RegExp(`digest mismatch for ${base}/m.slm.tar: expected sha256:0{64}, got ${model.tarDigest}; the model was not loaded`));
      expect((err as Error).message).not.toContain('hidden');
      expect(readdirSync(cacheDir)).toEqual([]);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

describe('sidecar model loading', () => {
  it('serves a model fetched from a URL, reporting the tar digest', async () => {
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
      expect(logs).toMatch(/"level":"error","msg":"model load failed","error":"digest mismatch/);
    } finally {
      await h.close();
    }
  });
});
