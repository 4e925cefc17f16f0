/** `slmops inspect <dir|file.onnx>`: inputs, outputs, op histogram, parameters and bytes of each variant. */
import { readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeModel, loadModel, summarizeOnnx, type OnnxSummary } from '@slmops/model';
import { type CliContext, type Command, type FlagTable, writeLine } from '../context.js';
import { onePositional } from './convert.js';

interface VariantReport { file: string; precision?: string; sparsity?: number; bytes: number; summary: OnnxSummary }

function summarizeFile(path: string): OnnxSummary {
  try {
    return summarizeOnnx(decodeModel(readFileSync(path)));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

const shape = (s: Array<number | string | undefined> | undefined) => (s ? `[${s.map((d) => d ?? '?').join(', ')}]` : '[?]');

function printVariant(ctx: CliContext, v: VariantReport, withIo: boolean): void {
  const s = v.summary;
  writeLine(ctx.stdout, `${v.precision ? `${v.precision}${v.sparsity !== undefined ? ` (sparsity ${(v.sparsity * 100).toFixed(1)}%)` : ''} ` : ''}${v.file}: ${v.bytes} bytes, ${s.parameters} parameters in ${s.initializerBytes} bytes of initializers, ${s.nodes} nodes`);
  if (withIo) {
    writeLine(ctx.stdout, `  opsets: ${Object.entries(s.opsets).map(([d, n]) => `${d} ${n}`).join(', ')}; producer ${s.producer || '?'}`);
    writeLine(ctx.stdout, '  inputs:');
    for (const i of s.inputs) writeLine(ctx.stdout, `    ${i.name.padEnd(30)} ${i.type.padEnd(8)} ${shape(i.shape)}`);
    writeLine(ctx.stdout, '  outputs:');
    for (const o of s.outputs) writeLine(ctx.stdout, `    ${o.name.padEnd(30)} ${o.type.padEnd(8)} ${shape(o.shape)}`);
  }
  writeLine(ctx.stdout, `  ops: ${Object.entries(s.ops).map(([op, n]) => `${op} ${n}`).join(', ')}`);
}

const INSPECT_FLAGS = { json: { type: 'boolean', default: false, help: 'print the report as JSON' } } as const satisfies FlagTable;

export const inspectCommand: Command = {
  summary: 'Show the inputs, outputs, op histogram, parameters and bytes of a package or an ONNX file',
  usage: 'slmops inspect <dir|file.slm.tar|file.onnx> [--json]',
  flags: INSPECT_FLAGS,
  async run(argv: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: INSPECT_FLAGS });
    const target = resolve(ctx.cwd, onePositional(positionals, 'package folder or ONNX file'));
    let header: Record<string, unknown> = {};
    let variants: VariantReport[];
    if (target.endsWith('.onnx')) {
      variants = [{ file: basename(target), bytes: statSync(target).size, summary: summarizeFile(target) }];
    } else {
      const m = await loadModel(target);
      const { name, version, architecture, contextLength, tokenizer, specialIds, io } = m.manifest;
      header = { name, version, architecture, contextLength, tokenizer: { kind: tokenizer.kind, file: tokenizer.file, vocabSize: m.tokenizer.vocabSize }, specialIds, kvLayout: io.kvLayout, layers: io.numLayers, kvHeads: io.numKvHeads, headDim: io.headDim };
      variants = m.manifest.variants.map((v) => ({ file: v.file, precision: v.precision, ...(v.sparsity !== undefined ? { sparsity: v.sparsity } : {}), bytes: v.bytes, summary: summarizeFile(resolve(m.dir, v.file)) }));
    }
    if (values.json) {
      writeLine(ctx.stdout, JSON.stringify({ ...header, variants }, null, 2));
      return 0;
    }
    if (header['name']) {
      writeLine(ctx.stdout, `${String(header['name'])} ${String(header['version'])}: ${String(header['architecture'])}, context ${String(header['contextLength'])}, ${String(header['layers'])} layers, ${String(header['kvHeads'])} kv heads x ${String(header['headDim'])}, ${String(header['kvLayout'])} KV cache`);
      writeLine(ctx.stdout, `tokenizer: ${JSON.stringify(header['tokenizer'])}, special ids ${JSON.stringify(header['specialIds'])}`);
    }
    variants.forEach((v, i) => printVariant(ctx, v, i === 0));
    return 0;
  },
};
