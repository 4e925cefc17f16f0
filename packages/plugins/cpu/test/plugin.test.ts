import { describe, expect, it } from 'vitest';
import { readNode, type NodeInfo } from '@slmops/plugin-sdk';
import { emptyHostContext, nodeFactories, type SimulatedNodeKind } from '@slmops/plugin-sdk/testing';
import { cpu } from '../src/index.js';

describe('cpu plugin: detection on realistic nodes', () => {
  const plugin = cpu();
  const table: Array<[SimulatedNodeKind, { arch: string; cores: number; vendor: string } | null]> = [
    ['cpu-amd64', { arch: 'amd64', cores: 4, vendor: 'intel' }],
    ['raspberry-pi', { arch: 'arm64', cores: 4, vendor: 'generic' }],
    ['nvidia-gpu', { arch: 'amd64', cores: 7, vendor: 'amd' }],
    ['jetson', { arch: 'arm64', cores: 8, vendor: 'generic' }],
    ['arch-mismatch', { arch: 'amd64', cores: 4, vendor: 'generic' }],
    ['bare', { arch: '', cores: 0, vendor: 'generic' }],
    ['windows', null],
  ];
  it.each(table)('%s', (kind, expected) => {
    const detection = plugin.detect(nodeFactories[kind]());
    if (expected === null) {
      expect(detection).toBeNull();
      return;
    }
    expect(detection).not.toBeNull();
    expect(detection!.device).toMatchObject({ kind: 'cpu', arch: expected.arch, count: expected.cores, vendor: expected.vendor });
  });

  it('reads NFD cpuid labels into attributes (VNNI matters for int8)', () => {
    expect(plugin.detect(nodeFactories['cpu-amd64']())!.device.attributes).toEqual({ avx2: 'true', avx512vnni: 'true' });
  });

  it('does not serve architectures the image lacks', () => {
    const riscv: NodeInfo = { metadata: { name: 'visionfive', labels: { 'kubernetes.io/arch': 'riscv64', 'kubernetes.io/os': 'linux' } } };
    expect(plugin.detect(riscv)).toBeNull();
    expect(cpu({ architectures: ['riscv64'] }).detect(riscv)?.device.arch).toBe('riscv64');
  });
});

describe('cpu plugin: schedule', () => {
  const plugin = cpu();
  const device = (kind: SimulatedNodeKind) => plugin.detect(nodeFactories[kind]())!.device;

  it('derives threads from the CPU limit, rounding down, at least 1', () => {
    expect(plugin.schedule({ device: device('cpu-amd64'), precision: 'int8', resources: { limits: { cpu: '2500m' } } }).threads).toBe(2);
    expect(plugin.schedule({ device: device('cpu-amd64'), precision: 'int8', resources: { limits: { cpu: '500m' } } }).threads).toBe(1);
    expect(plugin.schedule({ device: device('cpu-amd64'), precision: 'int8', resources: { requests: { cpu: 3 } } }).threads).toBe(3);
  });

  it('without a CPU limit, uses the node allocatable cores', () => {
    expect(plugin.schedule({ device: device('raspberry-pi'), precision: 'int8' }).threads).toBe(4);
    expect(plugin.schedule({ device: device('nvidia-gpu'), precision: 'int8' }).threads).toBe(7);
  });

  it('pins the node architecture and OS, and passes resources through', () => {
    const patch = plugin.schedule({ device: device('raspberry-pi'), precision: 'int4', resources: { requests: { memory: '256Mi', cpu: 1 }, limits: { memory: '512Mi' } } });
    expect(patch).toEqual({
      resources: { requests: { cpu: '1', memory: '256Mi' }, limits: { memory: '512Mi' } },
      nodeSelector: { 'kubernetes.io/arch': 'arm64', 'kubernetes.io/os': 'linux' },
      tolerations: [],
      env: [],
      threads: 1,
    });
  });

  it('omits the arch selector when the arch is unknown', () => {
    expect(plugin.schedule({ device: device('bare'), precision: 'fp32' }).nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
  });

  it('prefers int8, then int4, then fp32, and offers cpu only by default', () => {
    expect(plugin.precisions).toEqual(['int8', 'int4', 'fp32']);
    expect(plugin.executionProviders(device('raspberry-pi'))).toEqual([{ name: 'cpu' }]);
    expect(cpu({ xnnpackOnArm64: true }).executionProviders(device('raspberry-pi')).map((e) => e.name)).toEqual(['xnnpack', 'cpu']);
    expect(cpu({ xnnpackOnArm64: true }).executionProviders(device('cpu-amd64')).map((e) => e.name)).toEqual(['cpu']);
  });
});

describe('cpu plugin: probe', () => {
  const files = (map: Record<string, string>) => ({ ...emptyHostContext(), availableProviders: ['cpu'], readFile: async (p: string) => map[p] });

  it('reads the cgroup v2 quota as the thread budget, capped by the CPUs online', async () => {
    const r = await cpu().probe!(files({ '/sys/fs/cgroup/cpu.max': '250000 100000\n', '/sys/devices/system/cpu/online': '0-7\n' }));
    expect(r.device?.attributes).toEqual({ threads: '2', threadsSource: 'cgroup v2 /sys/fs/cgroup/cpu.max' });
    expect(r.device?.cpus).toBe(2.5);
    const capped = await cpu().probe!(files({ '/sys/fs/cgroup/cpu.max': '800000 100000', '/sys/devices/system/cpu/online': '0-1' }));
    expect(capped.device?.cpus).toBe(2);
  });

  it('falls back to cgroup v1, then to the CPUs online', async () => {
    const v1 = await cpu().probe!(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '150000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }));
    expect(v1.device?.cpus).toBe(1.5);
    const unlimited = await cpu().probe!(files({ '/sys/fs/cgroup/cpu.max': 'max 100000', '/sys/devices/system/cpu/online': '0-3,6' }));
    expect(unlimited.device?.attributes.threadsSource).toBe('/sys/devices/system/cpu/online');
    expect(unlimited.device?.cpus).toBe(5);
  });

  it('reports the cpu provider available, with no device when nothing is readable', async () => {
    const r = await cpu().probe!(files({}));
    expect(r.providers).toEqual([{ name: 'cpu', available: true, reason: expect.any(String) }]);
    expect(r.device).toBeUndefined();
  });
});

describe('cpu plugin: node facts sanity', () => {
  it('every realistic linux node on amd64/arm64 is served by cpu', () => {
    for (const [kind, make] of Object.entries(nodeFactories)) {
      const facts = readNode(make());
      const served = cpu().detect(make()) !== null;
      expect(served, kind).toBe(facts.os !== 'windows');
    }
  });
});
