/**
 * Kube emulator at operator scale: 5,000 nodes and 5,000 pods, created, listed and watched over HTTP the way
 * client-node does it. Prints a Markdown table for docs/BENCHMARKS.md.
 *
 *   npx nx run bench:emulator
 */
import { Worker } from 'node:worker_threads';
import { startEmulator, resources } from '@slmops/kube-emulator';

const NODES = 5000;
const PODS = 5000;
const WATCHERS = 50;
const CONCURRENCY = 32;

const rows: [string, string][] = [];
const row = (what: string, value: string) => {
  rows.push([what, value]);
  console.error(`${what}: ${value}`);
};
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;
const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  return process.memoryUsage();
};

const node = (i: number) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: `node-${i}`, labels: { 'kubernetes.io/arch': i % 3 ? 'amd64' : 'arm64', 'node-role.slmops.io/edge': 'true', 'feature.node.kubernetes.io/cpu-model.vendor_id': 'Intel' } },
  status: {
    capacity: { cpu: '8', memory: '16Gi', pods: '110' },
    allocatable: { cpu: '8', memory: '16Gi', pods: '110' },
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: '2026-01-01T00:00:00Z', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    nodeInfo: { kubeletVersion: 'v1.33.1', architecture: 'amd64', osImage: 'Debian GNU/Linux 12' },
  },
});

const pod = (i: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `sidecar-${i}`, labels: { app: 'slm', group: `g${i % WATCHERS}`, 'slmops.io/deployment': `d${i % 1000}` } },
  spec: { nodeName: `node-${i}`, containers: [{ name: 'sidecar', image: 'ghcr.io/slmops/sidecar:1.0.0', ports: [{ containerPort: 50051, name: 'grpc' }], resources: { requests: { cpu: '500m', memory: '256Mi' } } }] },
});

/** The HTTP load generator (plain JavaScript, evaluated in a worker thread). */
const HTTP_CLIENT = `
const { parentPort, workerData: w } = require('node:worker_threads');
const rows = [];
const pct = (xs, p) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const podFor = (i) => {
  const p = JSON.parse(JSON.stringify(w.podTemplate));
  p.metadata.name = 'sidecar-' + i;
  p.metadata.labels.group = 'g' + (i % w.watchers);
  p.metadata.labels['slmops.io/deployment'] = 'd' + (i % 1000);
  p.spec.nodeName = 'node-' + i;
  return p;
};
(async () => {
  const latencies = [];
  let t = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: w.concurrency }, async () => {
    while (next < w.pods) {
      const i = next++;
      const start = performance.now();
      const res = await fetch(w.base + '/namespaces/default/pods', { method: 'POST', body: JSON.stringify(podFor(i)), headers: { 'content-type': 'application/json' } });
      if (res.status !== 201) throw new Error('create pod ' + i + ': ' + res.status + ' ' + (await res.text()));
      await res.arrayBuffer();
      latencies.push(performance.now() - start);
    }
  }));
  const s = (performance.now() - t) / 1000;
  rows.push(['create ' + w.pods + ' pods over HTTP (' + w.concurrency + ' concurrent)', (w.pods / s).toFixed(0) + ' req/s, p50 ' + pct(latencies, 0.5).toFixed(1) + ' ms, p99 ' + pct(latencies, 0.99).toFixed(1) + ' ms']);
  const timeList = async (what, url, times, accept) => {
    let bytes = 0;
    const t0 = performance.now();
    for (let k = 0; k < times; k++) bytes = (await (await fetch(url, { headers: { accept: accept || 'application/json' } })).arrayBuffer()).byteLength;
    rows.push([what, ((performance.now() - t0) / times).toFixed(1) + ' ms per list (' + (bytes / 1024 / 1024).toFixed(1) + ' MiB)']);
  };
  await timeList('list ' + w.pods + ' pods (JSON)', w.base + '/pods', 5);
  await timeList('list ' + w.nodes + ' nodes (JSON)', w.base + '/nodes', 5);
  await timeList('list pods by label (100 of 5,000)', w.base + '/namespaces/default/pods?labelSelector=group%3Dg7', 20);
  await timeList('list pods by field spec.nodeName (1 of 5,000)', w.base + '/pods?fieldSelector=spec.nodeName%3Dnode-42', 20);
  await timeList('first page of pods as a Table (kubectl get, limit=500)', w.base + '/pods?limit=500', 5, 'application/json;as=Table;v=v1;g=meta.k8s.io');
  t = performance.now();
  let cont = '';
  let pages = 0;
  do {
    const page = await (await fetch(w.base + '/pods?limit=500' + (cont ? '&continue=' + cont : ''))).json();
    cont = page.metadata.continue || '';
    pages++;
  } while (cont);
  rows.push(['paged list of ' + w.pods + ' pods (limit=500)', (performance.now() - t).toFixed(1) + ' ms for ' + pages + ' pages']);
  parentPort.postMessage(rows);
})();
`;

