/**
 * `kubectl slm generate` and `top` against real sidecar processes serving stories260k: the emulator's pods point
 * at them (podIP 127.0.0.1, container ports named grpc/metrics set to the sidecars' ports). Both go through the
 * emulator's API server (pods/portforward, pods/proxy) as they would from a laptop; only the `--direct` cases dial
 * the pods' addresses themselves. Pods with a simulated IP (10.x) are never dialled by anyone: the emulator
 * answers for them as for a pod that is down.
 */
import { createServer, type Server } from 'node:http';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Emulator, resources, Simulator } from '@slmops/kube-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { convertCommand } from '../src/commands/convert.js';
import { sidecarBin } from '../src/commands/serve.js';
import { productionDeps } from '../src/kubectl-slm/main.js';
import { isServing, type PodObject } from '../src/kubectl-slm/pods.js';
import { runPlugin, slmdManifest, slmdRef, startCluster, type Run } from './kubectl-slm-harness.js';

const checkpoint = join(import.meta.dirname, '../../../models/stories260k');
const PROMPT = 'Once upon a time';
const EXPECTED = ', there was a little girl named Lily. She';

interface Sidecar {
  child: ChildProcess;
  grpcPort: number;
  metricsPort: number;
}

async function startSidecar(model: string): Promise<Sidecar> {
  const child = spawn(process.execPath, [sidecarBin(), '--model', model, '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.resume();
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`sidecar exited with ${code}`)));
  });
  const a = JSON.parse(first) as { grpc: string; metrics: string };
  const metricsPort = Number(new URL(a.metrics).port);
  while ((await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => undefined))?.status !== 200) await new Promise((r) => setTimeout(r, 25));
  return { child, grpcPort: Number(a.grpc.split(':').at(-1)), metricsPort };
}

let emu: Emulator;
let model: string;
let sim: Simulator | undefined;
/** A /metrics endpoint that never ends its body (`endless`) or sends headers and then nothing (`silent`). */
let hostile: Server;
let hostileMode: 'endless' | 'silent' = 'endless';
let kubectlSlm: (argv: string[]) => Promise<Run>;
const sidecars: Sidecar[] = [];

function servingPod(name: string, nodeClass: string, s: Pick<Sidecar, 'grpcPort' | 'metricsPort'> | undefined, ready: boolean, podIP = '127.0.0.1') {
  emu.store.create(resources.pods, 'default', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'slmops.io/deployment': 'gen', 'slmops.io/node-class': nodeClass } },
    spec: {
      containers: [
        { name: 'sidecar', image: 'ghcr.io/slmops/sidecar:0.1.0', ports: [{ name: 'grpc', containerPort: s?.grpcPort ?? 50051 }, { name: 'metrics', containerPort: s?.metricsPort ?? 9464 }] },
      ],
    },
  });
  emu.store.patch(resources.pods, 'default', name, 'merge', { status: { phase: 'Running', podIP, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } }, { subresource: 'status' });
}

const scrape = async (s: Sidecar) => (await fetch(`http://127.0.0.1:${s.metricsPort}/metrics`)).text();
const sample = (text: string, name: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);

beforeAll(async () => {
  model = join(mkdtempSync(join(tmpdir(), 'kubectl-slm-')), 'stories260k');
  const io = { stdout: new PassThrough(), stderr: new PassThrough(), cwd: process.cwd(), env: {} };
  io.stdout.resume();
  io.stderr.resume();
  const conv = await convertCommand.run([join(checkpoint, 'stories260K.bin'), '--tokenizer', join(checkpoint, 'tok512.bin'), '--out', model, '--name', 'stories260k', '--version', '1.0.0'], io);
  if (conv !== 0) throw new Error('converting models/stories260k failed');
  sidecars.push(...(await Promise.all([startSidecar(model), startSidecar(model)])));
  ({ emu, kubectlSlm } = await startCluster());
  emu.store.create(slmdRef, 'default', slmdManifest('gen'));
  // "a-…" sorts first but is not Ready, so generate must skip it.
  servingPod('gen-a-starting', 'cpu-amd64', undefined, false);
  servingPod('gen-cpu', 'cpu-amd64', sidecars[0], true);
  servingPod('gen-gpu', 'nvidia-gpu', sidecars[1], true);
  hostile = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    if (hostileMode === 'endless') {
      const line = `${'x'.repeat(1000)} 1\n`;
      const pump = () => {
        while (!res.destroyed && res.write(line));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    } else res.flushHeaders();
  });
  await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
}, 120_000);

