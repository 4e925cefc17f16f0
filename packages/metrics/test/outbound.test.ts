/** openOutbound / fetchTextBounded against loopback servers that misbehave: too large, stalled, mute, failing. */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, type Socket, createServer as createNetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { OutboundError, fetchTextBounded, openOutbound, parseByteSize, parseDurationMs, redactUrl, redactUrlsIn } from '../src/outbound.js';

const servers: Array<{ close(cb: () => void): void }> = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server: Server = createServer(handler);
  server.on('connection', (s) => sockets.add(s));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const LIMITS = { maxBytes: 1000, connectTimeoutMs: 2_000, stallTimeoutMs: 150 };
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e as OutboundError);
const drain = async (body: NodeJS.ReadableStream) => {
  for await (const _ of body) void _;
};

describe('openOutbound', () => {
  it('reads a body within the limits, sending URL credentials as basic auth', async () => {
    let auth: string | undefined;
    const base = await serve((req, res) => {
      auth = req.headers.authorization;
      res.end('hello');
    });
    expect(await fetchTextBounded(`${base.replace('//', '//u:p%40ss@')}/x?token=t`, LIMITS)).toBe('hello');
    expect(auth).toBe(`Basic ${Buffer.from('u:p@ss').toString('base64')}`);
  });

  it('refuses a body whose Content-Length exceeds maxBytes before reading it', async () => {
    let wrote = false;
    const base = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '5000' });
      res.flushHeaders();
      // The body never comes: only the header can have caused the refusal.
      setImmediate(() => (wrote = res.writableEnded));
    });
    const e = await failure(openOutbound(`${base}/big`, LIMITS));
    expect(e).toBeInstanceOf(OutboundError);
    expect(e.kind).toBe('too-large');
    expect(e.message).toBe(`GET ${base}/big: body of 5000 bytes exceeds the limit of 1000`);
    expect(wrote).toBe(false);
  });

  it('stops a chunked body at maxBytes and closes the connection', async () => {
    let closed!: () => void;
    const serverSawClose = new Promise<void>((r) => (closed = r));
    const base = await serve((req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write(Buffer.alloc(300, 97)), 5);
      req.socket.on('close', () => {
        clearInterval(timer);
        closed();
      });
    });
    const res = await openOutbound(`${base}/chunked`, LIMITS);
    expect(res.contentLength).toBeUndefined();
    const e = await failure(drain(res.body));
    expect(e.kind).toBe('too-large');
    expect(e.message).toBe(`GET ${base}/chunked: body exceeds the limit of 1000 bytes`);
    await serverSawClose;
  });

  it('fails a body that stalls after its headers, naming the URL and the byte count', async () => {
    const base = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('0123456789');
    });
    const res = await openOutbound(`${base}/stall?sig=secret`, LIMITS);
    expect(res.contentLength).toBe(100);
    const e = await failure(drain(res.body));
    expect(e.kind).toBe('stall');
    expect(e.message).toBe(`GET ${base}/stall: no data for 150 ms after 10 bytes`);
  });

  it('does not blame the peer for a consumer that reads slowly', async () => {
    const body = Buffer.alloc(1 << 20, 120);
    const base = await serve((_req, res) => res.writeHead(200, { 'content-length': String(body.length) }).end(body));
    const res = await openOutbound(`${base}/big`, { ...LIMITS, maxBytes: body.length });
    // The consumer is busy for three stall periods while the peer has sent everything it could.
    await new Promise((r) => setTimeout(r, 3 * LIMITS.stallTimeoutMs));
    let got = 0;
    for await (const chunk of res.body) got += (chunk as Buffer).length;
    expect(got).toBe(body.length);
  });

  it('times out a server that accepts the connection but never answers', async () => {
    const mute = createNetServer((s) => sockets.add(s));
    servers.push(mute);
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(mute.address() as AddressInfo).port}/metrics`;
    const e = await failure(openOutbound(url, { ...LIMITS, connectTimeoutMs: 100 }));
    expect(e.kind).toBe('connect-timeout');
    expect(e.message).toBe(`GET ${url}: no response within 100 ms`);
  });

  it('rejects non-2xx answers with the status', async () => {
    const base = await serve((_req, res) => res.writeHead(503).end('busy'));
    const e = await failure(openOutbound(`${base}/m`, LIMITS));
    expect(e.kind).toBe('http-status');
    expect(e.status).toBe(503);
    expect(e.message).toBe(`GET ${base}/m: HTTP 503`);
  });

  it('names the cause of a network error', async () => {
    const closed = createNetServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const e = await failure(openOutbound(`http://127.0.0.1:${port}/x`, LIMITS));
    expect(e.kind).toBe('network');
    expect(e.message).toMatch(new RegExp(`^GET http://127\\.0\\.0\\.1:${port}/x: connect ECONNREFUSED`));
  });

  it('aborts before the headers and while reading the body', async () => {
    const base = await serve((req, res) => {
      if (req.url === '/body') {
        res.writeHead(200);
        res.write('part');
      }
    });
    const before = new AbortController();
    const pending = failure(openOutbound(`${base}/headers`, LIMITS, { signal: before.signal }));
    before.abort();
    expect((await pending).kind).toBe('aborted');
    const during = new AbortController();
    const res = await openOutbound(`${base}/body`, { ...LIMITS, stallTimeoutMs: 60_000 }, { signal: during.signal });
    res.body.once('data', () => during.abort());
    const reading = failure(drain(res.body));
    expect((await reading).kind).toBe('aborted');
    const already = AbortSignal.abort();
    expect((await failure(openOutbound(`${base}/body`, LIMITS, { signal: already }))).kind).toBe('aborted');
  });

  it('follows redirects only when asked, dropping authorization across origins', async () => {
    const seen: Array<string | undefined> = [];
    const target = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.end('moved here');
    });
    const base = await serve((req, res) => {
      if (req.url === '/same') return void res.writeHead(302, { location: '/final' }).end();
      if (req.url === '/final') return void res.end(`same origin ${req.headers.authorization}`);
      res.writeHead(307, { location: `${target}/elsewhere` }).end();
    });
    const e = await failure(openOutbound(`${base}/same`, LIMITS));
    expect(e).toMatchObject({ kind: 'http-status', status: 302 });
    const headers = { authorization: 'Bearer x' };
    expect(await fetchTextBounded(`${base}/same`, LIMITS, { headers, maxRedirects: 1 })).toBe('same origin Bearer x');
    expect(await fetchTextBounded(`${base}/away`, LIMITS, { headers, maxRedirects: 1 })).toBe('moved here');
    expect(seen).toEqual([undefined]);
    expect((await failure(fetchTextBounded(`${base}/away`, LIMITS, { maxRedirects: 0 }))).status).toBe(307);
  });
});

