import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { convertedPackage, stories } from './model-fixtures.js';

const ref = JSON.parse(readFileSync(join(stories, 'reference-tokenizer.json'), 'utf8')) as { cases: Array<{ text_hex: string; ids_bos: number[] }> };
let pkg: string;
beforeAll(async () => {
  pkg = await convertedPackage();
});

describe('slmops tokenize', () => {
  it.each(ref.cases.map((c) => [JSON.stringify(Buffer.from(c.text_hex, 'hex').toString('utf8')), c] as const))('gives run.c ids for %s', async (_n, c) => {
    const r = await runCli(['tokenize', '--model', pkg, '--text', Buffer.from(c.text_hex, 'hex').toString('utf8'), '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ids: c.ids_bos });
  });

  it('prints plain ids without --json, and needs --model and --text', async () => {
    expect((await runCli(['tokenize', '--model', pkg, '--text', 'Once upon a time'])).stdout).toBe('1 403 407 261 378\n');
    expect((await runCli(['tokenize', '--model', pkg, '--text', 'A', '--no-bos'])).stdout).toBe('410 447\n');
    const r = await runCli(['tokenize', '--text', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--model <dir> is required');
  });
});
