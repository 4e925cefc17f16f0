/** API semantics of the in-process store: concurrency, generation, status, selectors, paging, watch, apply, GC. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ApiError, resources, Store, type KubeObject, type WatchEvent } from '../src/index.js';

const crd = parse(readFileSync(join(import.meta.dirname, '../../../charts/slmops/crds/slmdeployments.slmops.io.yaml'), 'utf8')) as KubeObject;
const slmd = { group: 'slmops.io', version: 'v1alpha1', resource: 'slmdeployments' };
const spec = (version = '1.0.0') => ({ model: { name: 'm', version, source: { uri: 'file:///m' } } });
const cr = (name: string, version = '1.0.0') => ({ apiVersion: 'slmops.io/v1alpha1', kind: 'SLMDeployment', metadata: { name }, spec: spec(version) });

function withCrd(): Store {
  const store = new Store();
  store.create(resources.customresourcedefinitions, undefined, crd);
  return store;
}

const apiError = (fn: () => unknown): ApiError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected an ApiError');
};

function record(store: Store, ref = slmd, opts = {}): WatchEvent[] {
  const events: WatchEvent[] = [];
  store.watch(ref, { namespace: 'default', ...opts }, (e) => events.push(e));
  return events;
}

describe('store', () => {
  it('enforces optimistic concurrency and requires a resourceVersion to replace custom resources', () => {
    const store = withCrd();
    const created = store.create(slmd, 'default', cr('a'));
    expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
    const stale = structuredClone(created);
    store.update(slmd, 'default', 'a', { ...structuredClone(created), spec: spec('2.0.0') });
    const e = apiError(() => store.update(slmd, 'default', 'a', { ...stale, spec: spec('3.0.0') }));
    expect(e.code).toBe(409);
    expect(e.status.message).toBe('Operation cannot be fulfilled on slmdeployments.slmops.io "a": the object has been modified; please apply your changes to the latest version and try again');
    const { resourceVersion: _rv, ...metaWithout } = created.metadata;
    const missing = apiError(() => store.update(slmd, 'default', 'a', { ...cr('a'), metadata: metaWithout }));
    expect(missing.code).toBe(422);
    expect(missing.message).toContain('metadata.resourceVersion: Invalid value: 0x0: must be specified for an update');
    expect(apiError(() => store.create(slmd, 'default', cr('a'))).reason).toBe('AlreadyExists');
    expect(apiError(() => store.get(slmd, 'default', 'zzz')).status).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'slmdeployments.slmops.io "zzz" not found', reason: 'NotFound', details: { name: 'zzz', group: 'slmops.io', kind: 'slmdeployments' }, code: 404 });
  });

  it('makes no-op writes free: same resourceVersion, no watch event', async () => {
    const store = withCrd();
    const a = store.create(slmd, 'default', cr('a'));
    const events = record(store);
    await store.settle();
    const again = store.patch(slmd, 'default', 'a', 'merge', { spec: { model: { version: '1.0.0' } } }).object;
    expect(again.metadata.resourceVersion).toBe(a.metadata.resourceVersion);
    store.patch(slmd, 'default', 'a', 'merge', { metadata: { labels: { x: 'y' } } });
    await store.settle();
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED']);
  });

  it('bumps generation for spec changes only and isolates the status subresource', () => {
    const store = withCrd();
    store.create(slmd, 'default', { ...cr('a'), status: { observedGeneration: 99 } });
    expect(store.get(slmd, 'default', 'a')['status']).toBeUndefined();
    store.patch(slmd, 'default', 'a', 'merge', { metadata: { labels: { a: 'b' } }, status: { observedGeneration: 5 } });
    let o = store.get(slmd, 'default', 'a');
    expect(o.metadata.generation).toBe(1);
    expect(o['status']).toBeUndefined();
    store.patch(slmd, 'default', 'a', 'merge', { spec: { model: { version: '2.0.0' } } });
    store.patch(slmd, 'default', 'a', 'merge', { spec: { model: { version: '3.0.0' } }, status: { observedGeneration: 2 } }, { subresource: 'status' });
    o = store.get(slmd, 'default', 'a');
    expect(o.metadata.generation).toBe(2);
    expect(o['spec']).toMatchObject({ model: { version: '2.0.0' } });
    expect(o['status']).toEqual({ observedGeneration: 2 });
    expect(Object.isFrozen(o)).toBe(true);
  });

  it('filters lists by label and field selectors and pages with limit/continue', () => {
    const store = new Store();
    for (let i = 0; i < 7; i++) store.create(resources.configmaps, 'default', { metadata: { name: `cm-${i}`, labels: { tier: i % 2 ? 'odd' : 'even', ...(i === 3 ? { special: '' } : {}) } } });
    const names = (r: { items: KubeObject[] }) => r.items.map((o) => o.metadata.name);
    expect(names(store.list(resources.configmaps, { namespace: 'default', labelSelector: 'tier=odd' }))).toEqual(['cm-1', 'cm-3', 'cm-5']);
    expect(names(store.list(resources.configmaps, { labelSelector: 'tier in (odd),!special' }))).toEqual(['cm-1', 'cm-5']);
    expect(names(store.list(resources.configmaps, { labelSelector: { matchExpressions: [{ key: 'special', operator: 'Exists' }] } }))).toEqual(['cm-3']);
    expect(names(store.list(resources.configmaps, { fieldSelector: 'metadata.name!=cm-0,metadata.namespace=default', labelSelector: 'tier=even' }))).toEqual(['cm-2', 'cm-4', 'cm-6']);
    expect(apiError(() => store.list(resources.configmaps, { fieldSelector: 'spec.nope=1' })).message).toBe('field label not supported: spec.nope');
    expect(apiError(() => store.list(resources.configmaps, { labelSelector: 'a in (b' })).code).toBe(400);
    const page1 = store.list(resources.configmaps, { namespace: 'default', limit: 3 });
    expect(names(page1)).toEqual(['cm-0', 'cm-1', 'cm-2']);
    expect(page1.remainingItemCount).toBe(4);
    const page2 = store.list(resources.configmaps, { namespace: 'default', limit: 3, continue: page1.continue! });
    const page3 = store.list(resources.configmaps, { namespace: 'default', limit: 3, continue: page2.continue! });
    expect([...names(page2), ...names(page3)]).toEqual(['cm-3', 'cm-4', 'cm-5', 'cm-6']);
    expect(page3.continue).toBeUndefined();
    store.create(resources.configmaps, 'default', { metadata: { name: 'later' } });
    store.compact();
    expect(apiError(() => store.list(resources.configmaps, { namespace: 'default', limit: 3, continue: page1.continue! })).code).toBe(410);
  });

  it('replays watch history from a resourceVersion, filters by selector and answers 410 when too old', async () => {
    const store = new Store({ historySize: 4 });
    const first = store.create(resources.configmaps, 'default', { metadata: { name: 'a', labels: { app: 'x' } } });
    store.create(resources.configmaps, 'default', { metadata: { name: 'b', labels: { app: 'y' } } });
    const events: WatchEvent[] = [];
    store.watch(resources.configmaps, { namespace: 'default', labelSelector: 'app=x', resourceVersion: first.metadata.resourceVersion! }, (e) => events.push(e));
    store.patch(resources.configmaps, 'default', 'b', 'merge', { metadata: { labels: { app: 'x' } } });
    store.patch(resources.configmaps, 'default', 'a', 'merge', { metadata: { labels: { app: 'z' } } });
    await store.settle();
    expect(events.map((e) => `${e.type} ${(e.object as KubeObject).metadata.name}`)).toEqual(['ADDED b', 'DELETED a']);
    for (let i = 0; i < 6; i++) store.create(resources.configmaps, 'default', { metadata: { name: `f${i}` } });
    const old: WatchEvent[] = [];
    store.watch(resources.configmaps, { resourceVersion: first.metadata.resourceVersion! }, (e) => old.push(e));
    await store.settle();
    expect(old).toHaveLength(1);
    expect(old[0]!.type).toBe('ERROR');
    expect(old[0]!.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
  });

  it('server-side apply owns fields, removes fields an applier drops, and detects conflicts', () => {
    const store = withCrd();
    const apply = (manager: string, body: object, force = false) => store.patch(slmd, 'default', 'a', 'apply', body, { fieldManager: manager, force });
    const first = apply('alice', { ...cr('a'), metadata: { name: 'a', labels: { one: '1', two: '2' } } });
    expect(first.created).toBe(true);
    apply('alice', { ...cr('a'), metadata: { name: 'a', labels: { one: '1' } } });
    expect(store.get(slmd, 'default', 'a').metadata.labels).toEqual({ one: '1' });
    // Same value: shared ownership, no conflict.
    apply('bob', { ...cr('a'), metadata: { name: 'a', labels: { one: '1' } } });
    const conflict = apiError(() => apply('bob', { ...cr('a', '2.0.0') }));
    expect(conflict.code).toBe(409);
    expect(conflict.message).toBe('Apply failed with 1 conflict: conflict with "alice": .spec.model.version');
    apply('bob', { ...cr('a', '2.0.0') }, true);
    expect(store.get(slmd, 'default', 'a')['spec']).toMatchObject({ model: { version: '2.0.0' } });
    // bob stopped applying the label; alice still owns it, so it stays.
    expect(store.get(slmd, 'default', 'a').metadata.labels).toEqual({ one: '1' });
    expect(apiError(() => store.patch(slmd, 'default', 'a', 'apply', cr('a'), {})).message).toContain('fieldManager: Required value');
  });

  it('merges strategic patches of built-ins by merge key and never stores directives', () => {
    const store = new Store();
    const pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'a:1' }, { name: 'b', image: 'b:1' }] } };
    store.create(resources.pods, 'default', pod);
    store.patch(resources.pods, 'default', 'p', 'strategic', { spec: { $setElementOrder: undefined, containers: [{ name: 'b', image: 'b:2' }, { name: 'a', $patch: 'delete' }] }, metadata: { finalizers: ['x'] } });
    const got = store.get(resources.pods, 'default', 'p');
    const containers = (got['spec'] as { containers: { name: string; image: string; imagePullPolicy: string }[] }).containers;
    expect(containers.map((c) => `${c.name}=${c.image}`)).toEqual(['b=b:2']);
    expect(containers[0]!.imagePullPolicy).toBe('IfNotPresent');
    expect(got['status']).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
    expect(apiError(() => withCrd().patch(slmd, 'default', 'x', 'strategic', {})).code).toBe(415);
  });

  it('validates custom resources with the CRD schema and CEL, honouring fieldValidation', () => {
    const store = withCrd();
    const bad = apiError(() => store.create(slmd, 'default', { ...cr('bad'), spec: { ...spec(), placement: { mode: 'Fleet', replicas: 2 }, serving: { port: 'x' } } }));
    expect(bad.code).toBe(422);
    expect(bad.details?.causes).toEqual(
      expect.arrayContaining([
        { reason: 'FieldValueForbidden', message: 'Forbidden: replicas is only allowed when mode is Replicated', field: 'spec.placement.replicas' },
        expect.objectContaining({ reason: 'FieldValueTypeInvalid', field: 'spec.serving.port' }),
      ]),
    );
    expect(apiError(() => store.create(slmd, 'default', { ...cr('s'), spec: { ...spec(), replicaz: 1 } }, { fieldValidation: 'Strict' })).message).toContain('strict decoding error: unknown field "spec.replicaz"');
    const warnings: string[] = [];
    const warned = store.create(slmd, 'default', { ...cr('w'), spec: { ...spec(), replicaz: 1 } }, { warnings });
    expect(warnings).toEqual(['unknown field "spec.replicaz"']);
    expect(warned['spec']).not.toHaveProperty('replicaz');
    expect(warned['spec']).toMatchObject({ placement: { mode: 'Fleet' }, hardware: { plugins: ['cpu'] } });
  });

  it('holds deletion while finalizers remain and refuses new ones', async () => {
    const store = withCrd();
    store.create(slmd, 'default', { ...cr('f'), metadata: { name: 'f', finalizers: ['x/y'] } });
    const events = record(store);
    await store.settle();
    const deleting = store.delete(slmd, 'default', 'f');
    expect(deleting.metadata.deletionTimestamp).toBeDefined();
    expect(deleting.metadata.generation).toBe(2);
    expect(apiError(() => store.patch(slmd, 'default', 'f', 'merge', { metadata: { finalizers: ['x/y', 'z/w'] } })).code).toBe(422);
    store.patch(slmd, 'default', 'f', 'merge', { metadata: { finalizers: null } });
    expect(store.tryGet(slmd, 'default', 'f')).toBeUndefined();
    await store.settle();
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
  });

  it('garbage-collects dependents in the background, in the foreground and orphans them on request', async () => {
    const store = new Store();
    const owner = (o: KubeObject, block = false) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name!, uid: o.metadata.uid!, controller: true, ...(block ? { blockOwnerDeletion: true } : {}) });
    const chain = (prefix: string, block = false) => {
      const d = store.create(resources.configmaps, 'default', { metadata: { name: `${prefix}-owner` } });
      const rs = store.create(resources.configmaps, 'default', { metadata: { name: `${prefix}-child`, ownerReferences: [owner(d, block)] } });
      store.create(resources.configmaps, 'default', { metadata: { name: `${prefix}-grandchild`, ownerReferences: [owner(rs, block)] } });
    };
    const exists = (n: string) => store.tryGet(resources.configmaps, 'default', n) !== undefined;

    chain('bg');
    store.delete(resources.configmaps, 'default', 'bg-owner');
    expect(exists('bg-owner')).toBe(false);
    expect(exists('bg-child')).toBe(true);
    await store.settle();
    expect([exists('bg-child'), exists('bg-grandchild')]).toEqual([false, false]);

    chain('fg', true);
    const held = store.delete(resources.configmaps, 'default', 'fg-owner', { propagationPolicy: 'Foreground' });
    expect(held.metadata.finalizers).toEqual(['foregroundDeletion']);
    await store.settle();
    expect([exists('fg-owner'), exists('fg-child'), exists('fg-grandchild')]).toEqual([false, false, false]);

    chain('or');
    store.delete(resources.configmaps, 'default', 'or-owner', { propagationPolicy: 'Orphan' });
    await store.settle();
    expect(exists('or-owner')).toBe(false);
    expect(store.get(resources.configmaps, 'default', 'or-child').metadata.ownerReferences).toBeUndefined();
    expect(exists('or-grandchild')).toBe(true);
  });

  it('deletes a namespace after everything in it', async () => {
    const store = new Store();
    store.create(resources.namespaces, undefined, { metadata: { name: 'team' } });
    store.create(resources.configmaps, 'team', { metadata: { name: 'c' } });
    const ns = store.delete(resources.namespaces, undefined, 'team');
    expect(ns['status']).toEqual({ phase: 'Terminating' });
    expect(apiError(() => store.create(resources.configmaps, 'team', { metadata: { name: 'd' } })).code).toBe(403);
    await store.settle();
    expect(store.tryGet(resources.configmaps, 'team', 'c')).toBeUndefined();
    expect(store.tryGet(resources.namespaces, undefined, 'team')).toBeUndefined();
    expect(apiError(() => store.create(resources.configmaps, 'team', { metadata: { name: 'e' } })).status.message).toBe('namespaces "team" not found');
  });

  it('serves /scale for Deployments and for CRDs that declare it', () => {
    const store = withCrd();
    store.create(resources.deployments, 'default', { metadata: { name: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } });
    expect(store.getScale(resources.deployments, 'default', 'd')).toMatchObject({ kind: 'Scale', spec: { replicas: 1 }, status: { replicas: 0, selector: 'a=b' } });
    store.patchScale(resources.deployments, 'default', 'd', 'merge', { spec: { replicas: 4 } });
    expect(store.get(resources.deployments, 'default', 'd')['spec']).toMatchObject({ replicas: 4, strategy: { type: 'RollingUpdate' } });
    store.create(slmd, 'default', { ...cr('r'), spec: { ...spec(), placement: { mode: 'Replicated', replicas: 1 } } });
    store.updateScale(slmd, 'default', 'r', { spec: { replicas: 3 } });
    expect(store.get(slmd, 'default', 'r')['spec']).toMatchObject({ placement: { replicas: 3 } });
    expect(apiError(() => store.getScale(resources.configmaps, 'default', 'x')).code).toBe(404);
  });

  it('keeps discovery in step with CRDs and removes custom resources with their CRD', () => {
    const store = withCrd();
    store.create(slmd, 'default', cr('a'));
    expect(store.refFor('slmops.io/v1alpha1', 'SLMDeployment')).toEqual(slmd);
    store.delete(resources.customresourcedefinitions, undefined, 'slmdeployments.slmops.io');
    expect(apiError(() => store.list(slmd)).code).toBe(404);
    store.create(resources.customresourcedefinitions, undefined, crd);
    expect(store.list(slmd).items).toEqual([]);
  });

  it('serves events.k8s.io/v1 Events from the core/v1 Event storage', async () => {
    const store = new Store();
    const eventsV1 = { group: 'events.k8s.io', version: 'v1', resource: 'events' };
    const events: WatchEvent[] = [];
    store.watch(resources.events, { namespace: 'default' }, (e) => events.push(e));
    const created = store.create(eventsV1, 'default', {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { generateName: 'x.' },
      regarding: { kind: 'SLMDeployment', name: 'x', namespace: 'default' },
      note: 'wave 2 started',
      reason: 'WaveStarted',
      type: 'Normal',
      action: 'Rollout',
      reportingController: 'slmops.io/operator',
      reportingInstance: 'operator-0',
      eventTime: '2026-01-01T00:00:00.000000Z',
    });
    expect(created).toMatchObject({ apiVersion: 'events.k8s.io/v1', note: 'wave 2 started', regarding: { name: 'x' } });
    const core = store.get(resources.events, 'default', created.metadata.name!);
    expect(core).toMatchObject({ apiVersion: 'v1', message: 'wave 2 started', involvedObject: { kind: 'SLMDeployment', name: 'x' }, reportingComponent: 'slmops.io/operator' });
    expect(store.list(eventsV1, { namespace: 'default', fieldSelector: 'regarding.name=x' }).items.map((e) => e['note'])).toEqual(['wave 2 started']);
    expect(store.list(resources.events, { namespace: 'default', fieldSelector: 'involvedObject.name=x' }).items).toHaveLength(1);
    await store.settle();
    expect(events.map((e) => (e.object as KubeObject)['message'])).toEqual(['wave 2 started']);
  });

  it('counts requests by verb and resource, so tests can assert a steady state makes no writes', () => {
    const store = new Store();
    const mark = store.requestLog.mark();
    store.create(resources.configmaps, 'default', { metadata: { name: 'x' } }, { client: 'operator' });
    store.get(resources.configmaps, 'default', 'x', { client: 'operator' });
    store.list(resources.configmaps, { client: 'operator' });
    const steady = store.requestLog.mark();
    store.list(resources.configmaps, { client: 'operator' });
    expect(store.requestLog.writesSince(steady, { client: 'operator' })).toEqual([]);
    expect(store.requestLog.writesSince(mark).map((e) => `${e.verb} ${e.resource} ${e.code}`)).toEqual(['create configmaps 201']);
    expect(store.requestLog.counts()['list configmaps']).toBe(2);
    expect(store.requestLog.countsByVerb()['get']).toBe(1);
  });
});
