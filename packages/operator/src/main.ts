/**
 * Composition root of the operator: the only place that reads flags and env, builds the logger, the Kubernetes
 * client, the plugin host and the metrics registry, serves /metrics, /healthz and /readyz, and owns signals.
 */
import { createRequire } from 'node:module';
import { hostname as osHostname } from 'node:os';
import { type KubeClient, Resources, createKubeClient, isConflict, isNotFound, loadKubeConfig } from '@slmops/kube';
import { type MetricsServer, createHttpServer, createRegistry, listenHttp, metricsHandler } from '@slmops/metrics';
import { type HardwarePlugin, createPluginHost } from '@slmops/plugin-sdk';
import { amd } from '@slmops/plugin-amd';
import { cpu } from '@slmops/plugin-cpu';
import { intel } from '@slmops/plugin-intel';
import { jetson } from '@slmops/plugin-jetson';
import { nvidia } from '@slmops/plugin-nvidia';
import { qualcomm } from '@slmops/plugin-qualcomm';
import { OPERATOR_USAGE, type OperatorOptions, parseOperatorArgs } from './config/flags.js';
import { planReconcile, scrapeTargets } from './core.js';
import { createLogger } from './runtime/log.js';
import { type RunningOperator, startOperator } from './runtime/operator.js';

/** Every hardware plugin this build knows, by name; `--plugins` picks from these. */
const PLUGIN_FACTORIES: Record<string, () => HardwarePlugin> = { nvidia, jetson, intel, amd, qualcomm, cpu };

/** The package version (dist/ and src/ both sit one level below package.json). */
export function operatorVersion(): string {
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}

export interface OperatorIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Readonly<Record<string, string | undefined>>;
}

export interface OperatorMainOptions {
  /** Where SIGTERM/SIGINT come from (default: the process). */
  signals?: NodeJS.EventEmitter;
  /** Called once the operator runs, with its servers' addresses (tests bind port 0). */
  onStarted?: (info: { operator: RunningOperator; metrics?: string; health?: string; options: OperatorOptions }) => void;
}

/**
 * Leader election needs the Lease's namespace: a missing one is a startup error naming it, not a retry loop.
 * Creates the Lease without a holder when absent (the RBAC the chart grants: create, get), which the elector
 * then takes; only the API server can tell a missing namespace (404 on create) from a missing Lease.
 */
export async function checkLeaseNamespace(client: KubeClient, namespace: string, name: string): Promise<void> {
  if (await client.get(Resources.Lease, name, namespace)) return;
  try {
    await client.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: {} });
  } catch (e) {
    if (isConflict(e)) return;
    if (isNotFound(e)) {
      throw new Error(`leader election: the Lease namespace "${namespace}" does not exist; create it (kubectl create namespace ${namespace}), pass --leader-election-namespace, or run with --leader-elect=false`);
    }
    throw e;
  }
}

/**
 * Runs the operator until SIGTERM/SIGINT, then stops leading (releasing the lease), stops informers and servers
 * and resolves 0. `--help`/`-h` prints usage on stdout and resolves 0. Throws ConfigError for bad flags and an
 * Error when the kubeconfig cannot be loaded.
 */
export async function runOperatorMain(argv: string[], io: OperatorIo, opts: OperatorMainOptions = {}): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(`Usage: ${OPERATOR_USAGE}\n`);
    return 0;
  }
  if (argv.includes('--version')) {
    io.stdout.write(`slmops-operator ${operatorVersion()}\n`);
    return 0;
  }
  const signals = opts.signals ?? process;
  const version = operatorVersion();
  const options = parseOperatorArgs(argv, io.env, { version, hostname: osHostname(), pid: process.pid });
  const logger = createLogger(io.stderr, { format: options.logFormat, base: { component: 'operator', identity: options.identity } });
  const kubeConfig = loadKubeConfig({ ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}), ...(options.context ? { context: options.context } : {}), env: io.env });
  const client = createKubeClient({ kubeConfig, userAgent: `slmops-operator/${version} (${options.identity})` });
  const host = createPluginHost(options.plugins.map((p) => PLUGIN_FACTORIES[p]!()));
  const registry = createRegistry();

  let stopRequested: (() => void) | undefined;
  const stopSignal = new Promise<void>((resolve) => (stopRequested = resolve));
  const onSignal = (sig: string) => {
    logger.info('signal received, shutting down', { signal: sig });
    stopRequested?.();
  };
  const onTerm = () => onSignal('SIGTERM');
  const onInt = () => onSignal('SIGINT');
  signals.on('SIGTERM', onTerm);
  signals.on('SIGINT', onInt);

  let operator: RunningOperator | undefined;
  const servers: MetricsServer[] = [];
  try {
    if (options.healthBind) {
      const health = createHttpServer([
        (req, res) => {
          const path = (req.url ?? '').split('?')[0];
          if (path === '/healthz') res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
          else if (path === '/readyz') {
            const ready = operator?.synced() ?? false;
            res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ok\n' : 'informers not synced\n');
          } else return false;
          return true;
        },
      ]);
      servers.push(await listenHttp(health, options.healthBind.port, options.healthBind.host));
    }
    if (options.metricsBind) servers.push(await listenHttp(createHttpServer([metricsHandler(registry)]), options.metricsBind.port, options.metricsBind.host));
    const [healthServer, metricsServer] = options.healthBind ? [servers[0], servers[1]] : [undefined, servers[0]];
    logger.info('starting', {
      version,
      namespace: options.namespace ?? 'all',
      plugins: options.plugins,
      sidecarImage: options.sidecarImage,
      leaderElect: options.leaderElect,
      metrics: metricsServer?.address,
      health: healthServer?.address,
    });
    if (options.leaderElect) await checkLeaseNamespace(client, options.leaderElectionNamespace, options.leaderElectionId);
    operator = await startOperator({
      client,
      host,
      config: { sidecarImage: options.sidecarImage, controllerName: 'slmops-operator' },
      planReconcile,
      scrapeTargets,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      ...(options.leaderElect
        ? {
            leaderElection: {
              namespace: options.leaderElectionNamespace,
              name: options.leaderElectionId,
              identity: options.identity,
              leaseDurationMs: options.leaseDurationMs,
              renewDeadlineMs: options.renewDeadlineMs,
              retryPeriodMs: options.retryPeriodMs,
            },
          }
        : {}),
      registry,
      maxConcurrentReconciles: options.maxConcurrentReconciles,
      resyncPeriodMs: options.resyncPeriodMs,
      scrapeLimits: options.scrapeLimits,
      logger,
    });
    opts.onStarted?.({
      operator,
      ...(metricsServer ? { metrics: `http://${metricsServer.address}/metrics` } : {}),
      ...(healthServer ? { health: `http://${healthServer.address}` } : {}),
      options,
    });
    await stopSignal;
    return 0;
  } finally {
    signals.off('SIGTERM', onTerm);
    signals.off('SIGINT', onInt);
    await operator?.stop();
    await Promise.all(servers.map((s) => s.close()));
  }
}
