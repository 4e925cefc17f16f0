import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resources, startEmulator, Store, type KubeObject } from '../src/index.js';
import { podEndpoint, PORTS_ANNOTATION, REVISION_HASH_LABEL, RUN_ANNOTATION, Simulator, type DaemonSet, type Deployment, type Pod } from '../src/simulator/index.js';
import { computeTemplateHash, isPodReady } from '../src/simulator/meta.js';

const fixture = join(import.meta.dirname, 'simulator-fixture-server.mjs');
let sim: Simulator | undefined;
let closeEmulator: (() => Promise<void>) | undefined;

afterEach(async () => {
  await sim?.stop();
  sim = undefined;
  await closeEmulator?.();
  closeEmulator = undefined;
});

async function startSim(store = new Store(), extra: Partial<ConstructorParameters<typeof Simulator>[0]> = {}) {
  sim = new Simulator({ store, podStartDelayMs: 10, podReadyDelayMs: 10, onError: (e, ctx) => { throw new Error(`${ctx}: ${String(e)}`); }, ...extra });
  await sim.start();
  return { store, sim };
}

const podsOf = (store: Store, selector: string) => store.list(resources.pods, { namespace: 'default', labelSelector: selector }).items as unknown as Pod[];

function daemonSet(image: string, strategy: DaemonSet['spec']['updateStrategy'], nodeSelector?: Record<string, string>, tolerateAll = true): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'serve', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'serve' } },
      updateStrategy: strategy,
      template: {
        metadata: { labels: { app: 'serve' } },
        spec: { nodeSelector, tolerations: tolerateAll ? [{ operator: 'Exists' }] : undefined, containers: [{ name: 'sidecar', image }] },
      },
    },
  };
}

function deployment(image: string, replicas: number, annotations?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } },
      template: { metadata: { labels: { app: 'web' }, annotations }, spec: { containers: [{ name: 'c', image }] } },
    },
  };
}

const setImage = (store: Store, kind: 'daemonsets' | 'deployments', name: string, image: string) =>
  store.patch(resources[kind], 'default', name, 'strategic', { spec: { template: { spec: { containers: [{ name: kind === 'daemonsets' ? 'sidecar' : 'c', image }] } } } });

