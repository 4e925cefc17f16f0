/**
 * End-to-end harness: the kube emulator (real HTTP API server), the fleet simulator (DaemonSet/Deployment
 * controllers, scheduler, kubelets), the real kubectl, and operator replicas started in-process over the real
 * HTTP client. Shared by the runtime e2e suites and the rollout e2e suites.
 */
import { join } from 'node:path';
import { createKubeClient, loadKubeConfig, type KubeClient, type KubeObject } from '@slmops/kube';
import { type Emulator, type ResourceRef, Simulator, type SimulatorOptions, type FleetOptions, startEmulator, resources } from '@slmops/kube-emulator';
import { type ToolResult, type RunOptions, ensureKubeTools, kubectlFor } from '@slmops/kube-emulator/testing';
import { createRegistry } from '@slmops/metrics';
import { createPluginHost } from '@slmops/plugin-sdk';
import { amd } from '@slmops/plugin-amd';
import { cpu } from '@slmops/plugin-cpu';
import { intel } from '@slmops/plugin-intel';
import { jetson } from '@slmops/plugin-jetson';
import { nvidia } from '@slmops/plugin-nvidia';
import { qualcomm } from '@slmops/plugin-qualcomm';
import { stringify } from 'yaml';
import type { PlanReconcileFn, ScrapeTargetsFn } from '../src/contract.js';
import { planReconcile, scrapeTargets } from '../src/core.js';
import { type Logger, createLogger, silentLogger } from '../src/runtime/log.js';
import { type LeaderElectionConfig, type OperatorDeps, type RunningOperator, startOperator } from '../src/runtime/operator.js';

/** The CRD file the chart ships (generated from @slmops/api). */
export const CRD_PATH = join(import.meta.dirname, '../../../charts/slmops/crds/slmdeployments.slmops.io.yaml');
export const SLMD: ResourceRef = { group: 'slmops.io', version: 'v1alpha1', resource: 'slmdeployments' };
export { resources };

export interface HarnessOptions {
  /** Simulator timing and hooks (readiness, process runner). Defaults: 20 ms start, 20 ms ready. */
  simulator?: Omit<SimulatorOptions, 'store'>;
  /** A fleet to add at start. */
  fleet?: FleetOptions;
  /** Install the CRD with the real kubectl (default true). */
  crd?: boolean;
}

export interface OperatorReplicaOptions {
  identity?: string;
  /** Lease-based election (short timings by default); false: lead at once. */
  leaderElection?: boolean | Partial<LeaderElectionConfig>;
  namespace?: string;
  maxConcurrentReconciles?: number;
  resyncPeriodMs?: number;
  planReconcile?: PlanReconcileFn;
  scrapeTargets?: ScrapeTargetsFn;
  scrape?: OperatorDeps['scrape'];
  /** Limits of the default scrape (what --scrape-max-bytes, --scrape-timeout and --scrape-stall-timeout set). */
  scrapeLimits?: OperatorDeps['scrapeLimits'];
  /** Log to stderr (for debugging a test). */
  verbose?: boolean;
  sidecarImage?: string;
  /** Wraps the replica's client (to observe or delay its requests and watch events in a test). */
  wrapClient?: (client: KubeClient) => KubeClient;
}

