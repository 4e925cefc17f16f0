/**
 * bench:sidecar — end-to-end tokens/s and time to first token of the sidecar over gRPC streaming (server in a
 * child process, client here; one token per message, and with coalesce_tokens) beside the in-process engine on
 * the same package, at concurrency 1, 4, 16, 32, for stories260K and a random-weight model of the 15M shape.
 * Measured in rounds: each round measures every concurrency on every path, concurrency 1 one request of each
 * path in turn and the others one path right after another, so the ratios the targets name are taken per round
 * from measurements seconds apart, and reported as the median over rounds. Not a test: prints Markdown tables.
 *
 *   npx nx run bench:sidecar   (BENCH_SHAPES=260k,15m  BENCH_ROUNDS=10  BENCH_REQUESTS=12 per measurement  BENCH_THREADS=n
 *                               BENCH_STREAM_INTERVAL=5ms: the sidecar's --stream-interval)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { createEngine } from '@slmops/engine';
import { type Llama2cConfig, convertLlama2cPackage, loadModel, randomLlama2cWeights, writeLlama2cCheckpoint } from '@slmops/model';
import { createClient, generateRemote } from '@slmops/sidecar';

const repo = join(import.meta.dirname, '../..');
const firstExisting = (paths: string[]) => paths.find((p) => existsSync(p));
const stories = firstExisting([join(repo, 'models/stories260k'), join(repo, '../shared/fixtures/models/stories260K')]);
const llamaVocab = firstExisting([join(repo, '../shared/fixtures/models/stories260K/llama2_tokenizer_32000.bin')]);
const sidecarBin = join(repo, 'packages/sidecar/bin/slmops-sidecar.js');

interface Shape {
  key: string;
  name: string;
  config?: Llama2cConfig;
  genTokens: number;
}
const SHAPES: Shape[] = [
  { key: '260k', name: 'stories260K', genTokens: 128 },
  { key: '15m', name: 'random 15M (288/768/6L/6H, vocab 32000)', config: { dim: 288, hiddenDim: 768, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32000, seqLen: 256, sharedClassifier: true }, genTokens: 64 },
];
const CONCURRENCY = [1, 4, 16, 32];
/** Requests in one measurement, shared out among the clients (at least 2 each). */
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 12);
const requestsPerClient = (concurrency: number) => Math.max(2, Math.ceil(REQUESTS / concurrency));
/** Measured rounds, after one round that only warms up both paths (JIT, connections, buffer pools). */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 10);
const wanted = (process.env['BENCH_SHAPES'] ?? '260k,15m').split(',');
/** ONNX Runtime intra-op threads for both paths (default: ORT's own choice); the same on both sides. */
const THREADS = process.env['BENCH_THREADS'] ? Number(process.env['BENCH_THREADS']) : undefined;
/** The sidecar's --stream-interval (default: the sidecar's own). */
const STREAM_INTERVAL = process.env['BENCH_STREAM_INTERVAL'];
const PROMPT_IDS = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426];

interface Row {
  shape: string;
  path: string;
  concurrency: number;
  tps: number;
  ttftP50: number;
  ttftP99: number;
  tokens: number;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

/** One request: resolves with its TTFT (ms), generated token count and duration (s). */
type OneRequest = (prompt: number[]) => Promise<{ ttft: number; tokens: number; secs: number }>;

/** Consumes one generation: its time to first token (ms, from the call), its token count and duration. */
async function timed(start: () => AsyncIterable<{ type: string; ids?: number[] }>): Promise<{ ttft: number; tokens: number; secs: number }> {
  const t0 = performance.now();
  let ttft = NaN;
  let tokens = 0;
  for await (const ev of start()) {
    const n = ev.type === 'token' ? 1 : ev.type === 'tokens' ? ev.ids!.length : 0;
    if (n > 0 && tokens === 0) ttft = performance.now() - t0;
    tokens += n;
  }
  return { ttft, tokens, secs: (performance.now() - t0) / 1000 };
}

interface Sample {
  ttfts: number[];
  tokens: number;
  secs: number;
}

/** Different prompts per client, so sequences really differ inside a batch. */
const promptFor = (client: number, request: number) => [...PROMPT_IDS.slice(0, 8), 300 + ((client * 7 + request) % 200)];

async function measureOnce(concurrency: number, one: OneRequest): Promise<Sample> {
  const ttfts: number[] = [];
  let tokens = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, c) => {
      for (let r = 0; r < requestsPerClient(concurrency); r++) {
        const res = await one(promptFor(c, r));
        ttfts.push(res.ttft);
        tokens += res.tokens;
      }
    }),
  );
  return { ttfts, tokens, secs: (performance.now() - t0) / 1000 };
}