describe('redaction', () => {
  it('never puts credentials, query or fragment of a URL into an error', async () => {
    const base = await serve((_req, res) => res.writeHead(401).end());
    const url = `${base.replace('//', '//alice:hunter2@')}/m.slm.tar?token=t0ken#frag`;
    const e = await failure(openOutbound(url, LIMITS));
    expect(e.message).toBe(`GET ${base}/m.slm.tar: HTTP 401`);
    expect(`${e.message} ${e.url}`).not.toMatch(/alice|hunter2|t0ken|frag/);
    expect(redactUrl('not a url')).toBe('<invalid url>');
  });

  it('redacts URLs inside free text', () => {
    const text = 'TypeError: Request cannot be constructed from a URL that includes credentials: https://u:pw@h.example/x?sig=abc&y=1 (see "s3://k:s@b/p#f")';
    expect(redactUrlsIn(text)).toBe('TypeError: Request cannot be constructed from a URL that includes credentials: https://h.example/x (see "s3://b/p")');
    expect(redactUrlsIn('GET http://127.0.0.1:9464/metrics: HTTP 500; user@example.com')).toBe('GET http://127.0.0.1:9464/metrics: HTTP 500; user@example.com');
  });
});

describe('limit flag values', () => {
  it('parses sizes and durations, naming the flag of a bad one', () => {
    expect(['65536', '64Ki', '4Mi', '64Gi', '2k', '3M', '1G'].map((v) => parseByteSize('x', v))).toEqual([65536, 65536, 4 * 1024 ** 2, 64 * 1024 ** 3, 2000, 3e6, 1e9]);
    for (const bad of ['0', '-1', '4MB', '1.5Mi', '', '99999999999999999Gi']) expect(() => parseByteSize('scrape-max-bytes', bad)).toThrow(`--scrape-max-bytes: expected a size in bytes such as 4Mi, 512Ki or 1048576, got "${bad}"`);
    expect(['500ms', '30s', '2m', '1h', '5', '0.5s'].map((v) => parseDurationMs('x', v))).toEqual([500, 30_000, 120_000, 3_600_000, 5000, 500]);
    for (const bad of ['0', '0s', '-1s', '1d', 'soon']) expect(() => parseDurationMs('download-stall-timeout', bad)).toThrow(`--download-stall-timeout: expected a duration greater than zero such as 30s, 500ms or 2m, got "${bad}"`);
  });
});
