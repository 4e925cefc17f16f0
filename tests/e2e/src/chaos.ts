/**
 * A reusable chaos harness: the kube emulator and its fleet simulator as the cluster, the real operator binary
 * as its own process (kill -9 and restart it like a kubelet would), API-server restarts with and without state on
 * the same address, and the checks every scenario ends with: convergence of an SLMDeployment and zero
 * operator writes over two resync periods. Faults come from the emulator's own injection (`cluster.emu.faults`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Labels } from '@slmops/api';
import {
  type Emulator,
  type FleetOptions,
  type KubeObject,
  type SimulatorOptions,
  Simulator,
  type Store,
  freePort,
  resources,
  startEmulator,
} from '@slmops/kube-emulator';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '../../..');
export const OPERATOR_BIN = join(ROOT, 'packages/operator/bin/slmops-operator.js');
export const CRD_PATH = join(ROOT, 'charts/slmops/crds/slmdeployments.slmops.io.yaml');
export const SLMD = { group: 'slmops.io', version: 'v1alpha1', resource: 'slmdeployments' } as const;
/** The operator process's user agent in the emulator's request log. */
export const OPERATOR_CLIENT = /^slmops-operator\//;
const LEASE_RESOURCE = 'leases.coordination.k8s.io';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- deep reads of API objects

export interface ChaosOptions {
  fleet: FleetOptions;
  /** Simulator options (timings, readiness, processes); the store is the harness's. */
  simulator?: Omit<SimulatorOptions, 'store'>;
  /** The operator's --resync-period: short, so a steady-state window really covers resyncs. */
  resyncPeriod: string;
  /** Flags added to every operator start. */
  operatorArgs?: readonly string[];
}

export interface OperatorProcess {
  readonly proc: ChildProcess;
  readonly metricsUrl: string;
  /** Its JSON log lines so far (the last 256 KiB). */
  stderr(): string;
}

export interface ChaosCluster {
  /** The API server now serving (a new one after each restart, same address and kubeconfig). */
  readonly emu: Emulator;
  readonly sim: Simulator;
  readonly kubeconfigPath: string;
  readonly operator: OperatorProcess | undefined;
  /** Operator exits the harness did not cause (crashes). */
  readonly crashes: readonly string[];
  /** Starts the operator binary (stopping a running one with SIGTERM first); resolves once /readyz is 200. */
  startOperator(extraArgs?: readonly string[]): Promise<OperatorProcess>;
  /** kill -9 of the operator process; resolves once it is gone. */
  killOperator(): Promise<void>;
  /**
   * Stops the API server and starts a new one on the same port. keepState: same store (a restart). Otherwise a
   * new empty store (storage lost), with the CRD installed again and a new simulator with the same fleet.
   */
  restartApiServer(opts: { keepState: boolean }): Promise<void>;
  /** Server-side apply of an SLMDeployment, as a user's `kubectl apply --server-side` would. */
  apply(slmd: KubeObject): KubeObject;
  slmd(name: string): Json | undefined;
  /** Objects of a resource in `default` with an optional label selector (not logged as requests). */
  objects(ref: { group: string; version: string; resource: string }, labelSelector?: string): Json[];
  waitFor<T>(what: string, check: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs?: number): Promise<T>;
  /** Why `name` has not converged on `version` (undefined once it has): see `convergence`. */
  convergence(name: string, version: string): string | undefined;
  /** Waits until `name` converged on `version`; the error says what was still missing. */
  converged(name: string, version: string, timeoutMs?: number): Promise<void>;
  /**
   * Waits one resync period for convergence to settle, then marks the request log, waits until the operator has
   * relisted SLMDeployments twice and reconciled each of `deployments` twice more (two resync periods), and
   * returns the operator's writes in that window
   * (Lease renewals aside: leading is a write by design), as `verb resource/name[/subresource]` lines.
   */
  steadyStateWrites(deployments: number): Promise<string[]>;
  close(): Promise<void>;
}

const isReady = (o: Json) => ((o['status']?.conditions ?? []) as Json[]).some((c) => c['type'] === 'Ready' && c['status'] === 'True');

/** The operator's reconcile count from its /metrics, all results. */
async function reconcileCount(metricsUrl: string): Promise<number> {
  const text = await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) }).then((r) => r.text());
  let n = 0;
  for (const m of text.matchAll(/^slmops_operator_reconcile_total\{[^}]*\} (\d+(?:\.\d+)?)$/gm)) n += Number(m[1]);
  return n;
}

