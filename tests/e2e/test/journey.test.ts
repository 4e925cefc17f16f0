/**
 * The user journey end to end, with every real part this machine has: the kube emulator and its fleet
 * simulator play the cluster; the real helm v4 installs, upgrades and uninstalls charts/slmops; the operator runs
 * as its own process with exactly the flags the chart rendered; the real kubectl applies an example and waits
 * for Ready; `kubectl slm` (found by kubectl's plugin discovery) follows a rollout and generates text through real
 * sidecar processes; a real Prometheus scrapes the operator and the sidecars and answers the dashboards' rollout
 * and serving queries; the API requests the operator made are checked against the chart's RBAC.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Labels } from '@slmops/api';
import { OPERATOR_RBAC_EXCEPTIONS, type ApiRequest, checkRbac, describeRequest, grantsFor, parseManifests, requestFromLog } from '@slmops/chart-tests';
import { type Emulator, type Pod, Simulator, podEndpoint, resources, startEmulator } from '@slmops/kube-emulator';
import { type KubeTools, type ToolResult, ensureKubeTools, kubectlFor, runTool } from '@slmops/kube-emulator/testing';
import { convertLlama2cPackage } from '@slmops/model';
import { type Prometheus, dashboards, freePort, killChildren, panelExpressions, renderDashboard, startPrometheus, substitute } from '@slmops/observability-tests';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const CHART = join(ROOT, 'charts/slmops');
const EXAMPLE = join(ROOT, 'examples/local-file-model.yaml');
const OPERATOR_BIN = join(ROOT, 'packages/operator/bin/slmops-operator.js');
const SIDECAR_BIN = join(ROOT, 'packages/sidecar/bin/slmops-sidecar.js');
const KUBECTL_SLM_BIN = join(ROOT, 'packages/cli/bin/kubectl-slm.js');
/** Where the example's file:// model lives on a node; the test maps it to a temporary folder. */
const NODE_MODELS = '/var/lib/slmops/models';
const NS = 'slmops-system';
const NAME = 'stories-airgapped';
const PROMPT = 'Once upon a time';
/** stories260K's greedy continuation of PROMPT (llama2.c reference), 12 tokens. */
const CONTINUATION = ', there was a little girl named Lily. She';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- deep reads of API objects

let tools: KubeTools;
let emu: Emulator;
let sim: Simulator;
let dir: string;
let kubectl: (args: readonly string[], options?: { input?: string; timeoutMs?: number }) => Promise<ToolResult>;
let helm: (args: string[]) => Promise<ToolResult>;
let pluginEnv: NodeJS.ProcessEnv;
let operator: { proc: ChildProcess; metricsPort: number; healthPort: number; stderr: () => string } | undefined;
let prometheus: Prometheus | undefined;

const ok = (r: ToolResult, what: string) => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
};
const slmd = (): Json | undefined => emu.store.tryGet({ group: 'slmops.io', version: 'v1alpha1', resource: 'slmdeployments' }, 'default', NAME) as Json | undefined;
const condition = (type: string) => (slmd()?.['status']?.conditions as Json[] | undefined)?.find((c) => c['type'] === type);
const servingPods = (): Pod[] => emu.store.list(resources.pods, { namespace: 'default', labelSelector: `${Labels.deployment}=${NAME}` }).items as unknown as Pod[];
const isReady = (p: Pod) => ((p as Json)['status']?.conditions ?? []).some((c: Json) => c['type'] === 'Ready' && c['status'] === 'True');

