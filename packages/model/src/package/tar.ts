/**
 * Deterministic ustar archives of a flat package folder: entries sorted by name, mtime 0, uid/gid 0, mode 0644,
 * no user names, so the same files always give the same bytes and the same sha256.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** A ustar header for a regular file. */
export function tarHeader(name: string, size: number): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length > 100) throw new Error(`${name}: file name longer than 100 bytes cannot go in the package tar`);
  const h = new Uint8Array(BLOCK);
  const put = (off: number, s: string) => h.set(new TextEncoder().encode(s), off);
  h.set(nameBytes, 0);
  put(100, octal(0o644, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(0, 12));
  put(156, '0');
  put(257, 'ustar\0');
  put(263, '00');
  put(148, '        ');
  let sum = 0;
  for (const b of h) sum += b;
  put(148, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/**
 * Writes `files` (name -> absolute path) as a tar to `outPath`, returning the archive's sha256 hex.
 * Streams file contents in 4 MiB chunks so large models never sit in memory twice.
 */
export function writeTar(outPath: string, files: Array<{ name: string; path: string; size: number }>): string {
  const hash = createHash('sha256');
  const fd = openSync(outPath, 'w');
  const write = (b: Uint8Array) => {
    writeSync(fd, b);
    hash.update(b);
  };
  try {
    const buf = Buffer.alloc(4 << 20);
    for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      write(tarHeader(f.name, f.size));
      const src = openSync(f.path, 'r');
      let done = 0;
      try {
        while (done < f.size) {
          const n = readSync(src, buf, 0, Math.min(buf.length, f.size - done), done);
          if (n === 0) throw new Error(`${f.path}: file shrank while packing`);
          write(buf.subarray(0, n));
          done += n;
        }
      } finally {
        closeSync(src);
      }
      const pad = (BLOCK - (f.size % BLOCK)) % BLOCK;
      if (pad) write(new Uint8Array(pad));
    }
    write(new Uint8Array(BLOCK * 2));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Extracts the regular files of a tar into `dir` (flat names only); errors name the archive. */
export function extractTar(tarPath: string, dir: string): string[] {
  const fd = openSync(tarPath, 'r');
  const names: string[] = [];
  try {
    mkdirSync(dir, { recursive: true });
    const header = Buffer.alloc(BLOCK);
    let off = 0;
    for (;;) {
      const n = readSync(fd, header, 0, BLOCK, off);
      if (n < BLOCK) throw new Error(`${tarPath}: truncated tar (no end-of-archive blocks)`);
      off += BLOCK;
      if (header.every((b) => b === 0)) break;
      const field = (a: number, len: number) => header.subarray(a, a + len).toString('utf8').replace(/\0.*$/s, '');
      const name = field(0, 100);
      const size = parseInt(field(124, 12).trim() || '0', 8);
      const type = field(156, 1) || '0';
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
      if (sum !== parseInt(field(148, 8).trim(), 8)) throw new Error(`${tarPath}: bad tar header checksum at byte ${off - BLOCK}`);
      if (type === '0') {
        if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) throw new Error(`${tarPath}: unsafe entry name ${JSON.stringify(name)}`);
        const out = openSync(join(dir, name), 'w');
        try {
          const buf = Buffer.alloc(Math.min(size, 4 << 20) || 1);
          let done = 0;
          while (done < size) {
            const r = readSync(fd, buf, 0, Math.min(buf.length, size - done), off + done);
            if (r === 0) throw new Error(`${tarPath}: truncated tar entry ${name}`);
            writeSync(out, buf.subarray(0, r));
            done += r;
          }
        } finally {
          closeSync(out);
        }
        names.push(name);
      }
      off += Math.ceil(size / BLOCK) * BLOCK;
    }
  } finally {
    closeSync(fd);
  }
  return names;
}