describe('Simulator on the in-process store', () => {
  it('OnDelete DaemonSet: a template change replaces no pod; deleted pods come back on their nodes from the new template', async () => {
    const { store, sim } = await startSim();
    sim.addFleet({ nodes: 30, mix: { 'cpu-amd64': 1, 'nvidia-gpu': 1, jetson: 1 }, seed: 3 });
    store.create(resources.daemonsets, 'default', daemonSet('sidecar:1', { type: 'OnDelete' }, { 'kubernetes.io/arch': 'amd64' }));
    const amd64 = sim.nodeNames().filter((n) => !n.includes('jetson'));
    await sim.waitFor('20 Ready daemon pods', () => podsOf(store, 'app=serve').filter(isPodReady).length === 20);
    const before = podsOf(store, 'app=serve');
    expect(new Set(before.map((p) => p.spec.nodeName))).toEqual(new Set(amd64));
    await sim.waitFor('DaemonSet status', () => {
      const s = (store.get(resources.daemonsets, 'default', 'serve') as unknown as DaemonSet).status;
      return s?.numberReady === 20 && s.desiredNumberScheduled === 20 && s.updatedNumberScheduled === 20 && s.observedGeneration === 1;
    });

    setImage(store, 'daemonsets', 'serve', 'sidecar:2');
    const ds2 = store.get(resources.daemonsets, 'default', 'serve') as unknown as DaemonSet;
    const newHash = computeTemplateHash(ds2.spec.template);
    await sim.waitFor('a second ControllerRevision', () => store.list(resources.controllerrevisions, { namespace: 'default' }).items.length === 2);
    await sim.settle();
    expect(podsOf(store, 'app=serve').map((p) => p.metadata.uid).sort()).toEqual(before.map((p) => p.metadata.uid).sort());

    const wave = before.slice(0, 3);
    for (const p of wave) store.delete(resources.pods, 'default', p.metadata.name ?? '');
    await sim.waitFor('3 replaced pods Ready', () => podsOf(store, `app=serve,${REVISION_HASH_LABEL}=${newHash}`).filter(isPodReady).length === 3);
    const after = podsOf(store, 'app=serve');
    expect(after).toHaveLength(20);
    const replaced = after.filter((p) => p.metadata.labels?.[REVISION_HASH_LABEL] === newHash);
    expect(replaced.map((p) => p.spec.nodeName).sort()).toEqual(wave.map((p) => p.spec.nodeName).sort());
    expect(replaced.every((p) => p.spec.containers[0]?.image === 'sidecar:2')).toBe(true);
    const untouched = after.filter((p) => p.metadata.labels?.[REVISION_HASH_LABEL] !== newHash);
    expect(untouched.map((p) => p.metadata.uid).sort()).toEqual(before.slice(3).map((p) => p.metadata.uid).sort());
    await sim.waitFor('updatedNumberScheduled 3', () => (store.get(resources.daemonsets, 'default', 'serve') as unknown as DaemonSet).status?.updatedNumberScheduled === 3);
  });

  it('RollingUpdate DaemonSet never has more than maxUnavailable nodes without a Ready pod', async () => {
    const { store, sim } = await startSim();
    sim.addFleet({ nodes: 12, mix: { 'cpu-amd64': 1 } });
    store.create(resources.daemonsets, 'default', daemonSet('sidecar:1', { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 3 } }));
    await sim.waitFor('12 Ready pods', () => podsOf(store, 'app=serve').filter(isPodReady).length === 12);

    // Follow every pod change through a watch and record the worst moment of the rollout.
    const ready = new Map<string, Pod>();
    for (const p of podsOf(store, 'app=serve')) ready.set(p.metadata.uid ?? '', p);
    let worst = 0;
    const stop = store.watch(resources.pods, { namespace: 'default', labelSelector: 'app=serve', resourceVersion: store.resourceVersion }, (ev) => {
      const p = ev.object as unknown as Pod;
      if (ev.type === 'DELETED') ready.delete(p.metadata.uid ?? '');
      else ready.set(p.metadata.uid ?? '', p);
      const nodesWithReady = new Set([...ready.values()].filter(isPodReady).map((x) => x.spec.nodeName));
      worst = Math.max(worst, 12 - nodesWithReady.size);
    });
    setImage(store, 'daemonsets', 'serve', 'sidecar:2');
    await sim.waitFor('all 12 pods updated and Ready', () => {
      const pods = podsOf(store, 'app=serve');
      return pods.length === 12 && pods.every((p) => p.spec.containers[0]?.image === 'sidecar:2' && isPodReady(p));
    });
    stop();
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(3);
  });

  it('Deployment: rolling update within maxSurge/maxUnavailable, then scale through /scale', async () => {
    const { store, sim } = await startSim();
    sim.addFleet({ nodes: 4, mix: { 'cpu-amd64': 1 } });
    store.create(resources.deployments, 'default', deployment('web:1', 4));
    await sim.waitFor('Deployment available', () => {
      const d = store.get(resources.deployments, 'default', 'web') as unknown as Deployment;
      return d.status?.availableReplicas === 4 && d.status.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'NewReplicaSetAvailable');
    });
    const rs = store.list(resources.replicasets, { namespace: 'default' }).items;
    expect(rs).toHaveLength(1);
    expect(rs[0]?.metadata.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
    expect(rs[0]?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Deployment', name: 'web', controller: true });
    expect(podsOf(store, 'app=web').every((p) => p.spec.nodeName && p.metadata.ownerReferences?.[0]?.kind === 'ReplicaSet')).toBe(true);

    const live = new Map<string, Pod>(podsOf(store, 'app=web').map((p) => [p.metadata.uid ?? '', p]));
    let minReady = 4;
    let maxPods = 4;
    const stop = store.watch(resources.pods, { namespace: 'default', labelSelector: 'app=web', resourceVersion: store.resourceVersion }, (ev) => {
      const p = ev.object as unknown as Pod;
      if (ev.type === 'DELETED') live.delete(p.metadata.uid ?? '');
      else live.set(p.metadata.uid ?? '', p);
      minReady = Math.min(minReady, [...live.values()].filter(isPodReady).length);
      maxPods = Math.max(maxPods, live.size);
    });
    setImage(store, 'deployments', 'web', 'web:2');
    await sim.waitFor('rollout complete', () => {
      const d = store.get(resources.deployments, 'default', 'web') as unknown as Deployment;
      return d.status?.observedGeneration === 2 && d.status.updatedReplicas === 4 && d.status.availableReplicas === 4 && d.status.replicas === 4;
    });
    stop();
    expect(minReady).toBeGreaterThanOrEqual(3);
    expect(maxPods).toBeLessThanOrEqual(5);
    expect(podsOf(store, 'app=web').map((p) => p.spec.containers[0]?.image)).toEqual(['web:2', 'web:2', 'web:2', 'web:2']);

    store.patchScale(resources.deployments, 'default', 'web', 'merge', { spec: { replicas: 7 } });
    await sim.waitFor('7 available', () => (store.get(resources.deployments, 'default', 'web') as unknown as Deployment).status?.availableReplicas === 7);
    expect(store.getScale(resources.deployments, 'default', 'web').status.replicas).toBe(7);
    expect(podsOf(store, 'app=web')).toHaveLength(7);

    // The controllers never raced themselves into a conflict, and once converged they stop writing.
    expect(store.requestLog.entries({ client: /\(simulator\)$/, succeeded: false })).toEqual([]);
    await sim.settle();
    const mark = store.requestLog.mark();
    await new Promise((r) => setTimeout(r, 400));
    await sim.settle();
    expect(store.requestLog.writesSince(mark)).toEqual([]);
  });

  it('pods on nodes that go offline are reported not Ready, and recover when the nodes return', async () => {
    const { store, sim } = await startSim();
    sim.addFleet({ nodes: 10, mix: { 'raspberry-pi': 1 } });
    store.create(resources.daemonsets, 'default', daemonSet('sidecar:1', { type: 'OnDelete' }, undefined, false));
    await sim.waitFor('10 Ready', () => podsOf(store, 'app=serve').filter(isPodReady).length === 10);
    const offline = sim.setNodesReady({ percent: 30, seed: 9 }, false);
    expect(offline).toHaveLength(3);
    await sim.waitFor('3 pods not Ready', () => podsOf(store, 'app=serve').filter((p) => !isPodReady(p)).length === 3);
    const notReady = podsOf(store, 'app=serve').filter((p) => !isPodReady(p));
    expect(notReady.map((p) => p.spec.nodeName).sort()).toEqual(offline);
    expect(notReady.every((p) => p.status?.phase === 'Running')).toBe(true);
    await sim.waitFor('DaemonSet numberReady 7', () => (store.get(resources.daemonsets, 'default', 'serve') as unknown as DaemonSet).status?.numberReady === 7);

    // A pod deleted on an offline node is not recreated there until the node is back (unreachable:NoSchedule).
    const victim = notReady[0] as Pod;
    store.delete(resources.pods, 'default', victim.metadata.name ?? '');
    await sim.settle();
    expect(podsOf(store, 'app=serve').some((p) => p.spec.nodeName === victim.spec.nodeName)).toBe(false);
    sim.setNodesReady(offline, true);
    await sim.waitFor('10 Ready again', () => podsOf(store, 'app=serve').filter(isPodReady).length === 10);
  });

  it('keeps reconciling after injected faults close every watch and compact the history (resume, then relist)', async () => {
    const { store, sim } = await startSim();
    sim.addFleet({ nodes: 4, mix: { 'cpu-amd64': 1 } });
    store.create(resources.deployments, 'default', deployment('web:1', 2));
    await sim.waitFor('2 Ready', () => podsOf(store, 'app=web').filter(isPodReady).length === 2);

    // Dropped watches: changes made while they are down are replayed from the last resourceVersion seen.
    store.closeAllWatches();
    store.patchScale(resources.deployments, 'default', 'web', 'merge', { spec: { replicas: 3 } });
    await sim.waitFor('3 Ready after resume', () => podsOf(store, 'app=web').filter(isPodReady).length === 3);

    // History compacted while the watches are down: resuming answers 410, and the simulator relists.
    const victim = podsOf(store, 'app=web')[0] as Pod;
    store.closeAllWatches();
    store.delete(resources.pods, 'default', victim.metadata.name ?? '');
    store.compact();
    await sim.waitFor('a replacement pod Ready', () => {
      const ps = podsOf(store, 'app=web');
      return ps.length === 3 && ps.every(isPodReady) && !ps.some((p) => p.metadata.uid === victim.metadata.uid);
    });
  });

  it('deleting the DaemonSet garbage-collects its pods and ControllerRevisions', async () => {
    const { store, sim } = await startSim();
    sim.addFleet({ nodes: 5, mix: { 'cpu-amd64': 1 } });
    store.create(resources.daemonsets, 'default', daemonSet('sidecar:1', { type: 'RollingUpdate' }));
    await sim.waitFor('5 pods', () => podsOf(store, 'app=serve').length === 5);
    expect(store.list(resources.controllerrevisions, { namespace: 'default' }).items).toHaveLength(1);
    store.delete(resources.daemonsets, 'default', 'serve');
    await sim.waitFor('pods and revisions gone', () => podsOf(store, 'app=serve').length === 0 && store.list(resources.controllerrevisions, { namespace: 'default' }).items.length === 0);
  });

  it('runs real processes for annotated pods: pod IP, ports, probe-driven readiness, stopped with the pod', async () => {
    const { store, sim } = await startSim(new Store(), {
      processes: { registry: { fixture: () => ({ command: process.execPath, args: [fixture] }) }, probeIntervalMs: 50 },
    });
    sim.addFleet({ nodes: 2, mix: { 'cpu-amd64': 1 } });
    const d = deployment('web:1', 2, { [RUN_ANNOTATION]: 'fixture' });
    const container = ((d.spec as Deployment['spec']).template.spec.containers[0]);
    Object.assign(container ?? {}, { ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, failureThreshold: 1 } });
    store.create(resources.deployments, 'default', d);
    const pods = await sim.waitFor('2 process-backed Ready pods', () => {
      const ps = podsOf(store, 'app=web');
      return ps.length === 2 && ps.every(isPodReady) ? ps : undefined;
    });
    for (const p of pods) {
      expect(p.status?.podIP).toBe('127.0.0.1');
      expect(p.metadata.annotations?.[PORTS_ANNOTATION]).toMatch(/^\{"8080":\d+\}$/);
    }
    const ep = podEndpoint(pods[0] as Pod, 'http');
    if (!ep) throw new Error('no endpoint');
    await fetch(`http://${ep.host}:${ep.port}/work`);
    expect(await (await fetch(`http://${ep.host}:${ep.port}/metrics`)).text()).toContain('fixture_work_total 1');

    // The process fails its probe: the pod goes not Ready, and the Deployment counts it.
    await fetch(`http://${ep.host}:${ep.port}/fail`, { method: 'POST' });
    await sim.waitFor('pod not Ready', () => podsOf(store, 'app=web').filter(isPodReady).length === 1);

    store.delete(resources.deployments, 'default', 'web');
    await sim.waitFor('pods gone and processes stopped', () => podsOf(store, 'app=web').length === 0 && sim.processes.pods().length === 0);
    await expect(fetch(`http://${ep.host}:${ep.port}/healthz`)).rejects.toThrow();
  });
});

