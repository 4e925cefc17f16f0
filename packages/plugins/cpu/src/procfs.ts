/** Pure parsers for the Linux files the cpu plugin reads; each returns undefined for text it cannot parse. */

/** /proc/stat columns of the aggregate "cpu" line, in kernel order (see proc(5)). */
export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

/** Seconds spent per mode since boot, from the aggregate "cpu" line; ticks are divided by userHz (USER_HZ). */
export function parseProcStat(text: string, userHz = 100): Record<string, number> | undefined {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) return undefined;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  if (ticks.length < 4 || ticks.some((t) => !Number.isFinite(t) || t < 0)) return undefined;
  const out: Record<string, number> = {};
  CPU_MODES.forEach((mode, i) => {
    if (ticks[i] !== undefined) out[mode] = ticks[i]! / userHz;
  });
  return out;
}

/** Bytes per /proc/meminfo field ("MemTotal: 16318676 kB" -> MemTotal: 16710324224). */
export function parseMeminfo(text: string): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * (line.trimEnd().endsWith('kB') ? 1024 : 1);
  }
  return out.MemTotal === undefined ? undefined : out;
}

/** CPU cores granted by a cgroup v2 cpu.max ("200000 100000" -> 2); undefined for "max" or garbage. */
export function parseCgroupCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return undefined;
  const q = Number(quota);
  const p = Number(period ?? 100_000);
  return Number.isFinite(q) && Number.isFinite(p) && q > 0 && p > 0 ? q / p : undefined;
}

/** CPU cores granted by cgroup v1 cfs_quota_us / cfs_period_us; undefined when unlimited (-1). */
export function parseCgroupV1Quota(quotaText: string, periodText: string): number | undefined {
  const q = Number(quotaText.trim());
  const p = Number(periodText.trim());
  return Number.isFinite(q) && Number.isFinite(p) && q > 0 && p > 0 ? q / p : undefined;
}

/** Number of CPUs in a kernel cpu list such as /sys/devices/system/cpu/online ("0-3,6" -> 5). */
export function parseCpuList(text: string): number | undefined {
  let count = 0;
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return undefined;
    count += hi - lo + 1;
  }
  return count > 0 ? count : undefined;
}

/** A sysfs integer file ("45000\n" -> 45000); undefined when not an integer. */
export function parseSysfsInt(text: string): number | undefined {
  const t = text.trim();
  return /^-?\d+$/.test(t) ? Number(t) : undefined;
}
