/**
 * Fake vs emulator parity: each scenario runs against createFakeKube() and against the HTTP client on the kube
 * emulator, and the two transcripts must be equal (and equal to what the API server does), so the fake cannot
 * drift from the semantics reconcile code is tested with.
 */
import type { Emulator } from '@slmops/kube-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeKube } from '../src/fake.js';
import { Resources, type KubeApiError, type KubeClient, type KubeObject, type WatchEvent } from '../src/port.js';
import { clientFor, configMap, rejection, startWithCrd, until, Widget, widget } from './helpers.js';

interface Backend {
  kube: KubeClient;
  compact(): void;
}

let emu: Emulator;
let emulator: Backend;
beforeAll(async () => {
  emu = await startWithCrd();
  emulator = { kube: clientFor(emu), compact: () => emu.faults.compact() };
});
afterAll(async () => emu?.close());

const fake = (): Backend => {
  const f = createFakeKube({ types: [Widget] });
  return { kube: f, compact: () => f.compact() };
};

/** Runs `scenario` on both backends (unique names per run) and returns both transcripts. */
async function both<T>(scenario: (b: Backend, prefix: string) => Promise<T>): Promise<{ fake: T; emulator: T }> {
  const f = await scenario(fake(), 'f');
  const e = await scenario(emulator, 'e');
  return { fake: f, emulator: e };
}

const err = (e: unknown) => `${(e as KubeApiError).status} ${(e as KubeApiError).reason}`;
const data = (o: KubeObject | undefined) => o?.['data'];

