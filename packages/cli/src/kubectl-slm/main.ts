/**
 * Composition root of `kubectl-slm`, the kubectl plugin (`kubectl slm …`): parses kubectl's global flags, opens
 * the client from the kubeconfig, runs the subcommand and maps errors to kubectl-style stderr and exit codes.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createKubeClient, KubeApiError, loadKubeConfig } from '@slmops/kube';
import { fetchTextBounded } from '@slmops/metrics/outbound';
import { type CliContext, flagHelp, plainErrorMessage, UsageError, writeLine } from '../context.js';
import { cliVersion } from '../version.js';
import type { Subcommand } from './command.js';
import { FIELD_MANAGER } from './command.js';
import { commandFirst, createSession, GLOBAL_USAGE, parseCommandLine, type PluginDeps } from './options.js';
import { podTransport } from './pod-transport.js';
import { rolloutCommands } from './rollout.js';

/**
 * Top-level subcommands, each module loaded only when its command runs (or for the root help): `top` and
 * `generate` pull in the metrics parser, the API schema and gRPC, which `get` must not pay for at start-up
 * (bench/cli-startup.ts). `rollout` has its own verbs.
 */
const subcommands: Record<string, () => Promise<Subcommand>> = {
  get: async () => (await import('./get.js')).getCommand,
  describe: async () => (await import('./describe.js')).describeCommand,
  generate: async () => (await import('./generate.js')).generateCommand,
  top: async () => (await import('./top.js')).topCommand,
};

/** The real kubeconfig, API client, HTTP and clock. */
export function productionDeps(): PluginDeps {
  return {
    async connect({ kubeconfig, context, env }) {
      const kubeConfig = loadKubeConfig({ ...(kubeconfig ? { kubeconfig } : {}), ...(context ? { context } : {}), env });
      const namespace = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace || 'default';
      const userAgent = `kubectl-slm/${cliVersion()}`;
      return { client: createKubeClient({ kubeConfig, fieldManager: FIELD_MANAGER, userAgent }), namespace, pods: podTransport(kubeConfig, userAgent) };
    },
    // Bounded like every scrape (byte cap, connect and stall timeouts); `signal` adds the command's own deadline.
    fetchText: (url, limits, signal) => fetchTextBounded(url, limits, signal ? { signal } : {}),
    now: () => new Date(),
    sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : {}),
  };
}

async function rootHelp(ctx: CliContext): Promise<void> {
  writeLine(ctx.stdout, 'kubectl slm: operate SLMDeployments (slmops.io/v1alpha1) from kubectl\n\nCommands:');
  for (const [name, load] of Object.entries(subcommands)) writeLine(ctx.stdout, `  ${name.padEnd(10)} ${(await load()).summary}`);
  writeLine(ctx.stdout, `  ${'rollout'.padEnd(10)} Manage a rollout: ${Object.keys(rolloutCommands).join('|')}`);
  writeLine(ctx.stdout, `\n${GLOBAL_USAGE}\n\nRun \`kubectl slm <command> --help\` for a command's flags.`);
}

function rolloutHelp(ctx: CliContext): void {
  writeLine(ctx.stdout, 'Manage the rollout of an SLMDeployment.\n\nCommands:');
  for (const [name, c] of Object.entries(rolloutCommands)) writeLine(ctx.stdout, `  ${name.padEnd(8)} ${c.summary}`);
  writeLine(ctx.stdout, '\nUsage: kubectl slm rollout <command> NAME [flags]');
}

const helpFlag = (args: string[]) => args.includes('--help') || args.includes('-h');

/** Runs `kubectl slm <command> …`; resolves to the exit code: 0 ok, 1 failure, 2 usage error. */
export async function main(argv: string[], ctx: CliContext, deps: PluginDeps = productionDeps()): Promise<number> {
  const [first, ...rest] = commandFirst(argv);
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    await rootHelp(ctx);
    return first ? 0 : 2;
  }
  if (first === 'version' || first === '--version') {
    writeLine(ctx.stdout, `kubectl-slm ${cliVersion()}`);
    return 0;
  }
  let label = first;
  let command = Object.hasOwn(subcommands, first) ? await subcommands[first]!() : undefined;
  let args = rest;
  if (first === 'rollout') {
    const [verb, ...more] = rest;
    if (!verb || verb.startsWith('-')) {
      rolloutHelp(ctx);
      return verb && helpFlag([verb]) ? 0 : 2;
    }
    label = `rollout ${verb}`;
    command = rolloutCommands[verb];
    args = more;
    if (!command) {
      writeLine(ctx.stderr, `error: unknown command "rollout ${verb}"; known: ${Object.keys(rolloutCommands).join(', ')}`);
      return 2;
    }
  }
  if (!command) {
    writeLine(ctx.stderr, `error: unknown command "${first}" for "kubectl slm"; known: ${[...Object.keys(subcommands), 'rollout'].join(', ')}`);
    return 2;
  }
  if (helpFlag(args)) {
    const own = Object.keys(command.options).length ? `\n\nFlags:\n${flagHelp(command.options)}` : '';
    writeLine(ctx.stdout, `${command.summary}\n\nUsage: ${command.usage}${own}\n\n${GLOBAL_USAGE}`);
    return 0;
  }
  try {
    const { values, positionals } = parseCommandLine(args, command.options);
    return await command.run(createSession(values, ctx, deps), positionals, values);
  } catch (e) {
    const err = e as Error & { code?: unknown };
    if (e instanceof UsageError || (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS'))) {
      writeLine(ctx.stderr, `error: ${err.message}\nSee 'kubectl slm ${label} --help' for usage.`);
      return 2;
    }
    if (e instanceof KubeApiError) writeLine(ctx.stderr, `Error from server (${e.reason}): ${e.message}`);
    else writeLine(ctx.stderr, `error: ${plainErrorMessage(err.message)}`);
    return 1;
  }
}
