/**
 * Model cache inventory: which SLM packages (by package digest, the sha256 of slm.json) sit in the node's cache and
 * how many bytes they take. The sidecar's cache holds downloaded archives `*.slm.tar` and unpacked folders (see
 * @slmops/model loadModel); each is identified by its own slm.json, never by its file name, so a renamed or
 * legacy-named entry still reports the digest the loader checks.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE, MAX_MANIFEST_BYTES, packageDigest, parseManifest, readTarMember } from '@slmops/model';

export interface CachedPackage {
  /** The package digest, "sha256:<hex of slm.json>". */
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

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isFile()) total += (await stat(join(dir, e.name))).size;
    else if (e.isDirectory()) total += await folderBytes(join(dir, e.name));
  }
  return total;
}

/** Scans a cache directory; a missing directory is an empty cache. Reads only each entry's slm.json. */
export async function scanModelCache(dir: string): Promise<CacheScan> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { packages: [], errors: [] };
    throw new Error(`model cache ${dir}: ${(e as Error).message}`);
  }
  const byKey = new Map<string, CachedPackage>();
  const errors: string[] = [];
  const add = (p: CachedPackage) => {
    const prev = byKey.get(p.digest);
    byKey.set(p.digest, prev ? { ...prev, bytes: prev.bytes + p.bytes } : p);
  };
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith('.')) continue; // in-flight downloads and extractions
    const path = join(dir, e.name);
    try {
      if (e.isFile() && e.name.endsWith('.slm.tar')) {
        const bytes = await readTarMember(path, MANIFEST_FILE, MAX_MANIFEST_BYTES);
        if (!bytes) throw new Error(`${path}: archive has no ${MANIFEST_FILE}`);
        const m = parseManifest(bytes.toString('utf8'), `${path}!${MANIFEST_FILE}`);
        add({ digest: packageDigest(bytes), model: m.name, version: m.version, bytes: (await stat(path)).size });
      } else if (e.isDirectory()) {
        let bytes: Buffer;
        try {
          bytes = await readFile(join(path, MANIFEST_FILE));
        } catch {
          continue; // not a package folder
        }
        const m = parseManifest(bytes.toString('utf8'), join(path, MANIFEST_FILE));
        add({ digest: packageDigest(bytes), model: m.name, version: m.version, bytes: await folderBytes(path) });
      }
    } catch (err) {
      errors.push((err as Error).message.startsWith(path) ? (err as Error).message : `${path}: ${(err as Error).message}`);
    }
  }
  const packages = [...byKey.values()].sort((a, b) => (a.model + a.version + a.digest < b.model + b.version + b.digest ? -1 : 1));
  return { packages, errors };
}
