import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressBar } from '../src/commands/convert.js';
import { runCli } from './cli.js';
import { ckpt, stories, tmp, tok } from './model-fixtures.js';

describe('slmops convert', () => {
  it('writes an SLM package and says what it wrote', async () => {
    const dir = tmp();
    const r = await runCli(['convert', ckpt, '--tokenizer', tok, '--out', 'pkg', '--name', 'stories260k', '--version', '1.2.0'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('wrote pkg: stories260k 1.2.0 (llama, 5 layers, vocab 512, context 512)');
    expect(r.stdout).toMatch(/fp32 model\.onnx \d+ bytes sha256:[0-9a-f]{64}/);
    const manifest = JSON.parse(readFileSync(join(dir, 'pkg/slm.json'), 'utf8'));
    expect(manifest.variants[0].file).toBe('model.onnx');
  });

  it.each([
    ['a truncated checkpoint', (b: Buffer) => b.subarray(0, b.length - 100), /cut\.bin: truncated: .*needs 1056540 bytes but the file has 1056440/],
    ['an oversized checkpoint', (b: Buffer) => Buffer.concat([b, Buffer.alloc(64)]), /cut\.bin: oversized: .*the file has 1056604/],
    ['a header inconsistent with the file size', (b: Buffer) => { const c = Buffer.from(b); c.writeInt32LE(1024, 24); return c; }, /cut\.bin: truncated: .*seq_len 1024.*needs \d+ bytes but the file has 1056540/],
  ])('rejects %s with exit 1, naming the file, and writes nothing', async (_what, mangle, message) => {
    const dir = tmp();
    writeFileSync(join(dir, 'cut.bin'), mangle(readFileSync(ckpt)));
    const r = await runCli(['convert', 'cut.bin', '--tokenizer', tok, '--out', 'pkg'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(readdirSync(dir)).toEqual(['cut.bin']);
  });

  it('rejects a tokenizer whose vocab size does not match the checkpoint', async () => {
    const dir = tmp();
    const r = await runCli(['convert', ckpt, '--tokenizer', join(stories, 'llama2_tokenizer_32000.bin'), '--out', 'pkg'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("llama2_tokenizer_32000.bin: tokenizer has 32000 tokens but the checkpoint's vocab_size is 512");
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses to overwrite an existing package unless --force, then replaces it whole', async () => {
    const dir = tmp();
    expect((await runCli(['convert', ckpt, '--tokenizer', tok, '--out', 'pkg', '--version', '1.0.0'], dir)).code).toBe(0);
    const again = await runCli(['convert', ckpt, '--tokenizer', tok, '--out', 'pkg', '--version', '2.0.0'], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('pkg: already exists (use --force to replace it)');
    writeFileSync(join(dir, 'pkg/stale.txt'), 'old');
    expect((await runCli(['convert', ckpt, '--tokenizer', tok, '--out', 'pkg', '--version', '2.0.0', '--force'], dir)).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'pkg/slm.json'), 'utf8')).version).toBe('2.0.0');
    expect(readdirSync(join(dir, 'pkg')).sort()).toEqual(['model.onnx', 'slm.json', 'tokenizer.bin']);
    expect(readdirSync(dir)).toEqual(['pkg']);
  });

  it('is a usage error (exit 2) without --tokenizer or --out, or with two checkpoints', async () => {
    expect((await runCli(['convert', ckpt, '--out', 'x'])).stderr).toContain('--tokenizer <tok.bin> is required');
    expect((await runCli(['convert', ckpt, '--tokenizer', tok])).code).toBe(2);
    expect((await runCli(['convert', ckpt, ckpt, '--tokenizer', tok, '--out', 'x'])).code).toBe(2);
  });

  it('shows a progress bar only on a TTY and only after 1 s', () => {
    const capture = (tty: boolean, times: number[]) => {
      const s = new PassThrough() as PassThrough & { isTTY?: boolean };
      s.isTTY = tty;
      const out: string[] = [];
      s.on('data', (b: Buffer) => out.push(b.toString()));
      const clock = () => times.shift() ?? 5000;
      const bar = progressBar(s, 'converting', clock);
      bar.update(1, 4, 'early');
      bar.update(2, 4, 'late');
      bar.done();
      return out.join('');
    };
    expect(capture(true, [0, 10, 1500])).toBe(`\rconverting [############............] late\x1b[K\n`);
    expect(capture(true, [0, 10, 20])).toBe('');
    expect(capture(false, [0, 5000, 5000])).toBe('');
  });
});
