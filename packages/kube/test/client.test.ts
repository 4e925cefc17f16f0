/**
 * The client-node adapter against the kube emulator over real HTTP: CRUD, optimistic concurrency, server-side
 * apply ownership, status, paging, watch, error mapping (500, 429 + Retry-After, 410), events, the kinds the
 * operator writes, discovery of kinds outside `Resources`, User-Agent and the onRequest hook.
 */
import { resources, type Emulator } from '@slmops/kube-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClient, parseRetryAfter } from '../src/client.js';
import { isConflict, isGone, KubeApiError, Resources, type KubeClient, type KubeObject, type WatchEvent } from '../src/port.js';
import { clientFor, configMap, kubeConfigFor, rejection, startWithCrd, until, Widget, widget } from './helpers.js';

let emu: Emulator;
let kube: KubeClient;

beforeAll(async () => {
  emu = await startWithCrd();
  kube = clientFor(emu);
});
afterAll(async () => emu?.close());

const ns = async (name: string) => {
  await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
};

describe('createKubeClient over HTTP', () => {
  it('creates, reads, replaces with optimistic concurrency and deletes', async () => {
    const created = await kube.create(configMap('crud', { a: '1' }));
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect((await kube.get(Resources.ConfigMap, 'crud', 'default'))?.['data']).toEqual({ a: '1' });
    expect(await kube.get(Resources.ConfigMap, 'missing', 'default')).toBeUndefined();

    const dup = await rejection(kube.create(configMap('crud', { a: '2' })));
    expect(dup).toBeInstanceOf(KubeApiError);
    expect(dup).toMatchObject({ status: 409, reason: 'AlreadyExists', message: 'configmaps "crud" already exists' });

    const updated = await kube.replace({ ...created, data: { a: '2' } });
    expect(Number(updated.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    const stale = await rejection(kube.replace({ ...created, data: { a: '3' } }));
    expect(isConflict(stale)).toBe(true);
    expect((stale as KubeApiError).reason).toBe('Conflict');

    const wrongUid = await rejection(kube.delete(Resources.ConfigMap, 'crud', 'default', { preconditions: { uid: '00000000-0000-0000-0000-000000000000' } }));
    expect(isConflict(wrongUid)).toBe(true);
    expect(await kube.delete(Resources.ConfigMap, 'crud', 'default', { preconditions: { uid: created.metadata.uid! } })).toBe(true);
    expect(await kube.delete(Resources.ConfigMap, 'crud', 'default')).toBe(false);
    expect(await kube.get(Resources.ConfigMap, 'crud', 'default')).toBeUndefined();
  });

  it('server-side applies as slmops-operator: create, no-op, field removal, conflicts and force', async () => {
    const first = await kube.apply(configMap('ssa', { a: '1', b: '2' }));
    expect(first.metadata.managedFields).toEqual([expect.objectContaining({ manager: 'slmops-operator', operation: 'Apply' })]);
    expect(emu.requestLog.entries({ verb: 'patch', resource: 'configmaps' }).at(-1)).toMatchObject({ fieldManager: 'slmops-operator', code: 201 });

    const again = await kube.apply(configMap('ssa', { a: '1', b: '2' }));
    expect(again.metadata.resourceVersion).toBe(first.metadata.resourceVersion);

    const dropped = await kube.apply(configMap('ssa', { a: '1' }));
    expect(dropped['data']).toEqual({ a: '1' });

    // Another manager may not change a field the operator owns unless it forces.
    const conflict = await rejection(kube.apply(configMap('ssa', { a: 'other' }), { fieldManager: 'someone-else', force: false }));
    expect(conflict).toMatchObject({ status: 409, reason: 'Conflict' });
    expect((conflict as Error).message).toContain('conflict with "slmops-operator"');
    const forced = await kube.apply(configMap('ssa', { a: 'other' }), { fieldManager: 'someone-else', force: true });
    expect(forced['data']).toEqual({ a: 'other' });
    // The operator forces by default and takes the field back.
    expect((await kube.apply(configMap('ssa', { a: '1' })))['data']).toEqual({ a: '1' });

    const dry = await kube.apply(configMap('ssa', { a: 'dry' }), { dryRun: true });
    expect(dry['data']).toEqual({ a: 'dry' });
    expect((await kube.get(Resources.ConfigMap, 'ssa', 'default'))?.['data']).toEqual({ a: '1' });
  });

  it('writes status through the status subresource only, and bumps generation only for spec changes', async () => {
    const w = await kube.apply(widget('status-w', { size: 1 }));
    expect(w.metadata.generation).toBe(1);
    const withStatus = await kube.apply({ apiVersion: Widget.apiVersion, kind: Widget.kind, metadata: { name: 'status-w', namespace: 'default' }, status: { phase: 'Ready', observedGeneration: 1 } }, { subresource: 'status' });
    expect(withStatus['status']).toEqual({ phase: 'Ready', observedGeneration: 1 });
    expect(withStatus.metadata.generation).toBe(1);
    expect(withStatus.metadata.managedFields).toContainEqual(expect.objectContaining({ manager: 'slmops-operator', operation: 'Apply', subresource: 'status' }));

    // Status in a main-resource write is ignored; status patches leave spec alone.
    const ignored = await kube.apply({ ...widget('status-w', { size: 1 }), status: { phase: 'Hacked' } });
    expect(ignored['status']).toEqual({ phase: 'Ready', observedGeneration: 1 });
    const patched = await kube.patch(Widget, 'status-w', 'default', { status: { phase: 'Degraded' }, spec: { size: 99 } }, 'merge', { subresource: 'status' });
    expect(patched['status']).toMatchObject({ phase: 'Degraded' });
    expect(patched['spec']).toEqual({ size: 1 });
    expect(patched.metadata.generation).toBe(1);

    const labelled = await kube.patch(Widget, 'status-w', 'default', { metadata: { labels: { x: 'y' } } }, 'merge');
    expect(labelled.metadata.generation).toBe(1);
    const resized = await kube.patch(Widget, 'status-w', 'default', [{ op: 'replace', path: '/spec/size', value: 2 }], 'json');
    expect(resized.metadata.generation).toBe(2);
  });

  it('lists every page by following continue tokens, with apiVersion and kind on each item', async () => {
    await ns('paging');
    for (let i = 0; i < 7; i++) await kube.create(configMap(`cm-${i}`, { i: String(i) }, 'paging'));
    const mark = emu.requestLog.mark();
    const all = await kube.list(Resources.ConfigMap, { namespace: 'paging', limit: 2 });
    expect(all.items.map((o) => o.metadata.name)).toEqual(['cm-0', 'cm-1', 'cm-2', 'cm-3', 'cm-4', 'cm-5', 'cm-6']);
    expect(all.items.every((o) => o.apiVersion === 'v1' && o.kind === 'ConfigMap')).toBe(true);
    expect(all.resourceVersion).toMatch(/^\d+$/);
    expect(emu.requestLog.since(mark, { verb: 'list', resource: 'configmaps' })).toHaveLength(4);

    const selected = await kube.list(Resources.ConfigMap, { namespace: 'paging', fieldSelector: 'metadata.name=cm-3' });
    expect(selected.items.map((o) => o.metadata.name)).toEqual(['cm-3']);
  });

  it('watches from a resourceVersion, stops cleanly, and rejects done with 410 for compacted history', async () => {
    await ns('watched');
    const { resourceVersion } = await kube.list(Resources.ConfigMap, { namespace: 'watched' });
    const events: WatchEvent[] = [];
    const watch = await kube.watch(Resources.ConfigMap, { namespace: 'watched', resourceVersion }, (e) => events.push(e));
    await kube.create(configMap('w', { v: '1' }, 'watched'));
    await kube.patch(Resources.ConfigMap, 'w', 'watched', { data: { v: '2' } }, 'merge');
    await kube.delete(Resources.ConfigMap, 'w', 'watched');
    await until('three events', () => events.length >= 3);
    expect(events.map((e) => `${e.type} ${e.object.kind} ${(e.object['data'] as Record<string, string>)['v']}`)).toEqual(['ADDED ConfigMap 1', 'MODIFIED ConfigMap 2', 'DELETED ConfigMap 2']);
    watch.stop();
    await expect(watch.done).resolves.toBeUndefined();

    // The server closing a watch settles done without an error.
    const closed = await kube.watch(Resources.ConfigMap, { namespace: 'watched', resourceVersion: events[2]!.object.metadata.resourceVersion! }, () => undefined);
    emu.faults.closeAllWatches();
    await expect(closed.done).resolves.toBeUndefined();

    emu.faults.compact();
    const old = await kube.watch(Resources.ConfigMap, { namespace: 'watched', resourceVersion }, () => undefined);
    const gone = await rejection(old.done);
    expect(isGone(gone)).toBe(true);
    expect(gone).toMatchObject({ reason: 'Expired' });
    expect((gone as Error).message).toContain('too old resource version');
  });

  it('maps error statuses to KubeApiError, with retryAfterSeconds from Retry-After', async () => {
    emu.faults.failNext({ verb: 'get', resource: 'configmaps', code: 500 });
    const e500 = await rejection(kube.get(Resources.ConfigMap, 'anything', 'default'));
    expect(e500).toBeInstanceOf(KubeApiError);
    expect(e500).toMatchObject({ status: 500, reason: 'InternalError', retryAfterSeconds: undefined });

    emu.faults.failNext({ verb: 'list', resource: 'configmaps', code: 429, retryAfterSeconds: 7 });
    const e429 = await rejection(kube.list(Resources.ConfigMap, { namespace: 'default' }));
    expect(e429).toMatchObject({ status: 429, reason: 'TooManyRequests', retryAfterSeconds: 7 });

    emu.faults.failNext({ verb: 'patch', resource: 'widgets.test.slmops.io', subresource: 'status', code: 409 });
    const e409 = await rejection(kube.patch(Widget, 'status-w', 'default', { status: { phase: 'X' } }, 'merge', { subresource: 'status' }));
    expect(isConflict(e409)).toBe(true);

    emu.faults.failNext({ verb: 'watch', resource: 'configmaps', code: 503, retryAfterSeconds: 2 });
    const e503 = await rejection(kube.watch(Resources.ConfigMap, { namespace: 'default', resourceVersion: '1' }, () => undefined));
    expect(e503).toMatchObject({ status: 503, retryAfterSeconds: 2 });

    const e415 = await rejection(kube.patch(Widget, 'status-w', 'default', { spec: { size: 3 } }, 'strategic'));
    expect(e415).toMatchObject({ status: 415, reason: 'UnsupportedMediaType' });

    expect(parseRetryAfter('12')).toBe(12);
    expect(parseRetryAfter(new Date(Date.now() + 30_000).toUTCString())).toBeGreaterThanOrEqual(28);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('creates core/v1 Events about an object, visible through events.k8s.io/v1 too', async () => {
    const w = await kube.apply(widget('evented'));
    await kube.createEvent({
      regarding: { apiVersion: w.apiVersion, kind: w.kind, name: w.metadata.name, namespace: 'default', uid: w.metadata.uid! },
      type: 'Warning',
      reason: 'InvalidSpec',
      message: 'spec.model.version: Required value',
      reportingController: 'slmops-operator',
      reportingInstance: 'replica-a',
    });
    const { items } = await kube.list(Resources.Event, { namespace: 'default', fieldSelector: `involvedObject.uid=${w.metadata.uid}` });
    expect(items).toHaveLength(1);
    const ev = items[0]!;
    expect(ev.metadata.name).toMatch(/^evented\.[a-z0-9]{5}$/);
    expect(ev).toMatchObject({
      involvedObject: { apiVersion: 'test.slmops.io/v1', kind: 'Widget', name: 'evented', namespace: 'default', uid: w.metadata.uid },
      type: 'Warning',
      reason: 'InvalidSpec',
      message: 'spec.model.version: Required value',
      source: { component: 'slmops-operator' },
      reportingInstance: 'replica-a',
      count: 1,
    });
    const v1 = emu.store.list({ group: 'events.k8s.io', version: 'v1', resource: 'events' }, { namespace: 'default' }).items.find((e) => e.metadata.name === ev.metadata.name);
    expect(v1).toMatchObject({ regarding: { kind: 'Widget', name: 'evented' }, note: 'spec.model.version: Required value', reportingController: 'slmops-operator' });

    // Cluster-scoped objects' events go to "default"; long messages are cut to 1 KiB.
    await kube.createEvent({ regarding: { apiVersion: 'v1', kind: 'Node', name: 'edge-1' }, type: 'Normal', reason: 'Probe', message: 'x'.repeat(5000) });
    const nodeEvents = await kube.list(Resources.Event, { namespace: 'default', fieldSelector: 'involvedObject.name=edge-1' });
    expect((nodeEvents.items[0]!['message'] as string).length).toBe(1024);
  });

  it('serves every kind the operator writes with its scope, generation and status rules', async () => {
    const podTemplate = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } };
    const objects: KubeObject[] = [
      configMap('kinds-cm', { a: '1' }),
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'kinds-svc', namespace: 'default' }, spec: { selector: { app: 'x' }, ports: [{ port: 80 }] } },
      { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: 'kinds-rev', namespace: 'default' }, data: { spec: { template: podTemplate } }, revision: 1 },
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'kinds-np', namespace: 'default' }, spec: { podSelector: { matchLabels: { app: 'x' } }, policyTypes: ['Egress'], egress: [] } },
      { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'kinds-hpa', namespace: 'default' }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x' }, minReplicas: 1, maxReplicas: 3 } },
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'kinds-pdb', namespace: 'default' }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'x' } } } },
      { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'kinds-lease', namespace: 'default' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } },
    ];
    for (const o of objects) {
      const type = Object.values(Resources).find((t) => t.kind === o.kind && t.apiVersion === o.apiVersion)!;
      const applied = await kube.apply(o);
      expect(applied.metadata.uid, o.kind).toBeTruthy();
      const listed = await kube.list(type, { namespace: 'default', fieldSelector: `metadata.name=${o.metadata.name}` });
      expect(listed.items.map((i) => `${i.apiVersion} ${i.kind} ${i.metadata.name}`), o.kind).toEqual([`${o.apiVersion} ${o.kind} ${o.metadata.name}`]);
      // Discovery agrees with the port's table on scope and plural.
      const gv = (await (await fetch(`${emu.url}${o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : '/api/v1'}`)).json()) as { resources: { name: string; kind: string; namespaced: boolean }[] };
      expect(gv.resources.find((r) => r.kind === o.kind && !r.name.includes('/')), o.kind).toMatchObject({ name: type.plural, namespaced: type.namespaced });
    }
    // generation moves on spec changes for the policy kinds; Leases and ConfigMaps have none.
    const np = await kube.patch(Resources.NetworkPolicy, 'kinds-np', 'default', { spec: { policyTypes: ['Egress', 'Ingress'] } }, 'merge');
    expect(np.metadata.generation).toBe(2);
    expect((await kube.get(Resources.Lease, 'kinds-lease', 'default'))?.metadata.generation).toBeUndefined();
    // HPA and PDB status only moves through /status.
    const pdb = await kube.patch(Resources.PodDisruptionBudget, 'kinds-pdb', 'default', { status: { currentHealthy: 5 } }, 'merge');
    expect((pdb['status'] as Record<string, number>)['currentHealthy']).toBe(0);
    const pdbStatus = await kube.patch(Resources.PodDisruptionBudget, 'kinds-pdb', 'default', { status: { currentHealthy: 5 } }, 'merge', { subresource: 'status' });
    expect((pdbStatus['status'] as Record<string, number>)['currentHealthy']).toBe(5);
    const hpa = await kube.apply({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'kinds-hpa', namespace: 'default' }, status: { currentReplicas: 2, desiredReplicas: 2 } }, { subresource: 'status' });
    expect(hpa['status']).toMatchObject({ currentReplicas: 2 });
    // Cluster-scoped kinds ignore the namespace.
    const node = await kube.create<KubeObject>({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'kinds-node' } });
    expect(node.metadata.namespace).toBeUndefined();
    expect((await kube.get(Resources.Node, 'kinds-node'))?.metadata.name).toBe('kinds-node');
  });

  it('finds kinds outside Resources through discovery, and names kinds that are not served', async () => {
    const mark = emu.requestLog.mark();
    const rb = await kube.apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'r', namespace: 'default' }, rules: [] });
    expect(rb.metadata.namespace).toBe('default');
    expect(emu.requestLog.since(mark, { verb: 'discovery' }).map((e) => e.path)).toEqual(['/apis/rbac.authorization.k8s.io/v1']);
    await kube.apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'r2', namespace: 'default' }, rules: [] });
    expect(emu.requestLog.since(mark, { verb: 'discovery' })).toHaveLength(1);
    const missing = await rejection(kube.create({ apiVersion: 'test.slmops.io/v1', kind: 'Gadget', metadata: { name: 'g', namespace: 'default' } }));
    expect(missing).toMatchObject({ status: 404 });
    expect((missing as Error).message).toBe('no matches for kind "Gadget" in version "test.slmops.io/v1" (is its CRD installed?)');
  });

  it('sends its User-Agent and reports every request to onRequest', async () => {
    const seen: string[] = [];
    const replica = createKubeClient({ kubeConfig: kubeConfigFor(emu), userAgent: 'slmops-operator/test (replica-b)', onRequest: (verb, status) => seen.push(`${verb} ${status}`) });
    const before = emu.requestLog.writesByClient()['slmops-operator/test (replica-b)'] ?? 0;
    await replica.apply(configMap('ua', { a: '1' }));
    await replica.get(Resources.ConfigMap, 'ua', 'default');
    await replica.get(Resources.ConfigMap, 'nope', 'default');
    await replica.delete(Resources.ConfigMap, 'ua', 'default');
    expect(seen).toEqual(['patch 201', 'get 200', 'get 404', 'delete 200']);
    expect(emu.requestLog.writesByClient()['slmops-operator/test (replica-b)']).toBe(before + 2);
    expect(emu.requestLog.entries({ client: 'slmops-operator/test (replica-b)' }).map((e) => e.userAgent)).toEqual(Array(4).fill('slmops-operator/test (replica-b)'));
  });

  it('names the server in transport errors and reports status 0', async () => {
    const seen: string[] = [];
    const kc = kubeConfigFor(emu);
    kc.clusters = [{ ...kc.clusters[0]!, server: 'http://127.0.0.1:1' }];
    const dead = createKubeClient({ kubeConfig: kc, onRequest: (verb, status) => seen.push(`${verb} ${status}`) });
    const err = await rejection(dead.get(Resources.ConfigMap, 'x', 'default'));
    expect(err).not.toBeInstanceOf(KubeApiError);
    expect((err as Error).message).toMatch(/^GET http:\/\/127\.0\.0\.1:1\/api\/v1\/namespaces\/default\/configmaps\/x: /);
    expect(seen).toEqual(['get 0']);
  });

  it('uses the store write path the simulator shares: objects written in-process are read over HTTP', async () => {
    emu.store.create(resources.configmaps, 'default', configMap('in-process', { from: 'store' }));
    expect((await kube.get(Resources.ConfigMap, 'in-process', 'default'))?.['data']).toEqual({ from: 'store' });
  });
});
