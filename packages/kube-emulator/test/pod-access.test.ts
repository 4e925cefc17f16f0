/**
 * pods/proxy and pods/portforward: a process-backed pod (the simulator runs the fixture server for it) is reached
 * through the API server with plain HTTP and with client-node's own PortForward; a simulated pod (10.x IP, no
 * process) answers as a pod that is down, and is never dialled.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createRequire } from 'node:module';
import { KubeConfig, PortForward } from '@kubernetes/client-node';
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, resources, startEmulator } from '../src/index.js';
import { RUN_ANNOTATION, Simulator, type Pod } from '../src/simulator/index.js';
import { isPodReady } from '../src/simulator/meta.js';

const fixture = join(import.meta.dirname, 'simulator-fixture-server.mjs');
/**
 * client-node reaches `ws` through isomorphic-ws, whose default export Vitest's module loader does not resolve to
 * the constructor (plain Node does); its socket factory hook (meant for tests) takes `ws` itself.
 */
const { WebSocket } = createRequire(import.meta.url)('ws') as { WebSocket: new (...args: unknown[]) => unknown };
const portForwardOf = (kc: KubeConfig) => new PortForward(kc, undefined, new WebSocketHandler(kc, (uri, protocols, opts) => new WebSocket(uri, protocols, opts) as never));

let emu: Emulator;
let sim: Simulator;
let real: Pod & { metadata: { name: string } };
let simulated: Pod & { metadata: { name: string } };

function deployment(name: string, annotations: Record<string, string> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations },
        spec: { containers: [{ name: 'c', image: 'fixture:1', ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/healthz', port: 'http' } } }] },
      },
    },
  };
}

const readyPod = (app: string) => () => emu.store.list(resources.pods, { namespace: 'default', labelSelector: `app=${app}` }).items.find((p) => isPodReady(p as Pod)) as (Pod & { metadata: { name: string } }) | undefined;

beforeAll(async () => {
  emu = await startEmulator();
  sim = new Simulator({ store: emu.store, podStartDelayMs: 0, podReadyDelayMs: 0, processes: { registry: { fixture: () => ({ command: process.execPath, args: [fixture] }) }, probeIntervalMs: 50 } });
  await sim.start();
  sim.addFleet({ nodes: 2, mix: { 'cpu-amd64': 1 } });
  emu.store.create(resources.deployments, 'default', deployment('real', { [RUN_ANNOTATION]: 'fixture' }));
  emu.store.create(resources.deployments, 'default', deployment('simulated'));
  real = await sim.waitFor('the process-backed pod Ready', readyPod('real'));
  simulated = await sim.waitFor('the simulated pod Ready', readyPod('simulated'));
}, 30_000);

afterAll(async () => {
  await sim?.stop();
  await emu?.close();
});

const podUrl = (id: string, rest: string) => `${emu.url}/api/v1/namespaces/default/pods/${id}/${rest}`;