const row = (shape: string, path: string, concurrency: number, samples: Sample[]): Row => {
  const ttfts = samples.flatMap((x) => x.ttfts);
  const tokens = samples.reduce((a, x) => a + x.tokens, 0);
  const secs = samples.reduce((a, x) => a + x.secs, 0);
  return { shape, path, concurrency, tps: tokens / secs, ttftP50: quantile(ttfts, 0.5), ttftP99: quantile(ttfts, 0.99), tokens };
};

const GRPC = 'sidecar gRPC stream';
const COALESCED = 'sidecar gRPC stream, coalesce_tokens';
const PATHS = ['in-process engine', GRPC, COALESCED] as const;
type PathName = (typeof PATHS)[number];
/** One round: tokens/s of every path and concurrency, measured within seconds of each other. */
type Round = Map<string, Sample>;
const key = (path: PathName, c: number) => `${path} ${c}`;
const tps = (s: Sample) => s.tokens / s.secs;

/**
 * Concurrency 1 on every path, one request of each path in turn (the order alternating), so the machine's drift
 * falls on all paths alike; a path's time is the sum of its requests' durations.
 */
async function measureInterleaved(round: number, paths: Record<PathName, OneRequest>, out: Round): Promise<void> {
  const samples = new Map(PATHS.map((p): [PathName, Sample] => [p, { ttfts: [], tokens: 0, secs: 0 }]));
  for (let r = 0; r < requestsPerClient(1); r++) {
    for (const path of (round + r) % 2 === 0 ? PATHS : [...PATHS].reverse()) {
      const res = await paths[path](promptFor(0, r));
      const s = samples.get(path)!;
      s.ttfts.push(res.ttft);
      s.tokens += res.tokens;
      s.secs += res.secs;
    }
  }
  for (const [path, s] of samples) out.set(key(path, 1), s);
}

/** Every concurrency on every path: concurrency 1 interleaved, the others one path after another, alternating. */
async function measureRound(round: number, paths: Record<PathName, OneRequest>): Promise<Round> {
  const out: Round = new Map();
  for (const [i, c] of CONCURRENCY.entries()) {
    if (c === 1) {
      await measureInterleaved(round, paths, out);
      continue;
    }
    const order = (round + i) % 2 === 0 ? PATHS : [...PATHS].reverse();
    for (const path of order) out.set(key(path, c), await measureOnce(c, paths[path]));
  }
  return out;
}

/** The ratios the targets name, one per round: each gRPC path / in-process at c=1, and c=16 / c=1 of each path. */
type Ratios = Record<'grpcOverInProcess1' | 'coalescedOverInProcess1' | 'grpcScale16' | 'coalescedScale16' | 'inProcessScale16', number>;
const ratiosOf = (r: Round): Ratios => {
  const t = (path: PathName, c: number) => tps(r.get(key(path, c))!);
  return {
    grpcOverInProcess1: t(GRPC, 1) / t('in-process engine', 1),
    coalescedOverInProcess1: t(COALESCED, 1) / t('in-process engine', 1),
    grpcScale16: t(GRPC, 16) / t(GRPC, 1),
    coalescedScale16: t(COALESCED, 16) / t(COALESCED, 1),
    inProcessScale16: t('in-process engine', 16) / t('in-process engine', 1),
  };
};

async function buildPackage(shape: Shape, work: string): Promise<string> {
  const out = join(work, shape.key);
  if (!shape.config) {
    if (!stories) throw new Error('stories260K not found (models/stories260k)');
    await convertLlama2cPackage({ checkpoint: join(stories, 'stories260K.bin'), tokenizer: join(stories, 'tok512.bin'), out, name: 'stories260k', version: '1' });
    return out;
  }
  if (!llamaVocab) throw new Error('llama2_tokenizer_32000.bin not found (../shared/fixtures)');
  const ckpt = join(work, `${shape.key}.bin`);
  writeFileSync(ckpt, writeLlama2cCheckpoint(shape.config, randomLlama2cWeights(shape.config, 1)));
  await convertLlama2cPackage({ checkpoint: ckpt, tokenizer: llamaVocab, out, name: `random-${shape.key}`, version: '1' });
  rmSync(ckpt);
  return out;
}

