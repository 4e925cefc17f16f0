/**
 * Fuzz of the package-archive reader (fixed seed, counted iterations): random and mutated archives either load or
 * fail with an Error naming the archive; nothing hangs, crashes, or is written outside the target folder, and
 * nothing but the listed files is written inside it.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractTar, formatManifest, loadModel, readTarManifest, sha256Hex, writeTar, type SlmManifest, type TarWanted } from '../src/index.js';
import { tarHeader } from '../src/package/tar.js';
import { seeded } from './seeded.js';

const BLOCK = 512;

/** A small but well-formed package archive: slm.json, a tokenizer and a (fake) model file. */
function baseArchive(dir: string): { tar: Buffer; wanted: TarWanted[] } {
  const tok = Buffer.alloc(300, 7);
  const model = Buffer.alloc(1500, 9);
  const manifest: SlmManifest = {
    schemaVersion: 1, name: 'fuzz', version: '1', architecture: 'llama', contextLength: 8,
    tokenizer: { kind: 'llama2c', file: 'tokenizer.bin', sha256: sha256Hex(tok), bytes: tok.length },
    specialIds: {}, io: { inputIds: 'input_ids', logits: 'logits', kvLayout: 'split', pastNames: [], presentNames: [], numLayers: 0, numKvHeads: 1, headDim: 1, vocabSize: 4, idsType: 'int64', maskType: 'int64', kvType: 'float32' },
    variants: [{ precision: 'fp32', file: 'model.onnx', sha256: sha256Hex(model), bytes: model.length }],
  };
  const json = Buffer.from(formatManifest(manifest));
  const files: Array<[string, Buffer]> = [['slm.json', json], ['tokenizer.bin', tok], ['model.onnx', model], ['unlisted.bin', Buffer.alloc(700, 1)]];
  for (const [name, b] of files) writeFileSync(join(dir, name), b);
  writeTar(join(dir, 'base.tar'), files.map(([name, b]) => ({ name, path: join(dir, name), size: b.length })));
  return {
    tar: readFileSync(join(dir, 'base.tar')),
    wanted: files.slice(0, 3).map(([name, b]) => ({ name, bytes: b.length, sha256: sha256Hex(b) })),
  };
}

/** Recomputes a header's checksum so a mutation reaches the checks behind it. */
function fixChecksum(tar: Buffer, at: number): void {
  tar.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += tar[i]!;
  tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
}

