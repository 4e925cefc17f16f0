/** The REST surface over HTTP: discovery, Tables, watch streams, error bodies, warnings and fault injection. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resources, startEmulator, type Emulator } from '../src/index.js';

let emu: Emulator;
const crd = parse(readFileSync(join(import.meta.dirname, '../../../charts/slmops/crds/slmdeployments.slmops.io.yaml'), 'utf8')) as object;
const cmPath = '/api/v1/namespaces/default/configmaps';

beforeAll(async () => {
  emu = await startEmulator({ bookmarkIntervalMs: 100 });
});
afterAll(async () => emu?.close());

const call = (path: string, init: RequestInit = {}) => fetch(`${emu.url}${path}`, init);
const json = (method: string, body: unknown, type = 'application/json'): RequestInit => ({ method, body: JSON.stringify(body), headers: { 'content-type': type } });

/** Reads a watch stream until `done` says stop, then aborts it. */
async function readWatch(path: string, done: (events: { type: string; object: Record<string, unknown> }[]) => boolean, accept = 'application/json') {
  const ac = new AbortController();
  const res = await fetch(`${emu.url}${path}`, { signal: ac.signal, headers: { accept } });
  const events: { type: string; object: Record<string, unknown> }[] = [];
  const reader = res.body!.getReader();
  let buf = '';
  try {
    while (!done(events)) {
      const { value, done: end } = await reader.read();
      if (end) break;
      buf += Buffer.from(value).toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    }
  } finally {
    ac.abort();
  }
  return { res, events };
}

