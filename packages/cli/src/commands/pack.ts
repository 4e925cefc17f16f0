/**
 * `slmops pack <dir> --out <file.slm.tar>`: verifies a package and writes a deterministic tar. Prints the archive's
 * sha256 (first line, as before) and `digest: sha256:<hex>`, the package digest (sha256 of slm.json) to pin.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { packPackageInfo } from '@slmops/model';
import { type CliContext, type Command, UsageError, writeLine } from '../context.js';
import { onePositional } from './convert.js';

export const packCommand: Command = {
  summary: 'Pack an SLM package folder into a .slm.tar and print its package digest',
  usage: 'slmops pack <dir> --out <file.slm.tar>',
  async run(argv: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { out: { type: 'string' } } });
    const dir = onePositional(positionals, 'package folder');
    if (!values.out) throw new UsageError('--out <file.slm.tar> is required');
    const packed = await packPackageInfo(resolve(ctx.cwd, dir), resolve(ctx.cwd, values.out));
    writeLine(ctx.stdout, packed.tarDigest);
    writeLine(ctx.stdout, `digest: ${packed.digest}`);
    return 0;
  },
};
