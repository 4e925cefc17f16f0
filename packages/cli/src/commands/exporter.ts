/**
 * `slmops exporter …`: runs the node exporter program in the foreground until SIGTERM/SIGINT.
 * Apps never import apps, so the CLI starts the exporter's own binary (same runExporterMain) and forwards signals.
 */
import { createRequire } from 'node:module';
import { runChild } from '../child.js';
import type { Command } from '../context.js';

/** Path of the exporter program the CLI delegates to. */
export const exporterBin = (): string => createRequire(import.meta.url).resolve('@slmops/exporter/bin');

/** The exporter command; `signals` is where SIGTERM/SIGINT come from (the process, or a test's emitter). */
export function createExporterCommand(signals: NodeJS.EventEmitter = process, bin: () => string = exporterBin): Command {
  return {
    summary: 'Run the node exporter: hardware telemetry, model cache inventory, energy and cost per token on /metrics',
    usage: 'slmops exporter [flags]',
    // The exporter's own usage, so this help cannot drift from the flags it parses.
    async help() {
      const { EXPORTER_USAGE } = await import('@slmops/exporter');
      return `Usage: ${EXPORTER_USAGE.replace(/^slmops-exporter/, 'slmops exporter')}`;
    },
    run: (argv, ctx) => runChild(bin(), argv, ctx, { signals }),
  };
}

export const exporterCommand: Command = createExporterCommand();
