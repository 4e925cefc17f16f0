/** `slmops eval <dir>`: greedy agreement and perplexity of compressed variants against fp32, stored in slm.json. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Precision } from '@slmops/api';
import { createEngine, defaultEvalSet, evalPerplexity, evaluateVariant, type Engine } from '@slmops/engine';
import { formatManifest, loadModel, MANIFEST_FILE, readManifest, writeFileAtomic, type SlmEvaluation } from '@slmops/model';
import { type CliContext, type Command, type FlagTable, UsageError, writeLine } from '../context.js';
import { numberFlag } from '../flags.js';

const PRECISIONS: readonly string[] = ['fp16', 'int8', 'int4'];
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

const EVAL_FLAGS = {
  variant: { type: 'string', value: '<int8|int4|fp16>', shownDefault: 'every variant but fp32', help: 'the variant to compare with fp32' },
  'max-tokens': { type: 'string', default: '48', value: '<n>', help: 'greedy tokens generated per prompt' },
  json: { type: 'boolean', default: false, help: 'print the results as JSON' },
} as const satisfies FlagTable;

export const evalCommand: Command = {
  summary: 'Measure greedy agreement and perplexity of variants against fp32; record them in slm.json',
  usage: 'slmops eval <dir> [--variant int8|int4|fp16] [--max-tokens N] [--json]',
  flags: EVAL_FLAGS,
  async run(argv: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: EVAL_FLAGS, strict: true });
    if (positionals.length !== 1) throw new UsageError('eval needs exactly one package folder');
    const dir = resolve(ctx.cwd, positionals[0]!);
    if (!existsSync(join(dir, MANIFEST_FILE))) throw new UsageError(`${positionals[0]}: not an SLM package folder (no ${MANIFEST_FILE}); eval records its results there`);
    if (values.variant !== undefined && !PRECISIONS.includes(values.variant)) throw new UsageError(`--variant must be one of ${PRECISIONS.join(', ')}, got "${values.variant}"`);
    const maxTokens = numberFlag('max-tokens', values['max-tokens'], { int: true, min: 1 })!;

    const model = await loadModel(dir);
    const present = model.manifest.variants.map((v) => v.precision);
    if (!present.includes('fp32')) throw new Error(`${dir}: eval compares against the fp32 variant, and the package has only ${present.join(', ')}`);
    const targets = (values.variant ? [values.variant as Precision] : present.filter((p) => p !== 'fp32')).filter((p, i, a) => a.indexOf(p) === i);
    if (values.variant && !present.includes(values.variant as Precision)) throw new Error(`${dir}: no ${values.variant} variant; the package has ${present.join(', ')}`);

    const set = defaultEvalSet();
    const evaluatedAt = new Date().toISOString();
    const results: Record<string, SlmEvaluation> = {};
    const reference = await createEngine(model, { precision: 'fp32', maxBatchSize: 1 });
    try {
      results['fp32'] = { greedyAgreement: 1, perplexity: await evalPerplexity(reference, set), perplexityDelta: 0, prompts: set.prompts.length, evaluatedAt };
      for (const p of targets) {
        let candidate: Engine | undefined;
        try {
          candidate = await createEngine(model, { precision: p, maxBatchSize: 1 });
          const r = await evaluateVariant(reference, candidate, set, { maxTokens });
          results[p] = { greedyAgreement: r.greedyAgreement, perplexity: r.perplexity, perplexityDelta: r.perplexityDelta, prompts: r.prompts, evaluatedAt };
        } finally {
          await candidate?.close();
        }
      }
    } finally {
      await reference.close();
    }

    // Re-read so a concurrent change to slm.json since loading is kept; written through a temporary file.
    const manifest = readManifest(dir);
    writeFileAtomic(join(dir, MANIFEST_FILE), formatManifest({ ...manifest, evaluation: { ...manifest.evaluation, ...results } }));
    if (values.json) writeLine(ctx.stdout, JSON.stringify({ evaluation: results }, null, 2));
    else {
      writeLine(ctx.stdout, `${'variant'.padEnd(8)} ${'greedy agreement'.padEnd(17)} ${'perplexity'.padEnd(11)} delta vs fp32`);
      for (const [p, r] of Object.entries(results)) {
        writeLine(ctx.stdout, `${p.padEnd(8)} ${pct(r.greedyAgreement!).padEnd(17)} ${r.perplexity!.toFixed(4).padEnd(11)} ${r.perplexityDelta! >= 0 ? '+' : ''}${r.perplexityDelta!.toFixed(4)}`);
      }
      writeLine(ctx.stdout, `(${set.prompts.length} prompts x ${maxTokens} greedy tokens, ${set.texts.length} texts; written to ${join(positionals[0]!, MANIFEST_FILE)})`);
    }
    return 0;
  },
};
