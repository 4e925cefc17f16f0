/**
 * Issue 17, hardening item 10, from the informer's side: an informer that outlives an API server restart with
 * an empty store gets 410 for its old resourceVersion, relists, and follows the new server.
 */
import { resources, startEmulator, type Emulator } from '@slmops/kube-emulator';
import { afterEach, describe, expect, it } from 'vitest';
import { createInformer } from '../src/informer.js';
import { Resources } from '../src/port.js';
import { clientFor, configMap, until } from './helpers.js';

const open: Emulator[] = [];
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
});

describe('hardening item 10: watch from an unknown resourceVersion answers 410', () => {
  it('an informer that outlives an API server restart with an empty store relists and sees the new server', async () => {
    const first = await startEmulator();
    for (let i = 0; i < 20; i++) first.store.create(resources.configmaps, 'default', configMap(`old-${i}`, {}));
    const informer = createInformer(clientFor(first), Resources.ConfigMap, { namespace: 'default', resyncPeriodMs: 0, backoff: { initialMs: 20, maxMs: 200 } });
    const deleted: string[] = [];
    informer.on((type, o) => type === 'DELETED' && deleted.push(o.metadata.name));
    await informer.start();
    await informer.synced();
    expect(informer.list()).toHaveLength(20);
    const port = first.port;
    await first.close();
    const second = await startEmulator({ port });
    open.push(second);
    second.store.create(resources.configmaps, 'default', configMap('fresh', {}));
    try {
      await until('the relist on the new server', async () => informer.list().map((o) => o.metadata.name).join() === 'fresh');
      expect(deleted.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `old-${i}`).sort());
      // The relisted informer watches the new server from its resourceVersion.
      second.store.create(resources.configmaps, 'default', configMap('fresher', {}));
      await until('an event from the new server', async () => informer.get('default/fresher') !== undefined);
      expect(second.requestLog.entries({ verb: 'list', resource: 'configmaps' }).length).toBeGreaterThan(0);
    } finally {
      informer.stop();
    }
  });
});
