import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { DOWNLOAD_LIMITS, OutboundError, type OutboundLimits, openOutbound, redactUrl } from '@slmops/metrics';

/** A model source that could not be used; the message names the source (redacted) and never loads a mismatch. */
export class ModelSourceError extends Error {
  override name = 'ModelSourceError';
  /** A download failure that may pass (timeout, stall, network, HTTP 408/429/5xx): worth another try. */
  readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options?.retryable ?? false;
  }
}

const DIGEST = /^sha256:([0-9a-f]{64})$/;

/** Parses "sha256:<64 hex>" (case-insensitive) to lower-case hex; throws naming the flag otherwise. */
export function parseDigest(d: string, field = '--digest'): string {
  const m = DIGEST.exec(d.trim().toLowerCase());
  if (!m) throw new ModelSourceError(`${field}: expected sha256:<64 hex digits>, got "${d}"`);
  return m[1]!;
}

/** Anything with a URL scheme (`https://`, `file://`, `oci://`…); only http(s) and file are served. */
export const isUrl = (s: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
const isHttp = (s: string) => /^https?:\/\//i.test(s);

export interface ResolvedSource {
  /** A local folder or .slm.tar to hand to loadModel. */
  path: string;
  /** The pinned package digest (sha256:<hex> of slm.json) when --digest was given. */
  digest?: string;
  /** The source as it may appear in messages (URLs redacted). */
  shown: string;
  /** The path is a download in the cache (named by the pinned digest); discard it when it fails verification. */
  cached: boolean;
  /** sha256:<hex> of the archive, when it was downloaded just now (not reused from the cache). */
  archiveDigest?: string;
}

/** How long to wait between download attempts: exponential from `initialMs`, capped at `maxMs`. */
export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
}

export const DOWNLOAD_RETRY: Readonly<RetryPolicy> = Object.freeze({ initialMs: 1_000, maxMs: 60_000 });

/** Delay before retry number `attempt` (1-based): initialMs·2^(attempt-1), capped, times a jitter in [0.5, 1) so a fleet does not retry in step. */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(base * (0.5 + random() / 2));
}

export interface ResolveOptions {
  /** Where downloaded packages are kept, named by digest. */
  cacheDir: string;
  /** The pinned package digest; required for http(s) URLs (loadModel checks it for every source). */
  digest?: string;
  cwd?: string;
  signal?: AbortSignal;
  /** Byte cap, connect and stall timeouts of a download (default DOWNLOAD_LIMITS). */
  limits?: OutboundLimits;
  /** Download progress, first after 1 s and then at most once a second (small downloads report nothing). */
  onProgress?: (p: DownloadProgress) => void;
  now?: () => number;
}

export interface DownloadProgress {
  bytes: number;
  /** From Content-Length, when known. */
  totalBytes?: number;
}

/** Calls `report` on the first update after `afterMs` from creation, then at most once every `everyMs`. */
export function throttledProgress(report: (p: DownloadProgress) => void, now: () => number, afterMs = 1000, everyMs = 1000) {
  let next = now() + afterMs;
  return (p: DownloadProgress) => {
    const t = now();
    if (t < next) return;
    next = t + everyMs;
    report(p);
  };
}

/** Shown form of `--model` for messages: URLs redacted, paths as given. */
export const shownSource = (source: string): string => (isUrl(source) ? redactUrl(source) : source);

/**
 * Resolves `--model` (folder, .slm.tar, http(s) or file URL) to a local path for loadModel, which checks the package
 * against the pinned digest before each load. An http(s) URL needs the digest and is downloaded atomically within
 * `limits` (temp file in the cache dir, renamed to `sha256-<digest>.slm.tar`); a cached download is reused.
 * `file://` is read in place (without a digest, the package is checked against its own slm.json only).
 */
