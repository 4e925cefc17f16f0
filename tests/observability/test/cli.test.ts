/** `slmops exporter` runs the same program as the DaemonSet's slmops-exporter and forwards SIGTERM to it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killChildren, startNodeProgram } from '../src/processes.js';

const CLI = join(import.meta.dirname, '../../../packages/cli/bin/slmops.js');
const dir = mkdtempSync(join(tmpdir(), 'slmops-obs-cli-'));
afterAll(() => {
  killChildren();
  rmSync(dir, { recursive: true, force: true });
});

describe('slmops exporter', () => {
  it('serves the node exporter metrics and exits 0 on SIGTERM', async () => {
    const child = await startNodeProgram(CLI, ['exporter', '--metrics-bind-address', '127.0.0.1:0', '--model-cache-dir', join(dir, 'cache'), '--plugins', 'cpu'], { NODE_NAME: 'cli-node' });
    expect(child.announced).toMatchObject({ node: 'cli-node', plugin: 'cpu' });
    const text = await (await fetch(child.announced['metrics']!)).text();
    expect(text).toContain('slmops_exporter_info{node="cli-node",plugin="cpu"} 1');
    expect(text).toContain('slmops_node_cpu_seconds_total{mode="idle"}');
    const exited = new Promise<number | null>((r) => child.proc.once('exit', (code) => r(code)));
    child.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000); // the CLI loads every command's modules (engine, operator, kube) before it starts the exporter

  it('passes flag errors through with exit code 2', async () => {
    const child = await startNodeProgram(CLI, ['exporter', '--plugins', 'tpu'], { NODE_NAME: 'n' }).catch((e: Error) => e);
    expect(child).toBeInstanceOf(Error);
    expect((child as Error).message).toMatch(/exited 2: slmops-exporter: --plugins: unknown plugin\(s\) \["tpu"\]/);
  }, 60_000);
});
