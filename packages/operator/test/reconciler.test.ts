import { type FakeKube, type KubeObject, Resources, createFakeKube } from '@slmops/kube';
import { labelValue } from '@slmops/api';
import { createPluginHost } from '@slmops/plugin-sdk';
import { cpu } from '@slmops/plugin-cpu';
import { afterEach, describe, expect, it } from 'vitest';
import { APPLIED_HASH_ANNOTATION } from '../src/reconcile/diff.js';
import { createReconciler } from '../src/reconcile/reconciler.js';
import { startCache } from './support/cache.js';
import { createFakeCore, node, pod, slmd } from './support/fake-plan.js';

const ctx = { host: createPluginHost([cpu()]), config: { sidecarImage: 'sidecar:test', controllerName: 'slmops-operator' } };
const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

async function setup(objects: KubeObject[] = [], opts: { scrape?: (url: string, signal: AbortSignal) => Promise<string>; scrapeTimeoutMs?: number } = {}) {
  const kube: FakeKube = createFakeKube();
  for (const o of objects) await kube.create(o);
  const { cache, stop } = await startCache(kube);
  stops.push(stop);
  const core = createFakeCore();
  const reconcile = createReconciler({ client: kube, cache, planReconcile: core.planReconcile, scrapeTargets: core.scrapeTargets, ctx, ...opts });
  const settle = async () => {
    await kube.settle();
    await new Promise((r) => setImmediate(r));
  };
  return { kube, cache, core, reconcile, settle };
}