export async function startChaosCluster(options: ChaosOptions): Promise<ChaosCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'slmops-chaos-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  const crd = parse(readFileSync(CRD_PATH, 'utf8')) as KubeObject;
  let emu = await startEmulator({ kubeconfigPath });
  const port = emu.port;
  const newSimulator = async (store: Store) => {
    const s = new Simulator({ podStartDelayMs: 20, podReadyDelayMs: 20, onError: (e, context) => simErrors.push(`${context}: ${(e as Error).message ?? e}`), ...options.simulator, store });
    await s.start();
    s.addFleet(options.fleet);
    return s;
  };
  emu.store.create(resources.customresourcedefinitions, undefined, crd, { client: 'kubectl/chaos' });
  let sim = await newSimulator(emu.store);
  let operator: (OperatorProcess & { exited: Promise<void>; expectExit: boolean }) | undefined;
  const crashes: string[] = [];
  const simErrors: string[] = [];

  const waitFor: ChaosCluster['waitFor'] = async (what, check, timeoutMs = 30_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  const stopOperator = async (signal: 'SIGTERM' | 'SIGKILL') => {
    const op = operator;
    if (!op) return;
    op.expectExit = true;
    if (op.proc.exitCode === null && op.proc.signalCode === null) op.proc.kill(signal);
    await op.exited;
    operator = undefined;
  };

  const cluster: ChaosCluster = {
    get emu() {
      return emu;
    },
    get sim() {
      return sim;
    },
    kubeconfigPath,
    get operator() {
      return operator;
    },
    crashes,
    async startOperator(extraArgs = []) {
      await stopOperator('SIGTERM');
      const [metricsPort, healthPort] = [await freePort(), await freePort()];
      const args = [
        OPERATOR_BIN,
        `--kubeconfig=${kubeconfigPath}`,
        `--metrics-bind-address=127.0.0.1:${metricsPort}`,
        `--health-probe-bind-address=127.0.0.1:${healthPort}`,
        '--leader-elect=true',
        '--leader-election-namespace=kube-system',
        '--leader-elect-lease-duration=4s',
        '--leader-elect-renew-deadline=3s',
        '--leader-elect-retry-period=500ms',
        `--resync-period=${options.resyncPeriod}`,
        ...(options.operatorArgs ?? []),
        ...extraArgs,
      ];
      // The same pod name across restarts: a container restarted in place keeps its identity (and its lease).
      const env = { PATH: process.env['PATH'] ?? '', POD_NAME: 'slmops-operator-chaos', POD_NAMESPACE: 'kube-system', NODE_OPTIONS: '--max-old-space-size=256' };
      const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      proc.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (stderr.length > 512 * 1024) stderr = stderr.slice(-256 * 1024);
      });
      const op = {
        proc,
        metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
        stderr: () => stderr,
        expectExit: false,
        exited: new Promise<void>((resolve) =>
          proc.once('exit', (code, signal) => {
            if (!op.expectExit) crashes.push(`operator exited (code ${code}, signal ${signal}): ${stderr.slice(-2000)}`);
            resolve();
          }),
        ),
      };
      operator = op;
      await waitFor(
        'the operator to be ready',
        async () => {
          if (proc.exitCode !== null) throw new Error(`the operator exited ${proc.exitCode}: ${stderr.slice(-2000)}`);
          return fetch(`http://127.0.0.1:${healthPort}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200, () => false);
        },
        30_000,
      );
      return op;
    },
    killOperator: () => stopOperator('SIGKILL'),
    async restartApiServer({ keepState }) {
      const store = emu.store;
      await emu.close();
      if (keepState) {
        emu = await startEmulator({ store, port, kubeconfigPath });
        return;
      }
      await sim.stop();
      emu = await startEmulator({ port, kubeconfigPath });
      emu.store.create(resources.customresourcedefinitions, undefined, crd, { client: 'kubectl/chaos' });
      sim = await newSimulator(emu.store);
    },
    apply(slmd) {
      return emu.store.patch(SLMD, slmd.metadata.namespace ?? 'default', slmd.metadata.name!, 'apply', slmd, { fieldManager: 'kubectl', force: true, client: 'kubectl/chaos' }).object;
    },
    slmd: (name) => emu.store.tryGet(SLMD, 'default', name) as Json | undefined,
    objects: (ref, labelSelector) => emu.store.list(ref, { namespace: 'default', ...(labelSelector ? { labelSelector } : {}), client: 'chaos-harness' }).items as Json[],
    waitFor,
    convergence(name, version) {
      const d = cluster.slmd(name);
      if (!d) return 'no SLMDeployment';
      const st = (d['status'] ?? {}) as Json;
      if (d['spec']?.model?.version !== version) return `spec.model.version is ${d['spec']?.model?.version}`;
      if (st['observedGeneration'] !== d['metadata'].generation) return `observedGeneration ${st['observedGeneration']} of ${d['metadata'].generation}`;
      const nodes = sim.nodeNames().length;
      const pods = cluster.objects(resources.pods, `${Labels.deployment}=${name}`);
      const wrong = pods.filter((p) => p['metadata'].labels?.[Labels.version] !== version || p['metadata'].labels?.[Labels.revision] !== st['updateRevision'] || !isReady(p) || p['metadata'].deletionTimestamp);
      if (pods.length !== nodes || wrong.length > 0) {
        const why = wrong[0] ? `, e.g. ${wrong[0]['metadata'].name}: ${wrong[0]['status']?.phase} ${JSON.stringify((wrong[0]['status']?.conditions ?? []).filter((c: Json) => c['status'] !== 'True'))}` : '';
        return `${pods.length} pods, ${wrong.length} not Ready on ${version}${why}`;
      }
      const n = st['nodes'] ?? {};
      if (n.desired !== nodes || n.updated !== nodes || n.ready !== nodes) return `nodes ${JSON.stringify(n)} of ${nodes}`;
      if (st['rollout']?.phase !== 'Complete') return `rollout phase ${st['rollout']?.phase}`;
      if (!st['currentRevision'] || st['currentRevision'] !== st['updateRevision']) return `revision ${st['currentRevision']} -> ${st['updateRevision']}`;
      if (!isReady(d)) return `not Ready: ${JSON.stringify((st['conditions'] ?? []).find((c: Json) => c['type'] === 'Ready'))}`;
      if (cluster.objects(resources.daemonsets, `${Labels.deployment}=${name}`).length === 0) return 'no DaemonSet';
      return undefined;
    },
    async converged(name, version, timeoutMs = 30_000) {
      let why: string | undefined = 'not checked';
      try {
        await waitFor(`${name} to converge on ${version}`, () => (why = cluster.convergence(name, version)) === undefined, timeoutMs);
      } catch (e) {
        throw new Error(`${(e as Error).message}: ${why}; simulator errors: ${simErrors.slice(-5).join('; ') || 'none'}; operator log tail: ${operator?.stderr().slice(-1500) ?? '(not running)'}`);
      }
    },
    async steadyStateWrites(deployments) {
      const op = operator;
      if (!op) throw new Error('the operator is not running');
      const log = emu.requestLog;
      const relists = (mark: number) => log.since(mark, { client: OPERATOR_CLIENT, verb: 'list', resource: 'slmdeployments.slmops.io' }).length;
      const resyncs = async (n: number, what: string) => {
        const mark = log.mark();
        const before = await reconcileCount(op.metricsUrl);
        await waitFor(what, async () => relists(mark) >= n && (await reconcileCount(op.metricsUrl)) - before >= n * deployments, 60_000);
        return mark;
      };
      // The writes that made it converge may still be landing (a last status write, an event): one period first.
      await resyncs(1, 'one resync period to settle');
      const mark = await resyncs(2, 'two resync periods (two relists and two reconciles of each deployment)');
      return log
        .writesSince(mark, { client: OPERATOR_CLIENT })
        .filter((e) => e.resource !== LEASE_RESOURCE)
        .map((e) => `${e.verb} ${e.resource}/${e.name ?? ''}${e.subresource ? `/${e.subresource}` : ''} ${e.code} at ${e.time}`);
    },
    async close() {
      await stopOperator('SIGKILL');
      await sim.stop();
      await emu.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

/** An SLMDeployment in Fleet mode over the cpu nodes, with a file:// model (the simulator serves it). */
export function fleetDeployment(name: string, version: string, rollout: Json = { strategy: 'Waves', waves: [{ percent: 100 }] }): KubeObject {
  return {
    apiVersion: 'slmops.io/v1alpha1',
    kind: 'SLMDeployment',
    metadata: { name, namespace: 'default' },
    spec: {
      model: { name: 'stories260k', version, source: { uri: `file:///models/stories260k-${version}` }, precisions: ['int8', 'fp16', 'fp32'] },
      placement: { mode: 'Fleet' },
      hardware: { plugins: ['cpu'] },
      rollout,
    },
  };
}
