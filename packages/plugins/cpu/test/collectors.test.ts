import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { createHostContext, createSampleRegistry } from '@slmops/plugin-sdk';
import { createFileTree } from '@slmops/plugin-sdk/testing';
import { cpu } from '../src/index.js';

const readable = (path: string): boolean => {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
};

describe('cpu collectors on this machine (real /proc and /sys)', () => {
  it('export CPU seconds and memory that match what the kernel reports', async () => {
    const registry = createSampleRegistry();
    await cpu().collectors!(registry, createHostContext());
    const families = new Map((await registry.collect()).map((f) => [f.name, f]));

    const seconds = families.get('slmops_node_cpu_seconds_total')!;
    expect(seconds.type).toBe('counter');
    const byMode = Object.fromEntries(seconds.samples.map((s) => [s.labels!.mode, s.value]));
    expect(Object.keys(byMode)).toEqual(expect.arrayContaining(['user', 'system', 'idle']));
    // os.cpus() reads the per-CPU lines of the same file; their sum is the aggregate line (taken a moment earlier).
    const userFromOs = cpus().reduce((sum, c) => sum + c.times.user, 0) / 1000;
    expect(byMode.user).toBeGreaterThan(0);
    expect(Math.abs(byMode.user! - userFromOs)).toBeLessThan(5);

    expect(families.get('slmops_node_memory_total_bytes')!.samples).toEqual([{ value: totalmem() }]);
    const available = families.get('slmops_node_memory_available_bytes')!.samples[0]!.value;
    expect(available).toBeGreaterThan(0);
    expect(available).toBeLessThanOrEqual(totalmem());

    const again = Object.fromEntries((await registry.collect()).find((f) => f.name === 'slmops_node_cpu_seconds_total')!.samples.map((s) => [s.labels!.mode, s.value]));
    expect(again.idle).toBeGreaterThanOrEqual(byMode.idle!);
  });

  it('registers thermal and RAPL families exactly when their files are readable here', async () => {
    const registry = createSampleRegistry();
    await cpu().collectors!(registry, createHostContext());
    const zones = existsSync('/sys/class/thermal') ? readdirSync('/sys/class/thermal').filter((z) => /^thermal_zone\d+$/.test(z) && readable(`/sys/class/thermal/${z}/temp`)) : [];
    const rapl = existsSync('/sys/class/powercap') ? readdirSync('/sys/class/powercap').filter((z) => /^intel-rapl(:\d+)+$/.test(z) && readable(`/sys/class/powercap/${z}/energy_uj`)) : [];
    expect(registry.names().includes('slmops_node_thermal_zone_celsius')).toBe(zones.length > 0);
    expect(registry.names().includes('slmops_node_energy_joules_total')).toBe(rapl.length > 0);
    const text = await registry.render();
    expect(text).toContain('# TYPE slmops_node_cpu_seconds_total counter');
  });
});

describe('cpu collectors over a sysfs tree (thermal zones and RAPL present)', () => {
  const tree = createFileTree({
    '/proc/stat': 'cpu  100 0 50 1000 0 0 0 0 0 0\n',
    '/proc/meminfo': 'MemTotal:       8245624 kB\nMemAvailable:   6000000 kB\n',
    '/sys/class/thermal/thermal_zone0/temp': '48250\n',
    '/sys/class/thermal/thermal_zone0/type': 'cpu-thermal\n',
    '/sys/class/thermal/thermal_zone1/type': 'gpu-thermal\n', // no temp file: skipped
    '/sys/class/thermal/cooling_device0/type': 'fan\n',
    '/sys/class/powercap/intel-rapl:0/energy_uj': '123456789\n',
    '/sys/class/powercap/intel-rapl:0/name': 'package-0\n',
    '/sys/class/powercap/intel-rapl:0:0/energy_uj': '2500000\n',
    '/sys/class/powercap/intel-rapl:0:0/name': 'core\n',
  });
  afterAll(() => tree.cleanup());

  it('reads temperatures in celsius and energy in joules', async () => {
    const registry = createSampleRegistry();
    await cpu().collectors!(registry, tree.ctx);
    const families = Object.fromEntries((await registry.collect()).map((f) => [f.name, f.samples]));
    expect(families.slmops_node_thermal_zone_celsius).toEqual([{ labels: { zone: 'thermal_zone0', type: 'cpu-thermal' }, value: 48.25 }]);
    expect(families.slmops_node_energy_joules_total).toEqual([
      { labels: { zone: 'intel-rapl:0', domain: 'package-0' }, value: 123.456789 },
      { labels: { zone: 'intel-rapl:0:0', domain: 'core' }, value: 2.5 },
    ]);
    expect(families.slmops_node_cpu_seconds_total).toContainEqual({ labels: { mode: 'idle' }, value: 10 });
    expect(families.slmops_node_memory_total_bytes).toEqual([{ value: 8245624 * 1024 }]);
  });

  it('yields no samples when a source disappears after registration', async () => {
    const registry = createSampleRegistry();
    await cpu().collectors!(registry, tree.ctx);
    tree.remove('/sys/class/powercap');
    const families = Object.fromEntries((await registry.collect()).map((f) => [f.name, f.samples]));
    expect(families.slmops_node_energy_joules_total).toEqual([]);
  });
});
