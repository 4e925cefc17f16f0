/** File I/O of packages: hashing, and writes that never leave partial output behind. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** sha256 of a file, streamed (models can be hundreds of MB). */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A fresh temporary path next to `target` (same filesystem, so rename is atomic). */
export const tempPathFor = (target: string): string =>
  join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);

/** Writes a file through a temporary name and renames it into place. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Builds a folder with `fill(tempDir)` next to `target` and renames it into place only when fill succeeds; on
 * failure the temporary folder is removed and `target` is untouched. An existing target needs `overwrite`.
 */
export async function writeDirAtomic(target: string, fill: (dir: string) => Promise<void> | void, overwrite = false): Promise<void> {
  if (existsSync(target) && !overwrite) throw new Error(`${target}: already exists (use --force to replace it)`);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  mkdirSync(tmp);
  try {
    await fill(tmp);
    if (existsSync(target)) {
      const old = tempPathFor(target);
      renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