describe('HTTP API', () => {
  it('serves legacy and aggregated discovery that follows CRDs', async () => {
    const before = (await (await call('/apis')).json()) as { groups: { name: string }[] };
    expect(before.groups.map((g) => g.name)).toContain('apps');
    expect(before.groups.map((g) => g.name)).not.toContain('slmops.io');
    expect((await call('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', json('POST', crd))).status).toBe(201);
    const agg = await call('/apis', { headers: { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } });
    expect(agg.headers.get('content-type')).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    const groups = ((await agg.json()) as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name);
    expect(groups).toContain('slmops.io');
    const list = (await (await call('/apis/slmops.io/v1alpha1')).json()) as { resources: { name: string }[] };
    expect(list.resources.map((r) => r.name)).toEqual(['slmdeployments', 'slmdeployments/status', 'slmdeployments/scale']);
    const index = (await (await call('/openapi/v3')).json()) as { paths: Record<string, { serverRelativeURL: string }> };
    const doc = (await (await call(index.paths['apis/slmops.io/v1alpha1']!.serverRelativeURL)).json()) as { components: { schemas: Record<string, unknown> } };
    expect(Object.keys(doc.components.schemas)).toContain('io.slmops.v1alpha1.SLMDeployment');
  });

  it('answers lists as Tables when asked, and creates with generateName', async () => {
    const created = await call(cmPath, json('POST', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'gen-' }, data: { a: '1', b: '2' } }));
    expect(created.status).toBe(201);
    const name = ((await created.json()) as { metadata: { name: string } }).metadata.name;
    expect(name).toMatch(/^gen-[a-z0-9]{5}$/);
    const tbl = (await (await call(cmPath, { headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' } })).json()) as { kind: string; columnDefinitions: { name: string }[]; rows: { cells: unknown[]; object: { kind: string } }[] };
    expect(tbl.kind).toBe('Table');
    expect(tbl.columnDefinitions.map((c) => c.name)).toEqual(['Name', 'Data', 'Age']);
    expect(tbl.rows.find((r) => r.cells[0] === name)!.cells[1]).toBe(2);
    expect(tbl.rows[0]!.object.kind).toBe('PartialObjectMetadata');
  });

  it('returns Status errors, 415 for protobuf and strategic merge on custom resources, and Warning headers', async () => {
    const missing = await call(`${cmPath}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'configmaps "nope" not found', details: { name: 'nope', kind: 'configmaps' } });
    const proto = await call(cmPath, { method: 'POST', body: 'k8s\0…', headers: { 'content-type': 'application/vnd.kubernetes.protobuf' } });
    expect(proto.status).toBe(415);
    const cr = { apiVersion: 'slmops.io/v1alpha1', kind: 'SLMDeployment', metadata: { name: 'w' }, spec: { model: { name: 'm', version: '1', source: { uri: 'file:///m' } }, replicaz: 2 } };
    const warned = await call('/apis/slmops.io/v1alpha1/namespaces/default/slmdeployments', json('POST', cr));
    expect(warned.status).toBe(201);
    expect(warned.headers.get('warning')).toBe('299 - "unknown field \\"spec.replicaz\\""');
    const smp = await call('/apis/slmops.io/v1alpha1/namespaces/default/slmdeployments/w', json('PATCH', { spec: {} }, 'application/strategic-merge-patch+json'));
    expect(smp.status).toBe(415);
    const jsonPatchObject = await call('/apis/slmops.io/v1alpha1/namespaces/default/slmdeployments/w', json('PATCH', { spec: {} }, 'application/json-patch+json'));
    expect(jsonPatchObject.status).toBe(400);
    const applied = await call('/api/v1/namespaces/default/configmaps/ssa?fieldManager=op&force=true', { method: 'PATCH', body: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {k: v}\n', headers: { 'content-type': 'application/apply-patch+yaml' } });
    expect(applied.status).toBe(201);
    const del = await call('/api/v1/namespaces/default/configmaps/ssa', { method: 'DELETE' });
    expect(await del.json()).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'ssa', kind: 'configmaps' } });
  });

  it('streams watch events as JSON lines with bookmarks, Table rows, and a 410 ERROR for old resourceVersions', async () => {
    const rv = emu.store.resourceVersion;
    setTimeout(() => emu.store.create(resources.configmaps, 'default', { metadata: { name: 'streamed' } }), 50);
    const { res, events } = await readWatch(`${cmPath}?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`, (ev) => ev.some((e) => e.type === 'BOOKMARK') && ev.some((e) => e.type === 'ADDED'));
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(events.find((e) => e.type === 'ADDED')!.object).toMatchObject({ kind: 'ConfigMap', metadata: { name: 'streamed' } });
    expect(Number((events.find((e) => e.type === 'BOOKMARK')!.object['metadata'] as { resourceVersion: string }).resourceVersion)).toBeGreaterThan(Number(rv));

    setTimeout(() => emu.store.patch(resources.configmaps, 'default', 'streamed', 'merge', { data: { x: '1' } }), 50);
    const tableWatch = await readWatch(`${cmPath}?watch=true&fieldSelector=metadata.name%3Dstreamed&resourceVersion=${emu.store.resourceVersion}`, (ev) => ev.length > 0, 'application/json;as=Table;v=v1;g=meta.k8s.io');
    expect(tableWatch.events[0]).toMatchObject({ type: 'MODIFIED', object: { kind: 'Table', rows: [{ cells: ['streamed', 1, expect.any(String)] }] } });

    const watchList = await readWatch(`${cmPath}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&fieldSelector=metadata.name%3Dstreamed`, (ev) => ev.some((e) => e.type === 'BOOKMARK'));
    expect(watchList.events.map((e) => e.type)).toEqual(['ADDED', 'BOOKMARK']);
    expect(watchList.events[1]!.object['metadata']).toEqual({ resourceVersion: emu.store.resourceVersion, annotations: { 'k8s.io/initial-events-end': 'true' } });

    emu.faults.compact();
    emu.store.create(resources.configmaps, 'default', { metadata: { name: 'after-compaction' } });
    const expired = await readWatch(`${cmPath}?watch=true&resourceVersion=${rv}`, (ev) => ev.length > 0);
    expect(expired.events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
  });

  it('injects failures with Retry-After, latency and pauses, and logs every request', async () => {
    emu.faults.failNext({ verb: 'get', resource: 'configmaps', code: 429, retryAfterSeconds: 2, count: 1 });
    const limited = await call(`${cmPath}/nope`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(await limited.json()).toMatchObject({ reason: 'TooManyRequests', details: { retryAfterSeconds: 2 } });
    expect((await call(`${cmPath}/nope`)).status).toBe(404);

    emu.faults.failNext({ verb: ['create', 'update'], code: 503, count: 2 });
    expect((await call(cmPath, json('POST', { metadata: { name: 'f1' } }))).status).toBe(503);
    expect((await call(cmPath, json('POST', { metadata: { name: 'f1' } }))).status).toBe(503);
    expect((await call(cmPath, json('POST', { metadata: { name: 'f1' } }))).status).toBe(201);

    emu.faults.addLatency(300, { verb: 'list' });
    let t = Date.now();
    await call(cmPath);
    expect(Date.now() - t).toBeGreaterThanOrEqual(290);
    emu.faults.addLatency(0);

    emu.faults.pause();
    t = Date.now();
    setTimeout(() => emu.faults.resume(), 300);
    expect((await call('/version')).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(290);

    const mark = emu.requestLog.mark();
    await call(cmPath);
    await call(`${cmPath}/f1`, json('PATCH', { data: { z: '1' } }, 'application/merge-patch+json'));
    const entries = emu.requestLog.since(mark, { source: 'http' });
    expect(entries.map((e) => `${e.verb} ${e.resource} ${e.code}`)).toEqual(['list configmaps 200', 'patch configmaps 200']);
    expect(emu.requestLog.writesSince(mark)).toHaveLength(1);
    expect(emu.requestLog.countsByResource()['configmaps']).toBeGreaterThan(5);
  });
});
