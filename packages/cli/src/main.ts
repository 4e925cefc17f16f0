/** Composition root of the `slmops` command: picks the command and maps errors to exit codes. */
import { validateCommand } from './commands/validate.js';
import { generateCommand } from './commands/generate.js';
import { evalCommand } from './commands/eval.js';
import { convertCommand } from './commands/convert.js';
import { quantizeCommand } from './commands/quantize.js';
import { pruneCommand } from './commands/prune.js';
import { inspectCommand } from './commands/inspect.js';
import { packCommand } from './commands/pack.js';
import { tokenizeCommand } from './commands/tokenize.js';
import { serveCommand } from './commands/serve.js';
import { operatorCommand } from './commands/operator.js';
import { exporterCommand } from './commands/exporter.js';
import { type CliContext, type Command, UsageError, writeLine } from './context.js';

/** Every command, in the order `slmops --help` lists them. */
export const commands: Record<string, Command> = {
  validate: validateCommand,
  generate: generateCommand,
  eval: evalCommand,
  convert: convertCommand,
  quantize: quantizeCommand,
  prune: pruneCommand,
  inspect: inspectCommand,
  pack: packCommand,
  tokenize: tokenizeCommand,
  serve: serveCommand,
  operator: operatorCommand,
  exporter: exporterCommand,
};

function help(ctx: CliContext): void {
  writeLine(ctx.stdout, 'slmops: small language models on Kubernetes edge fleets\n\nCommands:');
  for (const [name, c] of Object.entries(commands)) writeLine(ctx.stdout, `  ${name.padEnd(10)} ${c.summary}`);
  writeLine(ctx.stdout, '\nRun `slmops <command> --help` for its flags.');
}

/** Runs `slmops <command> …` and resolves to the exit code: 0 ok, 1 failure, 2 usage error. */
export async function main(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    help(ctx);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    writeLine(ctx.stderr, `slmops: unknown command "${name}"; known: ${Object.keys(commands).join(', ')}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    writeLine(ctx.stdout, `${command.summary}\n\nUsage: ${command.usage}`);
    return 0;
  }
  try {
    return await command.run(rest, ctx);
  } catch (e) {
    const err = e as Error & { code?: unknown };
    if (e instanceof UsageError || (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS'))) {
      writeLine(ctx.stderr, `slmops ${name}: ${err.message}\nUsage: ${command.usage}`);
      return 2;
    }
    writeLine(ctx.stderr, `slmops ${name}: ${err.message}`);
    return 1;
  }
}
