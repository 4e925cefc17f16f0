/** What a command may touch: its output streams, working directory and environment, all passed in by main. */
export interface CliContext {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  cwd: string;
  env: Record<string, string | undefined>;
}

export interface Command {
  summary: string;
  usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[], ctx: CliContext): Promise<number>;
}

/** A user mistake (bad flag, missing file): printed as one line on stderr with exit code 2, no stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const writeLine = (stream: NodeJS.WritableStream, text = '') => stream.write(`${text}\n`);
