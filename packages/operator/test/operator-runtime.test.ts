import { type FakeKube, Resources, createFakeKube } from '@slmops/kube';
import { createRegistry } from '@slmops/metrics';
import { createPluginHost } from '@slmops/plugin-sdk';
import { cpu } from '@slmops/plugin-cpu';
import { afterEach, describe, expect, it } from 'vitest';
import { type OperatorDeps, type RunningOperator, startOperator } from '../src/runtime/operator.js';
import { createFakeCore, node, pod, slmd } from './support/fake-plan.js';

const running: RunningOperator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((o) => o.stop()));
});

const base = (kube: FakeKube, core = createFakeCore()): OperatorDeps => ({
  client: kube,
  host: createPluginHost([cpu()]),
  config: { sidecarImage: 'sidecar:test', controllerName: 'slmops-operator' },
  planReconcile: core.planReconcile,
  scrapeTargets: core.scrapeTargets,
  backoff: { baseMs: 5, maxMs: 50 },
});

async function start(deps: OperatorDeps) {
  const op = await startOperator(deps);
  running.push(op);
  return op;
}

const waitUntil = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('startOperator (on the in-memory fake)', () => {
  it('reconciles every deployment, reacts to pods and nodes, settles with zero writes, and exports metrics', async () => {
    const kube = createFakeKube();
    for (const o of [slmd('a'), slmd('b'), node('n1', 'cpu')]) await kube.create(o);
    const registry = createRegistry({ defaultMetrics: false });
    const core = createFakeCore();
    const op = await start({ ...base(kube, core), registry });
    expect(op.isLeader()).toBe(true);
    expect(op.synced()).toBe(true);
    await waitUntil('children', () => kube.objects(Resources.DaemonSet, 'default').length === 2);
    await kube.settle();
    await op.idle();

    // A pod becoming ready requeues its deployment (status changes), nothing else.
    await kube.create(pod('a-1', 'a', true));
    await kube.patch(Resources.Pod, 'a-1', 'default', { status: pod('a-1', 'a', true)['status'] }, 'merge', { subresource: 'status' });
    await waitUntil('a Ready', () => (kube.objects(Resources.SLMDeployment, 'default')[0] as { status?: { conditions?: { status: string }[] } }).status?.conditions?.[0]?.status === 'True');

    // A new node class requeues every deployment: each gets its new DaemonSet.
    await kube.create(node('n2', 'gpu'));
    await waitUntil('gpu daemonsets', () => kube.objects(Resources.DaemonSet, 'default').length === 4);
    await kube.settle();
    await op.idle();
    await kube.settle();
    await op.idle();

    const mark = kube.writes().length;
    const seen = core.seen.length;
    // A node heartbeat-like change (no label, taint, capacity or readiness change) requeues nothing.
    await kube.patch(Resources.Node, 'n1', undefined, { metadata: { annotations: { heartbeat: '2' } } }, 'merge');
    await kube.settle();
    await new Promise((r) => setTimeout(r, 50));
    await op.idle();
    expect(core.seen.length).toBe(seen);
    expect(kube.writes().slice(mark)).toEqual([{ verb: "patch", resource: "nodes", name: "n1" }]);

    const text = await registry.metrics();
    expect(text).toMatch(/slmops_operator_reconcile_total\{result="success"\} \d+/);
    expect(text).toContain('slmops_operator_leader 1');
    expect(text).toContain('slmops_deployment_info{namespace="default",deployment="a",model="stories",version="1.0.0",digest="sha256:1.0.0"} 1');
    expect(text).toContain('slmops_deployment_condition{namespace="default",deployment="a",type="Ready",status="True"} 1');
    expect(text).toContain('slmops_rollout_phase{namespace="default",deployment="a",phase="Complete"} 1');
    expect(text).toMatch(/slmops_operator_api_requests_total\{verb="apply",code="200"\} \d+/);
    expect(text).toContain('slmops_operator_queue_depth 0');
  });

  it('retries through API errors with backoff until it converges, counting errors by reason', async () => {
    const kube = createFakeKube();
    for (const o of [slmd('a'), node('n1', 'cpu')]) await kube.create(o);
    kube.failNext({ verb: 'patch', resource: 'daemonsets' }, 500, { count: 2 });
    kube.failNext({ verb: 'patch', resource: 'slmdeployments', subresource: 'status' }, 429, { retryAfterSeconds: 0 });
    const registry = createRegistry({ defaultMetrics: false });
    const op = await start({ ...base(kube), registry });
    await waitUntil('status', () => (kube.objects(Resources.SLMDeployment, 'default')[0] as { status?: unknown }).status !== undefined);
    await op.idle();
    const text = await registry.metrics();
    expect(text).toContain('slmops_operator_reconcile_errors_total{reason="InternalError"} 2');
    expect(text).toContain('slmops_operator_reconcile_errors_total{reason="TooManyRequests"} 1');
    expect(kube.objects(Resources.DaemonSet, 'default')).toHaveLength(1);
  });

  it('with leader election only the leader writes; the standby takes over when the leader stops', async () => {
    const kube = createFakeKube();
    for (const o of [slmd('a'), node('n1', 'cpu')]) await kube.create(o);
    const le = (identity: string) => ({ namespace: 'kube-system', name: 'slmops-operator', identity, leaseDurationMs: 600, renewDeadlineMs: 400, retryPeriodMs: 100 });
    const coreA = createFakeCore();
    const coreB = createFakeCore();
    const a = await start({ ...base(kube, coreA), leaderElection: le('replica-a') });
    await waitUntil('a leads', () => a.isLeader());
    const b = await start({ ...base(kube, coreB), leaderElection: le('replica-b') });
    await waitUntil('children', () => kube.objects(Resources.DaemonSet, 'default').length === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.isLeader()).toBe(false);
    expect(coreB.seen).toHaveLength(0);

    await a.stop();
    await waitUntil('b leads', () => b.isLeader(), 5000);
    // The new leader reconciles; a spec change is now its to carry out.
    await kube.patch(Resources.SLMDeployment, 'a', 'default', { spec: { model: { version: '2.0.0' } } }, 'merge');
    await waitUntil('b applied', () => (kube.objects(Resources.ConfigMap, 'default')[0] as { data?: { version?: string } }).data?.version === '2.0.0');
    expect(coreB.seen.length).toBeGreaterThan(0);
    const lease = kube.objects(Resources.Lease, 'kube-system')[0] as { spec?: { holderIdentity?: string } };
    expect(lease.spec?.holderIdentity).toBe('replica-b');
  });

  it('deleting an SLMDeployment needs nothing but owner references: its children go, its metrics go', async () => {
    const kube = createFakeKube();
    for (const o of [slmd('a'), node('n1', 'cpu')]) await kube.create(o);
    const registry = createRegistry({ defaultMetrics: false });
    const op = await start({ ...base(kube), registry });
    await waitUntil('children', () => kube.objects(Resources.DaemonSet, 'default').length === 1);
    await op.idle();
    const mark = kube.writes().length;
    await kube.delete(Resources.SLMDeployment, 'a', 'default');
    await kube.settle();
    await op.idle();
    expect(kube.objects(Resources.DaemonSet, 'default')).toEqual([]);
    expect(kube.objects(Resources.ConfigMap, 'default')).toEqual([]);
    expect(kube.writes().slice(mark).map((w) => w.verb)).toEqual(['delete']);
    expect(await registry.metrics()).not.toContain('deployment="a"');
  });
});