describe('fake vs emulator parity', () => {
  it('object lifecycle: generation, optimistic concurrency, status subresource, delete preconditions', async () => {
    const t = await both(async ({ kube }, p) => {
      const out: Record<string, unknown> = {};
      const c = await kube.create({ ...widget(`${p}-life`, { size: 1 }), status: { phase: 'Ignored' } });
      out['created'] = { generation: c.metadata.generation, status: c['status'] ?? null, rvIsNumber: /^\d+$/.test(c.metadata.resourceVersion!) };
      const noop = await kube.patch(Widget, `${p}-life`, 'default', { spec: { size: 1 } }, 'merge');
      out['noopKeepsRv'] = noop.metadata.resourceVersion === c.metadata.resourceVersion;
      const labelled = await kube.patch(Widget, `${p}-life`, 'default', { metadata: { labels: { a: 'b' } } }, 'merge');
      out['label'] = { generation: labelled.metadata.generation, rvMoved: labelled.metadata.resourceVersion !== c.metadata.resourceVersion };
      const resized = await kube.replace({ ...labelled, spec: { size: 2 } });
      out['resized'] = resized.metadata.generation;
      out['stale'] = err(await rejection(kube.replace({ ...labelled, spec: { size: 3 } })));
      const st = await kube.patch(Widget, `${p}-life`, 'default', { status: { phase: 'Ready' }, spec: { size: 9 } }, 'merge', { subresource: 'status' });
      out['statusPatch'] = { status: st['status'], spec: st['spec'], generation: st.metadata.generation };
      const main = await kube.patch(Widget, `${p}-life`, 'default', { status: { phase: 'Hacked' } }, 'merge');
      out['mainIgnoresStatus'] = main['status'];
      const put = await kube.replace({ ...main, spec: { size: 7 }, status: { phase: 'Done' } }, { subresource: 'status' });
      out['statusPut'] = { status: put['status'], spec: put['spec'] };
      const applied = await kube.apply({ apiVersion: Widget.apiVersion, kind: Widget.kind, metadata: { name: `${p}-life`, namespace: 'default' }, status: { phase: 'Applied' } }, { subresource: 'status' });
      out['statusApply'] = { status: applied['status'], generation: applied.metadata.generation };
      out['missing'] = (await kube.get(Widget, `${p}-nope`, 'default')) ?? null;
      out['duplicate'] = err(await rejection(kube.create(widget(`${p}-life`))));
      out['wrongUid'] = err(await rejection(kube.delete(Widget, `${p}-life`, 'default', { preconditions: { uid: 'not-the-uid' } })));
      out['wrongRv'] = err(await rejection(kube.delete(Widget, `${p}-life`, 'default', { preconditions: { resourceVersion: c.metadata.resourceVersion! } })));
      out['deleted'] = await kube.delete(Widget, `${p}-life`, 'default', { preconditions: { uid: c.metadata.uid! } });
      out['deletedAgain'] = await kube.delete(Widget, `${p}-life`, 'default');
      const generated = await kube.create(widget('', { size: 1 }, { generateName: `${p}-gen-` }));
      out['generateName'] = /-gen-[a-z0-9]{5}$/.test(generated.metadata.name);
      return out;
    });
    expect(t.fake).toEqual(t.emulator);
    expect(t.emulator).toEqual({
      created: { generation: 1, status: null, rvIsNumber: true },
      noopKeepsRv: true,
      label: { generation: 1, rvMoved: true },
      resized: 2,
      stale: '409 Conflict',
      statusPatch: { status: { phase: 'Ready' }, spec: { size: 2 }, generation: 2 },
      mainIgnoresStatus: { phase: 'Ready' },
      statusPut: { status: { phase: 'Done' }, spec: { size: 2 } },
      statusApply: { status: { phase: 'Applied' }, generation: 2 },
      missing: null,
      duplicate: '409 AlreadyExists',
      wrongUid: '409 Conflict',
      wrongRv: '409 Conflict',
      deleted: true,
      deletedAgain: false,
      generateName: true,
    });
  });

  it('server-side apply: field removal, conflicts between managers, force, co-ownership', async () => {
    const t = await both(async ({ kube }, p) => {
      const name = `${p}-ssa`;
      const out: unknown[] = [];
      out.push(data(await kube.apply(configMap(name, { a: '1', b: '2' }))));
      out.push(data(await kube.apply(configMap(name, { a: '1' }))));
      out.push(err(await rejection(kube.apply(configMap(name, { a: 'x' }), { fieldManager: 'other', force: false }))));
      out.push(data(await kube.apply(configMap(name, { c: '3' }), { fieldManager: 'other', force: false })));
      // Same value as the owner: co-owned, no conflict.
      out.push(data(await kube.apply(configMap(name, { a: '1', c: '3' }), { fieldManager: 'other', force: false })));
      // The operator stops applying `a`, but `other` still owns it: it stays.
      out.push(data(await kube.apply(configMap(name, { d: '4' }))));
      out.push(data(await kube.apply(configMap(name, { a: 'y', c: '3' }), { fieldManager: 'other', force: true })));
      out.push(data(await kube.apply(configMap(name, { z: 'dry' }), { dryRun: true })));
      out.push(data(await kube.get(Resources.ConfigMap, name, 'default')));
      return out;
    });
    expect(t.fake).toEqual(t.emulator);
    expect(t.emulator).toEqual([
      { a: '1', b: '2' },
      { a: '1' },
      '409 Conflict',
      { a: '1', c: '3' },
      { a: '1', c: '3' },
      { a: '1', c: '3', d: '4' },
      { a: 'y', c: '3', d: '4' },
      // A dry run shows the whole apply: `d`, which the operator no longer applies, would go.
      { a: 'y', c: '3', z: 'dry' },
      { a: 'y', c: '3', d: '4' },
    ]);
  });

  it('watch: events in order, selector moves become ADDED/DELETED, 410 after compaction', async () => {
    const t = await both(async ({ kube, compact }, p) => {
      const { resourceVersion } = await kube.list(Resources.ConfigMap, { namespace: 'default' });
      const events: WatchEvent[] = [];
      const watch = await kube.watch(Resources.ConfigMap, { namespace: 'default', resourceVersion, labelSelector: `app=${p}` }, (e) => events.push(e));
      const name = `${p}-watched`;
      await kube.create({ ...configMap(name, { v: '1' }), metadata: { name, namespace: 'default', labels: { app: p } } });
      await kube.patch(Resources.ConfigMap, name, 'default', { data: { v: '2' } }, 'merge');
      await kube.patch(Resources.ConfigMap, name, 'default', { metadata: { labels: { app: 'elsewhere' } } }, 'merge');
      await kube.patch(Resources.ConfigMap, name, 'default', { data: { v: '3' } }, 'merge');
      await kube.patch(Resources.ConfigMap, name, 'default', { metadata: { labels: { app: p } } }, 'merge');
      await kube.create(configMap(`${p}-unlabelled`, { v: '1' }));
      await kube.delete(Resources.ConfigMap, name, 'default');
      await until('five events', () => events.length >= 5);
      watch.stop();
      await watch.done;
      compact();
      const old = await kube.watch(Resources.ConfigMap, { namespace: 'default', resourceVersion }, () => undefined);
      const gone = await rejection(old.done);
      return { events: events.map((e) => `${e.type} ${(e.object['data'] as Record<string, string>)['v']}`), gone: err(gone) };
    });
    expect(t.fake).toEqual(t.emulator);
    expect(t.emulator).toEqual({ events: ['ADDED 1', 'MODIFIED 2', 'DELETED 2', 'ADDED 3', 'DELETED 3'], gone: '410 Expired' });
  });

  it('finalizers hold deletion; owner deletion cascades; Orphan keeps dependents', async () => {
    const t = await both(async ({ kube }, p) => {
      const out: Record<string, unknown> = {};
      const fin = await kube.create<KubeObject>({ ...configMap(`${p}-fin`, {}), metadata: { name: `${p}-fin`, namespace: 'default', finalizers: ['test.slmops.io/hold'] } });
      out['deleteHeld'] = await kube.delete(Resources.ConfigMap, `${p}-fin`, 'default');
      const held = await kube.get(Resources.ConfigMap, `${p}-fin`, 'default');
      out['held'] = { exists: held !== undefined, deleting: typeof held?.metadata.deletionTimestamp === 'string', sameUid: held?.metadata.uid === fin.metadata.uid };
      await kube.patch(Resources.ConfigMap, `${p}-fin`, 'default', { metadata: { finalizers: null } }, 'merge');
      out['afterFinalizer'] = (await kube.get(Resources.ConfigMap, `${p}-fin`, 'default')) ?? null;

      const owner = await kube.create(widget(`${p}-owner`));
      const ref = { apiVersion: Widget.apiVersion, kind: Widget.kind, name: owner.metadata.name, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
      await kube.create({ ...configMap(`${p}-dep`, { x: '1' }), metadata: { name: `${p}-dep`, namespace: 'default', ownerReferences: [ref] } });
      await kube.delete(Widget, owner.metadata.name, 'default');
      await until('the dependent is collected', async () => (await kube.get(Resources.ConfigMap, `${p}-dep`, 'default')) === undefined);

      const owner2 = await kube.create(widget(`${p}-owner2`));
      const ref2 = { ...ref, name: owner2.metadata.name, uid: owner2.metadata.uid! };
      await kube.create({ ...configMap(`${p}-orphan`, { x: '1' }), metadata: { name: `${p}-orphan`, namespace: 'default', ownerReferences: [ref2] } });
      await kube.delete(Widget, owner2.metadata.name, 'default', { propagationPolicy: 'Orphan' });
      await until('the owner is gone', async () => (await kube.get(Widget, owner2.metadata.name, 'default')) === undefined);
      await until('the reference is stripped', async () => (await kube.get(Resources.ConfigMap, `${p}-orphan`, 'default'))?.metadata.ownerReferences === undefined);
      out['orphan'] = data(await kube.get(Resources.ConfigMap, `${p}-orphan`, 'default'));
      return out;
    });
    expect(t.fake).toEqual(t.emulator);
    expect(t.emulator).toEqual({ deleteHeld: true, held: { exists: true, deleting: true, sameUid: true }, afterFinalizer: null, orphan: { x: '1' } });
  });

  it('events: one core/v1 Event per call, about the object, listed by involvedObject', async () => {
    const t = await both(async ({ kube }, p) => {
      const w = await kube.create(widget(`${p}-ev`));
      const regarding = { apiVersion: Widget.apiVersion, kind: Widget.kind, name: w.metadata.name, namespace: 'default', uid: w.metadata.uid! };
      await kube.createEvent({ regarding, type: 'Normal', reason: 'WaveStarted', message: 'wave 1 of 3' });
      await kube.createEvent({ regarding, type: 'Normal', reason: 'WaveStarted', message: 'wave 2 of 3' });
      const { items } = await kube.list(Resources.Event, { namespace: 'default', fieldSelector: `involvedObject.name=${w.metadata.name}` });
      return items
        .map((e) => ({ kind: (e['involvedObject'] as { kind: string }).kind, uid: (e['involvedObject'] as { uid: string }).uid === w.metadata.uid, reason: e['reason'], message: e['message'], type: e['type'], component: (e['source'] as { component: string }).component }))
        .sort((a, b) => String(a.message).localeCompare(String(b.message)));
    });
    expect(t.fake).toEqual(t.emulator);
    expect(t.emulator).toEqual([
      { kind: 'Widget', uid: true, reason: 'WaveStarted', message: 'wave 1 of 3', type: 'Normal', component: 'slmops-operator' },
      { kind: 'Widget', uid: true, reason: 'WaveStarted', message: 'wave 2 of 3', type: 'Normal', component: 'slmops-operator' },
    ]);
  });
});
