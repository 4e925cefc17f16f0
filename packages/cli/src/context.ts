/** What a command may touch: its output streams, working directory and environment, all passed in by main. */
import type { ParseArgsConfig } from 'node:util';

type ParseArgsOptionConfig = NonNullable<ParseArgsConfig['options']>[string];

export interface CliContext {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  cwd: string;
  env: Record<string, string | undefined>;
}

/** One flag: node's parseArgs descriptor (the parser reads this very object) plus its line of `--help`. */
export type Flag = ParseArgsOptionConfig & {
  /** What the flag does, one line. */
  help: string;
  /** Placeholder of the value in help, e.g. "<dir>" (string flags). */
  value?: string;
  /** Default shown in help when it is not the parser's `default` (e.g. taken from elsewhere). */
  shownDefault?: string;
};

/** A command's flags: passed to parseArgs as `options` and rendered by `flagHelp`, so help cannot drift. */
export type FlagTable = Record<string, Flag>;

export interface Command {
  summary: string;
  usage: string;
  /** The flags `run` parses; `slmops <command> --help` prints one line per flag with its default. */
  flags?: FlagTable;
  /** Help text of commands whose flags belong to another program (operator, serve, exporter). */
  help?(): Promise<string>;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[], ctx: CliContext): Promise<number>;
}

/** A user mistake (bad flag, missing file): printed as one line on stderr with exit code 2, no stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const writeLine = (stream: NodeJS.WritableStream, text = '') => stream.write(`${text}\n`);

/** One line per flag: `  -m, --model <dir>   what it does (default: x)`, aligned. */
export function flagHelp(table: FlagTable): string {
  const rows = Object.entries(table).map(([name, f]) => {
    const left = `${f.short ? `-${f.short}, ` : '    '}--${name}${f.type === 'string' ? ` ${f.value ?? '<value>'}` : ''}`;
    const def = f.shownDefault ?? (f.default === undefined || f.default === false ? undefined : String(f.default));
    return [left, `${f.help}${f.multiple ? ' (repeatable)' : ''}${def !== undefined && def !== '' ? ` (default: ${def})` : ''}`] as const;
  });
  const width = Math.max(0, ...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, r]) => `  ${l.padEnd(width)}${r}`).join('\n');
}

/** `--help` of a command: summary, usage and, when it has a flag table, one line per flag. */
export async function commandHelp(command: Command): Promise<string> {
  if (command.help) return `${command.summary}\n\n${await command.help()}`;
  return `${command.summary}\n\nUsage: ${command.usage}${command.flags ? `\n\nFlags:\n${flagHelp(command.flags)}` : ''}`;
}

/**
 * The message of an error for a person: transport internals (grpc-js resolver notes, status code prefixes)
 * become "cannot reach HOST:PORT (connection refused)" and the like.
 */
export function plainErrorMessage(message: string): string {
  const address = String.raw`(\[[0-9a-fA-F:.]+\]:\d+|[\w.-]*\w(?::\d+)?)`;
  const refused = new RegExp(String.raw`ECONNREFUSED ${address}`).exec(message);
  if (refused) return `cannot reach ${refused[1]} (connection refused)`;
  const dns = new RegExp(String.raw`(?:ENOTFOUND|EAI_AGAIN) ${address}|(?:DNS r|Name r)esolution failed for (?:target )?(?:dns:(?:\/\/\/)?)?${address}`).exec(message);
  if (dns) return `cannot reach ${dns[1] ?? dns[2]} (name not resolved)`;
  const timedOut = new RegExp(String.raw`ETIMEDOUT ${address}`).exec(message);
  if (timedOut) return `cannot reach ${timedOut[1]} (connection timed out)`;
  return message
    .replace(/\s*Resolution note:.*$/s, '')
    .replace(/^\d+ [A-Z_]+: /, '')
    .trim();
}

/**
 * Makes a write to a closed pipe (`slmops … | head`) end the process quietly with exit code 0, as Unix tools
 * do, instead of an unhandled EPIPE stack trace; other stream errors are left to the default handling.
 */
export function exitQuietlyOnBrokenPipe(stream: NodeJS.WritableStream, exit: (code: number) => void): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') exit(0);
    else throw e;
  });
}