async function main(): Promise<void> {
  const before = heap();
  const emu = await startEmulator();
  const base = `${emu.url}/api/v1`;

  let t = performance.now();
  for (let i = 0; i < NODES; i++) emu.store.create(resources.nodes, undefined, node(i), { client: 'bench' });
  let s = (performance.now() - t) / 1000;
  row(`create ${NODES} nodes in-process`, `${(NODES / s).toFixed(0)} objects/s (${s.toFixed(2)} s)`);

  // The HTTP client runs in a worker thread, as a separate operator process would, so its JSON parsing and
  // socket work do not share the server's event loop.
  const results = await new Promise<[string, string][]>((resolve, reject) => {
    const worker = new Worker(HTTP_CLIENT, { eval: true, workerData: { base, pods: PODS, concurrency: CONCURRENCY, watchers: WATCHERS, nodes: NODES, podTemplate: pod(0) } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  for (const [a, b] of results) row(a, b);

  // Watches: WATCHERS label-selected streams plus one for everything, as informers open them.
  const rv = emu.store.resourceVersion;
  const counts = new Array<number>(WATCHERS + 1).fill(0);
  const controllers: AbortController[] = [];
  const streams = Array.from({ length: WATCHERS + 1 }, async (_, w) => {
    const ac = new AbortController();
    controllers.push(ac);
    const selector = w < WATCHERS ? `&labelSelector=group%3Dg${w}` : '';
    const res = await fetch(`${base}/pods?watch=true&resourceVersion=${rv}${selector}`, { signal: ac.signal });
    const reader = res.body!.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const b of value) if (b === 10) counts[w]!++;
      }
    } catch {
      // aborted at the end of the run
    }
  });
  await new Promise((r) => setTimeout(r, 200));
  t = performance.now();
  for (let i = 0; i < PODS; i++) {
    emu.store.patch(resources.pods, 'default', `sidecar-${i}`, 'merge', { status: { phase: 'Running', podIP: `10.0.${i >> 8}.${i & 255}`, conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status', fieldManager: 'kubelet', client: 'bench' });
  }
  const writeS = (performance.now() - t) / 1000;
  const expected = PODS * 2;
  while (counts.reduce((a, b) => a + b, 0) < expected) await new Promise((r) => setTimeout(r, 5));
  s = (performance.now() - t) / 1000;
  row(`${PODS} pod status patches in-process`, `${(PODS / writeS).toFixed(0)} writes/s`);
  row(`deliver them to ${WATCHERS + 1} HTTP watches`, `${expected} events in ${s.toFixed(2)} s (${(expected / s).toFixed(0)} events/s)`);
  for (const ac of controllers) ac.abort();
  await Promise.allSettled(streams);

  const after = heap();
  row('memory after the run (heap used / RSS)', `${mb(after.heapUsed - before.heapUsed)} heap for ${NODES + PODS} objects / ${mb(after.rss)} RSS`);
  await emu.close();

  console.log(`\nCommand: \`npx nx run bench:emulator\` (Node ${process.version}, ${process.platform}/${process.arch}; HTTP client in a worker thread)\n`);
  console.log('| Measure | Result |\n|---|---|');
  for (const [a, b] of rows) console.log(`| ${a} | ${b} |`);
}

await main();
