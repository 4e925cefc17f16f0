/** Fixture nodes: /proc and /sys trees (real files read through a real HostContext) and a fake nvidia-smi. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ExecResult, HostContext } from '@slmops/plugin-sdk';
import { createNodeHostContext } from '../src/host.js';

export interface FixtureNode {
  root: string;
  sysfsRoot: string;
  procfsRoot: string;
  ctx: HostContext;
  /** Writes a file at a node path such as "/sys/class/powercap/intel-rapl:0/energy_uj". */
  write(path: string, text: string): void;
  cleanup(): void;
}

export const PROC_STAT = 'cpu  100 0 50 1000 5 0 2 0 0 0\ncpu0 100 0 50 1000 5 0 2 0 0 0\n';
export const MEMINFO = 'MemTotal:        8000000 kB\nMemFree:         1000000 kB\nMemAvailable:    4000000 kB\n';
export const SMI = '0, GPU-1111, NVIDIA A10G, 37, 1024, 23028, 41, 58.5\n';

/** A node with /proc/stat and /proc/meminfo; `nvidiaSmi` set makes `nvidia-smi` answer with that CSV. */
export function fixtureNode(files: Record<string, string> = {}, opts: { nvidiaSmi?: string } = {}): FixtureNode {
  const root = mkdtempSync(join(tmpdir(), 'slmops-exporter-node-'));
  const sysfsRoot = join(root, 'sys');
  const procfsRoot = join(root, 'proc');
  const write = (path: string, text: string) => {
    const m = /^\/(sys|proc)(\/.*)$/.exec(path);
    if (!m) throw new Error(`fixture path ${path} is not under /sys or /proc`);
    const file = join(m[1] === 'sys' ? sysfsRoot : procfsRoot, m[2]!);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  };
  mkdirSync(sysfsRoot, { recursive: true });
  for (const [p, t] of Object.entries({ '/proc/stat': PROC_STAT, '/proc/meminfo': MEMINFO, ...files })) write(p, t);
  const real = createNodeHostContext({ sysfsRoot, procfsRoot });
  const ctx: HostContext = {
    readFile: real.readFile,
    readDir: real.readDir,
    async exec(file, args): Promise<ExecResult> {
      if (file === 'nvidia-smi' && opts.nvidiaSmi !== undefined) return { exitCode: 0, stdout: opts.nvidiaSmi, stderr: '' };
      if (file === 'nvidia-smi') return { exitCode: null, stdout: '', stderr: '', error: 'ENOENT' };
      return real.exec(file, args);
    },
  };
  return { root, sysfsRoot, procfsRoot, ctx, write, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** RAPL package zone 0 with a subzone, as /sys/class/powercap shows them. */
export function raplFiles(packageUj: number, coreUj: number): Record<string, string> {
  return {
    '/sys/class/powercap/intel-rapl:0/energy_uj': `${packageUj}\n`,
    '/sys/class/powercap/intel-rapl:0/name': 'package-0\n',
    '/sys/class/powercap/intel-rapl:0:0/energy_uj': `${coreUj}\n`,
    '/sys/class/powercap/intel-rapl:0:0/name': 'core\n',
  };
}

/** Every device the six plugins' collectors know, so each registers all its families. */
export const ALL_DEVICES: Record<string, string> = {
  ...raplFiles(5_000_000, 2_000_000),
  '/sys/class/thermal/thermal_zone0/temp': '45000\n',
  '/sys/class/thermal/thermal_zone0/type': 'x86_pkg_temp\n',
  '/sys/class/drm/card0/device/vendor': '0x1002\n',
  '/sys/class/drm/card0/device/gpu_busy_percent': '12\n',
  '/sys/class/drm/card0/device/mem_info_vram_used': '1024\n',
  '/sys/class/drm/card0/device/mem_info_vram_total': '4096\n',
  '/sys/class/drm/card1/device/vendor': '0x8086\n',
  '/sys/class/drm/card1/gt_cur_freq_mhz': '1300\n',
  '/sys/devices/gpu.0/load': '250\n',
};