describe('reconciler', () => {
  it('applies the plan with owner references, writes status and events once, then makes zero writes', async () => {
    const t = await setup([slmd('m'), node('n1', 'gpu'), node('n2', 'cpu')]);
    const r1 = await t.reconcile('default/m');
    expect(r1.applied).toEqual(['ConfigMap/default/m-config (missing)', 'DaemonSet/default/m-cpu (missing)', 'DaemonSet/default/m-gpu (missing)']);
    expect(r1.statusWritten).toBe(true);
    expect(r1.events).toBe(1);
    const ds = t.kube.objects(Resources.DaemonSet, 'default');
    expect(ds.map((d) => d.metadata.name)).toEqual(['m-cpu', 'm-gpu']);
    expect(ds[0]!.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'SLMDeployment', name: 'm', controller: true });
    expect(ds[0]!.metadata.annotations?.[APPLIED_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{16}$/);
    const status = (t.kube.objects(Resources.SLMDeployment, 'default')[0] as { status?: { conditions?: { type: string; status: string }[] } }).status;
    expect(status?.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'False' });
    const events = t.kube.objects(Resources.Event, 'default');
    expect(events).toHaveLength(1);

    await t.settle();
    const before = t.kube.writes().length;
    for (let i = 0; i < 3; i++) {
      const r = await t.reconcile('default/m');
      expect(r).toMatchObject({ applied: [], deleted: [], statusWritten: false, events: 0 });
    }
    expect(t.kube.writes().length).toBe(before);
  });

  it('gathers only the deployment\'s own pods and children into the observation', async () => {
    const t = await setup([slmd('a'), slmd('b'), node('n1', 'cpu'), pod('a-1', 'a', true), pod('b-1', 'b', false), pod('other', 'zzz', true)]);
    await t.reconcile('default/a');
    await t.reconcile('default/b');
    await t.settle();
    await t.reconcile('default/a');
    const obs = t.core.seen.at(-1)!;
    expect(obs.deployment.metadata.name).toBe('a');
    expect(obs.pods.map((p) => p.metadata.name)).toEqual(['a-1']);
    expect(obs.nodes.map((n) => n.metadata.name)).toEqual(['n1']);
    expect(obs.children.map((c) => `${c.kind ?? ''}:${c.metadata.name}`).sort()).toEqual(['ConfigMap:a-config', 'DaemonSet:a-cpu']);
  });

  it('indexes the pods of a 70-character deployment name under the hashed label the operator writes', async () => {
    const long = `edge-${'x'.repeat(65)}`;
    expect(long).toHaveLength(70);
    const t = await setup([slmd(long), node('n1', 'cpu'), pod('long-1', labelValue(long), true), pod('cut', long.slice(0, 63), true)]);
    const pods = t.cache.pods('default', long);
    expect(pods.map((p) => p.metadata.name)).toEqual(['long-1']);
    // A pod event must requeue the SLMDeployment itself, not a key named after the hashed label.
    expect(t.cache.ownerKey(pods[0]!)).toBe(`default/${long}`);
    expect(t.cache.ownerKey(pod('p', 'short', true))).toBe('default/short');
  });

  it('re-applies only what changed: a new plan for one object, or drift in a field we own', async () => {
    const t = await setup([slmd('m'), node('n1', 'cpu')]);
    await t.reconcile('default/m');
    await t.settle();
    await t.kube.patch(Resources.SLMDeployment, 'm', 'default', { spec: { model: { version: '2.0.0' } } }, 'merge');
    await t.settle();
    const r = await t.reconcile('default/m');
    expect(r.applied).toEqual(['ConfigMap/default/m-config (changed)', 'DaemonSet/default/m-cpu (changed)']);
    await t.settle();
    // Someone edits a field the operator owns: the next reconcile puts it back.
    await t.kube.patch(Resources.ConfigMap, 'm-config', 'default', { data: { version: 'tampered' } }, 'merge', { fieldManager: 'kubectl-edit' });
    // A field nobody on our side owns is left alone and causes no write.
    await t.kube.patch(Resources.DaemonSet, 'm-cpu', 'default', { metadata: { labels: { team: 'edge' } } }, 'merge', { fieldManager: 'kubectl-label' });
    await t.settle();
    const r2 = await t.reconcile('default/m');
    expect(r2.applied).toEqual(['ConfigMap/default/m-config (drifted)']);
    expect((t.kube.objects(Resources.ConfigMap, 'default')[0] as { data?: Record<string, string> }).data).toEqual({ version: '2.0.0' });
  });

  it('deletes with uid preconditions and treats a replaced incarnation as done', async () => {
    const t = await setup([slmd('m'), node('n1', 'cpu'), pod('p1', 'm', true), pod('p2', 'm', true)]);
    const [p1, p2] = t.kube.objects(Resources.Pod, 'default');
    t.core.knobs.extraDeletes = [
      { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'p1', uid: p1!.metadata.uid!, reason: 'wave 1 of 2' },
      { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'p2', uid: 'some-older-uid', reason: 'wave 1 of 2' },
      { apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'gone', reason: 'stale' },
    ];
    const r = await t.reconcile('default/m');
    expect(r.deleted).toEqual(['Pod/default/p1 (wave 1 of 2)']);
    expect(t.kube.objects(Resources.Pod, 'default').map((p) => p.metadata.uid)).toEqual([p2!.metadata.uid]);
    const del = t.kube.requests.filter((q) => q.verb === 'delete');
    expect(del.map((q) => q.name)).toEqual(['p1', 'p2', 'gone']);
  });

  it('surfaces a 409 on the status write so the queue retries, and succeeds on the next try', async () => {
    const t = await setup([slmd('m'), node('n1', 'cpu')]);
    t.kube.failNext({ verb: 'patch', resource: 'slmdeployments', subresource: 'status' }, 409);
    await expect(t.reconcile('default/m')).rejects.toMatchObject({ status: 409 });
    await t.settle();
    const r = await t.reconcile('default/m');
    expect(r.statusWritten).toBe(true);
    expect(r.applied).toEqual([]);
  });

  it('scrapes the targets the core asks for, with a timeout, and passes results and failures to the plan', async () => {
    const seenUrls: string[] = [];
    const t = await setup([slmd('m'), node('n1', 'cpu')], {
      scrapeTimeoutMs: 50,
      scrape: (url, signal) => {
        seenUrls.push(url);
        if (url.includes('slow'))
          return new Promise((_res, rej) => signal.addEventListener('abort', () => rej(new Error(`timed out: ${String(signal.reason)}`))));
        if (url.includes('bad')) return Promise.reject(new Error('connection refused'));
        return Promise.resolve('slmops_request_success_total 3\n');
      },
    });
    t.core.knobs.targets = [
      { pod: 'ok', namespace: 'default', url: 'http://10.0.0.1:9464/metrics' },
      { pod: 'bad', namespace: 'default', url: 'http://bad:9464/metrics' },
      { pod: 'slow', namespace: 'default', url: 'http://slow:9464/metrics' },
    ];
    await t.reconcile('default/m');
    const scrapes = t.core.seen.at(-1)!.scrapes;
    expect(seenUrls).toHaveLength(3);
    expect(scrapes.map((s) => [s.pod, s.text ?? null, s.error ? 'error' : null])).toEqual([
      ['ok', 'slmops_request_success_total 3\n', null],
      ['bad', null, 'error'],
      ['slow', null, 'error'],
    ]);
    expect(scrapes[1]!.error).toContain('connection refused');
  });

  it('does nothing for a deployment that is gone, and returns the plan\'s requeue delay', async () => {
    const t = await setup([slmd('m'), node('n1', 'cpu')]);
    expect(await t.reconcile('default/nope')).toMatchObject({ skipped: 'gone', applied: [] });
    t.core.knobs.requeueAfterMs = 30_000;
    expect((await t.reconcile('default/m')).requeueAfterMs).toBe(30_000);
  });
});
