/** `slmops convert <checkpoint.bin> --tokenizer <tok.bin> --out <dir>`: llama2.c checkpoint -> SLM package. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { convertLlama2cPackage } from '@slmops/model';
import { type CliContext, type Command, type FlagTable, UsageError, writeLine } from '../context.js';

/**
 * A progress bar on stderr that appears only when stderr is a terminal and the work has run for over 1 s;
 * `clock` is passed in so tests can drive it.
 */
export function progressBar(stream: NodeJS.WritableStream, label: string, clock: () => number = Date.now) {
  const start = clock();
  const tty = (stream as NodeJS.WritableStream & { isTTY?: boolean }).isTTY === true;
  let shown = false;
  return {
    update(done: number, total: number, stage: string): void {
      if (!tty || clock() - start < 1000) return;
      const width = 24;
      const filled = Math.round((done / Math.max(total, 1)) * width);
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${stage}\x1b[K`);
      shown = true;
    },
    done(): void {
      if (shown) stream.write('\n');
    },
  };
}

/** Parses exactly one positional argument. */
export function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected one ${what}, got ${positionals.length ? positionals.join(' ') : 'none'}`);
  return positionals[0]!;
}

const CONVERT_FLAGS = {
  tokenizer: { type: 'string', value: '<tok.bin>', help: 'the llama2.c tokenizer file (required)' },
  out: { type: 'string', value: '<dir>', help: 'the package folder to write (required)' },
  name: { type: 'string', value: '<name>', shownDefault: 'the checkpoint file name without .bin, lower case', help: 'model name in slm.json' },
  version: { type: 'string', value: '<version>', shownDefault: '0.1.0', help: 'model version in slm.json' },
  force: { type: 'boolean', default: false, help: 'overwrite an existing --out folder' },
} as const satisfies FlagTable;

export const convertCommand: Command = {
  summary: 'Convert a llama2.c checkpoint into an SLM package (ONNX decoder with KV cache)',
  usage: 'slmops convert <checkpoint.bin> --tokenizer <tok.bin> --out <dir> [--name N] [--version V] [--force]',
  flags: CONVERT_FLAGS,
  async run(argv: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: CONVERT_FLAGS });
    const checkpoint = onePositional(positionals, 'checkpoint file');
    if (!values.tokenizer) throw new UsageError('--tokenizer <tok.bin> is required');
    if (!values.out) throw new UsageError('--out <dir> is required');
    const bar = progressBar(ctx.stderr, 'converting');
    try {
      const m = await convertLlama2cPackage({
        checkpoint: resolve(ctx.cwd, checkpoint),
        tokenizer: resolve(ctx.cwd, values.tokenizer),
        out: resolve(ctx.cwd, values.out),
        name: values.name,
        version: values.version,
        overwrite: values.force,
        onProgress: bar.update,
      });
      const v = m.variants[0]!;
      writeLine(ctx.stdout, `wrote ${values.out}: ${m.name} ${m.version} (${m.architecture}, ${m.io.numLayers} layers, vocab ${m.io.vocabSize}, context ${m.contextLength})`);
      writeLine(ctx.stdout, `  ${v.precision} ${v.file} ${v.bytes} bytes sha256:${v.sha256}`);
    } finally {
      bar.done();
    }
    return 0;
  },
};
