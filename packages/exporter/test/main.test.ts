/** The slmops-exporter binary as a child process: flags, the announce line, /metrics over HTTP and SIGTERM. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { EXPORTER_USAGE } from '../src/index.js';
import { type FixtureNode, fixtureNode, raplFiles } from './fixtures.js';

const BIN = join(import.meta.dirname, '../bin/slmops-exporter.js');
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('slmops-exporter binary', () => {
  it('rejects bad flags with exit code 2 and the usage line', () => {
    const r = spawnSync(process.execPath, [BIN, '--metrics-bind-address', 'nope'], { encoding: 'utf8', env: { NODE_NAME: 'n1', PATH: process.env['PATH'] } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('slmops-exporter: --metrics-bind-address: expected host:port or :port, got "nope"');
    expect(r.stderr).toContain(`Usage: ${EXPORTER_USAGE}`);
  });

  it('prints usage on stdout and exits 0 for --help and -h', () => {
    for (const flag of ['--help', '-h']) {
      const r = spawnSync(process.execPath, [BIN, '--bogus', flag], { encoding: 'utf8', env: { PATH: process.env['PATH'] } });
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`Usage: ${EXPORTER_USAGE}\n`);
      expect(r.stderr).toBe('');
    }
  });

  it('serves node metrics on the bind address, reads the local sidecar, and exits 0 on SIGTERM', async () => {
    const node: FixtureNode = fixtureNode(raplFiles(1_000_000, 1));
    cleanups.push(() => node.cleanup());
    let tokens = 0;
    const sidecar = createServer((_req, res) => {
      tokens += 50;
      res.end(`# TYPE slmops_generation_tokens_total counter\nslmops_generation_tokens_total{model_name="m",model_version="1"} ${tokens}\n`);
    });
    await new Promise<void>((r) => sidecar.listen(0, '127.0.0.1', r));
    cleanups.push(() => sidecar.close());
    const sidecarUrl = `http://127.0.0.1:${(sidecar.address() as AddressInfo).port}/metrics`;
    const proc: ChildProcess = spawn(
      process.execPath,
      [BIN, '--metrics-bind-address', '127.0.0.1:0', '--sysfs-root', node.sysfsRoot, '--procfs-root', node.procfsRoot, '--model-cache-dir', join(node.root, 'none'), '--sidecar-metrics-url', sidecarUrl, '--window-seconds', '2', '--node-cost-per-hour', '0.5'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { NODE_NAME: 'edge-bin', PATH: process.env['PATH'] } },
    );
    cleanups.push(() => proc.exitCode === null && proc.kill('SIGKILL'));
    let stderr = '';
    proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).once('line', resolve);
      proc.once('exit', (code) => reject(new Error(`exporter exited ${code}: ${stderr}`)));
    });
    const announced = JSON.parse(first) as { metrics: string; node: string; plugin: string };
    expect(announced).toMatchObject({ node: 'edge-bin', plugin: 'cpu' });
    expect(announced.metrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    // Samples every window/4 = 0.5 s; the fake sidecar adds 50 tokens per read, RAPL stays flat.
    let text = '';
    for (let i = 0; i < 100 && !/^slmops_cost_per_1k_tokens \d/m.test(text); i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = await (await fetch(announced.metrics)).text();
    }
    expect(text).toContain('slmops_exporter_info{node="edge-bin",plugin="cpu"} 1');
    expect(text).toContain('slmops_node_energy_joules_total{zone="intel-rapl:0",domain="package-0"} 1');
    expect(text).toMatch(/^slmops_energy_per_token_joules 0$/m);
    expect(text).toMatch(/^slmops_cost_per_1k_tokens \d/m);
    expect(text).toContain('process_cpu_seconds_total');
    expect((await fetch(announced.metrics.replace('/metrics', '/nope'))).status).toBe(404);
    expect(JSON.parse(stderr.split('\n')[0]!)).toMatchObject({ level: 'info', msg: 'node exporter started', node: 'edge-bin', plugin: 'cpu' });

    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