export async function resolveModelSource(source: string, opts: ResolveOptions): Promise<ResolvedSource> {
  const want = opts.digest !== undefined ? parseDigest(opts.digest) : undefined;
  const shown = shownSource(source);
  const pinned = want ? { digest: `sha256:${want}` } : {};
  if (isHttp(source)) {
    if (!want) throw new ModelSourceError(`--digest is required for a model URL (${shown})`);
    await mkdir(opts.cacheDir, { recursive: true });
    const final = join(opts.cacheDir, `sha256-${want}.slm.tar`);
    if (await exists(final)) return { path: final, ...pinned, shown, cached: true };
    const archive = await download(source, final, opts);
    return { path: final, ...pinned, shown, cached: true, archiveDigest: archive };
  }
  let local: string;
  if (isUrl(source)) {
    if (!/^file:\/\//i.test(source)) throw new ModelSourceError(`--model: unsupported scheme in ${shown}; expected a folder, a .slm.tar, an http(s):// or a file:// URL`);
    try {
      local = fileURLToPath(source);
    } catch (e) {
      throw new ModelSourceError(`--model: ${shown}: ${(e as Error).message}`);
    }
  } else local = resolve(opts.cwd ?? process.cwd(), source);
  let st;
  try {
    st = await stat(local);
  } catch {
    throw new ModelSourceError(`--model: ${shown}: no such file or directory`);
  }
  // A folder that is not an SLM package (e.g. onnxruntime-genai) has nothing that pins its files.
  if (want && st.isDirectory() && !(await exists(join(local, 'slm.json')))) throw new ModelSourceError(`--digest: ${shown} has no slm.json to verify a digest against`);
  return { path: local, ...pinned, shown, cached: false };
}

const TEMP = /^\.download-(\d+)-[0-9a-f]+\.tmp$/;
/** Temp files this process is writing now (the only ones with its pid that are not stale). */
const ownDownloads = new Set<string>();

/** Streams `url` into a temp file beside `final` while hashing, then renames it; returns the archive's sha256:<hex>. */
async function download(url: string, final: string, opts: ResolveOptions): Promise<string> {
  const shown = redactUrl(url);
  const limits = opts.limits ?? DOWNLOAD_LIMITS;
  const tmp = join(opts.cacheDir, `.download-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
  ownDownloads.add(tmp);
  try {
    const res = await openOutbound(url, limits, { maxRedirects: 5, ...(opts.signal ? { signal: opts.signal } : {}) });
    const h = createHash('sha256');
    const progress = opts.onProgress ? throttledProgress(opts.onProgress, opts.now ?? Date.now) : undefined;
    const totalBytes = res.contentLength;
    let bytes = 0;
    const tee = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        bytes += chunk.length;
        progress?.(totalBytes !== undefined ? { bytes, totalBytes } : { bytes });
        cb(null, chunk);
      },
    });
    await pipeline(res.body, tee, createWriteStream(tmp, { flags: 'wx' }));
    if (totalBytes !== undefined && bytes !== totalBytes) {
      throw new ModelSourceError(`model download failed: GET ${shown}: got ${bytes} of ${totalBytes} bytes`, { retryable: true });
    }
    await rename(tmp, final);
    return `sha256:${h.digest('hex')}`;
  } catch (e) {
    if (e instanceof ModelSourceError) throw e;
    if (e instanceof OutboundError) throw new ModelSourceError(`model download failed: ${e.message}`, { cause: e, retryable: retryable(e) });
    // A local write failure (disk full, cache dir not writable): name the file, not the URL's secrets.
    throw new ModelSourceError(`model download failed: GET ${shown}: ${(e as Error).message}`, { cause: e });
  } finally {
    ownDownloads.delete(tmp);
    await rm(tmp, { force: true });
  }
}

const retryable = (e: OutboundError): boolean =>
  e.kind === 'connect-timeout' || e.kind === 'stall' || e.kind === 'network' || (e.kind === 'http-status' && (e.status === 408 || e.status === 429 || (e.status ?? 0) >= 500));

/**
 * Removes `.download-*` temp files left by a process that ended mid-download (killed, crashed): those whose
 * process is gone, or that carry this process's pid but are not being written by it. Returns the names removed.
 */
export async function removeStaleDownloads(cacheDir: string, isAlive: (pid: number) => boolean = pidAlive): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(cacheDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const path = join(cacheDir, name);
    if (pid === process.pid ? ownDownloads.has(path) : isAlive(pid)) continue;
    await rm(path, { force: true });
    removed.push(name);
  }
  return removed;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
