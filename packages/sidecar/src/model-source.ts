import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';

/** A model source that could not be used; the message names the source and never loads a mismatch. */
export class ModelSourceError extends Error {
  override name = 'ModelSourceError';
}

const DIGEST = /^sha256:([0-9a-f]{64})$/;

/** Parses "sha256:<64 hex>" (case-insensitive) to lower-case hex; throws naming the flag otherwise. */
export function parseDigest(d: string, field = '--digest'): string {
  const m = DIGEST.exec(d.trim().toLowerCase());
  if (!m) throw new ModelSourceError(`${field}: expected sha256:<64 hex digits>, got "${d}"`);
  return m[1]!;
}

export const isUrl = (s: string) => /^(https?|file):\/\//i.test(s);

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

export interface ResolvedSource {
  /** A local folder or .slm.tar to hand to loadModel. */
  path: string;
  /** sha256:<hex> of the tar file, or of slm.json for a folder (slm.json pins every file's sha256). */
  digest: string;
  /** The source was a URL and came from (or went into) the cache. */
  cached: boolean;
}

export interface ResolveOptions {
  /** Where downloaded packages are kept, named by digest. */
  cacheDir: string;
  /** Required for URLs; checked for local sources when given. */
  digest?: string;
  cwd?: string;
  fetch?: typeof globalThis.fetch;
  signal?: AbortSignal;
  /** Download progress, first after 1 s and then at most once a second (small downloads report nothing). */
  onProgress?: (p: DownloadProgress) => void;
  now?: () => number;
}

export interface DownloadProgress {
  bytes: number;
  /** From Content-Length (or the file's size), when known. */
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

/**
 * Resolves `--model` (folder, .slm.tar, or http(s)/file URL) to a verified local path. URLs need a digest
 * and are downloaded atomically: into a temp file in the cache dir while hashing, verified, then renamed.
 */
export async function resolveModelSource(source: string, opts: ResolveOptions): Promise<ResolvedSource> {
  const want = opts.digest !== undefined ? parseDigest(opts.digest) : undefined;
  if (isUrl(source)) {
    if (!want) throw new ModelSourceError(`--digest is required for a model URL (${redactUrl(source)})`);
    await mkdir(opts.cacheDir, { recursive: true });
    const final = join(opts.cacheDir, `sha256-${want}.slm.tar`);
    if (await exists(final)) {
      // Renamed only after verification, but re-hash anyway: a cache volume can be tampered with or truncated.
      const have = await sha256File(final);
      if (have === want) return { path: final, digest: `sha256:${want}`, cached: true };
      await rm(final, { force: true });
    }
    const tmp = join(opts.cacheDir, `.download-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    try {
      const { body, totalBytes } = await openUrl(source, opts);
      const h = createHash('sha256');
      const progress = opts.onProgress ? throttledProgress(opts.onProgress, opts.now ?? Date.now) : undefined;
      let bytes = 0;
      const tee = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          h.update(chunk);
          bytes += chunk.length;
          progress?.(totalBytes !== undefined ? { bytes, totalBytes } : { bytes });
          cb(null, chunk);
        },
      });
      const out = createWriteStream(tmp, { flags: 'wx' });
      await (opts.signal ? pipeline(body, tee, out, { signal: opts.signal }) : pipeline(body, tee, out));
      const have = h.digest('hex');
      if (have !== want) {
        throw new ModelSourceError(`digest mismatch for ${redactUrl(source)}: expected sha256:${want}, got sha256:${have}; the model was not loaded`);
      }
      await rename(tmp, final);
      return { path: final, digest: `sha256:${want}`, cached: true };
    } finally {
      await rm(tmp, { force: true });
    }
  }
  const path = resolve(opts.cwd ?? process.cwd(), source);
  let st;
  try {
    st = await stat(path);
  } catch {
    throw new ModelSourceError(`--model: ${source}: no such file or directory`);
  }
  let have: string;
  if (st.isDirectory()) {
    let manifest: Buffer;
    try {
      manifest = await readFile(join(path, 'slm.json'));
    } catch {
      // Not an SLM package (e.g. an onnxruntime-genai folder): nothing pins its files, so no digest to check.
      if (want) throw new ModelSourceError(`--digest: ${source} has no slm.json to verify a digest against`);
      return { path, digest: '', cached: false };
    }
    have = createHash('sha256').update(manifest).digest('hex');
  } else have = await sha256File(path);
  if (want && have !== want) throw new ModelSourceError(`digest mismatch for ${source}: expected sha256:${want}, got sha256:${have}; the model was not loaded`);
  return { path, digest: `sha256:${have}`, cached: false };
}

async function openUrl(source: string, opts: ResolveOptions): Promise<{ body: Readable; totalBytes?: number }> {
  if (source.toLowerCase().startsWith('file://')) {
    const p = fileURLToPath(source);
    if (!(await exists(p))) throw new ModelSourceError(`--model: ${source}: no such file`);
    return { body: createReadStream(p), totalBytes: (await stat(p)).size };
  }
  const res = await (opts.fetch ?? fetch)(source, opts.signal ? { signal: opts.signal } : {});
  if (!res.ok || !res.body) throw new ModelSourceError(`--model: GET ${redactUrl(source)} answered HTTP ${res.status}`);
  const length = Number(res.headers.get('content-length') ?? NaN);
  return { body: Readable.fromWeb(res.body as WebReadableStream), ...(Number.isSafeInteger(length) && length >= 0 ? { totalBytes: length } : {}) };
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Drops credentials and query strings (signed URLs) before a URL reaches a message or log. */
export function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    url.username = '';
    url.password = '';
    url.search = '';
    return url.toString();
  } catch {
    return '<invalid url>';
  }
}
