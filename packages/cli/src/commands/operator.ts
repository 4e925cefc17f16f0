/**
 * `slmops operator --kubeconfig <file>`: runs the operator in the foreground against any cluster (the emulator
 * too), with local-development defaults: no leader election and servers on 127.0.0.1 unless flags say otherwise.
 * The operator binary itself (what the chart runs) keeps its in-cluster defaults.
 */
import type { Command } from '../context.js';
import { UsageError, writeLine } from '../context.js';

/**
 * Flags the CLI adds in front of the user's (the operator's parser keeps the last value of a flag, so anything
 * the user passes wins): leader election off as kubebuilder's `make run`, servers bound to loopback only.
 */
export const LOCAL_DEFAULTS: ReadonlyArray<{ flag: string; args: readonly string[] }> = [
  { flag: '--leader-elect', args: ['--leader-elect=false'] },
  { flag: '--metrics-bind-address', args: ['--metrics-bind-address', '127.0.0.1:8080'] },
  { flag: '--health-probe-bind-address', args: ['--health-probe-bind-address', '127.0.0.1:8081'] },
  { flag: '--log-format', args: ['--log-format', 'text'] },
];

/** The operator's arguments when run from the CLI: the local defaults the user did not set, then the user's flags. */
export function withLocalDefaults(argv: readonly string[]): string[] {
  const given = (flag: string) => argv.some((a) => a === flag || a.startsWith(`${flag}=`));
  return [...LOCAL_DEFAULTS.filter((d) => !given(d.flag)).flatMap((d) => d.args), ...argv];
}

const LOCAL_HELP =
  '\n\nFrom the CLI the defaults are for local development: --leader-elect=false (pass --leader-elect to turn it on), ' +
  '--metrics-bind-address 127.0.0.1:8080, --health-probe-bind-address 127.0.0.1:8081, --log-format text.';

/** The operator command; `signals` is where SIGTERM/SIGINT come from (the process, or a test's emitter). */
export function createOperatorCommand(signals: NodeJS.EventEmitter = process): Command {
  return {
    summary: 'Run the operator: reconcile SLMDeployments (kubeconfig or in-cluster), /metrics, /healthz, /readyz',
    usage: 'slmops operator [flags]',
    async help() {
      const { OPERATOR_USAGE } = await import('@slmops/operator');
      return `Usage: ${OPERATOR_USAGE.replace(/^slmops-operator/, 'slmops operator')}${LOCAL_HELP}`;
    },
    async run(argv, ctx) {
      const { runOperatorMain } = await import('@slmops/operator');
      try {
        return await runOperatorMain(withLocalDefaults(argv), { stdout: ctx.stdout, stderr: ctx.stderr, env: ctx.env }, {
          signals,
          onStarted: ({ options, metrics, health }) => {
            const scope = options.namespace ? `namespace ${options.namespace}` : 'all namespaces';
            const lead = options.leaderElect ? `leader election on (Lease ${options.leaderElectionNamespace}/${options.leaderElectionId})` : 'leader election off';
            writeLine(
              ctx.stdout,
              `slmops operator: watching SLMDeployments in ${scope} via ${options.kubeconfig ?? 'the default kubeconfig'}; ${lead}; ` +
                `plugins ${options.plugins.join(',')}; metrics ${metrics ?? 'off'}, health ${health ?? 'off'}`,
            );
          },
        });
      } catch (e) {
        if ((e as Error).name === 'ConfigError') throw new UsageError((e as Error).message);
        throw e;
      }
    },
  };
}

export const operatorCommand: Command = createOperatorCommand();