describe('Simulator process selection', () => {
  it('select() backs chosen pods with processes without an annotation; an unknown name shows CreateContainerError', async () => {
    const errors: string[] = [];
    const { store, sim } = await startSim(new Store(), {
      onError: (_e, ctx) => errors.push(ctx),
      processes: {
        registry: { fixture: () => ({ command: process.execPath, args: [fixture] }) },
        select: (pod) => (pod.metadata.labels?.['app'] === 'web' ? 'fixture' : pod.metadata.labels?.['app'] === 'broken' ? 'missing' : undefined),
      },
    });
    sim.addFleet({ nodes: 2, mix: { 'cpu-amd64': 1 } });
    const d = deployment('web:1', 1);
    Object.assign((d.spec as Deployment['spec']).template.spec.containers[0] ?? {}, { ports: [{ containerPort: 8080 }], readinessProbe: { httpGet: { path: '/healthz', port: 8080 } } });
    store.create(resources.deployments, 'default', d);
    const broken = deployment('x:1', 1);
    broken.metadata.name = 'broken';
    Object.assign(broken.spec as object, { selector: { matchLabels: { app: 'broken' } }, template: { metadata: { labels: { app: 'broken' } }, spec: { containers: [{ name: 'c', image: 'x:1' }] } } });
    store.create(resources.deployments, 'default', broken);
    const [web] = await sim.waitFor('the selected pod Ready', () => {
      const ps = podsOf(store, 'app=web');
      return ps.length === 1 && isPodReady(ps[0] as Pod) ? ps : undefined;
    });
    expect(podEndpoint(web as Pod, 8080)?.host).toBe('127.0.0.1');
    const bad = await sim.waitFor('CreateContainerError', () => podsOf(store, 'app=broken').find((p) => p.status?.containerStatuses?.[0]?.state['waiting']?.['reason'] === 'CreateContainerError'));
    expect(String(bad.status?.containerStatuses?.[0]?.state['waiting']?.['message'])).toMatch(/select\(\): no process named "missing"/);
    expect(isPodReady(bad)).toBe(false);
    expect(errors).toEqual([`starting the process of pod default/${bad.metadata.name}`]);
  });
});

