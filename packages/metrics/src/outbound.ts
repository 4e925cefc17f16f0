/**
 * Outbound HTTP reads with limits: every read the operator, sidecar, exporter and CLI make (metrics scrapes, model
 * downloads, registry calls; not Kubernetes watches) goes through here, so each has a byte cap, a connect timeout
 * (until the response headers arrive) and a stall timeout (no byte for that long), and its errors name the URL with
 * credentials and query strings redacted. Also the `@slmops/metrics/outbound` entry point, which does not load
 * prom-client.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { Transform, type Readable } from 'node:stream';

/** Limits of one outbound read. */
export interface OutboundLimits {
  /** The body may not be larger (checked against Content-Length first, then while reading). */
  maxBytes: number;
  /** From the request until the response headers have arrived. */
  connectTimeoutMs: number;
  /** The longest wait for the next body chunk. */
  stallTimeoutMs: number;
}

/** Defaults for scrapes of /metrics pages (documented with the flags that override them). */
export const SCRAPE_LIMITS: Readonly<OutboundLimits> = Object.freeze({ maxBytes: 4 * 1024 * 1024, connectTimeoutMs: 5_000, stallTimeoutMs: 5_000 });

/** Defaults for model downloads: a model may be large, but a peer that goes quiet must not hang the pod. */
export const DOWNLOAD_LIMITS: Readonly<OutboundLimits> = Object.freeze({ maxBytes: 64 * 1024 ** 3, connectTimeoutMs: 30_000, stallTimeoutMs: 60_000 });

const BYTE_UNITS: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1000, M: 1000 ** 2, G: 1000 ** 3 };

/** A limit flag's size: "4Mi", "512Ki", "64Gi", "1G" or plain bytes, to a positive whole number of bytes; throws naming the flag. */
export function parseByteSize(flag: string, v: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(v.trim());
  const n = m ? Number(m[1]) * BYTE_UNITS[m[2] ?? '']! : NaN;
  if (!m || !Number.isSafeInteger(n) || n <= 0) throw new RangeError(`--${flag}: expected a size in bytes such as 4Mi, 512Ki or 1048576, got "${v}"`);
  return n;
}

/** A limit flag's duration: "30s", "500ms", "2m", "1h" (a bare number is seconds), to positive milliseconds; throws naming the flag. */
export function parseDurationMs(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  const n = m ? Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!) : NaN;
  if (!m || !(n > 0)) throw new RangeError(`--${flag}: expected a duration greater than zero such as 30s, 500ms or 2m, got "${v}"`);
  return n;
}

export type OutboundErrorKind = 'connect-timeout' | 'stall' | 'too-large' | 'http-status' | 'network' | 'aborted';

/** A failed outbound read; the message names the redacted URL and the cause, `kind` says which limit or failure. */
export class OutboundError extends Error {
  override name = 'OutboundError';
  constructor(
    readonly kind: OutboundErrorKind,
    readonly url: string,
    message: string,
    options?: { cause?: unknown },
    /** The HTTP status, for kind 'http-status'. */
    readonly status?: number,
  ) {
    super(`GET ${url}: ${message}`, options);
  }
}

/** Drops credentials, the query string and the fragment (signed URLs, tokens) before a URL reaches a message, log or status. */
export function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.toString();
  } catch {
    return '<invalid url>';
  }
}

/** `scheme://` then the userinfo (up to `@`), or the query and fragment of such a URL (up to whitespace or a quote). */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@'"<>\\]*@/gi;
const URL_QUERY = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#'"<>\\]*)[?#][^\s'"<>\\]*/gi;

/**
 * Redacts every URL inside free text (an error message from a library, a log line) the way redactUrl does: userinfo,
 * query and fragment are cut. A safety net for text this code did not build; messages it builds use redactUrl.
 */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_USERINFO, '$1').replace(URL_QUERY, '$1');
}

