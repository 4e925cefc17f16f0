/**
 * Package identity: the package digest (sha256 of slm.json) pins a package in every container; the extracted
 * cache of a .slm.tar is keyed by it and never trusted; only the files slm.json lists are ever extracted.
 */
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { addVariant, convertLlama2cPackage, formatManifest, loadModel, packPackageInfo, readManifest, sha256Hex, writeTar, type PackResult } from '../src/index.js';
import { tarHeader } from '../src/package/tar.js';
import { stories } from './fixtures.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'slmops-identity-'));
let pkg: string;
let tar: string;
let packed: PackResult;
let onnx: Buffer;

beforeAll(async () => {
  const root = tmp();
  pkg = join(root, 'pkg');
  await convertLlama2cPackage({ checkpoint: join(stories, 'stories260K.bin'), tokenizer: join(stories, 'tok512.bin'), out: pkg, name: 'stories260k', version: '1' });
  onnx = readFileSync(join(pkg, 'model.onnx'));
  // A second variant (same graph, labelled int8) to show that only the loaded variant is hashed at load.
  addVariant(pkg, { precision: 'int8', file: 'model.int8.onnx' }, onnx);
  tar = join(root, 'pkg.slm.tar');
  packed = await packPackageInfo(pkg, tar);
});

const hashOf = (path: string) => `sha256:${sha256Hex(readFileSync(path))}`;

/** Edits a package folder consistently: one byte of model.onnx changed and slm.json rewritten to match. */
function tamper(dir: string): void {
  const bytes = readFileSync(join(dir, 'model.onnx'));
  bytes[bytes.length - 1]! ^= 1;
  writeFileSync(join(dir, 'model.onnx'), bytes);
  const m = readManifest(dir);
  const variants = m.variants.map((v) => (v.file === 'model.onnx' ? { ...v, sha256: sha256Hex(bytes) } : v));
  writeFileSync(join(dir, 'slm.json'), formatManifest({ ...m, variants }));
}

describe('hardening item 3: the extracted model cache is tied to the pinned package digest', () => {
  it('a modified extracted folder (files and slm.json edited together) is not served under the pinned digest', async () => {
    const cacheDir = join(tmp(), 'cache');
    const first = await loadModel(tar, { cacheDir, digest: packed.digest });
    expect(first.dir).toBe(join(cacheDir, packed.digest.slice('sha256:'.length)));
    tamper(first.dir);
    // The folder is self-consistent, so only the pin can tell: loading it under the digest fails naming it.
    await expect(loadModel(first.dir)).resolves.toBeDefined();
    await expect(loadModel(first.dir, { digest: packed.digest })).rejects.toThrow(
      `${join(first.dir, 'slm.json')}: package digest mismatch: pinned ${packed.digest}, but slm.json hashes to ${hashOf(join(first.dir, 'slm.json'))}`,
    );
    // Loading the archive again replaces the cached copy instead of serving it.
    const warnings: string[] = [];
    const again = await loadModel(tar, { cacheDir, digest: packed.digest, onWarning: (w) => warnings.push(w) });
    expect(again.dir).toBe(first.dir);
    expect(hashOf(join(again.dir, 'slm.json'))).toBe(packed.digest);
    expect(readFileSync(again.variantPath('fp32')).equals(onnx)).toBe(true);
    expect(warnings).toEqual([expect.stringContaining(`${first.dir}: cached copy does not match the package`)]);
  });

  it('an entry slm.json does not list is never extracted, however large (a sparse 64 MiB entry writes nothing)', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'extra.bin'), 'not part of the package');
    const files = ['slm.json', 'tokenizer.bin', 'model.onnx', 'model.int8.onnx'].map((name) => ({ name, path: join(pkg, name), size: statSync(join(pkg, name)).size }));
    const withExtra = join(dir, 'extra.slm.tar');
    writeTar(withExtra, [...files, { name: 'extra.bin', path: join(dir, 'extra.bin'), size: 23 }]);
    // An unlisted 64 MiB entry first, stored as a hole: the archive takes about a megabyte of disk.
    const huge = join(dir, 'huge.slm.tar');
    const fd = openSync(huge, 'w');
    writeSync(fd, tarHeader('huge.bin', 64 << 20), 0, 512, 0);
    writeSync(fd, readFileSync(withExtra), 0, statSync(withExtra).size, 512 + (64 << 20));
    closeSync(fd);
    for (const archive of [withExtra, huge]) {
      const cacheDir = join(dir, `cache-${archive === huge ? 'huge' : 'extra'}`);
      const m = await loadModel(archive, { cacheDir });
      expect(readdirSync(m.dir).sort()).toEqual(['model.int8.onnx', 'model.onnx', 'slm.json', 'tokenizer.bin']);
      expect(readdirSync(cacheDir)).toEqual([packed.digest.slice('sha256:'.length)]);
    }
  });
});

