/**
 * Package identity: the package digest is `sha256:` + the sha256 of the exact bytes of slm.json, which pins every
 * file's sha256 (and size). Pinning it pins the whole package, whatever container (folder, .slm.tar, OCI) holds it.
 */
import { open } from 'node:fs/promises';
import { sha256Hex } from './files.js';

/** slm.json is a small JSON document; anything larger is refused before it is read whole. */
export const MAX_MANIFEST_BYTES = 1 << 20;

/** The package digest of slm.json's bytes: "sha256:<64 hex>". */
export const packageDigest = (manifestBytes: Uint8Array): string => `sha256:${sha256Hex(manifestBytes)}`;

const DIGEST = /^sha256:([0-9a-f]{64})$/;

/** Parses "sha256:<64 hex>" (case-insensitive) to the lower-case form; throws naming `field` otherwise. */
export function normalizeDigest(d: string, field = 'digest'): string {
  const m = DIGEST.exec(d.trim().toLowerCase());
  if (!m) throw new Error(`${field}: expected sha256:<64 hex digits>, got ${JSON.stringify(d.length > 80 ? `${d.slice(0, 80)}...` : d)}`);
  return `sha256:${m[1]}`;
}

/** Reads slm.json's bytes, refusing a file larger than MAX_MANIFEST_BYTES before reading it; errors name the path. */
export async function readManifestBytes(path: string): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new Error(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    const { size } = await fh.stat();
    if (size > MAX_MANIFEST_BYTES) throw new Error(`${path}: ${size} bytes, more than the ${MAX_MANIFEST_BYTES} a slm.json may have`);
    const buf = Buffer.alloc(size);
    const { bytesRead } = await fh.read(buf, 0, size, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
