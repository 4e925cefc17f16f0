/**
 * Issue 17 item 7: Ctrl-C to `slmops serve` signals the whole process group, so the sidecar gets SIGINT from the
 * terminal and again from the wrapper; pressing it twice must still drain. The built `slmops` binary, real streams.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { convertLlama2cPackage, randomLlama2cWeights, writeLlama2cCheckpoint } from '@slmops/model';
import type { RemoteGenerationEvent, generateRemote as GenerateRemote } from '@slmops/sidecar';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tmp, tok } from './model-fixtures.js';

const SLMOPS_BIN = join(import.meta.dirname, '../bin/slmops.js');

/** Random weights, wide enough that 4 streams of 400 tokens outlast the signals sent while they run. */
let root: string;
let pkg: string;
let generateRemote: typeof GenerateRemote;
beforeAll(async () => {
  // The sidecar client is loaded lazily, as the CLI loads it (the module-boundary rule forbids mixing both kinds).
  ({ generateRemote } = await import('@slmops/sidecar'));
  root = tmp('slmops-cli-drain-');
  const config = { dim: 192, hiddenDim: 512, nLayers: 4, nHeads: 6, nKvHeads: 6, vocabSize: 512, seqLen: 512, sharedClassifier: true };
  const ckpt = join(root, 'drain.bin');
  writeFileSync(ckpt, writeLlama2cCheckpoint(config, randomLlama2cWeights(config, 1)));
  pkg = join(root, 'drain');
  await convertLlama2cPackage({ checkpoint: ckpt, tokenizer: tok, out: pkg, name: 'drain', version: '1' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const proc of children) {
    if (proc.exitCode !== null || proc.signalCode !== null) continue;
    try {
      process.kill(-proc.pid!, 'SIGKILL'); // its own process group: the wrapper and the sidecar both
    } catch {
      proc.kill('SIGKILL');
    }
  }
  children.clear();
});

async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; !(await cond()); i++) {
    if (i > 2400) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** One Generate stream; `started` resolves at its first token, `done` with its events or the error that ended it. */
function stream(address: string, i: number) {
  let first!: () => void;
  const started = new Promise<void>((r) => (first = r));
  const done = (async () => {
    const events: RemoteGenerationEvent[] = [];
    try {
      for await (const e of generateRemote(address, { prompt: `Once upon a time ${i}`, max_tokens: 400, temperature: 0 })) {
        events.push(e);
        first();
      }
      return { events };
    } catch (error) {
      first();
      return { events, error: error as Error };
    }
  })();
  return { started, done };
}

describe('hardening item 7: drain is skipped on Ctrl-C to slmops serve', () => {
  it('SIGINT to the process group, twice, drains every stream and exits 0', async () => {
    const args = ['serve', '--model', pkg, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--grace-period', '60s', '--max-batch-size', '8'];
    // The leader of a new process group, as a shell makes a foreground job: the terminal's Ctrl-C reaches the group.
    const proc = spawn(process.execPath, [SLMOPS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(proc);
    let err = '';
    proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).once('line', resolve);
      proc.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    const [, grpc, metrics] = /^serving: gRPC (\S+), metrics (\S+)\/metrics/.exec(first)!;
    await until('the model to serve', async () => (await fetch(`${metrics}/readyz`).catch(() => undefined))?.status === 200);
    const streams = Array.from({ length: 4 }, (_, i) => stream(grpc!, i));
    await Promise.all(streams.map((s) => s.started));

    process.kill(-proc.pid!, 'SIGINT');
    await until('the drain to start', () => err.includes('"msg":"draining"'));
    process.kill(-proc.pid!, 'SIGINT');

    for (const r of await Promise.all(streams.map((s) => s.done))) {
      expect(r.error).toBeUndefined();
      expect(r.events.at(-1)).toMatchObject({ type: 'done', completionTokens: 400 });
    }
    expect(await exited).toBe(0);
    expect(err).toMatch(/"msg":"signal received; draining","component":"sidecar","signal":"SIGINT"/);
    expect(err).toContain('"msg":"signal received while draining; the drain goes on, bounded by the grace period","component":"sidecar","signal":"SIGINT"');
    expect(err).toContain('"msg":"stopped"');
  }, 120_000);
});
