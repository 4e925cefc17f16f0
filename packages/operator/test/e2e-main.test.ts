/** The composition root against the kube emulator: flags, /healthz, /readyz, /metrics, lease, SIGTERM. */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_USAGE } from '../src/config/flags.js';
import { runOperatorMain } from '../src/main.js';
import { type Harness, fleetDeployment, readyCondition, resources, startHarness } from './harness.js';

describe('runOperatorMain on the kube emulator', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ fleet: { nodes: 6, mix: { 'cpu-amd64': 1 }, seed: 1 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('serves health and metrics, leads through a Lease, reconciles, logs JSON, and releases the lease on SIGTERM', async () => {
    const signals = new EventEmitter();
    const stderr = new PassThrough();
    let logs = '';
    stderr.on('data', (d: Buffer) => (logs += d.toString()));
    let started: { metrics?: string; health?: string } | undefined;
    const exit = runOperatorMain(
      [
        '--kubeconfig', h.emu.kubeconfigPath,
        '--metrics-bind-address', '127.0.0.1:0',
        '--health-probe-bind-address', '127.0.0.1:0',
        '--leader-election-namespace', 'kube-system',
        '--leader-elect-lease-duration', '15s',
        '--leader-elect-renew-deadline', '10s',
        '--leader-elect-retry-period', '1s',
        '--plugins', 'nvidia,cpu',
        '--sidecar-image', 'registry.local/sidecar:dev',
      ],
      { stdout: new PassThrough(), stderr, env: { POD_NAME: 'operator-0' } },
      { signals, onStarted: (info) => (started = info) },
    );
    await h.waitFor('started', () => started, 30_000);
    const health = await fetch(`${started!.health}/healthz`);
    expect(health.status).toBe(200);
    expect((await fetch(`${started!.health}/readyz`)).status).toBe(200);

    await h.apply(fleetDeployment('main-test', { spec: { hardware: { plugins: ['nvidia', 'cpu'] } } }));
    await h.waitFor('Ready', () => readyCondition(h.slmd('main-test'))?.status === 'True', 30_000);
    const ds = h.objects(resources.daemonsets, 'default', 'slmops.io/deployment=main-test');
    const image = (ds[0] as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec.template.spec.containers[0]!.image;
    expect(image).toBe('registry.local/sidecar:dev');
    const lease = () => h.emu.store.tryGet(resources.leases, 'kube-system', 'slmops-operator') as { spec?: { holderIdentity?: string } } | undefined;
    expect(lease()?.spec?.holderIdentity).toBe('operator-0');
    const writes = h.emu.requestLog.entries({ client: /^slmops-operator\/0\.1\.0 \(operator-0\)$/, verb: 'patch' });
    expect(writes.length).toBeGreaterThan(0);

    const metrics = await (await fetch(started!.metrics!)).text();
    expect(metrics).toContain('slmops_operator_leader 1');
    expect(metrics).toMatch(/slmops_operator_reconcile_duration_seconds_bucket\{le="0.005",result="success"\}/);
    expect(metrics).toContain('process_resident_memory_bytes');

    signals.emit('SIGTERM');
    expect(await exit).toBe(0);
    expect(lease()?.spec?.holderIdentity ?? '').toBe('');
    const lines = logs.trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string; component: string });
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['starting', 'caches synced', 'started leading', 'signal received, shutting down', 'stopped']));
    expect(lines.every((l) => l.component === 'operator')).toBe(true);
    await expect(fetch(`${started!.health}/healthz`)).rejects.toThrow();
  }, 60_000);

  it('prints usage on stdout and resolves 0 for --help and -h, before any other flag is checked', async () => {
    for (const flag of ['--help', '-h']) {
      let out = '';
      const stdout = new PassThrough().on('data', (c: Buffer) => (out += c.toString()));
      await expect(runOperatorMain(['--bogus', flag], { stdout, stderr: new PassThrough(), env: {} })).resolves.toBe(0);
      expect(out).toBe(`Usage: ${OPERATOR_USAGE}\n`);
    }
  });

  it('fails fast with a clear error for a missing kubeconfig', async () => {
    await expect(runOperatorMain(['--kubeconfig', '/nonexistent/kubeconfig', '--metrics-bind-address', '0', '--health-probe-bind-address', '0'], { stdout: new PassThrough(), stderr: new PassThrough(), env: {} })).rejects.toThrow(/\/nonexistent\/kubeconfig/);
  });
});
