/**
 * Apps never import apps, so `slmops serve` and `slmops exporter` run the other app's own binary as a child:
 * stdio piped to the CLI's streams, SIGTERM/SIGINT forwarded, its exit code passed back.
 */
import { spawn } from 'node:child_process';
import type { CliContext } from './context.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export interface RunChildOptions {
  /** Where SIGTERM/SIGINT come from (the process, or a test's emitter); each is forwarded to the child. */
  signals?: NodeJS.EventEmitter;
  /** Reads the child's stdout; by default it is piped to ctx.stdout as is. */
  onStdout?: (stdout: NodeJS.ReadableStream) => void;
}

/**
 * Runs `node <script> ...args` in ctx.cwd with ctx.env until it exits; resolves its exit code (1 when a signal
 * killed it) and rejects when it cannot start. Every SIGTERM/SIGINT is forwarded and never ends this process
 * while the child runs (the child decides how to stop: a drain must not be cut short by the wrapper exiting).
 * Signal listeners are removed once it exits.
 */
export function runChild(script: string, args: readonly string[], ctx: CliContext, opts: RunChildOptions = {}): Promise<number> {
  const signals = opts.signals ?? process;
  const child = spawn(process.execPath, [script, ...args], { cwd: ctx.cwd, env: ctx.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.pipe(ctx.stderr, { end: false });
  if (opts.onStdout) opts.onStdout(child.stdout);
  else child.stdout.pipe(ctx.stdout, { end: false });
  const handlers = SIGNALS.map((s) => [s, () => child.kill(s)] as const);
  for (const [s, h] of handlers) signals.on(s, h);
  return new Promise<number>((resolve, reject) => {
    const off = () => {
      for (const [s, h] of handlers) signals.off(s, h);
    };
    child.once('error', (e) => {
      off();
      reject(e);
    });
    child.once('exit', (code, signal) => {
      off();
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}
