/** Run-time facts of the container the sidecar runs in: its CPU budget from cgroups. */
import type { HostContext } from '@slmops/plugin-sdk';
import { parseCgroupCpuMax, parseCgroupV1Quota, parseCpuList } from './procfs.js';

export interface CpuBudget {
  /** Cores this container may use (may be fractional). */
  cores: number;
  /** Where the number came from, for logs. */
  source: string;
}

/**
 * The container's CPU budget: cgroup v2 cpu.max, else cgroup v1 CFS quota, else the CPUs online, each capped
 * by the CPUs online (a quota above the machine's size cannot be used).
 */
export async function readCpuBudget(ctx: HostContext): Promise<CpuBudget | undefined> {
  const onlineText = await ctx.readFile('/sys/devices/system/cpu/online');
  const online = onlineText === undefined ? undefined : parseCpuList(onlineText);
  const cap = (cores: number, source: string): CpuBudget => ({ cores: online !== undefined ? Math.min(cores, online) : cores, source });
  const v2 = await ctx.readFile('/sys/fs/cgroup/cpu.max');
  const v2Cores = v2 === undefined ? undefined : parseCgroupCpuMax(v2);
  if (v2Cores !== undefined) return cap(v2Cores, 'cgroup v2 /sys/fs/cgroup/cpu.max');
  const [quota, period] = await Promise.all([ctx.readFile('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'), ctx.readFile('/sys/fs/cgroup/cpu/cpu.cfs_period_us')]);
  const v1Cores = quota !== undefined && period !== undefined ? parseCgroupV1Quota(quota, period) : undefined;
  if (v1Cores !== undefined) return cap(v1Cores, 'cgroup v1 cpu.cfs_quota_us');
  return online !== undefined ? { cores: online, source: '/sys/devices/system/cpu/online' } : undefined;
}
