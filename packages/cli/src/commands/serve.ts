/**
 * `slmops serve --model …`: runs the inference sidecar program in the foreground until SIGTERM/SIGINT.
 * Apps never import apps, so the CLI starts the sidecar's own binary and forwards signals and its exit code.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { type CliContext, type Command, writeLine } from '../context.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Path of the sidecar program the CLI delegates to. */
export const sidecarBin = (): string => createRequire(import.meta.url).resolve('@slmops/sidecar/bin');

/** The serve command; `signals` is where SIGTERM/SIGINT come from (the process, or a test's emitter). */
export function createServeCommand(signals: NodeJS.EventEmitter = process, bin: () => string = sidecarBin): Command {
  return {
    summary: 'Serve a model: gRPC (slmops + KServe OIP v2 + health + reflection), OpenAI HTTP and /metrics',
    usage:
      'slmops serve --model <dir|file.slm.tar|url> [--digest sha256:…] [--host 0.0.0.0] [--port 50051] [--metrics-port 9464] ' +
      '[--cache-dir dir] [--precision p] [--plugin cpu] [--execution-providers cuda,cpu] [--max-batch-size 8] [--max-queue 64] [--grace-period 30s]',
    run(argv: string[], ctx: CliContext): Promise<number> {
      const child = spawn(process.execPath, [bin(), ...argv], { cwd: ctx.cwd, env: ctx.env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stderr.pipe(ctx.stderr, { end: false });
      let first = true;
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (!first) return void writeLine(ctx.stdout, line);
        first = false;
        try {
          const a = JSON.parse(line) as { grpc: string; metrics: string };
          writeLine(ctx.stdout, `serving: gRPC ${a.grpc}, metrics ${a.metrics} (health turns SERVING once the model is loaded)`);
        } catch {
          writeLine(ctx.stdout, line);
        }
      });
      const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
      const handlers = SIGNALS.map((s) => [s, forward(s)] as const);
      for (const [s, h] of handlers) signals.on(s, h);
      return new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => {
          for (const [s, h] of handlers) signals.off(s, h);
          resolve(code ?? (signal ? 1 : 0));
        });
      });
    },
  };
}

export const serveCommand: Command = createServeCommand();
