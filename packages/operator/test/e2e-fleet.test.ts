/**
 * The operator end to end on the kube emulator: real kubectl, the real HTTP client, the real core, a simulated
 * 60-node fleet of three hardware classes.
 */
import { readFileSync } from 'node:fs';
import { Labels } from '@slmops/api';
import type { KubeObject } from '@slmops/kube';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { CRD_PATH, type Harness, type OperatorReplica, fleetDeployment, readyCondition, resources, startHarness } from './harness.js';

const FLEET = { nodes: 60, mix: { 'nvidia-gpu': 1, jetson: 1, 'cpu-amd64': 1 } as const, seed: 7 };
const OPERATOR = /^slmops-operator\//;

describe('operator e2e: Fleet mode on 60 simulated nodes', () => {
  let h: Harness;
  let op: OperatorReplica;
  beforeAll(async () => {
    h = await startHarness({ fleet: FLEET });
    op = await h.startOperator();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates one DaemonSet per hardware class with the plugin patches; kubectl wait Ready succeeds; printer columns show', async () => {
    await h.apply(fleetDeployment('stories'));
    const wait = await h.kubectl(['wait', '--for=condition=Ready', 'slmd/stories', '--timeout=60s'], { timeoutMs: 70_000 });
    expect(wait.stderr).toBe('');
    expect(wait.code).toBe(0);
    expect(wait.stdout).toContain('slmdeployment.slmops.io/stories condition met');

    const ds = h.objects(resources.daemonsets, 'default', `${Labels.deployment}=stories`);
    const pluginOf = (d: KubeObject) => (d as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels[Labels.plugin];
    const byPlugin = new Map(ds.map((d) => [pluginOf(d), d]));
    expect([...byPlugin.keys()].sort()).toEqual(['cpu', 'jetson', 'nvidia']);
    for (const d of ds) {
      expect(d.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'SLMDeployment', name: 'stories', controller: true })]);
      expect((d as unknown as { spec: { updateStrategy: { type: string } } }).spec.updateStrategy.type).toBe('OnDelete');
    }
    const container = (d: KubeObject) => (d as unknown as { spec: { template: { spec: { containers: { resources?: { limits?: Record<string, unknown> }; env?: { name: string }[] }[] } } } }).spec.template.spec.containers[0]!;
    expect(container(byPlugin.get('nvidia')!).resources?.limits?.['nvidia.com/gpu']).toBeDefined();
    expect(container(byPlugin.get('cpu')!).resources?.limits?.['nvidia.com/gpu']).toBeUndefined();
    const pods = h.objects(resources.pods, 'default', `${Labels.deployment}=stories`);
    expect(pods).toHaveLength(60);

    const slmd = h.slmd('stories');
    expect(readyCondition(slmd)?.status).toBe('True');
    expect((slmd as { status?: { nodes?: { desired: number; ready: number } } }).status?.nodes).toMatchObject({ desired: 60, ready: 60 });

    const table = await h.kubectlOk(['get', 'slmd']);
    const [header, row] = table.trim().split('\n');
    expect(header!.split(/\s+/)).toEqual(['NAME', 'MODEL', 'VERSION', 'READY', 'UPDATED', 'PHASE', 'AGE']);
    expect(row!.split(/\s+/).slice(0, 6)).toEqual(['stories', 'stories260k', '1.0.0', 'True', '60', 'Complete']);

    const metrics = await op.metrics();
    expect(metrics).toContain('slmops_deployment_condition{namespace="default",deployment="stories",type="Ready",status="True"} 1');
    expect(metrics).toMatch(/slmops_deployment_nodes\{namespace="default",deployment="stories",state="ready"\} 60/);
  }, 90_000);

  it('makes zero API writes in steady state over 30 s', async () => {
    await op.operator.idle();
    await new Promise((r) => setTimeout(r, 1000));
    await op.operator.idle();
    const mark = h.emu.requestLog.mark();
    await new Promise((r) => setTimeout(r, 30_000));
    expect(h.emu.requestLog.writesSince(mark, { client: OPERATOR })).toEqual([]);
    // The operator was alive and watching the whole time (its watches stay open; nothing needed doing).
    expect(op.operator.synced()).toBe(true);
  }, 60_000);

  it('converges through injected faults: closed watches, 410s, 500s, 429 with Retry-After, 409 on the status write', async () => {
    const mark = h.emu.requestLog.mark();
    h.emu.faults.closeAllWatches();
    h.emu.faults.expireNextWatches(4);
    h.emu.faults.compact();
    h.emu.faults.failNext({ verb: 'patch', resource: 'daemonsets.apps', code: 500, count: 2 });
    h.emu.faults.failNext({ verb: 'patch', resource: 'slmdeployments.slmops.io', subresource: 'status', code: 409, count: 1 });
    h.emu.faults.failNext({ verb: 'patch', resource: 'configmaps', code: 429, retryAfterSeconds: 1, count: 1 });
    await h.apply(fleetDeployment('stories', { version: '1.1.0' }));
    await h.waitFor(
      'version 1.1.0 everywhere and Ready',
      () => {
        const s = h.slmd('stories') as { metadata: { generation?: number }; status?: { observedGeneration?: number; nodes?: { updated: number; ready: number } } } | undefined;
        return s?.status?.observedGeneration === s?.metadata.generation && s?.status?.nodes?.updated === 60 && s.status.nodes.ready === 60 && readyCondition(s as unknown as KubeObject)?.status === 'True';
      },
      60_000,
    );
    const failed = h.emu.requestLog.since(mark, { client: OPERATOR }).filter((e) => e.code >= 400);
    const codes = failed.map((e) => e.code);
    expect(codes).toEqual(expect.arrayContaining([500, 409, 429]));
    const metrics = await op.metrics();
    expect(metrics).toMatch(/slmops_operator_reconcile_errors_total\{reason="TooManyRequests"\} [1-9]/);
    expect(metrics).toMatch(/slmops_operator_reconcile_errors_total\{reason="InternalError"\} [1-9]/);
  }, 90_000);

  it('an invalid spec that passes the CRD gets Ready=False InvalidSpec naming the field, and a Warning event', async () => {
    // Stored while an older CRD (no plugin enum) was installed: a real API server never revalidates stored objects.
    const crd = parse(readFileSync(CRD_PATH, 'utf8')) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Record<string, unknown> } }> } };
    const plugins = ['properties', 'spec', 'properties', 'hardware', 'properties', 'plugins', 'items'].reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, crd.spec.versions[0]!.schema.openAPIV3Schema);
    expect(plugins['enum']).toContain('cpu');
    delete plugins['enum'];
    await h.kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: stringify(crd) });
    await h.apply(fleetDeployment('broken', { spec: { hardware: { plugins: ['tpu', 'cpu'] } } }));
    await h.kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', CRD_PATH]);
    const cond = await h.waitFor('InvalidSpec', () => {
      const c = readyCondition(h.slmd('broken'));
      return c?.reason === 'InvalidSpec' ? c : undefined;
    });
    expect(cond.status).toBe('False');
    expect(cond.message).toContain('spec.hardware.plugins');
    const events = await h.waitFor('Warning event', async () => {
      const out = await h.kubectlOk(['get', 'events', '--field-selector', 'involvedObject.name=broken,type=Warning', '-o', 'json']);
      const items = (JSON.parse(out) as { items: { reason: string; message: string }[] }).items;
      return items.length ? items : undefined;
    });
    expect(events[0]!.reason).toBe('InvalidSpec');
    expect(events[0]!.message).toContain('spec.hardware.plugins');
    expect(h.objects(resources.daemonsets, 'default', `${Labels.deployment}=broken`)).toEqual([]);
  }, 60_000);

  it('deleting the SLMDeployment removes every child through owner references', async () => {
    const before = h.objects(resources.daemonsets, 'default', `${Labels.deployment}=stories`);
    expect(before.length).toBe(3);
    await h.kubectlOk(['delete', 'slmd', 'stories', '--wait=true', '--timeout=30s']);
    const kinds = [resources.daemonsets, resources.configmaps, resources.services, resources.poddisruptionbudgets, resources.controllerrevisions, resources.networkpolicies, resources.pods];
    await h.waitFor('children gone', () => kinds.every((k) => h.objects(k, 'default', `${Labels.deployment}=stories`).length === 0), 30_000);
    expect(await op.metrics()).not.toContain('deployment="stories"');
  }, 60_000);
});
