/** Processes for the observability tests: the sidecar and node exporter binaries, an operator registry, Prometheus. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';

const ROOT = join(import.meta.dirname, '../../..');
export const SIDECAR_BIN = join(ROOT, 'packages/sidecar/bin/slmops-sidecar.js');
export const EXPORTER_BIN = join(ROOT, 'packages/exporter/bin/slmops-exporter.js');
export const MODEL_DIR = join(ROOT, 'models/stories260k');

export interface Child {
  proc: ChildProcess;
  /** The JSON line the program printed once listening. */
  announced: Record<string, string>;
  stderr(): string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
/** Kills every child still running (a test that failed before stopping it). */
export function killChildren(): void {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  children.clear();
}

/** Spawns a node program that prints one JSON line once it listens; resolves with that line parsed. */
export async function startNodeProgram(bin: string, args: string[], env: Record<string, string> = {}): Promise<Child> {
  const proc = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '', ...env } });
  children.add(proc);
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`${bin} exited ${code}: ${err}`)));
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    announced: JSON.parse(line) as Record<string, string>,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      children.delete(proc);
    },
  };
}

/** A free loopback port (Prometheus cannot listen on port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** promtool from Debian's prometheus package; throws with the install hint when it is missing. */
export function promtool(args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  if (r.error) throw new Error(`promtool could not run (${r.error.message}); install it with: apt-get install -y prometheus`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

export interface ScrapeJob {
  job: string;
  target: string;
  labels?: Record<string, string>;
  honorLabels?: boolean;
}

export interface Prometheus {
  url: string;
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  labelValues(label: string, match: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Starts a real Prometheus on loopback scraping `jobs` every second; resolves once it is ready. */
export async function startPrometheus(dir: string, jobs: readonly ScrapeJob[]): Promise<Prometheus> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' },
    // Jobs of the same name become one scrape config with a static config per target (Prometheus rejects duplicates).
    scrape_configs: [...new Set(jobs.map((j) => j.job))].map((job) => {
      const targets = jobs.filter((j) => j.job === job);
      return {
        job_name: job,
        honor_labels: targets.some((j) => j.honorLabels),
        static_configs: targets.map((j) => ({ targets: [j.target], labels: j.labels ?? {} })),
      };
    }),
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const proc = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(proc);
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  proc.once('error', (e) => (err += `spawn failed: ${e.message} (install with: apt-get install -y prometheus)`));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (proc.exitCode !== null || i > 150) throw new Error(`prometheus did not become ready: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const api = async <T>(path: string): Promise<T> => {
    const r = (await (await fetch(`${url}${path}`)).json()) as { status: string; data: T; error?: string };
    if (r.status !== 'success') throw new Error(`${path}: ${r.error}`);
    return r.data;
  };
  return {
    url,
    query: async (expr) => (await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    labelValues: (label, match) => api<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values?match[]=${encodeURIComponent(match)}`),
    async stop() {
      const exited = new Promise<void>((r) => (proc.exitCode !== null ? r() : proc.once('exit', () => r())));
      proc.kill('SIGTERM');
      await exited;
      children.delete(proc);
    },
  };
}
