/**
 * Emulator gaps the operator's tests need: generateName suffixes that collide are drawn again (as the API server
 * does since 1.30), and the request log records the User-Agent and counts write requests by client, so a test
 * can assert "only the leader writes" and "zero writes in steady state".
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiError, resources, startEmulator, Store, type Emulator } from '../src/index.js';

describe('generateName', () => {
  it('draws a new suffix when the generated name is taken', () => {
    const store = new Store();
    const random = vi.spyOn(Math, 'random');
    try {
      random.mockReturnValue(0);
      const first = store.create(resources.configmaps, 'default', { metadata: { generateName: 'cfg-' } });
      // The next draw repeats the first suffix once, then differs.
      random.mockReset();
      let calls = 0;
      random.mockImplementation(() => (calls++ < 5 ? 0 : 0.5));
      const second = store.create(resources.configmaps, 'default', { metadata: { generateName: 'cfg-' } });
      expect(second.metadata.name).not.toBe(first.metadata.name);
      expect(second.metadata.name).toMatch(/^cfg-[a-z0-9]{5}$/);
      expect(calls).toBe(10);
      // Eight collisions in a row give up with AlreadyExists, as the API server does.
      random.mockReset();
      random.mockReturnValue(0);
      let error: unknown;
      try {
        store.create(resources.configmaps, 'default', { metadata: { generateName: 'cfg-' } });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).reason).toBe('AlreadyExists');
    } finally {
      random.mockRestore();
    }
  });
});

describe('request log counters', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator();
  });
  afterAll(async () => emu?.close());

  const call = (method: string, path: string, ua: string, body?: unknown) =>
    fetch(`${emu.url}${path}`, { method, headers: { 'User-Agent': ua, 'Content-Type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });

  it('counts writes by User-Agent, failed ones included, and never reads', async () => {
    const mark = emu.requestLog.mark();
    await call('POST', '/api/v1/namespaces/default/configmaps', 'replica-a/1.0', { metadata: { name: 'x' } });
    await call('PATCH', '/api/v1/namespaces/default/configmaps/x', 'replica-a/1.0', { data: { a: '1' } });
    await call('GET', '/api/v1/namespaces/default/configmaps/x', 'replica-b/1.0');
    await call('GET', '/api/v1/namespaces/default/configmaps', 'replica-b/1.0');
    const conflict = await call('POST', '/api/v1/namespaces/default/configmaps', 'replica-b/1.0', { metadata: { name: 'x' } });
    expect(conflict.status).toBe(409);
    await call('DELETE', '/api/v1/namespaces/default/configmaps/x', 'replica-a/1.0');
    emu.store.create(resources.configmaps, 'default', { metadata: { name: 'y' } }, { client: 'kube-controller-manager/v1.33.1' });

    expect(emu.requestLog.writesByClientSince(mark)).toEqual({ 'replica-a/1.0': 3, 'replica-b/1.0': 1, 'kube-controller-manager/v1.33.1': 1 });
    expect(emu.requestLog.writesByClientSince(mark, { source: 'http', succeeded: true })).toEqual({ 'replica-a/1.0': 3 });
    expect(emu.requestLog.writesByClient()).toMatchObject({ 'replica-a/1.0': 3, 'replica-b/1.0': 1 });
    expect(emu.requestLog.since(mark, { client: 'replica-b/1.0' }).map((e) => `${e.verb} ${e.userAgent}`)).toEqual(['get replica-b/1.0', 'list replica-b/1.0', 'create replica-b/1.0']);
    // A steady state: reads only, so no new writes anywhere.
    const quiet = emu.requestLog.mark();
    await call('GET', '/api/v1/namespaces/default/configmaps/y', 'replica-a/1.0');
    expect(emu.requestLog.writesByClientSince(quiet)).toEqual({});
  });
});
