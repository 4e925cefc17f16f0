import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertLlama2cPackage, packPackage } from '@slmops/model';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';

const fixtures = join(import.meta.dirname, '../../../../shared/fixtures/models');
const stories = join(fixtures, 'stories260K');
const ref = JSON.parse(readFileSync(join(stories, 'reference-greedy.json'), 'utf8')) as {
  runs: Array<{ prompt: string; prompt_tokens: number[]; tokens: number[]; text: string }>;
};
const run = ref.runs[0]!;

describe('slmops generate', () => {
  const work = mkdtempSync(join(tmpdir(), 'slmops-generate-'));
  const pkg = join(work, 'stories260k');
  beforeAll(async () => {
    await convertLlama2cPackage({ checkpoint: join(stories, 'stories260K.bin'), tokenizer: join(stories, 'tok512.bin'), out: pkg });
  });

  it('--json gives exactly the token ids of llama2.c run.c (reference-greedy.json)', async () => {
    const r = await runCli(['generate', '--model', pkg, '--prompt', 'Once upon a time', '--max-tokens', '190', '--temperature', '0', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { text: string; tokens: number[]; finishReason: string };
    const P = run.prompt_tokens.length;
    expect(out.tokens).toEqual(run.tokens.slice(P - 1, P - 1 + 190));
    expect(out.finishReason).toBe('length');
    expect(run.text.startsWith(run.prompt + out.text)).toBe(true);
  });

  it('plain output is the prompt and the continuation as llama2.c prints it, from a .slm.tar too', async () => {
    const tar = join(work, 'stories.slm.tar');
    await packPackage(pkg, tar);
    const r = await runCli(['generate', '--model', tar, '--prompt', 'Once upon a time', '--max-tokens', '40', '--temperature', '0']);
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stdout.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
    expect(run.text.startsWith(r.stdout.slice(0, -1))).toBe(true);
  });

  it('runs an onnxruntime-genai folder with its own tokenizer and IO names', async () => {
    const r = await runCli(['generate', '--model', join(fixtures, 'ort-genai-tiny/tiny-random-gpt2-fp32'), '--prompt', ' of the', '--max-tokens', '8', '--temperature', '0', '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ text: 'owowowowowowowow', tokens: Array(8).fill(322), finishReason: 'length' });
  });

  it('same --seed, same sampled text', async () => {
    const args = ['generate', '--model', pkg, '--prompt', 'The dog', '--max-tokens', '30', '--temperature', '0.9', '--top-p', '0.9', '--seed', '42', '--json'];
    const a = JSON.parse((await runCli(args)).stdout) as { tokens: number[] };
    const b = JSON.parse((await runCli(args)).stdout) as { tokens: number[] };
    expect(a.tokens).toHaveLength(30);
    expect(b.tokens).toEqual(a.tokens);
  });

  it('bad input: usage errors name the flag (exit 2); other failures exit 1 with a clear message', async () => {
    const neg = await runCli(['generate', '--model', pkg, '--prompt', 'x', '--temperature=-1']);
    expect(neg.code).toBe(2);
    expect(neg.stderr).toContain('--temperature must be a number >= 0, got "-1"');
    const topP = await runCli(['generate', '--model', pkg, '--prompt', 'x', '--top-p', '1.5']);
    expect(topP.code).toBe(2);
    expect(topP.stderr).toContain('--top-p: must be in (0, 1], got 1.5');
    expect((await runCli(['generate', '--prompt', 'x'])).stderr).toContain('generate needs --model');
    const variant = await runCli(['generate', '--model', pkg, '--prompt', 'x', '--variant', 'int4']);
    expect(variant.code).toBe(1);
    expect(variant.stderr).toContain('no int4 variant; the package has fp32');
    const long = await runCli(['generate', '--model', pkg, '--prompt', 'a b '.repeat(300), '--max-tokens', '1']);
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(/the prompt is \d+ tokens; the model's context is 512 tokens/);
    const missing = await runCli(['generate', '--model', join(work, 'nope'), '--prompt', 'x']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope: no such file or directory');
  });
});
