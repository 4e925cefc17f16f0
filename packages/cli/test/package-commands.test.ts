import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataType, encodeModel, GraphBuilder } from '@slmops/model';
import { runCli } from './cli.js';
import { convertedPackage, tmp } from './model-fixtures.js';

let pkg: string;
beforeAll(async () => {
  pkg = await convertedPackage();
});

describe('slmops quantize / prune / inspect / pack', () => {
  it('quantize adds int8 and int4 variants within their size budgets', async () => {
    for (const [precision, budget] of [['int8', 30], ['int4', 20]] as const) {
      const r = await runCli(['quantize', pkg, '--precision', precision]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const m = /added \w+(?: \(dynamic\))? variant (\S+): (\d+) bytes, ([\d.]+)% of the fp32 file/.exec(r.stdout)!;
      expect(m[1]).toBe(`model.${precision}.onnx`);
      expect(Number(m[3])).toBeLessThanOrEqual(budget);
      expect(readFileSync(join(pkg, m[1]!)).length).toBe(Number(m[2]));
    }
    const manifest = JSON.parse(readFileSync(join(pkg, 'slm.json'), 'utf8'));
    expect(manifest.variants.map((v: { precision: string }) => v.precision)).toEqual(['fp32', 'int8', 'int4']);
    const bad = await runCli(['quantize', pkg, '--precision', 'int3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--precision must be int8 or int4, got "int3"');
    expect((await runCli(['quantize', pkg, '--precision', 'int4', '--scheme', 'weight-only'])).stderr).toContain('--scheme applies to int8 only');
  });

  it('prune reports per-tensor sparsity and the compressed size honestly', async () => {
    const r = await runCli(['prune', pkg, '--sparsity', '0.5', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.file).toBe('model.pruned-50.onnx');
    expect(out.report.tensors).toHaveLength(35);
    expect(out.gzipBytes).toBeLessThan(out.denseGzipBytes);
    const s = await runCli(['prune', pkg, '--structured', '2:4']);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('added pruned variant model.pruned-2of4.onnx (2:4, overall sparsity 50.0%)');
    expect(s.stdout).toMatch(/model\.layers\.0\.mlp\.gate_proj\.weight\s+11008 weights\s+50\.0% zero/);
    expect(s.stdout).toContain('inference is not faster');
    expect((await runCli(['prune', pkg, '--sparsity', '1.5'])).code).toBe(2);
  });

  it('inspect shows IO, op histogram, parameters and bytes per variant', async () => {
    const r = await runCli(['inspect', pkg]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('stories260k 1.0.0: llama, context 512, 5 layers, 4 kv heads x 8, split KV cache');
    expect(r.stdout).toMatch(/input_ids\s+int64\s+\[batch_size, sequence_length\]/);
    expect(r.stdout).toMatch(/past_key_values\.0\.key\s+float32\s+\[batch_size, 4, past_sequence_length, 8\]/);
    expect(r.stdout).toMatch(/present\.4\.value\s+float32\s+\[batch_size, 4, total_sequence_length, 8\]/);
    expect(r.stdout).toMatch(/fp32 model\.onnx: \d+ bytes, 2\d{5} parameters/);
    expect(r.stdout).toMatch(/ops: .*MatMul 45/);
    const json = JSON.parse((await runCli(['inspect', join(pkg, 'model.onnx'), '--json'])).stdout);
    expect(json.variants[0].summary.outputs[0]).toEqual({ name: 'logits', type: 'float32', shape: ['batch_size', 'num_logits', 512] });
    expect(r.stdout).toMatch(/num_logits_to_keep\s+int64\s+\[\]/);
  });

  it('inspect and load reject an ONNX file that is not a decoder or not ONNX at all', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'junk.onnx'), 'not a model');
    const r = await runCli(['inspect', join(dir, 'junk.onnx')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('junk.onnx');
    // A valid ONNX model that is not a decoder (y = a + b), in a genai folder.
    const g = new GraphBuilder('adder');
    g.input('a', DataType.FLOAT, [2]);
    g.input('b', DataType.FLOAT, [2]);
    g.op1('Add', ['a', 'b'], {}, { output: 'y' });
    g.output('y', DataType.FLOAT, [2]);
    writeFileSync(join(dir, 'adder.onnx'), encodeModel(g.build({ opsets: { '': 17 } })));
    writeFileSync(join(dir, 'genai_config.json'), JSON.stringify({ model: { type: 'x', decoder: { filename: 'adder.onnx' } } }));
    const nd = await runCli(['inspect', dir]);
    expect(nd.code).toBe(1);
    expect(nd.stderr).toContain(`${join(dir, 'adder.onnx')}: not a decoder graph: no input_ids input (inputs: a, b; outputs: y)`);
    expect((await runCli(['inspect', join(dir, 'adder.onnx')])).stdout).toContain('ops: Add 1');
  });

  it('pack prints a reproducible digest and refuses a package whose files do not match slm.json', async () => {
    const dir = tmp();
    const a = await runCli(['pack', pkg, '--out', join(dir, 'a.slm.tar')]);
    const b = await runCli(['pack', pkg, '--out', join(dir, 'b.slm.tar')]);
    expect(a.code).toBe(0);
    // The archive's sha256 (as before), then the package digest: the sha256 of slm.json, which the loader checks.
    expect(a.stdout).toMatch(/^sha256:[0-9a-f]{64}\ndigest: sha256:[0-9a-f]{64}\n$/);
    expect(a.stdout.split('\n')[1]).toBe(`digest: sha256:${createHash('sha256').update(readFileSync(join(pkg, 'slm.json'))).digest('hex')}`);
    expect(b.stdout).toBe(a.stdout);
    const tok = await runCli(['tokenize', '--model', join(dir, 'a.slm.tar'), '--text', 'The dog', '--json']);
    expect(tok.code).toBe(0);
    const model = readFileSync(join(pkg, 'model.int8.onnx'));
    model[100]! ^= 0xff;
    writeFileSync(join(pkg, 'model.int8.onnx'), model);
    const bad = await runCli(['pack', pkg, '--out', join(dir, 'c.slm.tar')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${join(pkg, 'model.int8.onnx')}: sha256 mismatch: slm.json says`);
    expect(existsSync(join(dir, 'c.slm.tar'))).toBe(false);
  });
});