const headerOffsets = (tar: Buffer): number[] => {
  const out: number[] = [];
  for (let at = 0; at + BLOCK <= tar.length; ) {
    if (tar.subarray(at, at + BLOCK).every((b) => b === 0)) break;
    out.push(at);
    const size = parseInt(tar.subarray(at + 124, at + 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    if (!Number.isSafeInteger(size)) break;
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
};

const pax = (records: Record<string, string>) => {
  const body = Object.entries(records).map(([k, v]) => {
    let len = k.length + v.length + 3;
    len += String(len).length;
    if (`${len} ${k}=${v}\n`.length !== len) len++;
    return `${len} ${k}=${v}\n`;
  }).join('');
  const data = Buffer.from(body);
  const h = Buffer.from(tarHeader('PaxHeader', data.length));
  h[156] = 0x78; // 'x'
  fixChecksum(h, 0);
  return Buffer.concat([h, data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK)]);
};

function mutate(base: Buffer, r: ReturnType<typeof seeded>): Buffer {
  const tar = Buffer.from(base);
  const heads = headerOffsets(tar);
  const h = r.pick(heads);
  switch (r.int(11)) {
    case 0: // truncate anywhere
      return tar.subarray(0, r.int(tar.length));
    case 1: // flip random bytes anywhere
      for (let n = 1 + r.int(8); n > 0; n--) tar[r.int(tar.length)]! ^= 1 << r.int(8);
      return tar;
    case 2: // bad checksum
      tar[h + 148 + r.int(6)] = 0x30 + r.int(8);
      return tar;
    case 3: { // huge or malformed size, checksum fixed
      const sizes = ['77777777777\0', '00000000000\0', 'zzzzzzzzzzz\0', '-0000000001\0', '00000004000\0'];
      tar.write(r.pick(sizes), h + 124, 'latin1');
      if (r.int(2)) tar[h + 124] = 0x80 | r.int(2) * 0x7f; // GNU base-256
      fixChecksum(tar, h);
      return tar;
    }
    case 4: { // traversal and other unsafe names, checksum fixed
      const names = ['../evil', '/etc/passwd', 'a/b', '..', '.', '.hidden', 'slm.json/../../x', 'ok\u0000../x', '', 'x'.repeat(100)];
      tar.fill(0, h, h + 100);
      tar.write(r.pick(names), h, 'utf8');
      fixChecksum(tar, h);
      return tar;
    }
    case 5: // special types: links, devices, directories, sparse, unknown
      tar[h + 156] = r.pick([...'123456SKLMVDgx7Z'].map((c) => c.charCodeAt(0)));
      fixChecksum(tar, h);
      return tar;
    case 6: { // PAX headers: traversal path, huge or bad size, sparse, malformed records
      const recs = r.pick<Record<string, string>>([
        { path: '../../evil' }, { path: 'unlisted-big.bin', size: '99999999999999' }, { size: 'abc' }, { 'GNU.sparse.major': '1' },
        { path: 'slm.json' }, { mtime: '1.5', comment: 'x'.repeat(2000) }, { path: 'model.onnx' },
      ]);
      let p = pax(recs);
      if (r.int(4) === 0) p = Buffer.from(p.toString('latin1').replace(/^\d+/, '9999'), 'latin1');
      return Buffer.concat([tar.subarray(0, h), p, tar.subarray(h)]);
    }
    case 7: { // duplicate an entry (a second slm.json or model file)
      const size = parseInt(tar.subarray(h + 124, h + 136).toString('latin1'), 8);
      const entry = tar.subarray(h, h + BLOCK + Math.ceil(size / BLOCK) * BLOCK);
      return Buffer.concat([entry, tar]);
    }
    case 8: // random garbage
      return Buffer.from(Array.from({ length: r.int(3000) }, () => r.int(256)));
    case 9: { // GNU long name pointing outside, checksum fixed
      const name = Buffer.from(r.pick(['../../long-evil', 'fine-name.bin', 'x'.repeat(5000)]));
      const lh = Buffer.from(tarHeader('././@LongLink', name.length));
      lh[156] = 0x4c; // 'L'
      fixChecksum(lh, 0);
      return Buffer.concat([tar.subarray(0, h), lh, name, Buffer.alloc((BLOCK - (name.length % BLOCK)) % BLOCK), tar.subarray(h)]);
    }
    default: // change one data byte of a listed file (sha256 mismatch)
      tar[h + BLOCK + r.int(64)]! ^= 0x55;
      return tar;
  }
}

describe('package archive reader fuzz (fixed seed)', () => {
  it('mutated and random archives load or fail with an Error naming the archive; nothing unlisted or outside is written', async () => {
    const root = mkdtempSync(join(tmpdir(), 'slmops-tarfuzz-'));
    const { tar: base, wanted } = baseArchive(root);
    const listed = new Set(wanted.map((w) => w.name));
    const r = seeded(20261208);
    const sandbox = join(root, 'sandbox');
    const outcomes = { ok: 0, refused: 0 };
    const ITERATIONS = 400;
    for (let i = 0; i < ITERATIONS; i++) {
      rmSync(sandbox, { recursive: true, force: true });
      mkdirSync(join(sandbox, 'out'), { recursive: true });
      const archive = join(sandbox, 'f.slm.tar');
      writeFileSync(archive, mutate(base, r));
      const attempt = async () => {
        if (i % 4 === 3) {
          // The whole loader path: slm.json first, then only its files into the digest-keyed cache.
          await loadModel(archive, { cacheDir: join(sandbox, 'out') });
          return;
        }
        await readTarManifest(archive);
        await extractTar(archive, join(sandbox, 'out'), wanted);
      };
      try {
        await attempt();
        outcomes.ok++;
      } catch (e) {
        expect(e, `iteration ${i}`).toBeInstanceOf(Error);
        expect((e as Error).message, `iteration ${i}`).toContain(archive);
        outcomes.refused++;
      }
      // Nothing outside the target: the sandbox holds only the archive and the target folder.
      expect(readdirSync(sandbox).sort(), `iteration ${i}`).toEqual(['f.slm.tar', 'out']);
      const written = i % 4 === 3 ? readdirSync(join(sandbox, 'out')).flatMap((d) => readdirSync(join(sandbox, 'out', d))) : readdirSync(join(sandbox, 'out'));
      for (const name of written) expect(listed.has(name), `iteration ${i}: wrote ${name}`).toBe(true);
    }
    expect(outcomes.ok + outcomes.refused).toBe(ITERATIONS);
    // Both outcomes occur: the mutations are not all fatal, and not all harmless.
    expect(outcomes.ok).toBeGreaterThan(10);
    expect(outcomes.refused).toBeGreaterThan(ITERATIONS / 2);
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses each hostile shape with a clear message', async () => {
    const root = mkdtempSync(join(tmpdir(), 'slmops-tarcases-'));
    const { tar: base, wanted } = baseArchive(root);
    const at = (name: string, bytes: Buffer) => {
      const p = join(root, name);
      writeFileSync(p, bytes);
      return p;
    };
    const out = join(root, 'out');
    mkdirSync(out);
    const withType = (t: string) => {
      const b = Buffer.from(base);
      b[156] = t.charCodeAt(0);
      fixChecksum(b, 0);
      return b;
    };
    const sym = at('sym.tar', withType('2'));
    await expect(extractTar(sym, out, wanted)).rejects.toThrow(`${sym}: entry "model.onnx" is a symbolic link; a package archive holds only regular files`);
    const sparse = at('sparse.tar', withType('S'));
    await expect(extractTar(sparse, out, wanted)).rejects.toThrow(`${sparse}: entry "model.onnx" is a GNU sparse file`);
    const paxSparse = at('paxsparse.tar', Buffer.concat([pax({ 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0' }), base]));
    await expect(extractTar(paxSparse, out, wanted)).rejects.toThrow('sparse files are not allowed in a package archive');
    const paxEvil = at('paxevil.tar', Buffer.concat([pax({ path: '../../evil' }), base]));
    await expect(extractTar(paxEvil, out, wanted)).rejects.toThrow(`${paxEvil}: unsafe entry name "../../evil"`);
    const huge = Buffer.from(base);
    huge.write('77777777777\0', 124, 'latin1');
    fixChecksum(huge, 0);
    const hugePath = at('huge.tar', huge);
    await expect(extractTar(hugePath, out, wanted)).rejects.toThrow(`${hugePath}: truncated tar: entry at byte 0 claims 8589934591 bytes, past the end of the file`);
    const dup = at('dup.tar', Buffer.concat([base.subarray(0, 512 * 4), base]));
    await expect(extractTar(dup, out, wanted)).rejects.toThrow('appears twice');
    // A listed entry of another size than slm.json states is refused before anything is written.
    await expect(extractTar(at('ok.tar', base), out, [{ ...wanted[0]!, bytes: 1 }])).rejects.toThrow(`entry ${wanted[0]!.name} is `);
    expect(readdirSync(out)).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });
});
