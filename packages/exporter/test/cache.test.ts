import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertLlama2cPackage, loadModel, packPackageInfo } from '@slmops/model';
import { scanModelCache } from '../src/index.js';

const MODEL = join(import.meta.dirname, '../../../models/stories260k');
let root: string;
let pkg: string;
let tar: string;
let hex: string;
let tarHex: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'slmops-exporter-cache-'));
  pkg = join(root, 'stories260k');
  await convertLlama2cPackage({ checkpoint: join(MODEL, 'stories260K.bin'), tokenizer: join(MODEL, 'tok512.bin'), out: pkg, name: 'stories260k', version: '7' });
  tar = join(root, 'stories.slm.tar');
  const packed = await packPackageInfo(pkg, tar);
  hex = packed.digest.slice('sha256:'.length);
  tarHex = packed.tarDigest.slice('sha256:'.length);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const bytesOf = (dir: string) => readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);

describe('model cache inventory', () => {
  it('lists the digests the sidecar cache holds, archive and unpacked folder counted together', async () => {
    const cache = join(root, 'cache');
    mkdirSync(cache);
    cpSync(tar, join(cache, `sha256-${hex}.slm.tar`));
    // The sidecar unpacks a tar into <cache>/<hex>/ (the same code path as here).
    await loadModel(join(cache, `sha256-${hex}.slm.tar`), { cacheDir: cache });
    expect(readdirSync(cache).sort()).toEqual([hex, `sha256-${hex}.slm.tar`]);
    const scan = await scanModelCache(cache);
    expect(scan.errors).toEqual([]);
    expect(scan.packages).toEqual([{ digest: `sha256:${hex}`, model: 'stories260k', version: '7', bytes: statSync(tar).size + bytesOf(join(cache, hex)) }]);
  });

  it('names every entry by its slm.json (the package digest), whatever its file name, and names the file of a broken package', async () => {
    const cache = join(root, 'cache2');
    mkdirSync(join(cache, 'broken'), { recursive: true });
    // A legacy download named by the archive's sha256, and a folder named by nothing in particular.
    cpSync(tar, join(cache, `sha256-${tarHex}.slm.tar`));
    cpSync(join(cache, '..', 'cache', hex), join(cache, 'some-folder'), { recursive: true });
    writeFileSync(join(cache, 'broken', 'slm.json'), '{"schemaVersion": 1}');
    mkdirSync(join(cache, 'not-a-package'));
    const scan = await scanModelCache(cache);
    expect(scan.packages).toEqual([{ digest: `sha256:${hex}`, model: 'stories260k', version: '7', bytes: statSync(tar).size + bytesOf(join(cache, 'some-folder')) }]);
    expect(scan.errors).toEqual([`${join(cache, 'broken', 'slm.json')}: name: must be a non-empty string`]);
  });

  it('treats a missing cache directory as empty', async () => {
    expect(await scanModelCache(join(root, 'missing'))).toEqual({ packages: [], errors: [] });
  });
});
