/**
 * Model cache inventory: which SLM packages (by digest) sit in the node's cache and how many bytes they take.
 * The sidecar's cache holds downloaded archives `sha256-<hex>.slm.tar` and unpacked folders `<hex>/` (see
 * @slmops/model loadModel); other `*.slm.tar` archives are hashed once (cached by size and mtime).
 */
import { type FileHandle, open, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE, parseManifest, sha256File } from '@slmops/model';

export interface CachedPackage {
  /** "sha256:<hex>", or "" for a package folder whose archive digest is unknown. */
  digest: string;
  model: string;
  version: string;
  /** Bytes on disk of every copy (archive and unpacked folder) of this digest. */
  bytes: number;
}

export interface CacheScan {
  packages: CachedPackage[];
  /** Entries that look like packages but could not be read, one line each naming the path. */
  errors: string[];
}

const HEX = /^[0-9a-f]{64}$/;
const TAR_BLOCK = 512;

/** Reads one member of a ustar archive by name without reading the others (the package tars are flat). */
export async function readTarMember(path: string, member: string, maxBytes = 1 << 20): Promise<Buffer | undefined> {
  const fh: FileHandle = await open(path, 'r');
  try {
    const header = Buffer.alloc(TAR_BLOCK);
    for (let offset = 0; ; ) {
      const { bytesRead } = await fh.read(header, 0, TAR_BLOCK, offset);
      if (bytesRead < TAR_BLOCK || header.every((b) => b === 0)) return undefined;
      const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
      const size = parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
      if (!Number.isFinite(size)) throw new Error(`${path}: corrupt tar header at byte ${offset}`);
      if (name === member) {
        if (size > maxBytes) throw new Error(`${path}: ${member} is ${size} bytes, more than ${maxBytes}`);
        const body = Buffer.alloc(size);
        await fh.read(body, 0, size, offset + TAR_BLOCK);
        return body;
      }
      offset += TAR_BLOCK + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
    }
  } finally {
    await fh.close();
  }
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isFile()) total += (await stat(join(dir, e.name))).size;
    else if (e.isDirectory()) total += await folderBytes(join(dir, e.name));
  }
  return total;
}

/** Scans a cache directory; a missing directory is an empty cache. `hashes` memoises archive digests across scans. */
export async function scanModelCache(dir: string, hashes: Map<string, string> = new Map()): Promise<CacheScan> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { packages: [], errors: [] };
    throw new Error(`model cache ${dir}: ${(e as Error).message}`);
  }
  const byKey = new Map<string, CachedPackage>();
  const errors: string[] = [];
  const add = (p: CachedPackage, key = p.digest || `folder:${p.model}:${p.version}`) => {
    const prev = byKey.get(key);
    byKey.set(key, prev ? { ...prev, bytes: prev.bytes + p.bytes } : p);
  };
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith('.')) continue; // in-flight downloads and extractions
    const path = join(dir, e.name);
    try {
      if (e.isFile() && e.name.endsWith('.slm.tar')) {
        const st = await stat(path);
        const named = /^sha256-([0-9a-f]{64})\.slm\.tar$/.exec(e.name)?.[1];
        const memo = `${path}\0${st.size}\0${st.mtimeMs}`;
        const hex = named ?? hashes.get(memo) ?? (await sha256File(path));
        hashes.set(memo, hex);
        const text = await readTarMember(path, MANIFEST_FILE);
        if (!text) throw new Error(`${path}: archive has no ${MANIFEST_FILE}`);
        const m = parseManifest(text.toString('utf8'), `${path}!${MANIFEST_FILE}`);
        add({ digest: `sha256:${hex}`, model: m.name, version: m.version, bytes: st.size });
      } else if (e.isDirectory()) {
        let text: string;
        try {
          text = await readFile(join(path, MANIFEST_FILE), 'utf8');
        } catch {
          continue; // not a package folder
        }
        const m = parseManifest(text, join(path, MANIFEST_FILE));
        add({ digest: HEX.test(e.name) ? `sha256:${e.name}` : '', model: m.name, version: m.version, bytes: await folderBytes(path) });
      }
    } catch (err) {
      errors.push((err as Error).message.startsWith(path) ? (err as Error).message : `${path}: ${(err as Error).message}`);
    }
  }
  const packages = [...byKey.values()].sort((a, b) => (a.model + a.version + a.digest < b.model + b.version + b.digest ? -1 : 1));
  return { packages, errors };
}
