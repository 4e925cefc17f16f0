/**
 * Issue 17 item 7: a repeated SIGTERM must not skip the drain (the sidecar binary, real streams). Ctrl-C to
 * `slmops serve` is tested in packages/cli/test/hardening-serve.test.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../src/client.js';
import { type AnyClient, type Harness, collect, generateCall, spawnNode, unary } from './helpers.js';
import { type ConvertedModel, convertRandom } from './real-model.js';

const SIDECAR_BIN = join(import.meta.dirname, '../bin/slmops-sidecar.js');

/** Random weights, wide enough that 4 streams of 400 tokens outlast the signals sent while they run. */
let slow: ConvertedModel;
beforeAll(async () => {
  slow = await convertRandom({ dim: 192, hiddenDim: 512, nLayers: 4, nHeads: 6, nKvHeads: 6, vocabSize: 512, seqLen: 512 }, 'drain');
});
afterAll(() => slow?.cleanup());

const children = new Set<ChildProcess>();
const clients = new Set<AnyClient>();
afterEach(() => {
  for (const c of clients) c.close();
  clients.clear();
  for (const proc of children) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  children.clear();
});

interface Running {
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
  inference: AnyClient;
}

/** Spawns `node <bin> ...args` and waits until health is SERVING. */
async function launch(bin: string, args: string[], grpcOf: (firstLine: string) => string): Promise<Running> {
  const { proc, first, stderr, exited } = await spawnNode(bin, args, children);
  const grpc = grpcOf(first);
  const inference = createClient('inference', grpc);
  const health = createClient('health', grpc);
  clients.add(inference).add(health);
  await until('SERVING', async () => (await unary(health, 'Check', { service: '' }).catch(() => ({ status: 'DOWN' })))['status'] === 'SERVING');
  return { proc, stderr, exited, inference };
}

async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; !(await cond()); i++) {
    if (i > 2400) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Opens `n` Generate streams; `started` resolves once each has sent its first token, `done` with their results. */
function openStreams(inference: AnyClient, n: number) {
  const h = { inference } as unknown as Harness;
  const started: Promise<void>[] = [];
  const results = Array.from({ length: n }, (_, i) => {
    const call = generateCall(h, { prompt: `Once upon a time ${i}`, max_tokens: 400, temperature: 0 });
    started.push(new Promise((r) => call.once('data', () => r())));
    return collect(call);
  });
  return { started: Promise.all(started), done: Promise.all(results) };
}

const base = ['--model', '', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--grace-period', '60s', '--max-batch-size', '8'];
const args = () => base.map((a) => (a === '' ? slow.dir : a));

describe('hardening item 7: drain is skipped on a second SIGTERM', () => {
  it('a second SIGTERM during the drain is logged and the streams still complete', async () => {
    const c = await launch(SIDECAR_BIN, args(), (line) => (JSON.parse(line) as { grpc: string }).grpc);
    const streams = openStreams(c.inference, 4);
    await streams.started;
    c.proc.kill('SIGTERM');
    await until('the drain to start', () => c.stderr().includes('"msg":"draining"'));
    c.proc.kill('SIGTERM');
    const done = await streams.done;
    for (const r of done) {
      expect(r.error).toBeUndefined();
      expect(r.messages.at(-1)!['usage']).toMatchObject({ completion_tokens: 400 });
    }
    expect(await c.exited).toBe(0);
    expect(c.stderr()).toMatch(/"level":"warn","msg":"signal received while draining; the drain goes on, bounded by the grace period","component":"sidecar","signal":"SIGTERM","graceMs":60000/);
    expect(c.stderr()).toContain('"msg":"stopped"');
  }, 120_000);
});
