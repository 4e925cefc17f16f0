/**
 * Informers against the kube emulator over HTTP: initial sync, live events, resuming after the server closes
 * its watches (no relist), relisting on 410 (diffs only, deletions noticed), resync relists that emit nothing
 * when nothing changed, and recovery with backoff from 500s on list and watch.
 */
import type { Emulator } from '@slmops/kube-emulator';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createInformer } from '../src/informer.js';
import { Resources, type Informer, type KubeClient, type KubeObject } from '../src/port.js';
import { clientFor, configMap, startWithCrd, until } from './helpers.js';

let emu: Emulator;
let kube: KubeClient;
const informers: Informer[] = [];

beforeAll(async () => {
  emu = await startWithCrd();
  kube = clientFor(emu);
});
afterEach(() => {
  for (const i of informers.splice(0)) i.stop();
});
afterAll(async () => emu?.close());

async function namespace(name: string) {
  await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

function configMaps(ns: string, extra: { resyncPeriodMs?: number; errors?: unknown[] } = {}) {
  const informer = createInformer(kube, Resources.ConfigMap, {
    namespace: ns,
    resyncPeriodMs: extra.resyncPeriodMs ?? 0,
    backoff: { initialMs: 20, maxMs: 200 },
    onError: (e) => extra.errors?.push(e),
  });
  informers.push(informer);
  const seen: string[] = [];
  informer.on((type, o, previous) => seen.push(`${type} ${o.metadata.name} ${(o['data'] as Record<string, string> | undefined)?.['v'] ?? ''}${previous ? ` (was ${(previous['data'] as Record<string, string>)['v']})` : ''}`));
  return { informer, seen };
}

const requests = (mark: number, verb: 'list' | 'watch') => emu.requestLog.since(mark, { verb, resource: 'configmaps', source: 'http' });

describe('createInformer over HTTP', () => {
  it('lists, syncs, then follows adds, updates and deletes', async () => {
    await namespace('inf-basic');
    await kube.create(configMap('a', { v: '1' }, 'inf-basic'));
    const { informer, seen } = configMaps('inf-basic');
    await informer.start();
    await informer.synced();
    expect(informer.hasSynced()).toBe(true);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['a']);
    expect(seen).toEqual(['ADDED a 1']);
    await kube.create(configMap('b', { v: '1' }, 'inf-basic'));
    await kube.patch(Resources.ConfigMap, 'a', 'inf-basic', { data: { v: '2' } }, 'merge');
    await kube.delete(Resources.ConfigMap, 'b', 'inf-basic');
    await until('three more events', () => seen.length >= 4);
    expect(seen).toEqual(['ADDED a 1', 'ADDED b 1', 'MODIFIED a 2 (was 1)', 'DELETED b 1']);
    expect(informer.get('inf-basic/a')?.['data']).toEqual({ v: '2' });
    expect(informer.get('inf-basic/b')).toBeUndefined();
  });

  it('resumes from its resourceVersion after the server closes its watch, without relisting or repeating events', async () => {
    await namespace('inf-closed');
    await kube.create(configMap('a', { v: '1' }, 'inf-closed'));
    const { informer, seen } = configMaps('inf-closed');
    await informer.start();
    await informer.synced();
    await until('the watch is open', () => emu.requestLog.entries({ verb: 'watch', resource: 'configmaps' }).some((e) => e.namespace === 'inf-closed'));
    const mark = emu.requestLog.mark();
    expect(emu.faults.closeAllWatches()).toBeGreaterThan(0);
    await until('a new watch', () => requests(mark, 'watch').length > 0);
    await kube.patch(Resources.ConfigMap, 'a', 'inf-closed', { data: { v: '2' } }, 'merge');
    await until('the update after the reconnect', () => seen.includes('MODIFIED a 2 (was 1)'));
    expect(requests(mark, 'list')).toHaveLength(0);
    expect(requests(mark, 'watch')[0]!.path).toBe('/api/v1/namespaces/inf-closed/configmaps');
    expect(seen).toEqual(['ADDED a 1', 'MODIFIED a 2 (was 1)']);
  });

  it('relists on 410 Gone and emits only the differences, including deletions it missed', async () => {
    await namespace('inf-gone');
    for (const n of ['keep', 'change', 'lose']) await kube.create(configMap(n, { v: '1' }, 'inf-gone'));
    const { informer, seen } = configMaps('inf-gone');
    await informer.start();
    await informer.synced();
    await until('the watch is open', () => emu.requestLog.entries({ verb: 'watch', resource: 'configmaps' }).some((e) => e.namespace === 'inf-gone'));
    seen.length = 0;
    // While the informer is disconnected, history is compacted past what it saw.
    emu.faults.pause();
    emu.faults.closeAllWatches();
    emu.store.patch({ group: '', version: 'v1', resource: 'configmaps' }, 'inf-gone', 'change', 'merge', { data: { v: '2' } });
    emu.store.delete({ group: '', version: 'v1', resource: 'configmaps' }, 'inf-gone', 'lose');
    emu.store.create({ group: '', version: 'v1', resource: 'configmaps' }, 'inf-gone', configMap('new', { v: '1' }, 'inf-gone'));
    emu.faults.compact();
    const mark = emu.requestLog.mark();
    emu.faults.resume();
    await until('the relist to settle', () => seen.length >= 3);
    expect(seen.sort()).toEqual(['ADDED new 1', 'DELETED lose 1', 'MODIFIED change 2 (was 1)']);
    expect(requests(mark, 'list').length).toBeGreaterThanOrEqual(1);
    expect(informer.list().map((o) => o.metadata.name).sort()).toEqual(['change', 'keep', 'new']);

    // A 410 ERROR event on a healthy stream relists too, and the watch carries on afterwards.
    const mark2 = emu.requestLog.mark();
    emu.faults.expireNextWatches(1);
    emu.faults.closeAllWatches();
    await until('relist after the forced 410', () => requests(mark2, 'list').length >= 1);
    await kube.create(configMap('after', { v: '1' }, 'inf-gone'));
    await until('the add after the relist', () => seen.includes('ADDED after 1'));
    expect(seen.filter((s) => s.startsWith('ADDED keep'))).toEqual([]);
  });

  it('relists every resync period and emits nothing when nothing changed', async () => {
    await namespace('inf-resync');
    await kube.create(configMap('a', { v: '1' }, 'inf-resync'));
    const mark = emu.requestLog.mark();
    const { informer, seen } = configMaps('inf-resync', { resyncPeriodMs: 150 });
    await informer.start();
    await informer.synced();
    await until('three relists', () => requests(mark, 'list').length >= 3);
    expect(seen).toEqual(['ADDED a 1']);
    // A change made by another client shows up through the watch (or at worst the next relist) exactly once.
    await kube.patch(Resources.ConfigMap, 'a', 'inf-resync', { data: { v: '2' } }, 'merge');
    await until('the change', () => seen.length === 2);
    const before = requests(mark, 'list').length;
    await until('two more relists', () => requests(mark, 'list').length >= before + 2);
    expect(seen).toEqual(['ADDED a 1', 'MODIFIED a 2 (was 1)']);
  });

  it('recovers from 500s on list and watch with backoff, reporting each error', async () => {
    await namespace('inf-flaky');
    await kube.create(configMap('x', { v: '1' }, 'inf-flaky'));
    const errors: unknown[] = [];
    const mark = emu.requestLog.mark();
    emu.faults.failNext({ verb: 'list', resource: 'configmaps', code: 500, count: 2 });
    emu.faults.failNext({ verb: 'watch', resource: 'configmaps', code: 500, count: 1 });
    const { informer, seen } = configMaps('inf-flaky', { errors });
    await informer.start();
    await informer.synced();
    expect(requests(mark, 'list').map((e) => e.code)).toEqual([500, 500, 200]);
    await until('the watch to recover', () => requests(mark, 'watch').some((e) => e.code === 200));
    expect(requests(mark, 'watch')[0]!.code).toBe(500);
    expect(errors.map((e) => (e as { status?: number }).status)).toEqual([500, 500, 500]);
    await kube.create(configMap('y', { v: '1' }, 'inf-flaky'));
    await until('events after recovery', () => seen.includes('ADDED y 1'));
    expect(seen).toEqual(['ADDED x 1', 'ADDED y 1']);
  });

  it('keeps the cache current when a handler throws, and stop() ends synced() waits', async () => {
    await namespace('inf-throw');
    const errors: unknown[] = [];
    const informer = createInformer<KubeObject>(kube, Resources.ConfigMap, { namespace: 'inf-throw', resyncPeriodMs: 0, onError: (e) => errors.push(e) });
    informers.push(informer);
    informer.on(() => {
      throw new Error('handler bug');
    });
    await informer.start();
    await informer.synced();
    await kube.create(configMap('z', { v: '1' }, 'inf-throw'));
    await until('cached despite the handler', () => informer.get('inf-throw/z') !== undefined);
    expect(errors.map((e) => (e as Error).message)).toEqual(['handler bug']);

    emu.faults.failNext({ verb: 'list', resource: 'configmaps', code: 500, count: 1000 });
    const stuck = createInformer(kube, Resources.ConfigMap, { namespace: 'inf-throw', resyncPeriodMs: 0, backoff: { initialMs: 10, maxMs: 20 } });
    await stuck.start();
    const waiting = stuck.synced();
    stuck.stop();
    await expect(waiting).rejects.toThrow('informer for configmaps stopped before it synced');
    emu.faults.reset();
  });
});