describe('package digest', () => {
  it('pins slm.json: the digest pack prints is what the loader checks, for the folder and the archive', async () => {
    expect(packed.digest).toBe(hashOf(join(pkg, 'slm.json')));
    expect(packed.tarDigest).toBe(hashOf(tar));
    await expect(loadModel(pkg, { digest: packed.digest.toUpperCase().replace('SHA256', 'sha256') })).resolves.toMatchObject({ digest: packed.digest });
    const zero = `sha256:${'0'.repeat(64)}`;
    await expect(loadModel(pkg, { digest: zero })).rejects.toThrow(`package digest mismatch: pinned ${zero}`);
    await expect(loadModel(tar, { cacheDir: join(tmp(), 'c'), digest: zero })).rejects.toThrow(
      `${tar}: digest mismatch: pinned ${zero}, but the package digest (sha256 of slm.json) is ${packed.digest} and the archive's sha256 is ${packed.tarDigest}; the model was not loaded`,
    );
    await expect(loadModel(pkg, { digest: 'sha256:xyz' })).rejects.toThrow('digest: expected sha256:<64 hex digits>, got "sha256:xyz"');
  });

  it('accepts the legacy archive digest for a .slm.tar with a deprecation warning, never for a folder', async () => {
    const warnings: string[] = [];
    const m = await loadModel(tar, { cacheDir: join(tmp(), 'c'), digest: packed.tarDigest, onWarning: (w) => warnings.push(w) });
    expect(m.digest).toBe(packed.digest);
    expect(warnings).toEqual([
      `${tar}: the pinned digest ${packed.tarDigest} is the sha256 of the .slm.tar file, which is deprecated and stops working in the next release; pin the package digest ${packed.digest} (the sha256 of slm.json) instead`,
    ]);
    const quiet: string[] = [];
    await loadModel(tar, { cacheDir: join(tmp(), 'c'), digest: packed.digest, onWarning: (w) => quiet.push(w) });
    expect(quiet).toEqual([]);
    await expect(loadModel(pkg, { digest: packed.tarDigest })).rejects.toThrow('package digest mismatch');
  });

  it('hashes only the variants loaded now; another variant is checked when it is loaded', async () => {
    const dir = join(tmp(), 'pkg');
    cpSync(pkg, dir, { recursive: true });
    const bytes = readFileSync(join(dir, 'model.int8.onnx'));
    bytes[100]! ^= 0xff;
    writeFileSync(join(dir, 'model.int8.onnx'), bytes);
    await expect(loadModel(dir)).rejects.toThrow(`${join(dir, 'model.int8.onnx')}: sha256 mismatch`);
    const m = await loadModel(dir, { digest: packed.digest, verifyVariants: ['fp32'] });
    expect(m.variantPath('fp32')).toBe(join(dir, 'model.onnx'));
    expect(() => m.variantPath('int8')).toThrow(`${join(dir, 'model.int8.onnx')}: not verified against slm.json yet`);
    await expect(m.verifyVariant!('int8')).rejects.toThrow(`${join(dir, 'model.int8.onnx')}: sha256 mismatch`);
    await expect(m.verifyVariant!('fp32')).resolves.toBe(join(dir, 'model.onnx'));
  });

  it('repairs a cached copy whose deferred variant was changed, when that variant is loaded', async () => {
    const cacheDir = join(tmp(), 'cache');
    const first = await loadModel(tar, { cacheDir, verifyVariants: ['fp32'] });
    const int8 = join(first.dir, 'model.int8.onnx');
    const bytes = readFileSync(int8);
    bytes[100]! ^= 0xff;
    writeFileSync(int8, bytes);
    const warnings: string[] = [];
    const m = await loadModel(tar, { cacheDir, verifyVariants: ['fp32'], onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([]);
    await expect(m.verifyVariant!('int8')).resolves.toBe(int8);
    expect(readFileSync(int8).equals(onnx)).toBe(true);
    expect(warnings).toEqual([expect.stringContaining(`${first.dir}: cached copy does not match the package (${int8}: sha256 mismatch`)]);
    expect(existsSync(join(cacheDir, packed.digest.slice('sha256:'.length)))).toBe(true);
  });
});