async function waitFor<T>(what: string, check: () => T | undefined | false | null, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Converts the bundled stories260K into the node model folder under `version`'s name. */
async function nodeModel(name: string, version: string): Promise<void> {
  const out = join(dir, 'node-models', name);
  await convertLlama2cPackage({ checkpoint: join(ROOT, 'models/stories260k/stories260K.bin'), tokenizer: join(ROOT, 'models/stories260k/tok512.bin'), out, name: 'stories260k', version });
}

/** Starts the operator binary with the container args and env of the chart's Deployment, on loopback ports. */
async function startOperatorAsRendered(deployment: Json): Promise<NonNullable<typeof operator>> {
  const container = deployment['spec'].template.spec.containers[0] as Json;
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  // The pod would bind its own IP; here the process binds loopback ports, everything else is as rendered.
  const args = (container['args'] as string[]).map((a) =>
    a.startsWith('--metrics-bind-address=') ? `--metrics-bind-address=127.0.0.1:${metricsPort}` : a.startsWith('--health-probe-bind-address=') ? `--health-probe-bind-address=127.0.0.1:${healthPort}` : a,
  );
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '' };
  for (const e of container['env'] as Json[]) {
    if (e['value'] !== undefined) env[e['name']] = e['value'];
    else if (e['valueFrom']?.fieldRef?.fieldPath === 'metadata.namespace') env[e['name']] = NS;
    else if (e['valueFrom']?.fieldRef?.fieldPath === 'metadata.name') env[e['name']] = 'slmops-operator-journey';
  }
  // The cluster's in-cluster config is the emulator's kubeconfig here.
  const proc = spawn(process.execPath, [OPERATOR_BIN, ...args, `--kubeconfig=${emu.kubeconfigPath}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; ; i++) {
    const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (proc.exitCode !== null || i > 600) throw new Error(`the operator did not become ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, metricsPort, healthPort, stderr: () => stderr };
}

beforeAll(async () => {
  tools = await ensureKubeTools();
  dir = mkdtempSync(join(tmpdir(), 'slmops-journey-'));
  await nodeModel('stories260k', '1.0.0');
  emu = await startEmulator();
  const cache = join(dir, 'sidecar-cache');
  sim = new Simulator({
    store: emu.store,
    podStartDelayMs: 20,
    podReadyDelayMs: 20,
    onError: () => {},
    processes: {
      addressing: 'loopback-ips',
      // The example's serving pods run the real sidecar; other pods stay simulated (the operator runs below as a
      // local process, the exporter has its own suite).
      select: (pod: Pod) => (pod.metadata.labels?.[Labels.deployment] === NAME ? 'sidecar' : undefined),
      registry: {
        sidecar: (pod: Pod, _ports, ip) => {
          const args = [...(pod as unknown as { spec: { containers: { args: string[] }[] } }).spec.containers[0]!.args];
          const set = (flag: string, value: string) => (args[args.indexOf(flag) + 1] = value);
          // The node's model folder and the pod's cache volume are temporary folders; the pod IP is a loopback address.
          set('--model', args[args.indexOf('--model') + 1]!.replace(/^file:\/\//, '').replace(NODE_MODELS, join(dir, 'node-models')));
          set('--host', ip);
          set('--cache-dir', cache);
          set('--grace-period', '1s');
          return { command: process.execPath, args: [SIDECAR_BIN, ...args] };
        },
      },
    },
  });
  await sim.start();
  sim.addFleet({ nodes: 3, mix: { 'cpu-amd64': 1 }, seed: 4 });
  kubectl = kubectlFor(tools.kubectl, emu.kubeconfigPath);
  const home = join(dir, 'home');
  mkdirSync(home);
  const helmEnv = { HOME: home, PATH: process.env['PATH'] ?? '', HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
  helm = (args) => runTool(tools.helm, ['--kubeconfig', emu.kubeconfigPath, ...args], { env: helmEnv, timeoutMs: 90_000 });
  // kubectl finds plugins on PATH: a folder with `kubectl-slm`, as `npm install -g @slmops/cli` would make.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(KUBECTL_SLM_BIN, join(bin, 'kubectl-slm'));
  pluginEnv = { PATH: `${bin}:${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`, HOME: home, KUBECONFIG: emu.kubeconfigPath };
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  if (operator && operator.proc.exitCode === null) operator.proc.kill('SIGKILL');
  await sim?.stop();
  await emu?.close();
  killChildren();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the user journey', () => {
  let rendered: ReturnType<typeof parseManifests>;

  it('helm installs the chart: CRD, operator, exporter, RBAC and dashboards, all accepted and ready', async () => {
    const install = ok(await helm(['install', 'slmops', CHART, '--namespace', NS, '--create-namespace', '--wait', '--timeout', '60s']), 'helm install');
    expect(install).toContain('STATUS: deployed');
    // NOTES.txt tells the user what to do next.
    expect(install).toMatch(/kubectl apply/);
    rendered = parseManifests(ok(await helm(['get', 'manifest', 'slmops', '--namespace', NS]), 'helm get manifest'));
    const kinds = new Set(rendered.map((o) => o.kind));
    for (const k of ['Deployment', 'DaemonSet', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Service', 'ConfigMap']) expect(kinds, k).toContain(k);
    ok(await kubectl(['wait', '--for=condition=Established', 'crd/slmdeployments.slmops.io', '--timeout=30s']), 'kubectl wait crd');
    const dashboardsCm = emu.store.list(resources.configmaps, { namespace: NS, labelSelector: 'grafana_dashboard=1' }).items;
    expect(dashboardsCm.length).toBe(3);
  }, 120_000);

  it('the operator runs with the chart-rendered configuration and takes the lease', async () => {
    const deployment = rendered.find((o) => o.kind === 'Deployment' && (o.metadata.name as string).includes('operator')) as unknown as Json;
    expect(deployment, 'operator Deployment').toBeDefined();
    operator = await startOperatorAsRendered(deployment);
    const lease = await waitFor('the leader lease', () => emu.store.tryGet(resources.leases, NS, 'slmops-operator') as Json | undefined, 30_000);
    await waitFor('lease held', () => (emu.store.tryGet(resources.leases, NS, 'slmops-operator') as Json)['spec']?.holderIdentity === 'slmops-operator-journey', 30_000);
    expect(lease['metadata'].namespace).toBe(NS);
  }, 60_000);

  it('kubectl apply of the example becomes Ready with real sidecars serving the model', async () => {
    ok(await kubectl(['apply', '-f', EXAMPLE]), 'kubectl apply');
    const wait = await kubectl(['wait', '--for=condition=Ready', `slmd/${NAME}`, '--timeout=90s'], { timeoutMs: 100_000 });
    expect(wait.code, `${wait.stderr}\noperator: ${operator?.stderr().slice(-2000)}`).toBe(0);
    const pods = servingPods();
    expect(pods).toHaveLength(3);
    expect(pods.every(isReady)).toBe(true);
    const table = ok(await kubectl(['get', 'slmd', NAME]), 'kubectl get slmd');
    expect(table.split('\n')[0]!.split(/\s+/).slice(0, 7)).toEqual(['NAME', 'MODEL', 'VERSION', 'READY', 'UPDATED', 'PHASE', 'AGE']);
  }, 120_000);

  it('a new version rolls out while `kubectl slm rollout status` follows it to Complete', async () => {
    await nodeModel('stories260k-1.1.0', '1.1.0');
    const before = new Set(servingPods().map((p) => p.metadata.uid));
    const follow = runTool(tools.kubectl, ['slm', 'rollout', 'status', NAME, '--timeout', '120s'], { env: pluginEnv, timeoutMs: 130_000 });
    ok(
      await kubectl(['patch', 'slmd', NAME, '--type=merge', '-p', JSON.stringify({ spec: { model: { version: '1.1.0', source: { uri: `file://${NODE_MODELS}/stories260k-1.1.0` } } } })]),
      'kubectl patch',
    );
    const status = await follow;
    expect(status.code, `${status.stdout}\n${status.stderr}`).toBe(0);
    expect(status.stdout).toMatch(/successfully rolled out/);
    const st = slmd()!['status'];
    expect(st.currentRevision).toBe(st.updateRevision);
    expect(st.nodes).toMatchObject({ desired: 3, updated: 3, ready: 3 });
    // Every serving pod was replaced and serves the new package.
    const after = servingPods();
    expect(after).toHaveLength(3);
    for (const p of after) expect(before.has(p.metadata.uid)).toBe(false);
    expect(condition('Ready')).toMatchObject({ status: 'True' });
    const get = JSON.parse(ok(await runTool(tools.kubectl, ['slm', 'get', NAME, '-o', 'json'], { env: pluginEnv }), 'kubectl slm get')) as Json;
    expect(get['spec'].model.version).toBe('1.1.0');
  }, 180_000);

  it('`kubectl slm generate` streams the model\'s continuation from a real sidecar', async () => {
    const r = await runTool(tools.kubectl, ['slm', 'generate', NAME, '--prompt', PROMPT, '--max-tokens', '12', '--temperature', '0'], { env: pluginEnv, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${CONTINUATION}\n`);
    expect(r.stderr).not.toContain(PROMPT);
  }, 60_000);

  it('Prometheus scrapes the operator and the sidecars and answers the rollout and serving panels', async () => {
    const pods = servingPods().filter(isReady);
    prometheus = await startPrometheus(join(dir, 'prometheus'), [
      { job: 'slmops-operator', target: `127.0.0.1:${operator!.metricsPort}`, honorLabels: true },
      ...pods.map((p) => {
        const ep = podEndpoint(p, 'metrics')!;
        return { job: 'slmops-sidecar', target: `${ep.host}:${ep.port}`, labels: { namespace: 'default', pod: p.metadata.name!, node: (p as Json)['spec'].nodeName as string, plugin: p.metadata.labels?.[Labels.plugin] ?? 'cpu' } };
      }),
    ]);
    const up = async () => (await prometheus!.query('up')).filter((s) => s.value[1] === '1').length;
    for (let i = 0; (await up()) < pods.length + 1; i++) {
      if (i > 100) throw new Error('Prometheus never saw every target up');
      await new Promise((r) => setTimeout(r, 100));
    }
    // Traffic while Prometheus watches: a generation through the plugin on every pod.
    for (const p of pods) {
      const r = await runTool(tools.kubectl, ['slm', 'generate', NAME, '--pod', p.metadata.name!, '--prompt', PROMPT, '--max-tokens', '8'], { env: pluginEnv, timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
    }
    // Operator work while Prometheus watches: a Replicated deployment with autoscaling, then privacy egress
    // Deny, then back, so its Deployment, HPA and NetworkPolicy are applied and removed.
    ok(await kubectl(['create', 'namespace', 'inference']), 'kubectl create namespace');
    const replicated = {
      apiVersion: 'slmops.io/v1alpha1',
      kind: 'SLMDeployment',
      metadata: { name: 'stories-replicated', namespace: 'inference' },
      spec: {
        model: { name: 'stories260k', version: '1.1.0', source: { uri: `file://${NODE_MODELS}/stories260k-1.1.0` } },
        placement: { mode: 'Replicated', replicas: 2 },
        hardware: { plugins: ['cpu'] },
        autoscaling: { minReplicas: 2, maxReplicas: 4, targetQueueDepth: 4 },
        // Privacy is not part of the revision (ADR 0011): its changes apply at once in any strategy.
        rollout: { strategy: 'Recreate' },
      },
    };
    ok(await kubectl(['apply', '-f', '-'], { input: JSON.stringify(replicated) }), 'kubectl apply replicated');
    const inInference = (ref: { group: string; version: string; resource: string }) => emu.store.list(ref, { namespace: 'inference' }).items.length;
    await waitFor('Replicated children', () => inInference(resources.deployments) > 0 && inInference(resources.horizontalpodautoscalers) === 1, 30_000).catch((e: Error) => {
      const gpu = emu.store.tryGet({ group: 'slmops.io', version: 'v1alpha1', resource: 'slmdeployments' }, 'inference', 'stories-replicated') as Json | undefined;
      throw new Error(`${e.message}; deployments ${inInference(resources.deployments)}, hpa ${inInference(resources.horizontalpodautoscalers)}; status: ${JSON.stringify(gpu?.['status']?.rollout)}; operator: ${operator?.stderr().split('\n').filter((l) => l.includes('stories-replicated')).slice(0, 3).join('\n')}`);
    });
    ok(await kubectl(['patch', 'slmd', 'stories-replicated', '-n', 'inference', '--type=merge', '-p', '{"spec":{"autoscaling":null,"privacy":{"egress":"Deny"}}}']), 'kubectl patch egress Deny');
    await waitFor('NetworkPolicy created, HPA removed', () => inInference(resources.networkpolicies) === 1 && inInference(resources.horizontalpodautoscalers) === 0, 30_000).catch((e: Error) => {
      const o = emu.store.tryGet({ group: 'slmops.io', version: 'v1alpha1', resource: 'slmdeployments' }, 'inference', 'stories-replicated') as Json | undefined;
      throw new Error(`${e.message}; np ${inInference(resources.networkpolicies)}, hpa ${inInference(resources.horizontalpodautoscalers)}; spec: ${JSON.stringify(o?.['spec'])}; ready: ${JSON.stringify(o?.['status']?.conditions?.[0])}`);
    });
    ok(await kubectl(['patch', 'slmd', 'stories-replicated', '-n', 'inference', '--type=merge', '-p', '{"spec":{"privacy":{"egress":"Allow"}}}']), 'kubectl patch egress Allow');
    await waitFor('NetworkPolicy removed', () => inInference(resources.networkpolicies) === 0, 30_000);
    // Counters need two samples for rate(): let Prometheus scrape a few more times.
    await new Promise((r) => setTimeout(r, 4000));
    const empty: string[] = [];
    for (const uid of ['rollouts', 'serving'] as const) {
      for (const x of panelExpressions(renderDashboard(dashboards[uid]))) {
        const result = await prometheus.query(substitute(x.raw, { rateInterval: '20s', range: '5m' }));
        if (!result.some((s) => Number.isFinite(Number(s.value[1])))) empty.push(`${uid}: ${x.title} [${x.refId}]`);
      }
    }
    // Panels that need an event this journey does not cause; everything else must answer.
    const NEEDS_EVENT: Record<string, string> = {
      'rollouts: Rollbacks [A]': 'no rollback happened',
      'rollouts: Analysis results [A]': 'a Recreate rollout has no analysis',
      'rollouts: Reconcile errors [A]': 'no reconcile failed',
      'serving: Errors by gRPC code [A]': 'no request failed',
      'serving: Error ratio [A]': 'no request failed (the failure counter has no series yet)',
      'serving: Execution-provider fallbacks [A]': "the cpu plugin's provider chain is cpu alone: nothing to fall back from",
    };
    expect(empty.filter((e) => !(e in NEEDS_EVENT))).toEqual([]);
  }, 120_000);

  it('every API request the operator made is allowed by the chart\'s RBAC, and no rule went unused', () => {
    const requests = emu.requestLog
      .since(0)
      .filter((e) => e.client.startsWith('slmops-operator/'))
      .map((e) => requestFromLog(e))
      .filter((r): r is ApiRequest => r !== undefined);
    expect(requests.length).toBeGreaterThan(10);
    const deployment = rendered.find((o) => o.kind === 'Deployment' && (o.metadata.name as string).includes('operator')) as unknown as Json;
    const sa = { name: deployment['spec'].template.spec.serviceAccountName as string, namespace: NS };
    // Deleting a child that is no longer desired is rare: it needs a node class to empty or a mode switch.
    const pruning = [
      ['apps', 'daemonsets', 'a node class empties (its last node leaves or changes hardware)'],
      ['apps', 'deployments', 'Replicated mode: the canary Deployment after promotion, or a switch to Fleet'],
      ['', 'services', 'a renamed or orphaned Service after an upgrade of the operator'],
      ['', 'configmaps', 'a renamed or orphaned serving ConfigMap after an upgrade of the operator'],
      ['policy', 'poddisruptionbudgets', 'a switch between Fleet and Replicated renames the budget'],
    ].map(([group, resource, reason]) => ({ group: group!, resource: resource!, verb: 'delete', reason: `deletes a child no longer desired: ${reason}` }));
    const report = checkRbac(grantsFor(rendered, sa), requests, [...OPERATOR_RBAC_EXCEPTIONS, ...pruning]);
    expect(report.denied.map(describeRequest)).toEqual([]);
    expect(report.unused.map((u) => JSON.stringify(u))).toEqual([]);
  });

  it('helm upgrade changes the operator\'s configuration; the operator drains on SIGTERM; helm uninstall removes the release', async () => {
    const upgrade = ok(await helm(['upgrade', 'slmops', CHART, '--namespace', NS, '--set', 'operator.maxConcurrentReconciles=2', '--wait', '--timeout', '60s']), 'helm upgrade');
    expect(upgrade).toContain('REVISION: 2');
    const live = emu.store.list(resources.deployments, { namespace: NS }).items.find((d) => d.metadata.name!.includes('operator')) as Json;
    expect(live['spec'].template.spec.containers[0].args).toContain('--max-concurrent-reconciles=2');

    const exited = new Promise<number | null>((r) => operator!.proc.once('exit', (code) => r(code)));
    operator!.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The leader released its lease on the way out, so a new replica takes over at once.
    expect((emu.store.tryGet(resources.leases, NS, 'slmops-operator') as Json)['spec'].holderIdentity ?? '').toBe('');

    ok(await helm(['uninstall', 'slmops', '--namespace', NS, '--wait']), 'helm uninstall');
    expect(emu.store.list(resources.deployments, { namespace: NS }).items).toEqual([]);
    expect(emu.store.list(resources.daemonsets, { namespace: NS }).items).toEqual([]);
    // helm keeps CRDs (crds/ is install-only), so users' SLMDeployments survive an uninstall.
    expect(slmd()).toBeDefined();
  }, 120_000);
});
