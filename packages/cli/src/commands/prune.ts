/** `slmops prune <dir> --sparsity 0.5 [--structured 2:4]`: adds a magnitude-pruned variant with a sparsity report. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { prunePackage } from '@slmops/model';
import { type CliContext, type Command, type FlagTable, UsageError, writeLine } from '../context.js';
import { onePositional, progressBar } from './convert.js';

const PRUNE_FLAGS = {
  sparsity: { type: 'string', value: '<0..1>', shownDefault: '0.5 with --structured, else required', help: 'fraction of weights set to zero' },
  structured: { type: 'string', value: '<2:4>', help: 'structured sparsity pattern (only 2:4)' },
  json: { type: 'boolean', default: false, help: 'print the sparsity report as JSON' },
} as const satisfies FlagTable;

export const pruneCommand: Command = {
  summary: 'Add a magnitude-pruned variant (unstructured or 2:4) and report per-tensor sparsity',
  usage: 'slmops prune <dir> --sparsity 0.5 [--structured 2:4] [--json]',
  flags: PRUNE_FLAGS,
  async run(argv: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: PRUNE_FLAGS });
    const dir = onePositional(positionals, 'package folder');
    const sparsity = Number(values.sparsity ?? (values.structured ? '0.5' : NaN));
    if (!(sparsity >= 0 && sparsity < 1)) throw new UsageError(`--sparsity must be a number in [0, 1), got ${values.sparsity === undefined ? 'nothing' : `"${values.sparsity}"`}`);
    if (values.structured !== undefined && values.structured !== '2:4') throw new UsageError(`--structured supports only 2:4, got "${values.structured}"`);
    const bar = progressBar(ctx.stderr, 'pruning');
    bar.update(0, 1, 'pruning');
    let r;
    try {
      r = prunePackage(resolve(ctx.cwd, dir), { sparsity, ...(values.structured ? { structured: '2:4' as const } : {}) });
    } finally {
      bar.done();
    }
    if (values.json) {
      writeLine(ctx.stdout, JSON.stringify({ file: r.file, report: r.report, bytes: r.bytes, gzipBytes: r.gzipBytes, denseGzipBytes: r.denseGzipBytes }, null, 2));
      return 0;
    }
    writeLine(ctx.stdout, `added pruned variant ${r.file} (${r.report.method}, overall sparsity ${(r.report.overall * 100).toFixed(1)}%)`);
    for (const t of r.report.tensors) writeLine(ctx.stdout, `  ${t.name.padEnd(44)} ${String(t.elements).padStart(9)} weights  ${(t.sparsity * 100).toFixed(1)}% zero`);
    writeLine(ctx.stdout, `size: ${r.bytes} bytes on disk (unchanged: zeros are stored densely); gzip ${r.gzipBytes} bytes vs ${r.denseGzipBytes} dense (${((1 - r.gzipBytes / r.denseGzipBytes) * 100).toFixed(1)}% smaller to ship)`);
    writeLine(ctx.stdout, 'note: ONNX Runtime CPU kernels do not skip zeros, so inference is not faster.');
    return 0;
  },
};
