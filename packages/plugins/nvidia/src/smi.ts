/** nvidia-smi: the query the collectors and probe run, and a pure parser of its CSV output. */
import type { HostContext } from '@slmops/plugin-sdk';

export const NVIDIA_SMI_FIELDS = ['index', 'uuid', 'name', 'utilization.gpu', 'memory.used', 'memory.total', 'temperature.gpu', 'power.draw'] as const;
export const NVIDIA_SMI_ARGS = [`--query-gpu=${NVIDIA_SMI_FIELDS.join(',')}`, '--format=csv,noheader,nounits'] as const;

export interface GpuReading {
  index: string;
  uuid: string;
  name: string;
  /** 0..1; undefined where nvidia-smi prints [N/A] or [Not Supported]. */
  utilization?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
  temperatureCelsius?: number;
  powerWatts?: number;
}

const num = (s: string | undefined): number | undefined => {
  const t = (s ?? '').trim();
  return t === '' || !/^-?\d+(\.\d+)?$/.test(t) ? undefined : Number(t);
};

/** Parses `nvidia-smi --query-gpu=… --format=csv,noheader,nounits`; lines that do not fit are skipped. */
export function parseNvidiaSmi(text: string): GpuReading[] {
  const out: GpuReading[] = [];
  for (const line of text.split('\n')) {
    const cols = line.split(',').map((c) => c.trim());
    if (cols.length !== NVIDIA_SMI_FIELDS.length || !/^\d+$/.test(cols[0]!)) continue;
    const [index, uuid, name, util, memUsed, memTotal, temp, power] = cols as [string, string, string, string, string, string, string, string];
    const u = num(util);
    const used = num(memUsed);
    const total = num(memTotal);
    const t = num(temp);
    const p = num(power);
    out.push({
      index,
      uuid,
      name,
      ...(u !== undefined ? { utilization: u / 100 } : {}),
      ...(used !== undefined ? { memoryUsedBytes: used * 2 ** 20 } : {}),
      ...(total !== undefined ? { memoryTotalBytes: total * 2 ** 20 } : {}),
      ...(t !== undefined ? { temperatureCelsius: t } : {}),
      ...(p !== undefined ? { powerWatts: p } : {}),
    });
  }
  return out;
}

/** Runs the query; undefined when nvidia-smi is missing or fails. */
export async function queryNvidiaSmi(ctx: HostContext): Promise<GpuReading[] | undefined> {
  const r = await ctx.exec('nvidia-smi', NVIDIA_SMI_ARGS, { timeoutMs: 5_000 });
  if (r.exitCode !== 0) return undefined;
  return parseNvidiaSmi(r.stdout);
}
