/** `slmops quantize <dir> --precision int8|int4`: adds a quantized variant to an SLM package. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { quantizePackage } from '@slmops/model';
import { type CliContext, type Command, type FlagTable, UsageError, writeLine } from '../context.js';
import { onePositional, progressBar } from './convert.js';

const QUANTIZE_FLAGS = {
  precision: { type: 'string', value: '<int8|int4>', help: 'the variant to add (required)' },
  scheme: { type: 'string', default: 'dynamic', value: '<dynamic|weight-only>', help: 'int8 only: dynamic (integer matmuls, faster on CPU) or weight-only (DequantizeLinear, float matmuls)' },
} as const satisfies FlagTable;

export const quantizeCommand: Command = {
  summary: 'Add an int8 (per-channel) or int4 (MatMulNBits, block 32) weight-quantized variant to a package',
  usage: 'slmops quantize <dir> --precision int8|int4 [--scheme dynamic|weight-only]',
  flags: QUANTIZE_FLAGS,
  async run(argv: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: QUANTIZE_FLAGS });
    const dir = onePositional(positionals, 'package folder');
    const precision = values.precision;
    if (precision !== 'int8' && precision !== 'int4') throw new UsageError(`--precision must be int8 or int4, got ${precision === undefined ? 'nothing' : `"${precision}"`}`);
    const scheme = values.scheme;
    if (scheme !== 'dynamic' && scheme !== 'weight-only') throw new UsageError(`--scheme must be dynamic or weight-only, got "${scheme}"`);
    if (precision === 'int4' && scheme !== 'dynamic') throw new UsageError('--scheme applies to int8 only (int4 always uses MatMulNBits)');
    const bar = progressBar(ctx.stderr, `quantizing ${precision}`);
    bar.update(0, 1, 'quantizing');
    try {
      const r = quantizePackage(resolve(ctx.cwd, dir), precision, { int8Scheme: scheme });
      writeLine(ctx.stdout, `added ${precision}${precision === 'int8' ? ` (${scheme})` : ''} variant ${r.file}: ${r.bytes} bytes, ${(r.ratio * 100).toFixed(1)}% of the fp32 file (${r.fp32Bytes} bytes)`);
    } finally {
      bar.done();
    }
    return 0;
  },
};