describe('Simulator behind the HTTP API (startEmulator)', () => {
  it('a DaemonSet created over HTTP gets Ready pods whose status clients read over HTTP', async () => {
    const emulator = await startEmulator();
    closeEmulator = () => emulator.close();
    const { sim } = await startSim(emulator.store);
    sim.addFleet({ nodes: 6, mix: { 'cpu-amd64': 1, 'nvidia-gpu': 1 } });
    const post = await fetch(`${emulator.url}/apis/apps/v1/namespaces/default/daemonsets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(daemonSet('sidecar:1', { type: 'OnDelete' }, { 'nvidia.com/gpu.present': 'true' })),
    });
    expect(post.status).toBe(201);
    await sim.waitFor('3 GPU pods Ready', () => podsOf(emulator.store, 'app=serve').filter(isPodReady).length === 3);
    const ds = (await (await fetch(`${emulator.url}/apis/apps/v1/namespaces/default/daemonsets/serve`)).json()) as DaemonSet;
    expect(ds.status).toMatchObject({ desiredNumberScheduled: 3, numberReady: 3, updatedNumberScheduled: 3, observedGeneration: 1 });
    const list = (await (await fetch(`${emulator.url}/api/v1/namespaces/default/pods?labelSelector=app%3Dserve`)).json()) as { items: Pod[] };
    expect(list.items.map((p) => p.spec.nodeName).every((n) => n?.includes('nvidia-gpu'))).toBe(true);
    const writers = new Set(emulator.requestLog.writesSince(0, { resource: 'pods' }).map((e) => e.client));
    expect(writers).toEqual(new Set(['kube-controller-manager/v1.33.1 (simulator)', 'kubelet/v1.33.1 (simulator)']));
  });
});
