/**
 * Node hardware metrics from /proc and /sys: CPU seconds, memory, thermal zones and RAPL energy. A family is
 * registered only when its source is readable at start-up; a source that vanishes later yields no samples.
 */
import type { HostContext, MetricSample, MetricsRegistryPort } from '@slmops/plugin-sdk';
import { parseMeminfo, parseProcStat, parseSysfsInt } from './procfs.js';

const THERMAL = '/sys/class/thermal';
const POWERCAP = '/sys/class/powercap';

export interface CpuCollectorOptions {
  /** USER_HZ, the unit of /proc/stat; 100 on every mainstream Linux architecture. */
  userHz?: number;
}

/** A sysfs class directory whose zones each hold a value file and a name file (thermal zones, RAPL zones). */
interface ZoneSource {
  dir: string;
  zonePattern: RegExp;
  valueFile: string;
  nameFile: string;
  /** Units per base unit: millidegrees per degree, microjoules per joule. */
  divisor: number;
}

const THERMAL_ZONES: ZoneSource = { dir: THERMAL, zonePattern: /^thermal_zone\d+$/, valueFile: 'temp', nameFile: 'type', divisor: 1e3 };
// energy_uj is root-only on kernels patched for CVE-2020-8694; unreadable zones are skipped.
const RAPL_ZONES: ZoneSource = { dir: POWERCAP, zonePattern: /^intel-rapl(:\d+)+$/, valueFile: 'energy_uj', nameFile: 'name', divisor: 1e6 };

async function readableZones(ctx: HostContext, source: ZoneSource): Promise<string[]> {
  const zones = (await ctx.readDir(source.dir)).filter((e) => source.zonePattern.test(e));
  const readable = await Promise.all(zones.map(async (z) => ((await ctx.readFile(`${source.dir}/${z}/${source.valueFile}`)) !== undefined ? z : undefined)));
  return readable.filter((z): z is string => z !== undefined);
}

/** One sample per readable zone, labelled {zone, <nameLabel>}; values scaled to base units. */
async function zoneSamples(ctx: HostContext, source: ZoneSource, nameLabel: string): Promise<MetricSample[]> {
  const samples: MetricSample[] = [];
  for (const zone of await readableZones(ctx, source)) {
    const raw = parseSysfsInt((await ctx.readFile(`${source.dir}/${zone}/${source.valueFile}`)) ?? '');
    if (raw === undefined) continue;
    const name = ((await ctx.readFile(`${source.dir}/${zone}/${source.nameFile}`)) ?? '').trim() || 'unknown';
    samples.push({ labels: { zone, [nameLabel]: name }, value: raw / source.divisor });
  }
  return samples;
}

/** Registers the families whose sources are readable; returns their names. */
export async function registerCpuCollectors(registry: MetricsRegistryPort, ctx: HostContext, options: CpuCollectorOptions = {}): Promise<string[]> {
  const userHz = options.userHz ?? 100;
  const registered: string[] = [];

  const stat = await ctx.readFile('/proc/stat');
  if (stat !== undefined && parseProcStat(stat, userHz)) {
    registry.counter({
      name: 'slmops_node_cpu_seconds_total',
      help: 'Seconds all CPUs of the node spent in each mode since boot (/proc/stat).',
      labelNames: ['mode'],
      async collect() {
        const text = await ctx.readFile('/proc/stat');
        const modes = text === undefined ? undefined : parseProcStat(text, userHz);
        return Object.entries(modes ?? {}).map(([mode, value]) => ({ labels: { mode }, value }));
      },
    });
    registered.push('slmops_node_cpu_seconds_total');
  }

  const meminfo = await ctx.readFile('/proc/meminfo');
  if (meminfo !== undefined && parseMeminfo(meminfo)) {
    const memory = async (field: string): Promise<MetricSample[]> => {
      const text = await ctx.readFile('/proc/meminfo');
      const value = text === undefined ? undefined : parseMeminfo(text)?.[field];
      return value === undefined ? [] : [{ value }];
    };
    registry.gauge({ name: 'slmops_node_memory_total_bytes', help: 'Physical memory of the node (/proc/meminfo MemTotal).', collect: () => memory('MemTotal') });
    registry.gauge({
      name: 'slmops_node_memory_available_bytes',
      help: 'Memory available for new work without swapping (/proc/meminfo MemAvailable).',
      collect: () => memory('MemAvailable'),
    });
    registered.push('slmops_node_memory_total_bytes', 'slmops_node_memory_available_bytes');
  }

  if ((await readableZones(ctx, THERMAL_ZONES)).length) {
    registry.gauge({
      name: 'slmops_node_thermal_zone_celsius',
      help: 'Temperature of each thermal zone (/sys/class/thermal/thermal_zone*/temp).',
      labelNames: ['zone', 'type'],
      collect: () => zoneSamples(ctx, THERMAL_ZONES, 'type'),
    });
    registered.push('slmops_node_thermal_zone_celsius');
  }

  if ((await readableZones(ctx, RAPL_ZONES)).length) {
    registry.counter({
      name: 'slmops_node_energy_joules_total',
      help: 'Energy consumed per RAPL power zone (/sys/class/powercap/intel-rapl:*/energy_uj); wraps at max_energy_range_uj.',
      labelNames: ['zone', 'domain'],
      collect: async () => (await zoneSamples(ctx, RAPL_ZONES, 'domain')).filter((s) => s.value >= 0),
    });
    registered.push('slmops_node_energy_joules_total');
  }
  return registered;
}
