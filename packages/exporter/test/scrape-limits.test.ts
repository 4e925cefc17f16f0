/** The exporter's reads of sidecar /metrics are bounded: a huge or stalled page fails that sidecar only, with the URL redacted. */
import { type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExporterArgs } from '../src/config.js';
import { fetchMetricsText, readSidecarTokens } from '../src/tokens.js';

let server: Server;
let base: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/ok') return void res.end('slmops_generation_tokens_total{model_name="m",model_version="1"} 42\n');
    res.writeHead(200);
    if (path === '/huge') {
      // An endless page without Content-Length: only the byte cap stops the read.
      const line = Buffer.from(`${'slmops_other_total 1\n'.repeat(1000)}`);
      const pump = () => {
        while (res.write(line));
      };
      res.on('drain', pump);
      pump();
      return;
    }
    res.write('# HELP slmops_generation_tokens_total Tokens generated.\n'); // then nothing: a stall
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

describe('exporter scrape limits', () => {
  it('has documented defaults and flags that override them, naming a bad one', () => {
    expect(parseExporterArgs(['--node-name', 'n']).scrapeLimits).toEqual({ maxBytes: 4 * 1024 * 1024, connectTimeoutMs: 5_000, stallTimeoutMs: 5_000 });
    const c = parseExporterArgs(['--node-name', 'n', '--scrape-max-bytes', '64Ki', '--scrape-timeout', '2s', '--scrape-stall-timeout', '500ms']);
    expect(c.scrapeLimits).toEqual({ maxBytes: 65536, connectTimeoutMs: 2000, stallTimeoutMs: 500 });
    expect(() => parseExporterArgs(['--node-name', 'n', '--scrape-max-bytes', 'lots'])).toThrow(/--scrape-max-bytes: expected a size in bytes/);
    expect(() => parseExporterArgs(['--node-name', 'n', '--scrape-timeout', '0s'])).toThrow(/--scrape-timeout: expected a duration greater than zero/);
  });

  it('stops a page larger than --scrape-max-bytes and one that stalls, and still reads the healthy sidecar', async () => {
    const limits = parseExporterArgs(['--node-name', 'n', '--scrape-max-bytes', '64Ki', '--scrape-stall-timeout', '200ms']).scrapeLimits;
    const urls = [`${base}/ok`, `${base}/huge?token=s3cret`, `${base}/stall`];
    const { totals, errors } = await readSidecarTokens(urls, (u) => fetchMetricsText(u, limits));
    expect(totals).toEqual(new Map([[`${base}/ok`, 42]]));
    expect(errors.sort()).toEqual([`GET ${base}/huge: body exceeds the limit of 65536 bytes`, `GET ${base}/stall: no data for 200 ms after 56 bytes`]);
  });

  it('names the redacted URL of a failure that is not an outbound error', async () => {
    const { errors } = await readSidecarTokens(['http://u:pw@127.0.0.1:1/metrics?t=x'], async () => {
      throw new Error('boom');
    });
    expect(errors).toEqual(['http://127.0.0.1:1/metrics: boom']);
  });
});
