/**
 * Package archives. Writing: deterministic ustar archives of a flat package folder (entries sorted by name, mtime 0,
 * uid/gid 0, mode 0644, no user names), so the same files always give the same bytes and the same sha256.
 * Reading: a bounded, validating header walk (checksums, sizes, names, PAX and GNU long-name headers) and an
 * extraction that writes only the entries the caller lists, each with the size and sha256 it expects.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';

const BLOCK = 512;
/** More entries than any package has; bounds the header walk of a hostile archive. */
export const MAX_TAR_ENTRIES = 4096;
/** Bound on PAX extended headers and GNU long names (metadata, never file content). */
const MAX_META_BYTES = 64 << 10;
const CHUNK = 1 << 20;

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

/** One file entry of an archive, after PAX / GNU long-name headers were applied. */
export interface TarEntry {
  name: string;
  size: number;
  /** Byte offset of the entry's data in the archive. */
  offset: number;
}

const TYPE_NAMES: Record<string, string> = {
  '1': 'a hard link', '2': 'a symbolic link', '3': 'a character device', '4': 'a block device', '5': 'a directory', '6': 'a FIFO',
  S: 'a GNU sparse file', M: 'a multi-volume continuation', V: 'a volume label', D: 'a GNU dump directory',
};
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

const text = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8').replace(/\0.*$/s, '');

/** A numeric header field: octal digits (NUL/space padded) or GNU base-256; undefined when malformed. */
function numberField(h: Buffer, at: number, len: number): number | undefined {
  if (h[at]! & 0x80) {
    if (h[at] !== 0x80) return undefined; // negative or too large
    let v = 0;
    for (let i = at + 1; i < at + len; i++) v = v * 256 + h[i]!;
    return Number.isSafeInteger(v) ? v : undefined;
  }
  const s = h.subarray(at, at + len).toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return undefined;
  const v = parseInt(s, 8);
  return Number.isSafeInteger(v) ? v : undefined;
}

/** PAX records "<len> <key>=<value>\n"; throws naming the archive on a malformed record. */
function paxRecords(data: Buffer, where: string): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break;
    const sp = data.indexOf(0x20, at);
    const len = sp > at && sp - at <= 8 ? Number(data.subarray(at, sp).toString('latin1')) : NaN;
    if (!Number.isSafeInteger(len) || len <= sp - at + 1 || at + len > data.length || data[at + len - 1] !== 0x0a) throw new Error(`${where}: malformed PAX header record`);
    const rec = data.subarray(sp + 1, at + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq <= 0) throw new Error(`${where}: malformed PAX header record`);
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    at += len;
  }
  return out;
}

async function readExactly(fh: FileHandle, buf: Buffer, position: number, what: () => string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new Error(what());
    done += bytesRead;
  }
}

/**
 * Walks an archive's headers and returns its file entries, refusing (with an Error naming the archive and the
 * entry) bad checksums, malformed or out-of-file sizes, unsafe names (anything but a flat file name), links,
 * devices, directories, sparse files, duplicate names, and more than MAX_TAR_ENTRIES entries. Reads headers only.
 */
export async function listTar(tarPath: string): Promise<TarEntry[]> {
  const fh = await open(tarPath, 'r');
  try {
    return await walk(fh, tarPath, (await fh.stat()).size);
  } finally {
    await fh.close();
  }
}