afterAll(async () => {
  await sim?.stop();
  for (const s of sidecars) s.child.kill('SIGTERM');
  hostile?.closeAllConnections();
  hostile?.close();
  await emu?.close();
});

/** Requests for a pod subresource the emulator served since `mark`. */
const served = (mark: number, subresource: string, name: string) => emu.requestLog.since(mark).filter((e) => e.subresource === subresource && e.name === name);

describe('kubectl slm generate', () => {
  it('streams the completion from the first Ready pod and never echoes the prompt on stderr', async () => {
    const r = await kubectlSlm(['generate', 'gen', '--prompt', PROMPT, '--max-tokens', '12', '--temperature', '0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${EXPECTED}\n`);
    expect(r.stderr).toMatch(new RegExp(`^generating on pod gen-cpu \\(port ${sidecars[0]!.grpcPort}, forwarded to 127\\.0\\.0\\.1:\\d+\\)\n$`));
    expect(r.stderr).not.toContain(PROMPT);
  });

  it('tunnels through the API server\'s pods/portforward by default, and dials the pod itself only with --direct', async () => {
    let mark = emu.requestLog.mark();
    const viaApi = await kubectlSlm(['generate', 'gen', '--pod', 'gen-gpu', '-p', PROMPT, '--max-tokens', '5', '--temperature', '0', '--json']);
    expect(viaApi.code).toBe(0);
    expect(served(mark, 'portforward', 'gen-gpu').map((e) => [e.method, e.code])).toEqual([['GET', 101]]);
    mark = emu.requestLog.mark();
    const direct = await kubectlSlm(['generate', 'gen', '--pod', 'gen-gpu', '-p', PROMPT, '--max-tokens', '5', '--temperature', '0', '--json', '--direct']);
    expect(direct.code).toBe(0);
    expect(direct.stderr).toBe(`generating on pod gen-gpu (127.0.0.1:${sidecars[1]!.grpcPort})\n`);
    expect(JSON.parse(direct.stdout)).toEqual(JSON.parse(viaApi.stdout));
    expect(served(mark, 'portforward', 'gen-gpu')).toEqual([]);
  });

  it('reports what the port-forward saw when the pod cannot be reached', async () => {
    // A Ready pod with a simulated IP: the emulator refuses to dial it, as a cluster whose pod is down would fail.
    servingPod('gen-sim', 'cpu-amd64', { grpcPort: 50051, metricsPort: 9464 }, true, '10.244.7.9');
    const r = await kubectlSlm(['generate', 'gen', '--pod', 'gen-sim', '-p', PROMPT]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error: port-forward to pod "gen-sim" port 50051: error forwarding port 50051 to pod default/gen-sim: dial tcp 10.244.7.9:50051: connect: no route to host',
    );
    emu.store.delete(resources.pods, 'default', 'gen-sim');
  });

  it('--pod picks the pod, --json reports tokens and the finish reason', async () => {
    const r = await kubectlSlm(['generate', 'gen', '--pod', 'gen-gpu', '-p', PROMPT, '--max-tokens', '12', '--temperature', '0', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ pod: 'gen-gpu', text: EXPECTED, tokens: 12, finishReason: 'length', promptTokens: expect.any(Number), completionTokens: 12 });
    const notReady = await kubectlSlm(['generate', 'gen', '--pod', 'gen-a-starting', '-p', PROMPT]);
    expect(notReady).toMatchObject({ code: 1, stderr: 'error: pod "gen-a-starting" is not a Ready pod of slmdeployment "gen" in namespace "default"\n' });
  });

  it('fails clearly without Ready pods, without --prompt, or for a missing deployment', async () => {
    emu.store.create(slmdRef, 'default', slmdManifest('idle'));
    const idle = await kubectlSlm(['generate', 'idle', '--prompt', PROMPT]);
    expect(idle).toMatchObject({ code: 1, stderr: 'error: slmdeployment "idle" in namespace "default" has no Ready pods (0 pods found)\n' });
    expect((await kubectlSlm(['generate', 'gen'])).code).toBe(2);
    expect((await kubectlSlm(['generate', 'gen', '-p', 'x', '--max-tokens', 'lots'])).stderr).toContain('--max-tokens must be an integer');
    expect((await kubectlSlm(['generate', 'ghost', '-p', 'x'])).stderr).toBe('Error from server (NotFound): slmdeployments.slmops.io "ghost" not found\n');
  });
});

describe('kubectl slm top', () => {
  it('sums each node class\'s pod metrics: requests, errors, TTFT quantiles and tokens per inference second', async () => {
    // A request the sidecar rejects, so the GPU class has an error to count.
    const bad = await kubectlSlm(['generate', 'gen', '--pod', 'gen-gpu', '-p', PROMPT, '--top-p', '7']);
    expect(bad.code).toBe(1);
    const [cpuText, gpuText] = await Promise.all(sidecars.map(scrape));
    const mark = emu.requestLog.mark();
    const r = await kubectlSlm(['top', 'gen']);
    expect(r.stderr).toBe('');
    // Each pod's /metrics came through the API server's pods/proxy.
    for (const pod of ['gen-cpu', 'gen-gpu']) expect(served(mark, 'proxy', pod).map((e) => [e.path, e.code])).toEqual([[`/api/v1/namespaces/default/pods/${pod}:${pod === 'gen-cpu' ? sidecars[0]!.metricsPort : sidecars[1]!.metricsPort}/proxy/metrics`, 200]]);
    const [header, ...rows] = r.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^NAME\s+NODE-CLASS\s+PODS\s+REQUESTS\s+TTFT-P50\s+TTFT-P95\s+TOKENS\/S\s+ERRORS$/);
    const cells = rows.map((l) => l.split(/\s{3,}/));
    expect(cells.map((c) => c.slice(0, 2))).toEqual([['gen', 'cpu-amd64'], ['gen', 'nvidia-gpu']]);
    const expectRow = (c: string[], text: string) => {
      const errors = sample(text, 'slmops_request_failure_total');
      expect(c[2]).toBe('1');
      expect(Number(c[3])).toBe(sample(text, 'slmops_request_success_total') + errors);
      expect(Number(c[7])).toBe(errors);
      expect(c[4]).toMatch(/^\d+\.\dms$|^\d+\.\d\ds$/);
      const tps = sample(text, 'slmops_generation_tokens_total') / sample(text, 'slmops_request_inference_time_seconds_sum');
      expect(Number(c[6])).toBeCloseTo(tps, 0);
    };
    expectRow(cells[0]!, cpuText!);
    expectRow(cells[1]!, gpuText!);
    expect(Number(cells[0]![3])).toBeGreaterThanOrEqual(1);
    expect(Number(cells[1]![7])).toBeGreaterThanOrEqual(1);
  });

  it('--window rates count only what happened between the two scrapes', async () => {
    let completion = 0;
    const deps = {
      ...productionDeps(),
      // The "wait" between the scrapes runs one generation on the CPU pod instead of sleeping.
      async sleep() {
        const g = await kubectlSlm(['generate', 'gen', '--pod', 'gen-cpu', '-p', PROMPT, '--max-tokens', '10', '--temperature', '0', '--json']);
        completion = (JSON.parse(g.stdout) as { completionTokens: number }).completionTokens;
      },
    };
    const r = await runPlugin(['top', 'gen', '--window', '2s', '--kubeconfig', emu.kubeconfigPath], {}, deps);
    expect(r.code).toBe(0);
    const rows = r.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s{3,}/));
    expect(completion).toBe(10);
    expect(rows[0]).toEqual(['gen', 'cpu-amd64', '1', '1', expect.stringMatching(/ms$|s$/), expect.any(String), (completion / 2).toFixed(1), '0']);
    expect(rows[1]).toEqual(['gen', 'nvidia-gpu', '1', '0', '<none>', '<none>', '0.0', '0']);
  });

  it('warns about pods whose metrics cannot be scraped and still prints the others', async () => {
    servingPod('gen-dead', 'jetson', { grpcPort: 1, metricsPort: 1 }, true);
    const r = await kubectlSlm(['top', '-A']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: scraping pod default\/gen-dead \(port 1 through the API server's pods\/proxy\) failed: GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/default\/pods\/gen-dead:1\/proxy\/metrics: HTTP 503\n$/);
    expect(r.stdout).toMatch(/^NAMESPACE\s+NAME\s+NODE-CLASS/);
    expect(r.stdout).toMatch(/\ndefault\s+gen\s+jetson\s+0\/1\s+0\s+<none>\s+<none>\s+<none>\s+0\n/);
    expect(r.stdout).toMatch(/\ndefault\s+gen\s+cpu-amd64\s+1\s+\d+/);
    const direct = await kubectlSlm(['top', 'gen', '--direct']);
    expect(direct.stderr).toMatch(/^warning: scraping pod default\/gen-dead \(http:\/\/127\.0\.0\.1:1\/metrics\) failed: /);
    expect(direct.stdout).toMatch(/\ngen\s+cpu-amd64\s+1\s+\d+/);
    emu.store.delete(resources.pods, 'default', 'gen-dead');
  });

  it('caps a hostile /metrics read through the proxy: an endless body by --scrape-max-bytes, a silent one by --scrape-stall-timeout', async () => {
    servingPod('gen-hostile', 'jetson', { grpcPort: 1, metricsPort: (hostile.address() as { port: number }).port }, true);
    hostileMode = 'endless';
    const endless = await kubectlSlm(['top', 'gen', '--scrape-max-bytes', '64Ki']);
    expect(endless.code).toBe(0);
    expect(endless.stderr).toMatch(/^warning: scraping pod default\/gen-hostile \(port \d+ through the API server's pods\/proxy\) failed: GET .*: body exceeds the limit of 65536 bytes\n$/);
    expect(endless.stdout).toMatch(/\ngen\s+cpu-amd64\s+1\s+\d+/);
    hostileMode = 'silent';
    const silent = await kubectlSlm(['top', 'gen', '--scrape-stall-timeout', '300ms']);
    expect(silent.stderr).toMatch(/^warning: scraping pod default\/gen-hostile .* failed: GET .*: no data for 300 ms after 0 bytes\n$/);
    expect((await kubectlSlm(['top', 'gen', '--scrape-max-bytes', 'lots'])).code).toBe(2);
    emu.store.delete(resources.pods, 'default', 'gen-hostile');
  });
});

describe('a sidecar the simulator runs for a pod (its ports mapped, as on a laptop far from the pod network)', () => {
  it('top reads its /metrics through pods/proxy and generate reaches its gRPC port through pods/portforward', async () => {
    // The simulator starts the real sidecar for pods of this Deployment, on free local ports it maps the container
    // ports 50051/9464 to (the `sim.slmops.io/ports` annotation): only the API server knows where they are.
    sim = new Simulator({
      store: emu.store,
      podStartDelayMs: 0,
      podReadyDelayMs: 0,
      processes: {
        registry: {
          sidecar: (_pod, ports, ip) => ({
            command: process.execPath,
            args: [sidecarBin(), '--model', model, '--host', ip, '--port', String(ports[50051]), '--metrics-host', ip, '--metrics-port', String(ports[9464])],
          }),
        },
        select: (pod) => (pod.metadata.labels?.['slmops.io/deployment'] === 'simgen' ? 'sidecar' : undefined),
        probeIntervalMs: 50,
      },
    });
    await sim.start();
    sim.addFleet({ nodes: 1, mix: { 'cpu-amd64': 1 } });
    emu.store.create(slmdRef, 'default', slmdManifest('simgen'));
    const labels = { 'slmops.io/deployment': 'simgen', 'slmops.io/node-class': 'cpu-amd64' };
    emu.store.create(resources.deployments, 'default', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'simgen-cpu' },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'sidecar',
                image: 'ghcr.io/slmops/sidecar:0.1.0',
                ports: [{ name: 'grpc', containerPort: 50051 }, { name: 'metrics', containerPort: 9464 }],
                readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' } },
              },
            ],
          },
        },
      },
    });
    const pod = await sim.waitFor('the sidecar pod Ready', () =>
      (emu.store.list(resources.pods, { namespace: 'default', labelSelector: 'slmops.io/deployment=simgen' }).items as PodObject[]).find(isServing),
    );
    const mark = emu.requestLog.mark();
    const g = await kubectlSlm(['generate', 'simgen', '-p', PROMPT, '--max-tokens', '12', '--temperature', '0']);
    expect(g).toMatchObject({ code: 0, stdout: `${EXPECTED}\n` });
    expect(g.stderr).toMatch(new RegExp(`^generating on pod ${pod.metadata.name} \\(port 50051, forwarded to 127\\.0\\.0\\.1:\\d+\\)\n$`));
    const t = await kubectlSlm(['top', 'simgen']);
    expect(t.stderr).toBe('');
    expect(t.stdout).toMatch(/\nsimgen\s+cpu-amd64\s+1\s+1\s+\S+ms\s+\S+\s+\d+\.\d\s+0\n$/);
    expect(served(mark, 'portforward', pod.metadata.name).map((e) => e.code)).toEqual([101]);
    expect(served(mark, 'proxy', pod.metadata.name).map((e) => [e.path, e.code])).toEqual([[`/api/v1/namespaces/default/pods/${pod.metadata.name}:9464/proxy/metrics`, 200]]);
  }, 60_000);
});
