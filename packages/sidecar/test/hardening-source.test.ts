/** Model downloads that stall, fail or carry secrets (issue 17 items 4 and 8), against loopback HTTP servers. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, type Socket, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PassThrough } from 'node:stream';
import { DOWNLOAD_LIMITS } from '@slmops/metrics';
import { packPackage } from '@slmops/model';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SidecarConfig, parseSidecarArgs } from '../src/config.js';
import { createJsonLogger } from '../src/log.js';
import { productionDeps } from '../src/main.js';
import { removeStaleDownloads, retryDelayMs } from '../src/model-source.js';
import { type Harness, baseConfig, startHarness, unary } from './helpers.js';
import { type ConvertedModel, convertStories } from './real-model.js';

let model: ConvertedModel;
let tarBytes: Buffer;
/** The package digest: sha256 of slm.json. */
let pinned: string;

beforeAll(async () => {
  model = await convertStories();
  tarBytes = readFileSync(model.tar);
  pinned = `sha256:${createHash('sha256').update(readFileSync(join(model.dir, 'slm.json'))).digest('hex')}`;
});
afterAll(() => model?.cleanup());

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ base: string }> {
  const server: Server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function freshCache(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slmops-hardening-cache-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Started {
  h: Harness;
  logs: () => string;
  lines: () => Array<Record<string, unknown>>;
}

/** A sidecar with the real loader and engine, fast retries, and its JSON log captured. */
async function start(over: Partial<SidecarConfig>): Promise<Started> {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (c: Buffer) => (text += c.toString()));
  const h = await startHarness(baseConfig(over), { ...productionDeps(createJsonLogger(sink)), downloadRetry: { initialMs: 20, maxMs: 100 } });
  cleanups.push(() => h.close());
  return { h, logs: () => text, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const until = async (what: string, cond: () => boolean | Promise<boolean>) => {
  for (let i = 0; !(await cond()); i++) {
    if (i > 1200) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};
const health = async (h: Harness) => (await unary(h.health, 'Check', { service: '' }))['status'];
const temps = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.download-'));

describe('hardening item 8: downloads can hang silently', () => {
  it('a server that stalls after its headers fails the attempt with a log line naming the URL and the cause; the pod retries with backoff, NOT_SERVING, and no temp file stays', async () => {
    let requests = 0;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const { base } = await serve((_req, res) => {
      requests++;
      if (requests <= 2) {
        res.writeHead(200, { 'content-length': String(tarBytes.length) });
        res.write(tarBytes.subarray(0, 1000)); // then nothing
        return;
      }
      void released.then(() => res.end(tarBytes));
    });
    const cacheDir = freshCache();
    const s = await start({ model: `${base}/m.slm.tar?token=t0ken`, digest: pinned, cacheDir, downloadLimits: { ...DOWNLOAD_LIMITS, stallTimeoutMs: 200 } });
    const retries = () => s.lines().filter((l) => l['msg'] === 'model download failed; retrying');
    await until('two failed attempts', () => retries().length >= 2);
    expect(await health(s.h)).toBe('NOT_SERVING');
    expect(s.h.sidecar.service.state).toBe('loading');
    const readyz = await fetch(`http://${s.h.sidecar.metricsAddress}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.text()).toMatch(new RegExp(`^loading: attempt 2 failed, retrying in \\d+ ms: model download failed: GET ${base}/m\\.slm\\.tar: no data for 200 ms after 1000 bytes\n$`));
    expect(retries()[0]).toMatchObject({
      level: 'warn',
      source: `${base}/m.slm.tar`,
      error: `model download failed: GET ${base}/m.slm.tar: no data for 200 ms after 1000 bytes`,
      attempt: 1,
    });
    expect(retries()[1]).toMatchObject({ attempt: 2 });
    release();
    await s.h.sidecar.ready;
    expect(await health(s.h)).toBe('SERVING');
    expect(requests).toBe(3);
    expect(temps(cacheDir)).toEqual([]);
    expect(existsSync(join(cacheDir, `sha256-${pinned.slice(7)}.slm.tar`))).toBe(true);
    expect(s.logs()).not.toContain('t0ken');
  }, 60_000);

  it('a network error names the URL and the cause (not just "fetch failed"), and shutdown stops the retries', async () => {
    // A port that was just listened on and closed: connecting to it is refused.
    const closed = createNetServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const url = `http://127.0.0.1:${port}/m.slm.tar`;
    const s = await start({ model: url, digest: pinned, cacheDir: freshCache() });
    await until('a failed attempt', () => s.logs().includes('model download failed; retrying'));
    const line = s.lines().find((l) => l['msg'] === 'model download failed; retrying')!;
    expect(line['error']).toBe(`model download failed: GET ${url}: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(await health(s.h)).toBe('NOT_SERVING');
    await s.h.sidecar.shutdown(100);
    await expect(s.h.sidecar.ready).resolves.toBeUndefined();
  }, 30_000);

  it('a package whose Content-Length exceeds --download-max-bytes is refused before any write, and not retried', async () => {
    let requests = 0;
    const { base } = await serve((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-length': String(tarBytes.length) }).end(tarBytes);
    });
    const cacheDir = freshCache();
    // Pinned by the archive's sha256 (still accepted): the refusal comes from the size alone, whatever the pin means.
    const s = await start({ model: `${base}/m.slm.tar`, digest: model.tarDigest, cacheDir, downloadLimits: { ...DOWNLOAD_LIMITS, maxBytes: 1000 } });
    await expect(s.h.sidecar.ready).rejects.toThrow(`model download failed: GET ${base}/m.slm.tar: body of ${tarBytes.length} bytes exceeds the limit of 1000`);
    expect(requests).toBe(1);
    expect(readdirSync(cacheDir)).toEqual([]);
    expect(await health(s.h)).toBe('NOT_SERVING');
  });

  it('shutdown mid-download removes the temp file at once', async () => {
    const { base } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(tarBytes.length) });
      res.write(tarBytes.subarray(0, 1000));
    });
    const cacheDir = freshCache();
    const s = await start({ model: `${base}/m.slm.tar`, digest: pinned, cacheDir });
    await until('the temp file', () => temps(cacheDir).length === 1);
    await s.h.sidecar.shutdown(100);
    await expect(s.h.sidecar.ready).resolves.toBeUndefined();
    expect(temps(cacheDir)).toEqual([]);
  });

  it('temp files of a process that died mid-download are removed at start; a live process keeps its own', async () => {
    const { base } = await serve((_req, res) => res.end(tarBytes));
    const cacheDir = freshCache();
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    for (const pid of [dead, process.ppid]) writeFileSync(join(cacheDir, `.download-${pid}-a1b2c3.tmp`), 'partial');
    const s = await start({ model: `${base}/m.slm.tar`, digest: model.tarDigest, cacheDir });
    await s.h.sidecar.ready;
    expect(temps(cacheDir)).toEqual([`.download-${process.ppid}-a1b2c3.tmp`]);
    expect(s.lines().find((l) => l['msg'] === 'removed stale download temp files')).toMatchObject({ files: [`.download-${dead}-a1b2c3.tmp`] });
    expect(await removeStaleDownloads(cacheDir, () => false)).toEqual([`.download-${process.ppid}-a1b2c3.tmp`]);
  });

  it('has download limit flags with documented defaults, naming a bad value', () => {
    expect(parseSidecarArgs(['--model', 'm']).downloadLimits).toEqual({ maxBytes: 64 * 1024 ** 3, connectTimeoutMs: 30_000, stallTimeoutMs: 60_000 });
    const c = parseSidecarArgs(['--model', 'm', '--download-max-bytes', '2Gi', '--download-connect-timeout', '5s', '--download-stall-timeout', '1m']);
    expect(c.downloadLimits).toEqual({ maxBytes: 2 * 1024 ** 3, connectTimeoutMs: 5_000, stallTimeoutMs: 60_000 });
    expect(() => parseSidecarArgs(['--model', 'm', '--download-max-bytes=-1'])).toThrow(/^--download-max-bytes: expected a size in bytes/);
    expect(() => parseSidecarArgs(['--model', 'm', '--download-stall-timeout', '0'])).toThrow(/^--download-stall-timeout: expected a duration greater than zero/);
  });

  it('backs off exponentially, capped, with jitter', () => {
    const policy = { initialMs: 1000, maxMs: 60_000 };
    expect([1, 2, 3, 4, 7, 8, 50].map((a) => retryDelayMs(a, policy, () => 0.999999))).toEqual([1000, 2000, 4000, 8000, 60_000, 60_000, 60_000]);
    expect(retryDelayMs(3, policy, () => 0)).toBe(2000);
  });
});

describe('hardening item 4: secrets leak from model URLs', () => {
  const secrets = /s3cret|t0ken/;

  it('a URL with user:password@ and ?token= serves (basic auth) and the password and token reach no log, error, ModelInfo or metric', async () => {
    const { base } = await serve((req, res) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('puller:s3cret').toString('base64')}`) return void res.writeHead(401).end();
      if (req.url?.startsWith('/m.slm.tar')) return void res.end(tarBytes);
      res.writeHead(404).end();
    });
    const withSecrets = (path: string) => `${base.replace('//', '//puller:s3cret@')}${path}?token=t0ken`;
    const ok = await start({ model: withSecrets('/m.slm.tar'), digest: pinned, cacheDir: freshCache() });
    await ok.h.sidecar.ready;
    const info = await unary(ok.h.inference, 'GetModelInfo', {});
    expect(info['digest']).toBe(pinned);
    const metrics = await (await fetch(`http://${ok.h.sidecar.metricsAddress}/metrics`)).text();
    expect(metrics).toContain(`digest="${pinned}"`);
    const missing = await start({ model: withSecrets('/missing.slm.tar'), digest: pinned, cacheDir: freshCache() });
    const err = (await missing.h.sidecar.ready.catch((e: Error) => e)) as Error;
    expect(err.message).toBe(`model download failed: GET ${base}/missing.slm.tar: HTTP 404`);
    const oci = await start({ model: 'oci://puller:s3cret@registry.example/models/m:1?token=t0ken', digest: pinned, cacheDir: freshCache() });
    const ociErr = (await oci.h.sidecar.ready.catch((e: Error) => e)) as Error;
    expect(ociErr.message).toMatch(/^--model: unsupported scheme in oci:\/\/registry\.example\/models\/m:1;/);
    for (const text of [ok.logs(), JSON.stringify(info), metrics, missing.logs(), err.message, String(err.stack), oci.logs(), ociErr.message]) expect(text).not.toMatch(secrets);
    expect(missing.logs()).toContain(`"msg":"model load failed","error":"model download failed: GET ${base}/missing.slm.tar: HTTP 404"`);
  }, 60_000);

  it('the logger cuts credentials and query strings from any URL a library error quotes', () => {
    const sink = new PassThrough();
    let text = '';
    sink.on('data', (c: Buffer) => (text += c.toString()));
    createJsonLogger(sink).error('model load failed', { error: 'Request cannot be constructed from a URL that includes credentials: https://u:s3cret@h.example/m.tar?token=t0ken', nested: ['s3://k:s3cret@b/x?t0ken'] });
    expect(text).not.toMatch(secrets);
    expect(JSON.parse(text)).toMatchObject({ error: 'Request cannot be constructed from a URL that includes credentials: https://h.example/m.tar', nested: ['s3://b/x'] });
  });
});

describe('hardening item 3 (sidecar side): the package digest pins what is served', () => {
  it('a cached download that is another package is removed and fetched again; what serves is the pinned package', async () => {
    let requests = 0;
    const { base } = await serve((_req, res) => {
      requests++;
      res.end(tarBytes);
    });
    // A valid package, but another one: its slm.json differs, so its package digest does.
    const other = freshCache();
    cpSync(model.dir, join(other, 'pkg'), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(other, 'pkg', 'slm.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(other, 'pkg', 'slm.json'), JSON.stringify({ ...manifest, version: '666' }));
    const cacheDir = freshCache();
    await packPackage(join(other, 'pkg'), join(cacheDir, `sha256-${pinned.slice(7)}.slm.tar`));
    const s = await start({ model: `${base}/m.slm.tar`, digest: pinned, cacheDir });
    await s.h.sidecar.ready;
    expect(requests).toBe(1);
    expect(s.lines().find((l) => l['msg'] === 'cached model package failed verification; downloading it again')).toMatchObject({ source: `${base}/m.slm.tar` });
    expect(await unary(s.h.inference, 'GetModelInfo', {})).toMatchObject({ digest: pinned, version: '1' });
  }, 60_000);

  it('a file:// package without a digest is verified against its own slm.json, and reports its package digest', async () => {
    const s = await start({ model: pathToFileURL(model.dir).href, cacheDir: freshCache() });
    await s.h.sidecar.ready;
    expect((await unary(s.h.inference, 'GetModelInfo', {}))['digest']).toBe(pinned);
    const copy = freshCache();
    cpSync(model.dir, copy, { recursive: true });
    const tok = readFileSync(join(copy, 'tokenizer.bin'));
    tok[tok.length - 1] = tok[tok.length - 1]! ^ 0xff; // same size, other bytes
    writeFileSync(join(copy, 'tokenizer.bin'), tok);
    const bad = await start({ model: pathToFileURL(copy).href, cacheDir: freshCache() });
    await expect(bad.h.sidecar.ready).rejects.toThrow(/tokenizer\.bin: sha256 mismatch/);
    expect(await health(bad.h)).toBe('NOT_SERVING');
  }, 60_000);
});
