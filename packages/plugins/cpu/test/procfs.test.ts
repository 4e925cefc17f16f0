import { describe, expect, it } from 'vitest';
import { parseCgroupCpuMax, parseCgroupV1Quota, parseCpuList, parseMeminfo, parseProcStat, parseSysfsInt } from '../src/index.js';

const PROC_STAT = `cpu  62176 13 23886 208748 576 0 922 7 0 0
cpu0 29353 0 11494 106733 126 0 459 0 0 0
cpu1 32823 13 12392 102015 450 0 463 7 0 0
intr 9126312 0 9 0 0
ctxt 20931234
btime 1764405000
`;

const MEMINFO = `MemTotal:       16318676 kB
MemFree:         1179148 kB
MemAvailable:   11094744 kB
Buffers:          512132 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
`;

describe('procfs parsers', () => {
  it('parses the aggregate cpu line of /proc/stat into seconds per mode', () => {
    expect(parseProcStat(PROC_STAT)).toEqual({ user: 621.76, nice: 0.13, system: 238.86, idle: 2087.48, iowait: 5.76, irq: 0, softirq: 9.22, steal: 0.07 });
    expect(parseProcStat(PROC_STAT, 1000)?.user).toBeCloseTo(62.176);
    expect(parseProcStat('cpu0 1 2 3 4\n')).toBeUndefined();
    expect(parseProcStat('cpu  1 2 x 4\n')).toBeUndefined();
  });

  it('parses /proc/meminfo into bytes', () => {
    const m = parseMeminfo(MEMINFO)!;
    expect(m.MemTotal).toBe(16318676 * 1024);
    expect(m.MemAvailable).toBe(11094744 * 1024);
    expect(m.HugePages_Total).toBe(0);
    expect(parseMeminfo('garbage')).toBeUndefined();
  });

  it('parses cgroup quotas and cpu lists', () => {
    expect(parseCgroupCpuMax('200000 100000\n')).toBe(2);
    expect(parseCgroupCpuMax('50000 100000')).toBe(0.5);
    expect(parseCgroupCpuMax('max 100000')).toBeUndefined();
    expect(parseCgroupCpuMax('')).toBeUndefined();
    expect(parseCgroupV1Quota('-1', '100000')).toBeUndefined();
    expect(parseCgroupV1Quota('300000\n', '100000\n')).toBe(3);
    expect(parseCpuList('0-1\n')).toBe(2);
    expect(parseCpuList('0-3,8,10-11')).toBe(7);
    expect(parseCpuList('3-1')).toBeUndefined();
    expect(parseCpuList('a')).toBeUndefined();
    expect(parseSysfsInt('45000\n')).toBe(45000);
    expect(parseSysfsInt('4.5')).toBeUndefined();
  });
});