describe('pods/proxy', () => {
  it('copies requests to the pod and its answers back, status included, by port number, port name or the first port', async () => {
    const name = real.metadata.name;
    const mark = emu.requestLog.mark();
    expect((await fetch(podUrl(`${name}:8080`, 'proxy/work'))).status).toBe(200);
    const metrics = await fetch(podUrl(`${name}:http`, 'proxy/metrics'));
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(await metrics.text()).toContain('fixture_work_total 1');
    expect(await (await fetch(podUrl(name, 'proxy/metrics'))).text()).toContain('fixture_work_total 1');
    const missing = await fetch(podUrl(`${name}:8080`, 'proxy/nope'));
    expect([missing.status, await missing.text()]).toEqual([404, '']);
    const failed = await fetch(podUrl(`${name}:8080`, 'proxy/fail'), { method: 'POST' });
    expect(await failed.text()).toBe('now failing');
    await fetch(podUrl(`${name}:8080`, 'proxy/recover'), { method: 'POST' });
    expect(emu.requestLog.since(mark).map((e) => [e.verb, e.resource, e.subresource, e.name, e.code])).toEqual([
      ['get', 'pods', 'proxy', name, 200],
      ['get', 'pods', 'proxy', name, 200],
      ['get', 'pods', 'proxy', name, 200],
      ['get', 'pods', 'proxy', name, 404],
      ['get', 'pods', 'proxy', name, 200],
      ['get', 'pods', 'proxy', name, 200],
    ]);
  });

  it('answers Status errors: unknown pod 404, no pod IP 400, a simulated or dead pod 503', async () => {
    const status = async (url: string) => {
      const r = await fetch(url);
      return { code: r.status, ...((await r.json()) as { reason: string; message: string }) };
    };
    expect(await status(podUrl('ghost:80', 'proxy/'))).toMatchObject({ code: 404, reason: 'NotFound', message: 'pods "ghost" not found' });
    emu.store.create(resources.pods, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unscheduled' }, spec: { nodeName: 'nowhere', containers: [{ name: 'c', image: 'x:1' }] } });
    expect(await status(podUrl('unscheduled:80', 'proxy/'))).toMatchObject({ code: 400, reason: 'BadRequest', message: 'address not allowed' });
    const ip = simulated.status?.podIP ?? '';
    expect(ip).toMatch(/^10\./);
    expect(await status(podUrl(`${simulated.metadata.name}:8080`, 'proxy/metrics'))).toMatchObject({
      code: 503,
      reason: 'ServiceUnavailable',
      message: `error trying to reach service: dial tcp ${ip}:8080: connect: no route to host (a simulated pod: no process runs behind it)`,
    });
    // A process-backed pod's port nothing listens on.
    expect(await status(podUrl(`${real.metadata.name}:9`, 'proxy/'))).toMatchObject({ code: 503, message: 'error trying to reach service: dial tcp 127.0.0.1:9: connect: connection refused' });
    expect(await status(podUrl(real.metadata.name, 'portforward?ports=8080'))).toMatchObject({ code: 400, message: 'Upgrade request required' });
  });
});

describe('pods/portforward', () => {
  const kc = new KubeConfig();
  let local: Server;
  const sockets = new Set<Socket>();

  /** A loopback listener that forwards each connection with client-node's PortForward; `errors` gets channel 1. */
  async function forward(pod: string, port: number, errors = new PassThrough()): Promise<number> {
    kc.loadFromFile(emu.kubeconfigPath);
    const pf = portForwardOf(kc);
    local = createServer((socket) => {
      sockets.add(socket);
      void pf.portForward('default', pod, [port], socket, errors, socket);
    });
    await new Promise<void>((r) => local.listen(0, '127.0.0.1', r));
    return (local.address() as { port: number }).port;
  }
  const stop = async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise((r) => local.close(r));
  };

  it("tunnels TCP to the pod's process as client-node's PortForward speaks it", async () => {
    const mark = emu.requestLog.mark();
    const port = await forward(real.metadata.name, 8080);
    try {
      // Two requests, each on its own connection (each gets its own WebSocket).
      for (const path of ['/work', '/metrics']) {
        const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { connection: 'close' } });
        expect(r.status).toBe(200);
        if (path === '/metrics') expect(await r.text()).toMatch(/fixture_work_total [1-9]/);
        else await r.text();
      }
    } finally {
      await stop();
    }
    const upgrades = emu.requestLog.since(mark).filter((e) => e.subresource === 'portforward');
    expect(upgrades.length).toBeGreaterThanOrEqual(2);
    expect(upgrades.every((e) => e.code === 101 && e.verb === 'create' && e.name === real.metadata.name)).toBe(true);
  });

  it('reports a pod it cannot reach on the error channel, and refuses unknown pods before the upgrade', async () => {
    const errors = new PassThrough();
    let text = '';
    errors.on('data', (b: Buffer) => (text += b.toString('utf8')));
    const port = await forward(simulated.metadata.name, 8080, errors);
    try {
      // client-node leaves the local connection open when the WebSocket closes, so wait for the error text itself.
      const conn = connect(port, '127.0.0.1');
      conn.on('error', () => conn.destroy());
      await sim.waitFor('the error channel', () => text !== '');
      conn.destroy();
      expect(text).toBe(`error forwarding port 8080 to pod default/${simulated.metadata.name}: dial tcp ${simulated.status?.podIP}:8080: connect: no route to host (a simulated pod: no process runs behind it)`);
    } finally {
      await stop();
    }
    kc.loadFromFile(emu.kubeconfigPath);
    await expect(portForwardOf(kc).portForward('default', 'ghost', [8080], new PassThrough(), null, new PassThrough())).rejects.toBeDefined();
    const refused = emu.requestLog.since(0).filter((e) => e.subresource === 'portforward' && e.name === 'ghost');
    expect(refused.map((e) => e.code)).toEqual([404]);
  });
});
