import { describe, expect, it } from 'vitest';
import { parseBindAddress, parseExporterArgs } from '../src/index.js';

describe('exporter flags', () => {
  it('has DaemonSet defaults and reads NODE_NAME', () => {
    expect(parseExporterArgs([], { NODE_NAME: 'edge-1' })).toEqual({
      nodeName: 'edge-1',
      host: '0.0.0.0',
      port: 9465,
      modelCacheDir: '/var/lib/slmops/models',
      plugins: ['nvidia', 'jetson', 'intel', 'amd', 'qualcomm', 'cpu'],
      sidecarMetricsUrls: [],
      sysfsRoot: '/sys',
      procfsRoot: '/proc',
      windowSeconds: 60,
      scrapeLimits: { maxBytes: 4 * 1024 * 1024, connectTimeoutMs: 5_000, stallTimeoutMs: 5_000 },
    });
  });

  it('parses every flag, repeatable sidecar URLs included', () => {
    const c = parseExporterArgs([
      '--node-name', 'n', '--metrics-bind-address', '127.0.0.1:0', '--model-cache-dir', '/c', '--node-cost-per-hour', '0.25',
      '--plugins', 'amd,cpu', '--sidecar-metrics-url', 'http://127.0.0.1:9464/metrics', '--sidecar-metrics-url', 'http://127.0.0.1:9474/metrics',
      '--sysfs-root', '/host/sys', '--procfs-root', '/host/proc', '--window-seconds', '8',
    ]);
    expect(c).toMatchObject({ nodeName: 'n', host: '127.0.0.1', port: 0, modelCacheDir: '/c', nodeCostPerHour: 0.25, plugins: ['amd', 'cpu'], sysfsRoot: '/host/sys', procfsRoot: '/host/proc', windowSeconds: 8 });
    expect(c.sidecarMetricsUrls).toEqual(['http://127.0.0.1:9464/metrics', 'http://127.0.0.1:9474/metrics']);
    expect(parseBindAddress('[::1]:9465')).toEqual({ host: '::1', port: 9465 });
  });

  it('names the flag that is wrong', () => {
    expect(() => parseExporterArgs([])).toThrow(/--node-name is required/);
    expect(() => parseExporterArgs(['--node-name', 'n', '--metrics-bind-address', '9465'])).toThrow(/--metrics-bind-address: expected host:port/);
    expect(() => parseExporterArgs(['--node-name', 'n', '--node-cost-per-hour=-1'])).toThrow(/--node-cost-per-hour: expected a non-negative number/);
    expect(() => parseExporterArgs(['--node-name', 'n', '--plugins', 'cpu,tpu'])).toThrow(/--plugins: unknown plugin\(s\) \["tpu"\]/);
    expect(() => parseExporterArgs(['--node-name', 'n', '--sidecar-metrics-url', 'localhost:9464'])).toThrow(/--sidecar-metrics-url: expected an http\(s\) URL/);
    expect(() => parseExporterArgs(['--node-name', 'n', '--window-seconds', '1'])).toThrow(/--window-seconds/);
    expect(() => parseExporterArgs(['--node-name', 'n', '--bogus'])).toThrow(/bogus/);
  });
});
