import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addVariant, convertLlama2cPackage, decodeModel, encodeModel, quantizeModel } from '@slmops/model';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';

const stories = join(import.meta.dirname, '../../../../shared/fixtures/models/stories260K');

describe('slmops eval', () => {
  const work = mkdtempSync(join(tmpdir(), 'slmops-eval-'));
  const pkg = join(work, 'stories260k');
  beforeAll(async () => {
    await convertLlama2cPackage({ checkpoint: join(stories, 'stories260K.bin'), tokenizer: join(stories, 'tok512.bin'), out: pkg });
  });

  it('records the fp32 baseline perplexity in slm.json and prints a table', async () => {
    const r = await runCli(['eval', pkg]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/fp32 +100\.0% +\d+\.\d{4} +\+0\.0000/);
    const m = JSON.parse(readFileSync(join(pkg, 'slm.json'), 'utf8')) as { evaluation: Record<string, { perplexity: number; prompts: number; evaluatedAt: string }> };
    // A 260K-parameter story model on our story sentences: far better than chance (512) yet far from perfect.
    expect(m.evaluation['fp32']!.perplexity).toBeGreaterThan(1.5);
    expect(m.evaluation['fp32']!.perplexity).toBeLessThan(40);
    expect(m.evaluation['fp32']!.prompts).toBe(15);
    expect(Date.parse(m.evaluation['fp32']!.evaluatedAt)).toBeGreaterThan(0);
    // The package still verifies after slm.json was rewritten.
    expect((await runCli(['generate', '--model', pkg, '--prompt', 'Hi', '--max-tokens', '2', '--temperature', '0'])).code).toBe(0);
  });

  it('measures int8 and int4 variants against fp32 and keeps earlier results', async () => {
    const fp32 = decodeModel(readFileSync(join(pkg, 'model.onnx')));
    for (const p of ['int8', 'int4'] as const) addVariant(pkg, { precision: p, file: `model.${p}.onnx` }, encodeModel(quantizeModel(fp32, p)));
    const r = await runCli(['eval', pkg, '--json', '--max-tokens', '16']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { evaluation: Record<string, { greedyAgreement: number; perplexity: number; perplexityDelta: number }> };
    expect(Object.keys(out.evaluation).sort()).toEqual(['fp32', 'int4', 'int8']);
    for (const p of ['int8', 'int4']) {
      const e = out.evaluation[p]!;
      expect(e.greedyAgreement).toBeGreaterThan(0.5);
      expect(e.greedyAgreement).toBeLessThanOrEqual(1);
      expect(e.perplexity).toBeCloseTo(out.evaluation['fp32']!.perplexity + e.perplexityDelta, 9);
    }
    const only = await runCli(['eval', pkg, '--variant', 'int8', '--max-tokens', '8']);
    expect(only.stdout).toMatch(/^int8 /m);
    expect(only.stdout).not.toMatch(/^int4 /m);
    const m = JSON.parse(readFileSync(join(pkg, 'slm.json'), 'utf8')) as { evaluation: Record<string, unknown> };
    expect(Object.keys(m.evaluation).sort()).toEqual(['fp32', 'int4', 'int8']);
  }, 90_000); // two quantizations and two evaluations: ~3 s alone, several times that on a loaded 2-core CI box

  it('refuses a folder that is not a package, a variant it lacks and a package without fp32', async () => {
    const notPkg = await runCli(['eval', work]);
    expect(notPkg.code).toBe(2);
    expect(notPkg.stderr).toContain('not an SLM package folder (no slm.json)');
    const lacks = await runCli(['eval', pkg, '--variant', 'fp16']);
    expect(lacks.code).toBe(1);
    expect(lacks.stderr).toContain('no fp16 variant; the package has fp32, int8, int4');
    const bad = await runCli(['eval', pkg, '--variant', 'int3']);
    expect(bad.code).toBe(2);
    const copy = join(work, 'copy');
    cpSync(pkg, copy, { recursive: true });
    expect((await runCli(['eval', copy, '--max-tokens', 'x'])).stderr).toContain('--max-tokens must be an integer >= 1, got "x"');
  });
});
