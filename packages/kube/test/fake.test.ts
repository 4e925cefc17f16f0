/**
 * What only the fake offers tests: the request log, injected failures (count, matching, Retry-After), closing
 * watches, bounded watch history, plus the patch and informer behaviour reconcile unit tests lean on.
 */
import { describe, expect, it } from 'vitest';
import { createFakeKube, jsonPatch } from '../src/fake.js';
import { createInformer } from '../src/informer.js';
import { isGone, KubeApiError, Resources, type KubeObject, type WatchEvent } from '../src/port.js';
import { configMap, flush, ManualClock, rejection, until } from './helpers.js';

describe('createFakeKube', () => {
  it('logs every request with verb, resource, name and namespace', async () => {
    const kube = createFakeKube();
    await kube.create(configMap('a', { v: '1' }));
    await kube.get(Resources.ConfigMap, 'a', 'default');
    await kube.list(Resources.Node);
    await kube.apply({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'ds', namespace: 'edge' }, spec: {} });
    await kube.patch(Resources.DaemonSet, 'ds', 'edge', { status: { numberReady: 1 } }, 'merge', { subresource: 'status' });
    await kube.delete(Resources.ConfigMap, 'a', 'default');
    expect(kube.requests).toEqual([
      { verb: 'create', resource: 'configmaps', name: 'a', namespace: 'default' },
      { verb: 'get', resource: 'configmaps', name: 'a', namespace: 'default' },
      { verb: 'list', resource: 'nodes' },
      { verb: 'patch', resource: 'daemonsets', name: 'ds', namespace: 'edge' },
      { verb: 'patch', resource: 'daemonsets', name: 'ds', namespace: 'edge', subresource: 'status' },
      { verb: 'delete', resource: 'configmaps', name: 'a', namespace: 'default' },
    ]);
    expect(kube.writes().map((r) => r.verb)).toEqual(['create', 'patch', 'patch', 'delete']);
    expect(kube.objects(Resources.DaemonSet)[0]?.['status']).toEqual({ numberReady: 1 });
  });

  it('fails the next matching requests with the injected status, reason and Retry-After', async () => {
    const kube = createFakeKube();
    await kube.create(configMap('a', { v: '1' }));
    kube.failNext({ verb: 'patch', resource: 'configmaps', name: 'a' }, 429, { retryAfterSeconds: 3, count: 2 });
    kube.failNext({ verb: ['get', 'list'] }, 500);
    await kube.patch(Resources.ConfigMap, 'other', 'default', {}, 'merge').catch(() => undefined); // does not match: a 404 of its own
    const first = await rejection(kube.patch(Resources.ConfigMap, 'a', 'default', { data: { v: '2' } }, 'merge'));
    expect(first).toBeInstanceOf(KubeApiError);
    expect(first).toMatchObject({ status: 429, reason: 'TooManyRequests', retryAfterSeconds: 3 });
    await expect(kube.patch(Resources.ConfigMap, 'a', 'default', { data: { v: '2' } }, 'merge')).rejects.toMatchObject({ status: 429 });
    expect((await kube.patch(Resources.ConfigMap, 'a', 'default', { data: { v: '2' } }, 'merge'))['data']).toEqual({ v: '2' });
    await expect(kube.list(Resources.ConfigMap)).rejects.toMatchObject({ status: 500, reason: 'InternalError' });
    expect((await kube.get(Resources.ConfigMap, 'a', 'default'))?.['data']).toEqual({ v: '2' });
    // Failed requests are logged too: the operator's retries are visible.
    expect(kube.requests.filter((r) => r.verb === 'patch')).toHaveLength(4);
  });

  it('ends watches normally on closeWatches, and answers 410 once history has been trimmed', async () => {
    const kube = createFakeKube({ historySize: 3 });
    const start = (await kube.list(Resources.ConfigMap)).resourceVersion;
    const events: WatchEvent[] = [];
    const w = await kube.watch(Resources.ConfigMap, { resourceVersion: start }, (e) => events.push(e));
    for (let i = 0; i < 5; i++) await kube.create(configMap(`c${i}`, {}));
    await kube.settle();
    expect(events.map((e) => e.object.metadata.name)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    expect(kube.closeWatches()).toBe(1);
    await expect(w.done).resolves.toBeUndefined();
    const late = await kube.watch(Resources.ConfigMap, { resourceVersion: start }, () => undefined);
    expect(isGone(await rejection(late.done))).toBe(true);
    // Still within the kept history: replayed.
    const recent: string[] = [];
    const r = await kube.watch(Resources.ConfigMap, { resourceVersion: events[2]!.object.metadata.resourceVersion! }, (e) => recent.push(e.object.metadata.name));
    await kube.settle();
    expect(recent).toEqual(['c3', 'c4']);
    r.stop();
    // resourceVersion "0" starts with the current objects.
    const current: string[] = [];
    const z = await kube.watch(Resources.ConfigMap, { resourceVersion: '0' }, (e) => current.push(`${e.type} ${e.object.metadata.name}`));
    await kube.settle();
    expect(current).toEqual(['ADDED c0', 'ADDED c1', 'ADDED c2', 'ADDED c3', 'ADDED c4']);
    z.stop();
  });

  it('rejects done with the error of a throwing watch handler', async () => {
    const kube = createFakeKube();
    const w = await kube.watch(Resources.ConfigMap, { resourceVersion: kube.resourceVersion }, () => {
      throw new Error('handler broke');
    });
    await kube.create(configMap('x', {}));
    await expect(w.done).rejects.toThrow('handler broke');
  });

  it('bumps generation for spec changes of workloads but not ConfigMaps, and keeps status on main writes', async () => {
    const kube = createFakeKube();
    const ds = await kube.apply({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'ds', namespace: 'default' }, spec: { template: { spec: { nodeSelector: { a: 'b' } } } }, status: { numberReady: 9 } });
    expect(ds.metadata.generation).toBe(1);
    expect(ds['status']).toBeUndefined();
    await kube.patch(Resources.DaemonSet, 'ds', 'default', { status: { numberReady: 2 } }, 'merge', { subresource: 'status' });
    const changed = await kube.apply({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'ds', namespace: 'default' }, spec: { template: { spec: { nodeSelector: { a: 'c' } } } } });
    expect(changed.metadata.generation).toBe(2);
    expect(changed['status']).toEqual({ numberReady: 2 });
    const cm = await kube.create(configMap('c', { a: '1' }));
    expect(cm.metadata.generation).toBeUndefined();
    expect((await kube.replace({ ...cm, data: { a: '2' } })).metadata.generation).toBeUndefined();
  });

  it('implements JSON patch with test, move and copy, and answers 422 when a test fails', () => {
    const doc = { a: { b: [1, 2] }, c: 'x' };
    expect(jsonPatch(doc, [{ op: 'test', path: '/c', value: 'x' }, { op: 'move', from: '/c', path: '/d' }, { op: 'copy', from: '/a/b', path: '/e' }, { op: 'add', path: '/a/b/-', value: 3 }])).toEqual({ a: { b: [1, 2, 3] }, d: 'x', e: [1, 2] });
    expect(doc).toEqual({ a: { b: [1, 2] }, c: 'x' });
    const failed = (() => {
      try {
        jsonPatch(doc, [{ op: 'test', path: '/c', value: 'y' }]);
      } catch (e) {
        return e;
      }
    })();
    expect(failed).toMatchObject({ status: 422, reason: 'Invalid' });
    expect(() => jsonPatch(doc, { op: 'add' })).toThrow('cannot unmarshal object');
  });

  it('drives an informer, with a manual clock for resync and injected list failures', async () => {
    const kube = createFakeKube();
    const clock = new ManualClock();
    const errors: unknown[] = [];
    await kube.create(configMap('a', { v: '1' }));
    kube.failNext({ verb: 'list' }, 503, { retryAfterSeconds: 1 });
    const informer = createInformer<KubeObject>(kube, Resources.ConfigMap, { resyncPeriodMs: 60_000, clock, backoff: { initialMs: 1000, maxMs: 1000 }, onError: (e) => errors.push(e) });
    const seen: string[] = [];
    informer.on((type, o) => seen.push(`${type} ${o.metadata.name}`));
    await informer.start();
    await flush();
    expect(informer.hasSynced()).toBe(false);
    await clock.advance(1_500);
    expect(informer.hasSynced()).toBe(true);
    expect(errors.map((e) => (e as KubeApiError).status)).toEqual([503]);
    await kube.create(configMap('b', { v: '1' }));
    await until('b seen', () => seen.includes('ADDED b'));
    kube.requests.length = 0;
    await clock.advance(60_000);
    expect(kube.requests.map((r) => r.verb)).toEqual(['list', 'watch']);
    expect(seen).toEqual(['ADDED a', 'ADDED b']);
    informer.stop();
  });
});