export interface OutboundRequest {
  headers?: Record<string, string>;
  /** TLS settings of an https request (a kubeconfig's CA, client certificate, skip-verify); ignored for http. */
  tls?: Pick<HttpsRequestOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername'>;
  signal?: AbortSignal;
  /** How many redirects (301/302/303/307/308) to follow (default 0: a redirect is an 'http-status' error). Each hop
   *  gets its own connect timeout; `authorization` is dropped when a redirect leaves the origin. */
  maxRedirects?: number;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Content-Length when the server sent one. */
  contentLength?: number;
  /** The body; it errors with an OutboundError when a limit is hit or `signal` aborts. */
  body: Readable;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

const describeCause = (e: unknown): string => {
  const err = e as NodeJS.ErrnoException & { cause?: unknown };
  const code = err?.code ? `${err.code}` : '';
  const msg = err?.message ?? String(e);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
};

/**
 * GETs `url` (http or https) and resolves once the headers are in, with a body stream that enforces `limits`.
 * Non-2xx answers reject with kind 'http-status' (the body is discarded). Redirects are followed only up to
 * `req.maxRedirects`.
 */
export function openOutbound(url: string, limits: OutboundLimits, req: OutboundRequest = {}): Promise<OutboundResponse> {
  const shown = redactUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(new OutboundError('network', shown, 'not a valid URL'));
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return Promise.reject(new OutboundError('network', shown, `unsupported scheme ${parsed.protocol}`));
  }
  return new Promise<OutboundResponse>((resolve, reject) => {
    const fail = (e: OutboundError) => {
      cleanup();
      clientReq.destroy(e);
      reject(e);
    };
    const connectTimer = setTimeout(() => fail(new OutboundError('connect-timeout', shown, `no response within ${limits.connectTimeoutMs} ms`)), limits.connectTimeoutMs);
    const onAbort = () => fail(new OutboundError('aborted', shown, 'aborted', { cause: req.signal?.reason }));
    const cleanup = () => {
      clearTimeout(connectTimer);
      req.signal?.removeEventListener('abort', onAbort);
    };
    const https = parsed.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    const clientReq = send(parsed, { method: 'GET', headers: req.headers ?? {}, ...(https ? req.tls : {}) }, (res: IncomingMessage) => {
      cleanup();
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECTS.has(status) && location && (req.maxRedirects ?? 0) > 0) {
        res.resume();
        let next: URL;
        try {
          next = new URL(location, parsed);
        } catch {
          reject(new OutboundError('http-status', shown, `HTTP ${status} with an invalid Location`, undefined, status));
          return;
        }
        const headers = { ...req.headers };
        if (next.origin !== parsed.origin) for (const h of Object.keys(headers)) if (h.toLowerCase() === 'authorization') delete headers[h];
        resolve(openOutbound(next.toString(), limits, { ...req, headers, maxRedirects: (req.maxRedirects ?? 0) - 1 }));
        return;
      }
      if (status < 200 || status > 299) {
        res.resume();
        reject(new OutboundError('http-status', shown, `HTTP ${status}`, undefined, status));
        return;
      }
      const length = Number(res.headers['content-length']);
      const contentLength = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
      if (contentLength !== undefined && contentLength > limits.maxBytes) {
        res.destroy();
        reject(new OutboundError('too-large', shown, `body of ${contentLength} bytes exceeds the limit of ${limits.maxBytes}`));
        return;
      }
      resolve({ status, headers: res.headers, ...(contentLength !== undefined ? { contentLength } : {}), body: limitedBody(res, shown, limits, req.signal) });
    });
    clientReq.on('error', (e) => {
      cleanup();
      reject(e instanceof OutboundError ? e : new OutboundError('network', shown, describeCause(e), { cause: e }));
    });
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    clientReq.end();
  });
}

/** Wraps a response in a stream that errors on a stall, on more than maxBytes, or when `signal` aborts. */
function limitedBody(res: IncomingMessage, shown: string, limits: OutboundLimits, signal?: AbortSignal): Readable {
  let bytes = 0;
  let stallTimer: NodeJS.Timeout | undefined;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > limits.maxBytes) return cb(new OutboundError('too-large', shown, `body exceeds the limit of ${limits.maxBytes} bytes`));
      armStall();
      cb(null, chunk);
    },
  });
  const stop = (e: OutboundError) => {
    // First `out`: destroying `res` emits its own 'aborted' error, which must not replace the real cause.
    out.destroy(e);
    res.destroy();
  };
  const armStall = () => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => {
      // Bytes still buffered here mean the consumer (a slow disk) is behind, not the peer: wait on.
      if (out.readableLength > 0 || out.writableLength > 0) return armStall();
      stop(new OutboundError('stall', shown, `no data for ${limits.stallTimeoutMs} ms after ${bytes} bytes`));
    }, limits.stallTimeoutMs);
  };
  const onAbort = () => stop(new OutboundError('aborted', shown, 'aborted', { cause: signal?.reason }));
  signal?.addEventListener('abort', onAbort, { once: true });
  const done = () => {
    clearTimeout(stallTimer);
    signal?.removeEventListener('abort', onAbort);
  };
  out.on('close', () => {
    done();
    // A limit hit, an error or a consumer that stopped reading: the connection is of no further use.
    if (!res.complete) res.destroy();
  });
  res.on('error', (e) => out.destroy(e instanceof OutboundError ? e : new OutboundError('network', shown, describeCause(e), { cause: e })));
  res.on('aborted', () => out.destroy(new OutboundError('network', shown, `connection closed after ${bytes} bytes`)));
  armStall();
  res.pipe(out);
  return out;
}

/** GETs `url` and returns its body as text, within `limits`. */
export async function fetchTextBounded(url: string, limits: OutboundLimits, req: OutboundRequest = {}): Promise<string> {
  const res = await openOutbound(url, limits, req);
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
