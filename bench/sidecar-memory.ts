/**
 * bench:sidecar-memory — resident memory of a sidecar process serving stories260K: at start (after one warm-up
 * request), after each round of a load run (MEM_CONCURRENCY concurrent streams of 64-255 tokens, MEM_ROUNDS rounds)
 * and after MEM_IDLE_S seconds idle. Arguments after `--` go to the sidecar (e.g. `--cpu-mem-arena off`); the
 * sidecar inherits the environment (e.g. MALLOC_MMAP_THRESHOLD_). Linux only (reads /proc). Not a test: prints JSON
 * lines.
 *
 *   npx nx run bench:sidecar-memory   (MEM_CONCURRENCY=16 MEM_ROUNDS=4 MEM_IDLE_S=10)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { convertLlama2cPackage } from '@slmops/model';
import { generateRemote } from '@slmops/sidecar';

const repo = join(import.meta.dirname, '../..');
const stories = join(repo, '../shared/fixtures/models/stories260K');
const CONCURRENCY = Number(process.env['MEM_CONCURRENCY'] ?? 16);
const ROUNDS = Number(process.env['MEM_ROUNDS'] ?? 4);
const IDLE_S = Number(process.env['MEM_IDLE_S'] ?? 10);
const PROMPTS = ['Once upon a time', 'Tom had a big dog', 'The sun was shining and the birds', 'Lily wanted to play with her friends in the park but it was raining'];

const root = mkdtempSync(join(tmpdir(), 'bench-sidecar-memory-'));
const dir = join(root, 'stories260k');
await convertLlama2cPackage({ checkpoint: join(stories, 'stories260K.bin'), tokenizer: join(stories, 'tok512.bin'), out: dir, name: 'stories260k', version: '1' });
const extra = process.argv.slice(2).filter((a) => a !== '--');
const child = spawn(
  process.execPath,
  [join(repo, 'packages/sidecar/bin/slmops-sidecar.js'), '--model', dir, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--cache-dir', join(root, 'cache'), ...extra],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
let stderr = '';
child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
const announced = await new Promise<string>((resolve, reject) => {
  createInterface({ input: child.stdout }).once('line', resolve);
  child.once('exit', (code) => reject(new Error(`the sidecar exited with ${code}: ${stderr}`)));
});
const { grpc, metrics } = JSON.parse(announced) as { grpc: string; metrics: string };

const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) / 1024;
const mib = (n: number) => Math.round((n / 1048576) * 10) / 10;
async function sample(label: string): Promise<void> {
  const text = await (await fetch(metrics)).text();
  const v = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  console.log(JSON.stringify({ label, rssMiB: Math.round(rssMiB() * 10) / 10, mainHeapUsedMiB: mib(v('nodejs_heap_size_used_bytes')), mainHeapTotalMiB: mib(v('nodejs_heap_size_total_bytes')) }));
}
const generate = async (i: number, maxTokens: number) => {
  for await (const ev of generateRemote(grpc, { prompt: PROMPTS[i % PROMPTS.length]!.repeat(1 + (i % 5)), max_tokens: maxTokens, temperature: 0.8, seed: i })) void ev;
};

while ((await fetch(metrics.replace('/metrics', '/readyz')).catch(() => undefined))?.status !== 200) await sleep(100);
await generate(0, 32);
await sleep(1000);
await sample('start');
for (let r = 0; r < ROUNDS; r++) {
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => generate(r * CONCURRENCY + i, 64 + ((i * 37) % 192))));
  await sample(`after round ${r + 1}`);
}
await sleep(IDLE_S * 1000);
await sample(`after ${IDLE_S} s idle`);
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
rmSync(root, { recursive: true, force: true });
