/** `slmops operator --kubeconfig <file>`: runs the operator in the foreground against any cluster (the emulator too). */
import { OPERATOR_USAGE, runOperatorMain } from '@slmops/operator';
import { type Command, UsageError } from '../context.js';

/** The operator command; `signals` is where SIGTERM/SIGINT come from (the process, or a test's emitter). */
export function createOperatorCommand(signals: NodeJS.EventEmitter = process): Command {
  return {
    summary: 'Run the operator: reconcile SLMDeployments (kubeconfig or in-cluster), /metrics, /healthz, /readyz',
    usage: OPERATOR_USAGE.replace(/^slmops-operator/, 'slmops operator'),
    async run(argv, ctx) {
      try {
        return await runOperatorMain(argv, { stdout: ctx.stdout, stderr: ctx.stderr, env: ctx.env }, { signals });
      } catch (e) {
        if ((e as Error).name === 'ConfigError') throw new UsageError((e as Error).message);
        throw e;
      }
    },
  };
}

export const operatorCommand: Command = createOperatorCommand();