async function startSidecar(dir: string): Promise<{ proc: ChildProcess; address: string }> {
  const proc = spawn(process.execPath, [sidecarBin, '--model', dir, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--max-batch-size', '32', '--max-queue', '256', ...(THREADS ? ['--threads', String(THREADS)] : []), ...(STREAM_INTERVAL ? ['--stream-interval', STREAM_INTERVAL] : [])], { stdio: ['ignore', 'pipe', 'ignore'] });
  const line = await new Promise<string>((resolve) => createInterface({ input: proc.stdout! }).once('line', resolve));
  const address = (JSON.parse(line) as { grpc: string }).grpc;
  const health = createClient('health', address);
  for (;;) {
    const s = await new Promise<string>((resolve) => (health['Check'] as (r: unknown, cb: (e: unknown, r: { status: string }) => void) => void).call(health, { service: '' }, (e, r) => resolve(e ? 'DOWN' : r.status)));
    if (s === 'SERVING') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  health.close();
  return { proc, address };
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'slmops-bench-sidecar-'));
  const rows: Row[] = [];
  const ratios = new Map<string, Ratios[]>();
  try {
    for (const shape of SHAPES.filter((s) => wanted.includes(s.key))) {
      const dir = await buildPackage(shape, work);
      const engine = await createEngine(await loadModel(dir), { maxBatchSize: 32, maxQueue: 256, ...(THREADS ? { intraOpThreads: THREADS } : {}) });
      const inProcess: OneRequest = (promptIds) => timed(() => engine.generate({ promptIds, maxTokens: shape.genTokens, temperature: 0 }));
      const { proc, address } = await startSidecar(dir);
      const client = createClient('inference', address);
      const grpc = (coalesce: boolean): OneRequest => (promptIds) =>
        timed(() => generateRemote(address, { prompt_ids: promptIds, max_tokens: shape.genTokens, temperature: 0, coalesce_tokens: coalesce }, undefined, { client }));
      const paths: Record<PathName, OneRequest> = { 'in-process engine': inProcess, [GRPC]: grpc(false), [COALESCED]: grpc(true) };
      await measureRound(1, paths);
      const rounds: Round[] = [];
      for (let r = 0; r < ROUNDS; r++) rounds.push(await measureRound(r, paths));
      for (const path of PATHS) for (const c of CONCURRENCY) rows.push(row(shape.name, path, c, rounds.map((r) => r.get(key(path, c))!)));
      ratios.set(shape.name, rounds.map(ratiosOf));
      await engine.close();
      client.close();
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`\n${cpu}, ${availableParallelism()} cores, Node ${process.version}; greedy requests, ${ROUNDS} rounds of ${REQUESTS} requests per measurement (at least 2 per client), prompt 9 tokens\n`);
  console.log('| model | path | concurrency | tokens/s (aggregate) | TTFT p50 ms | TTFT p99 ms | tokens |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.shape} | ${r.path} | ${r.concurrency} | ${r.tps.toFixed(0)} | ${r.ttftP50.toFixed(1)} | ${r.ttftP99.toFixed(1)} | ${r.tokens} |`);
  console.log('\nPer-round ratios, median [lowest-highest] over the rounds. Targets: gRPC c=1 >= 90% of in-process c=1; gRPC c=16 >= 4x gRPC c=1.');
  console.log('"gRPC": one token per message (clients that do not ask for coalesce_tokens); "coalesced": with coalesce_tokens.\n');
  console.log('| model | gRPC / in-process, c=1 | coalesced / in-process, c=1 | gRPC c=16 / c=1 | coalesced c=16 / c=1 | in-process c=16 / c=1 |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const verdicts: string[] = [];
  for (const [shape, rs] of ratios) {
    const spread = (f: (r: Ratios) => number, fmt: (x: number) => string) => {
      const xs = rs.map(f).sort((a, b) => a - b);
      return { median: median(xs), text: `${fmt(median(xs))} [${fmt(xs[0]!)}-${fmt(xs.at(-1)!)}]` };
    };
    const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
    const times = (x: number) => `${x.toFixed(1)}x`;
    const over = spread((r) => r.grpcOverInProcess1, pct);
    const coalescedOver = spread((r) => r.coalescedOverInProcess1, pct);
    const scale = spread((r) => r.grpcScale16, times);
    const coalescedScale = spread((r) => r.coalescedScale16, times);
    console.log(`| ${shape} | ${over.text} | ${coalescedOver.text} | ${scale.text} | ${coalescedScale.text} | ${spread((r) => r.inProcessScale16, times).text} |`);
    const meets = (x: { median: number }, target: number) => (x.median >= target ? 'meets' : 'misses');
    verdicts.push(
      `- ${shape}: gRPC/in-process at c=1 ${meets(over, 0.9)} 90% one token per message, ${meets(coalescedOver, 0.9)} it coalesced; ` +
        `gRPC c=16/c=1 ${meets(scale, 4)} 4x one token per message, ${meets(coalescedScale, 4)} it coalesced`,
    );
  }
  console.log(`\n${verdicts.join('\n')}\n\nCommand: npx nx run bench:sidecar`);
}

const median = (sorted: number[]) => (sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2);

await main();
