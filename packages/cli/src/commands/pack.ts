/** `slmops pack <dir> --out <file.slm.tar>`: verifies a package and writes a deterministic tar; prints its digest. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { packPackage } from '@slmops/model';
import { type CliContext, type Command, UsageError, writeLine } from '../context.js';
import { onePositional } from './convert.js';

export const packCommand: Command = {
  summary: 'Pack an SLM package folder into a .slm.tar and print its sha256 digest',
  usage: 'slmops pack <dir> --out <file.slm.tar>',
  async run(argv: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { out: { type: 'string' } } });
    const dir = onePositional(positionals, 'package folder');
    if (!values.out) throw new UsageError('--out <file.slm.tar> is required');
    writeLine(ctx.stdout, await packPackage(resolve(ctx.cwd, dir), resolve(ctx.cwd, values.out)));
    return 0;
  },
};
