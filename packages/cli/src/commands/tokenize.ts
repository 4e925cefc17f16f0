/** `slmops tokenize --model <dir> --text <s> [--json]`: the token ids a model's tokenizer gives a text. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '@slmops/model';
import { type CliContext, type Command, type FlagTable, UsageError, writeLine } from '../context.js';

const TOKENIZE_FLAGS = {
  model: { type: 'string', value: '<dir|file.slm.tar>', help: 'the package whose tokenizer to use (required)' },
  text: { type: 'string', value: '<s>', help: 'the text to tokenize (required)' },
  json: { type: 'boolean', default: false, help: 'print {"ids": [...]}' },
  'no-bos': { type: 'boolean', default: false, help: 'leave out the BOS token' },
} as const satisfies FlagTable;

export const tokenizeCommand: Command = {
  summary: 'Print the token ids of a text (BOS first), as the model tokenizes it',
  usage: 'slmops tokenize --model <dir|file.slm.tar> --text <s> [--json] [--no-bos]',
  flags: TOKENIZE_FLAGS,
  async run(argv: string[], ctx: CliContext): Promise<number> {
    const { values } = parseArgs({ args: argv, strict: true, options: TOKENIZE_FLAGS });
    if (!values.model) throw new UsageError('--model <dir> is required');
    if (values.text === undefined) throw new UsageError('--text <s> is required');
    const model = await loadModel(resolve(ctx.cwd, values.model));
    const ids = model.tokenizer.encode(values.text, { bos: !values['no-bos'] });
    writeLine(ctx.stdout, values.json ? JSON.stringify({ ids }) : ids.join(' '));
    return 0;
  },
};
