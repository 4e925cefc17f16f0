/**
 * Composition root of the `slmops` command: picks the command and maps errors to exit codes. Each command's
 * module is imported only when that command runs, so `slmops validate` never loads ONNX Runtime or the plugins.
 */
import { type CliContext, type Command, UsageError, commandHelp, plainErrorMessage, writeLine } from './context.js';
import { cliVersion } from './version.js';

/** Every command, in the order `slmops --help` lists them, each loaded on first use. */
export const commands: Record<string, () => Promise<Command>> = {
  validate: async () => (await import('./commands/validate.js')).validateCommand,
  generate: async () => (await import('./commands/generate.js')).generateCommand,
  eval: async () => (await import('./commands/eval.js')).evalCommand,
  convert: async () => (await import('./commands/convert.js')).convertCommand,
  quantize: async () => (await import('./commands/quantize.js')).quantizeCommand,
  prune: async () => (await import('./commands/prune.js')).pruneCommand,
  inspect: async () => (await import('./commands/inspect.js')).inspectCommand,
  pack: async () => (await import('./commands/pack.js')).packCommand,
  tokenize: async () => (await import('./commands/tokenize.js')).tokenizeCommand,
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  operator: async () => (await import('./commands/operator.js')).operatorCommand,
  exporter: async () => (await import('./commands/exporter.js')).exporterCommand,
  tools: async () => (await import('./commands/tools.js')).toolsCommand,
};

async function help(ctx: CliContext): Promise<void> {
  writeLine(ctx.stdout, `slmops ${cliVersion()}: small language models on Kubernetes edge fleets\n\nCommands:`);
  for (const [name, load] of Object.entries(commands)) writeLine(ctx.stdout, `  ${name.padEnd(10)} ${(await load()).summary}`);
  writeLine(ctx.stdout, '\nRun `slmops <command> --help` for its flags; `slmops --version` prints the version.');
}

/** Runs `slmops <command> …` and resolves to the exit code: 0 ok, 1 failure, 2 usage error. */
export async function main(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    await help(ctx);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === 'version') {
    writeLine(ctx.stdout, `slmops ${cliVersion()}`);
    return 0;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    writeLine(ctx.stderr, `slmops: unknown command "${name}"; known: ${Object.keys(commands).join(', ')}`);
    return 2;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    writeLine(ctx.stdout, await commandHelp(command));
    return 0;
  }
  try {
    return await command.run(rest, ctx);
  } catch (e) {
    const err = e as Error & { code?: unknown };
    if (e instanceof UsageError || (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS'))) {
      writeLine(ctx.stderr, `slmops ${name}: ${err.message}\nUsage: ${command.usage}\nRun \`slmops ${name} --help\` for every flag.`);
      return 2;
    }
    writeLine(ctx.stderr, `slmops ${name}: ${plainErrorMessage(err.message)}`);
    return 1;
  }
}
