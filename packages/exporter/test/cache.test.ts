import { cpSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertLlama2cPackage, loadModel, packPackage } from '@slmops/model';
import { readTarMember, scanModelCache } from '../src/index.js';

const MODEL = join(import.meta.dirname, '../../../models/stories260k');
let root: string;
let pkg: string;
let tar: string;
let hex: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'slmops-exporter-cache-'));
  pkg = join(root, 'stories260k');
  await convertLlama2cPackage({ checkpoint: join(MODEL, 'stories260K.bin'), tokenizer: join(MODEL, 'tok512.bin'), out: pkg, name: 'stories260k', version: '7' });
  tar = join(root, 'stories.slm.tar');
  hex = (await packPackage(pkg, tar)).slice('sha256:'.length);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const bytesOf = (dir: string) => readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);

describe('model cache inventory', () => {
  it('reads slm.json out of a package tar without unpacking it', async () => {
    const body = await readTarMember(tar, 'slm.json');
    expect(JSON.parse(body!.toString('utf8'))).toMatchObject({ name: 'stories260k', version: '7' });
    expect(await readTarMember(tar, 'nope.json')).toBeUndefined();
  });

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

  it('hashes archives not named by digest once, and names the file of a broken package', async () => {
    const cache = join(root, 'cache2');
    mkdirSync(join(cache, 'broken'), { recursive: true });
    cpSync(tar, join(cache, 'any-name.slm.tar'));
    writeFileSync(join(cache, 'broken', 'slm.json'), '{"schemaVersion": 1}');
    mkdirSync(join(cache, 'not-a-package'));
    const hashes = new Map<string, string>();
    const scan = await scanModelCache(cache, hashes);
    expect(scan.packages).toEqual([{ digest: `sha256:${hex}`, model: 'stories260k', version: '7', bytes: statSync(tar).size }]);
    expect(scan.errors).toEqual([`${join(cache, 'broken', 'slm.json')}: name: must be a non-empty string`]);
    expect([...hashes.values()]).toEqual([hex]);
    // A renamed file is a new entry; the memo is keyed by path, size and mtime.
    renameSync(join(cache, 'any-name.slm.tar'), join(cache, 'other.slm.tar'));
    await scanModelCache(cache, hashes);
    expect(hashes.size).toBe(2);
  });

  it('treats a missing cache directory as empty', async () => {
    expect(await scanModelCache(join(root, 'missing'))).toEqual({ packages: [], errors: [] });
  });
});
