/**
 * `slmops serve --model …`: runs the inference sidecar program in the foreground until SIGTERM/SIGINT.
 * Apps never import apps, so the CLI starts the sidecar's own binary and forwards signals and its exit code.
 * Ctrl-C signals the whole process group, so the sidecar gets SIGINT twice (from the terminal and forwarded):
 * it drains once and logs the repeat, and this process waits for it to exit.
 */
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { runChild } from '../child.js';
import { type CliContext, type Command, writeLine } from '../context.js';

/** Path of the sidecar program the CLI delegates to. */
export const sidecarBin = (): string => createRequire(import.meta.url).resolve('@slmops/sidecar/bin');

/** The serve command; `signals` is where SIGTERM/SIGINT come from (the process, or a test's emitter). */
export function createServeCommand(signals: NodeJS.EventEmitter = process, bin: () => string = sidecarBin): Command {
  return {
    summary: 'Serve a model: gRPC (slmops + KServe OIP v2 + health + reflection), OpenAI HTTP and /metrics',
    usage: 'slmops serve --model <dir|file.slm.tar|url> [flags]',
    // The sidecar's own usage, so this help cannot drift from the flags it parses.
    async help() {
      const { SIDECAR_USAGE } = await import('@slmops/sidecar');
      return `Usage: ${SIDECAR_USAGE}`;
    },
    run(argv: string[], ctx: CliContext): Promise<number> {
      // The sidecar's first stdout line is its JSON announce; the rest passes through.
      const onStdout = (stdout: NodeJS.ReadableStream) => {
        let first = true;
        createInterface({ input: stdout }).on('line', (line) => {
          if (!first) return void writeLine(ctx.stdout, line);
          first = false;
          try {
            const a = JSON.parse(line) as { grpc: string; metrics: string };
            writeLine(ctx.stdout, `serving: gRPC ${a.grpc}, metrics ${a.metrics} (health turns SERVING once the model is loaded)`);
          } catch {
            writeLine(ctx.stdout, line);
          }
        });
      };
      // As the sidecar image does (docs/sidecar.md): glibc hands freed KV-cache-sized blocks back to the system.
      const env = { MALLOC_MMAP_THRESHOLD_: '131072', ...ctx.env };
      return runChild(bin(), argv, { ...ctx, env }, { signals, onStdout });
    },
  };
}

export const serveCommand: Command = createServeCommand();