export interface OperatorReplica {
  operator: RunningOperator;
  identity: string;
  /** Requests of this replica in the emulator's log are from this user agent. */
  userAgent: string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export interface Harness {
  emu: Emulator;
  sim: Simulator;
  kubectl(args: readonly string[], options?: RunOptions): Promise<ToolResult>;
  /** kubectl that throws (with its stderr) on a non-zero exit. */
  kubectlOk(args: readonly string[], options?: RunOptions): Promise<string>;
  /** `kubectl apply -f -` of objects. */
  apply(...objects: object[]): Promise<string>;
  startOperator(options?: OperatorReplicaOptions): Promise<OperatorReplica>;
  /** The stored SLMDeployment (not logged as a request). */
  slmd(name: string, namespace?: string): KubeObject | undefined;
  /** Objects of a resource in a namespace, from the store (not logged). */
  objects(ref: ResourceRef, namespace?: string, labelSelector?: string): KubeObject[];
  waitFor<T>(what: string, check: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export const ALL_PLUGINS = () => [nvidia(), jetson(), intel(), amd(), qualcomm(), cpu()];

/** An SLMDeployment in Fleet mode over every node, with a file:// model (no digest needed). */
export function fleetDeployment(name: string, overrides: { namespace?: string; version?: string; spec?: Record<string, unknown> } = {}): KubeObject {
  return {
    apiVersion: 'slmops.io/v1alpha1',
    kind: 'SLMDeployment',
    metadata: { name, namespace: overrides.namespace ?? 'default' },
    spec: {
      model: { name: 'stories260k', version: overrides.version ?? '1.0.0', source: { uri: `file:///models/stories260k-${overrides.version ?? '1.0.0'}` }, precisions: ['int8', 'fp16', 'fp32'] },
      placement: { mode: 'Fleet' },
      hardware: { plugins: ['nvidia', 'jetson', 'cpu'] },
      rollout: { strategy: 'Waves', waves: [{ percent: 100 }] },
      ...overrides.spec,
    },
  };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const emu = await startEmulator();
  const sim = new Simulator({ store: emu.store, podStartDelayMs: 20, podReadyDelayMs: 20, onError: () => {}, ...options.simulator });
  await sim.start();
  if (options.fleet) sim.addFleet(options.fleet);
  const tools = await ensureKubeTools();
  const kubectl = kubectlFor(tools.kubectl, emu.kubeconfigPath);
  const kubectlOk = async (args: readonly string[], o?: RunOptions) => {
    const r = await kubectl(args, o);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  if (options.crd ?? true) {
    await kubectlOk(['apply', '--server-side', '-f', CRD_PATH]);
    await kubectlOk(['wait', '--for=condition=Established', 'crd/slmdeployments.slmops.io', '--timeout=30s']);
  }
  const replicas = new Set<OperatorReplica>();
  let n = 0;

  const waitFor: Harness['waitFor'] = async (what, check, timeoutMs = 30_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  return {
    emu,
    sim,
    kubectl,
    kubectlOk,
    apply: (...objects) => kubectlOk(['apply', '-f', '-'], { input: objects.map((o) => stringify(o)).join('---\n') }),
    async startOperator(o = {}) {
      const identity = o.identity ?? `replica-${++n}`;
      const userAgent = `slmops-operator/test (${identity})`;
      const real = createKubeClient({ kubeConfig: loadKubeConfig({ kubeconfig: emu.kubeconfigPath, env: {} }), userAgent });
      const client = o.wrapClient ? o.wrapClient(real) : real;
      const registry = createRegistry({ defaultMetrics: false });
      const logger: Logger = o.verbose ? createLogger(process.stderr, { base: { identity } }) : silentLogger;
      const le = o.leaderElection;
      const operator = await startOperator({
        client,
        host: createPluginHost(ALL_PLUGINS()),
        config: { sidecarImage: o.sidecarImage ?? 'ghcr.io/slmops/sidecar:test', controllerName: 'slmops-operator' },
        planReconcile: o.planReconcile ?? planReconcile,
        scrapeTargets: o.scrapeTargets ?? scrapeTargets,
        registry,
        logger,
        backoff: { baseMs: 20, maxMs: 2000 },
        ...(o.namespace ? { namespace: o.namespace } : {}),
        ...(o.scrape ? { scrape: o.scrape } : {}),
        ...(o.scrapeLimits ? { scrapeLimits: o.scrapeLimits } : {}),
        ...(o.maxConcurrentReconciles ? { maxConcurrentReconciles: o.maxConcurrentReconciles } : {}),
        ...(o.resyncPeriodMs ? { resyncPeriodMs: o.resyncPeriodMs } : {}),
        ...(le
          ? { leaderElection: { namespace: 'kube-system', name: 'slmops-operator', identity, leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250, ...(le === true ? {} : le) } }
          : {}),
      });
      const replica: OperatorReplica = {
        operator,
        identity,
        userAgent,
        metrics: () => registry.metrics(),
        async stop() {
          replicas.delete(replica);
          await operator.stop();
        },
      };
      replicas.add(replica);
      return replica;
    },
    slmd: (name, namespace = 'default') => emu.store.tryGet(SLMD, namespace, name) as KubeObject | undefined,
    objects: (ref, namespace, labelSelector) => emu.store.list(ref, { ...(namespace ? { namespace } : {}), ...(labelSelector ? { labelSelector } : {}), client: 'test-harness' }).items as KubeObject[],
    waitFor,
    async close() {
      await Promise.all([...replicas].map((r) => r.stop()));
      await sim.stop();
      await emu.close();
    },
  };
}

/** The Ready condition of an SLMDeployment as [status, reason], or undefined. */
export function readyCondition(o: KubeObject | undefined): { status: string; reason: string; message?: string } | undefined {
  const conditions = (o as { status?: { conditions?: { type: string; status: string; reason: string; message?: string }[] } } | undefined)?.status?.conditions;
  return conditions?.find((c) => c.type === 'Ready');
}
