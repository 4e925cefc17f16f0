/**
 * `kubectl slm generate` and `top` against real sidecar processes serving stories260k: the emulator's pods point
 * at them (podIP 127.0.0.1, container ports named grpc/metrics set to the sidecars' ports).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Emulator, resources } from '@slmops/kube-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { convertCommand } from '../src/commands/convert.js';
import { sidecarBin } from '../src/commands/serve.js';
import { productionDeps } from '../src/kubectl-slm/main.js';
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
let kubectlSlm: (argv: string[]) => Promise<Run>;
const sidecars: Sidecar[] = [];

function servingPod(name: string, nodeClass: string, s: Sidecar | undefined, ready: boolean) {
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
  emu.store.patch(resources.pods, 'default', name, 'merge', { status: { phase: 'Running', podIP: '127.0.0.1', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } }, { subresource: 'status' });
}

const scrape = async (s: Sidecar) => (await fetch(`http://127.0.0.1:${s.metricsPort}/metrics`)).text();
const sample = (text: string, name: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);

beforeAll(async () => {
  const model = join(mkdtempSync(join(tmpdir(), 'kubectl-slm-')), 'stories260k');
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
}, 120_000);

afterAll(async () => {
  for (const s of sidecars) s.child.kill('SIGTERM');
  await emu?.close();
});

describe('kubectl slm generate', () => {
  it('streams the completion from the first Ready pod and never echoes the prompt on stderr', async () => {
    const r = await kubectlSlm(['generate', 'gen', '--prompt', PROMPT, '--max-tokens', '12', '--temperature', '0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${EXPECTED}\n`);
    expect(r.stderr).toBe(`generating on pod gen-cpu (127.0.0.1:${sidecars[0]!.grpcPort})\n`);
    expect(r.stderr).not.toContain(PROMPT);
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
    const r = await kubectlSlm(['top', 'gen']);
    expect(r.stderr).toBe('');
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
    servingPod('gen-dead', 'jetson', { child: undefined as never, grpcPort: 1, metricsPort: 1 }, true);
    const r = await kubectlSlm(['top', '-A']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: scraping pod default\/gen-dead \(http:\/\/127\.0\.0\.1:1\/metrics\) failed: /);
    expect(r.stdout).toMatch(/^NAMESPACE\s+NAME\s+NODE-CLASS/);
    expect(r.stdout).toMatch(/\ndefault\s+gen\s+jetson\s+0\/1\s+0\s+<none>\s+<none>\s+<none>\s+0\n/);
    expect(r.stdout).toMatch(/\ndefault\s+gen\s+cpu-amd64\s+1\s+\d+/);
  });
});
