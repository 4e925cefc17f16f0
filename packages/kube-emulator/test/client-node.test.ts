/**
 * @kubernetes/client-node 2.0.1 informers against the emulator: they must survive a closed watch, a 410 Gone
 * (relist, with deletions noticed), and 500s on list when the caller restarts them with backoff.
 */
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resources, startEmulator, type Emulator } from '../src/index.js';

let emu: Emulator;
let kc: k8s.KubeConfig;

beforeAll(async () => {
  emu = await startEmulator();
  kc = new k8s.KubeConfig();
  kc.loadFromString(emu.kubeconfig);
});
afterAll(async () => emu?.close());

const until = async (what: string, cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

function configMapInformer(namespace: string) {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer(kc, `/api/v1/namespaces/${namespace}/configmaps`, () => core.listNamespacedConfigMap({ namespace }));
  const seen: string[] = [];
  informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
  informer.on('update', (o) => seen.push(`update ${o.metadata?.name} ${o.data?.['v']}`));
  informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
  return { informer, seen };
}

const cm = (name: string, v: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v } });

describe('client-node informers', () => {
  it('reconnect from their resourceVersion when the server closes the watch', async () => {
    emu.store.create(resources.namespaces, undefined, { metadata: { name: 'closed' } });
    emu.store.create(resources.configmaps, 'closed', cm('a', '1'));
    const { informer, seen } = configMapInformer('closed');
    await informer.start();
    await until('initial add', () => seen.includes('add a'));
    const mark = emu.requestLog.mark();
    expect(emu.faults.closeAllWatches()).toBeGreaterThan(0);
    await until('a new watch', () => emu.requestLog.since(mark, { verb: 'watch', resource: 'configmaps', source: 'http' }).length > 0);
    emu.store.update(resources.configmaps, 'closed', 'a', cm('a', '2'));
    await until('update after reconnect', () => seen.includes('update a 2'));
    // It resumed from its resourceVersion: no new list.
    expect(emu.requestLog.since(mark, { verb: 'list', resource: 'configmaps', source: 'http' })).toHaveLength(0);
    await informer.stop();
  });

  it('relist after 410 Gone and report objects deleted meanwhile', async () => {
    emu.store.create(resources.namespaces, undefined, { metadata: { name: 'gone' } });
    emu.store.create(resources.configmaps, 'gone', cm('keep', '1'));
    emu.store.create(resources.configmaps, 'gone', cm('lost', '1'));
    const { informer, seen } = configMapInformer('gone');
    await informer.start();
    await until('initial adds', () => seen.includes('add keep') && seen.includes('add lost'));
    const mark = emu.requestLog.mark();
    emu.faults.closeAllWatches();
    emu.store.delete(resources.configmaps, 'gone', 'lost');
    emu.faults.compact();
    await until('delete seen through the relist', () => seen.includes('delete lost'));
    const requests = () => emu.requestLog.since(mark, { resource: 'configmaps', source: 'http' }).map((e) => e.verb);
    await until('the watch after the relist', () => requests().length >= 3);
    expect(requests().slice(0, 3)).toEqual(['watch', 'list', 'watch']);
    expect(informer.list('gone').map((o) => o.metadata?.name)).toEqual(['keep']);

    // A forced 410 on a healthy stream behaves the same way.
    const mark2 = emu.requestLog.mark();
    emu.faults.expireNextWatches(1);
    emu.faults.closeAllWatches();
    await until('relist after forced 410', () => emu.requestLog.since(mark2, { verb: 'list', resource: 'configmaps', source: 'http' }).length === 1);
    emu.store.create(resources.configmaps, 'gone', cm('new', '1'));
    await until('add after relist', () => seen.includes('add new'));
    await informer.stop();
  });

  it('restart with backoff after 500s on list', async () => {
    emu.store.create(resources.namespaces, undefined, { metadata: { name: 'flaky' } });
    emu.store.create(resources.configmaps, 'flaky', cm('x', '1'));
    const { informer, seen } = configMapInformer('flaky');
    const errors: number[] = [];
    const errorAt: number[] = [];
    let addedAt = 0;
    informer.on('add', () => (addedAt ||= Date.now()));
    let delay = 100;
    informer.on('error', (err: unknown) => {
      errors.push((err as { code?: number }).code ?? 0);
      errorAt.push(Date.now());
      setTimeout(() => void informer.start(), delay);
      delay *= 2;
    });
    const mark = emu.requestLog.mark();
    emu.faults.failNext({ verb: 'list', resource: 'configmaps', code: 500, count: 2 });
    await informer.start();
    await until('list succeeds on the third try', () => seen.includes('add x'));
    expect(errors).toEqual([500, 500]);
    const lists = emu.requestLog.since(mark, { verb: 'list', resource: 'configmaps', source: 'http' });
    expect(lists.map((e) => e.code)).toEqual([500, 500, 200]);
    // The caller's backoff (100 ms, then 200 ms) separates the attempts.
    expect(errorAt[1]! - errorAt[0]!).toBeGreaterThanOrEqual(95);
    expect(addedAt - errorAt[1]!).toBeGreaterThanOrEqual(195);
    emu.store.create(resources.configmaps, 'flaky', cm('y', '1'));
    await until('watch works after recovery', () => seen.includes('add y'));
    await informer.stop();
  });

  it('CustomObjectsApi and KubernetesObjectApi work against the emulator', async () => {
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const created = await objects.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'generic', namespace: 'default' }, data: { a: '1' } } as k8s.KubernetesObject);
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    const patched = await objects.patch({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'generic', namespace: 'default' }, data: { b: '2' } } as k8s.KubernetesObject, undefined, undefined, 'test-manager', true, k8s.PatchStrategy.ServerSideApply);
    expect((patched as k8s.V1ConfigMap).data).toEqual({ a: '1', b: '2' });
    const err = await objects.read({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'missing', namespace: 'default' } }).catch((e: unknown) => e);
    expect((err as k8s.ApiException<string>).code).toBe(404);
    expect(JSON.parse((err as k8s.ApiException<string>).body).reason).toBe('NotFound');
  });
});
