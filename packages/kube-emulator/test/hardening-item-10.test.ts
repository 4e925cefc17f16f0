/**
 * Issue 17, hardening item 10: the emulator must answer a watch or list from a resourceVersion it does not
 * have as a real API server does (410 Expired, 504 Too large), and garbage-collect dependents whose owners are
 * gone, including dependents created after their owner was deleted.
 */
import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, resources, startEmulator, Store, type Emulator, type KubeObject, type WatchEvent } from '../src/index.js';

const cmPath = '/api/v1/namespaces/default/configmaps';
const cm = (name: string, extra: Record<string, unknown> = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...extra } });

const apiError = (fn: () => unknown): ApiError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected an ApiError');
};

/** Reads a whole watch stream (the server ends it after an ERROR); the signal bounds a server that never does. */
async function readStream(url: string): Promise<{ status: number; lines: { type: string; object: Record<string, unknown> }[] }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, lines: text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

const until = async (what: string, cond: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const open: Emulator[] = [];
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
});

describe('hardening item 10: watch from an unknown resourceVersion answers 410', () => {
  it('a store asked for a resourceVersion newer than its own sends ERROR 410 Expired and ends the watch', async () => {
    const store = new Store();
    const events: WatchEvent[] = [];
    store.watch(resources.configmaps, { namespace: 'default', resourceVersion: String(Number(store.resourceVersion) + 500) }, (e) => events.push(e));
    await store.settle();
    expect(events).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
    // The watch is over: later writes reach nobody.
    store.create(resources.configmaps, 'default', cm('later'));
    await store.settle();
    expect(events).toHaveLength(1);
  });

  it('after an API server restart with an empty store, a watch from the old resourceVersion is a 200 stream whose only event is ERROR 410', async () => {
    const first = await startEmulator();
    for (let i = 0; i < 20; i++) first.store.create(resources.configmaps, 'default', cm(`old-${i}`));
    const oldRv = first.store.resourceVersion;
    const port = first.port;
    await first.close();
    const second = await startEmulator({ port });
    open.push(second);
    expect(Number(second.store.resourceVersion)).toBeLessThan(Number(oldRv));
    const { status, lines } = await readStream(`${second.url}${cmPath}?watch=true&resourceVersion=${oldRv}`);
    expect(status).toBe(200);
    expect(lines).toEqual([{ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${oldRv} (${second.store.resourceVersion})`, reason: 'Expired', code: 410 } }]);
  });

  it('a list with resourceVersionMatch=Exact serves the state then, 410 when compacted, 504 when not issued yet; bad combinations are 422', async () => {
    const emu = await startEmulator();
    open.push(emu);
    emu.store.create(resources.configmaps, 'default', cm('a'));
    const rvA = emu.store.resourceVersion;
    emu.store.create(resources.configmaps, 'default', cm('b'));
    emu.store.delete(resources.configmaps, 'default', 'a');
    const names = (body: { items: KubeObject[] }) => body.items.map((o) => o.metadata.name);

    const exact = await fetch(`${emu.url}${cmPath}?resourceVersion=${rvA}&resourceVersionMatch=Exact`);
    expect(exact.status).toBe(200);
    const then = (await exact.json()) as { metadata: { resourceVersion: string }; items: KubeObject[] };
    expect([names(then), then.metadata.resourceVersion]).toEqual([['a'], rvA]);
    const notOlder = (await (await fetch(`${emu.url}${cmPath}?resourceVersion=${rvA}&resourceVersionMatch=NotOlderThan`)).json()) as { items: KubeObject[] };
    expect(names(notOlder)).toEqual(['b']);

    const future = Number(emu.store.resourceVersion) + 100;
    const tooLarge = await fetch(`${emu.url}${cmPath}?resourceVersion=${future}&resourceVersionMatch=NotOlderThan`);
    expect(tooLarge.status).toBe(504);
    expect(await tooLarge.json()).toMatchObject({ reason: 'Timeout', code: 504, message: `Timeout: Too large resource version: ${future}, current: ${emu.store.resourceVersion}`, details: { causes: [{ reason: 'ResourceVersionTooLarge' }] } });

    emu.faults.compact();
    emu.store.create(resources.configmaps, 'default', cm('c'));
    const expired = await fetch(`${emu.url}${cmPath}?resourceVersion=${rvA}&resourceVersionMatch=Exact`);
    expect(expired.status).toBe(410);
    expect(await expired.json()).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410, message: 'The resourceVersion for the provided list is too old.' });

    const noRv = await fetch(`${emu.url}${cmPath}?resourceVersionMatch=Exact`);
    expect(noRv.status).toBe(422);
    expect(((await noRv.json()) as { message: string }).message).toBe('ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided');
    expect(apiError(() => emu.store.list(resources.configmaps, { resourceVersion: '0', resourceVersionMatch: 'Exact' })).code).toBe(422);
    expect(apiError(() => emu.store.list(resources.configmaps, { resourceVersion: '1', resourceVersionMatch: 'Newest' })).message).toContain('resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan"');
  });

  it('a client-node informer that outlives an API server restart with an empty store relists and follows the new server', async () => {
    const first = await startEmulator();
    for (let i = 0; i < 20; i++) first.store.create(resources.configmaps, 'default', cm(`old-${i}`));
    const kc = new k8s.KubeConfig();
    kc.loadFromString(first.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const informer = k8s.makeInformer(kc, cmPath, () => core.listNamespacedConfigMap({ namespace: 'default' }));
    const names = () => informer.list('default').map((o) => o.metadata?.name ?? '').sort();
    // client-node stops on errors other than 410; its caller restarts it, as operators built on it do.
    informer.on('error', () => setTimeout(() => void informer.start(), 50));
    await informer.start();
    await until('the first list', () => names().length === 20);
    const port = first.port;
    await first.close();
    const second = await startEmulator({ port });
    open.push(second);
    second.store.create(resources.configmaps, 'default', cm('fresh'));
    await until('the relist on the new server', () => names().join() === 'fresh');
    second.store.create(resources.configmaps, 'default', cm('fresher'));
    await until('events from the new server', () => names().join() === 'fresh,fresher');
    await informer.stop();
  });
});

describe('hardening item 10: the garbage collector collects dependents whose owners are gone', () => {
  const ownerRef = (o: KubeObject, block = false) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name!, uid: o.metadata.uid!, controller: true, ...(block ? { blockOwnerDeletion: true } : {}) });

  it('collects a dependent created after its owner was deleted, as the real GC does for a late apply', async () => {
    const store = new Store();
    const owner = store.create(resources.configmaps, 'default', cm('owner'));
    store.delete(resources.configmaps, 'default', 'owner');
    await store.settle();
    // A controller that missed the deletion applies a child of the gone owner.
    store.patch(resources.configmaps, 'default', 'late-child', 'apply', cm('late-child', { ownerReferences: [ownerRef(owner)] }), { fieldManager: 'late-controller' });
    expect(store.tryGet(resources.configmaps, 'default', 'late-child')).toBeDefined();
    await store.settle();
    expect(store.tryGet(resources.configmaps, 'default', 'late-child')).toBeUndefined();
    expect(store.requestLog.entries({ verb: 'delete', client: 'generic-garbage-collector' }).map((e) => e.name)).toEqual(['late-child']);
  });

  it('drops only the dangling reference of a dependent that keeps a live owner, and makes a child of a foreground-deleting owner wait', async () => {
    const store = new Store();
    const live = store.create(resources.configmaps, 'default', cm('live'));
    const gone = store.create(resources.configmaps, 'default', cm('gone'));
    store.delete(resources.configmaps, 'default', 'gone');
    await store.settle();
    store.create(resources.configmaps, 'default', cm('shared', { ownerReferences: [ownerRef(live), { ...ownerRef(gone), controller: false }] }));
    await store.settle();
    expect(store.get(resources.configmaps, 'default', 'shared').metadata.ownerReferences?.map((r) => r.name)).toEqual(['live']);

    // An owner being deleted in the foreground (held by a blocking child) gets a new blocking child: the GC
    // deletes it too, and the owner goes once both are gone.
    const fg = store.create(resources.configmaps, 'default', cm('fg'));
    store.create(resources.configmaps, 'default', cm('fg-first', { finalizers: ['test/hold'], ownerReferences: [ownerRef(fg, true)] }));
    store.delete(resources.configmaps, 'default', 'fg', { propagationPolicy: 'Foreground' });
    await store.settle();
    expect(store.tryGet(resources.configmaps, 'default', 'fg')?.metadata.finalizers).toEqual(['foregroundDeletion']);
    store.create(resources.configmaps, 'default', cm('fg-late', { ownerReferences: [ownerRef(fg, true)] }));
    await store.settle();
    expect(store.tryGet(resources.configmaps, 'default', 'fg-late')).toBeUndefined();
    expect(store.tryGet(resources.configmaps, 'default', 'fg')).toBeDefined();
    store.patch(resources.configmaps, 'default', 'fg-first', 'merge', { metadata: { finalizers: null } });
    await store.settle();
    expect(store.tryGet(resources.configmaps, 'default', 'fg')).toBeUndefined();
  });
});