async function walk(fh: FileHandle, tarPath: string, fileSize: number): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  const header = Buffer.alloc(BLOCK);
  let next: { name?: string; size?: number } = {};
  for (let off = 0, headers = 0; ; headers++) {
    if (headers >= MAX_TAR_ENTRIES * 2) throw new Error(`${tarPath}: more than ${MAX_TAR_ENTRIES} tar entries; not a package archive`);
    const { bytesRead } = await fh.read(header, 0, BLOCK, off);
    if (bytesRead < BLOCK) throw new Error(`${tarPath}: truncated tar (no end-of-archive blocks)`);
    if (header.every((b) => b === 0)) return entries;
    const at = `${tarPath}: tar header at byte ${off}`;
    const stored = numberField(header, 148, 8);
    let sum = 0;
    let signed = 0;
    for (let i = 0; i < BLOCK; i++) {
      const b = i >= 148 && i < 156 ? 32 : header[i]!;
      sum += b;
      signed += b > 127 ? b - 256 : b;
    }
    if (stored === undefined || (stored !== sum && stored !== signed)) throw new Error(`${tarPath}: bad tar header checksum at byte ${off}`);
    const type = header[156] === 0 ? '0' : String.fromCharCode(header[156]!);
    const headerSize = numberField(header, 124, 12);
    if (headerSize === undefined) throw new Error(`${at}: malformed size field`);
    const size = type === 'x' || type === 'g' || type === 'L' || type === 'K' ? headerSize : next.size ?? headerSize;
    const data = off + BLOCK;
    if (data + size > fileSize) throw new Error(`${tarPath}: truncated tar: entry at byte ${off} claims ${size} bytes, past the end of the file (${fileSize} bytes)`);
    off = data + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > MAX_META_BYTES) throw new Error(`${at}: ${type === 'L' || type === 'K' ? 'GNU long name' : 'PAX header'} of ${size} bytes is larger than ${MAX_META_BYTES}`);
      const meta = Buffer.alloc(size);
      await readExactly(fh, meta, data, () => `${tarPath}: truncated tar entry at byte ${data}`);
      if (type === 'L') next.name = text(meta);
      else if (type === 'x') {
        const pax = paxRecords(meta, at);
        if ([...pax.keys()].some((k) => k.startsWith('GNU.sparse.'))) throw new Error(`${at}: sparse files are not allowed in a package archive`);
        const path = pax.get('path');
        if (path !== undefined) next.name = path;
        const paxSize = pax.get('size');
        if (paxSize !== undefined) {
          if (!/^[0-9]{1,16}$/.test(paxSize) || !Number.isSafeInteger(Number(paxSize))) throw new Error(`${at}: malformed PAX size ${JSON.stringify(paxSize.slice(0, 32))}`);
          next.size = Number(paxSize);
        }
      }
      continue;
    }
    const prefix = header.subarray(257, 262).toString('latin1') === 'ustar' ? text(header.subarray(345, 500)) : '';
    const name = next.name ?? (prefix ? `${prefix}/${text(header.subarray(0, 100))}` : text(header.subarray(0, 100)));
    next = {};
    const shown = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}...` : name);
    if (type !== '0' && type !== '7') {
      throw new Error(`${tarPath}: entry ${shown} is ${TYPE_NAMES[type] ?? `of unknown type ${JSON.stringify(type)}`}; a package archive holds only regular files (slmops pack makes one)`);
    }
    if (!SAFE_NAME.test(name)) throw new Error(`${tarPath}: unsafe entry name ${shown}`);
    if (seen.has(name)) throw new Error(`${tarPath}: entry ${shown} appears twice`);
    seen.add(name);
    entries.push({ name, size, offset: data });
  }
}

/** One file to extract: the size it must have (when known, else at most `maxBytes`) and its sha256 (hex). */
export interface TarWanted {
  name: string;
  bytes?: number;
  maxBytes?: number;
  sha256?: string;
}

/** Reads one member (at most `maxBytes`) after validating every header; undefined when absent. */
export async function readTarMember(tarPath: string, name: string, maxBytes: number): Promise<Buffer | undefined> {
  const fh = await open(tarPath, 'r');
  try {
    const entry = (await walk(fh, tarPath, (await fh.stat()).size)).find((e) => e.name === name);
    if (!entry) return undefined;
    if (entry.size > maxBytes) throw new Error(`${tarPath}: ${name} is ${entry.size} bytes, more than ${maxBytes}`);
    const body = Buffer.alloc(entry.size);
    await readExactly(fh, body, entry.offset, () => `${tarPath}: truncated tar entry ${name}`);
    return body;
  } finally {
    await fh.close();
  }
}

/**
 * Extracts exactly the `wanted` files of an archive into `dir` (which must exist; files are created, never
 * overwritten) and returns their names. Entries not wanted are never written. A wanted entry whose size differs
 * from `bytes` (or exceeds `maxBytes`), whose sha256 differs, or which is missing fails the extraction; errors name
 * the archive and the entry. The caller extracts into a temporary folder and renames it.
 */
export async function extractTar(tarPath: string, dir: string, wanted: readonly TarWanted[]): Promise<string[]> {
  const fh = await open(tarPath, 'r');
  try {
    const entries = await walk(fh, tarPath, (await fh.stat()).size);
    const byName = new Map(entries.map((e) => [e.name, e]));
    for (const w of wanted) {
      const e = byName.get(w.name);
      if (!e) throw new Error(`${tarPath}: ${w.name} is listed in slm.json but missing from the archive`);
      if (w.bytes !== undefined && e.size !== w.bytes) throw new Error(`${tarPath}: entry ${w.name} is ${e.size} bytes but slm.json says ${w.bytes}`);
      if (w.maxBytes !== undefined && e.size > w.maxBytes) throw new Error(`${tarPath}: entry ${w.name} is ${e.size} bytes, more than ${w.maxBytes}`);
    }
    const buf = Buffer.alloc(CHUNK);
    for (const w of wanted) {
      const e = byName.get(w.name)!;
      const hash = createHash('sha256');
      const out = await open(join(dir, w.name), 'wx');
      try {
        for (let done = 0; done < e.size; ) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, e.size - done), e.offset + done);
          if (bytesRead === 0) throw new Error(`${tarPath}: truncated tar entry ${w.name}`);
          const chunk = buf.subarray(0, bytesRead);
          hash.update(chunk);
          await out.write(chunk);
          done += bytesRead;
        }
      } finally {
        await out.close();
      }
      const got = hash.digest('hex');
      if (w.sha256 !== undefined && got !== w.sha256) throw new Error(`${tarPath}: entry ${w.name}: sha256 mismatch: slm.json says ${w.sha256}, the archive has ${got}`);
    }
    return wanted.map((w) => w.name);
  } finally {
    await fh.close();
  }
}
