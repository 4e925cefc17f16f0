import { describe, expect, it } from 'vitest';
import { ConfigError, parseBindAddress, parseDuration, parseOperatorArgs } from '../src/config/flags.js';

const d = { version: '0.1.0', hostname: 'host', pid: 42 };

describe('parseOperatorArgs', () => {
  it('has the documented defaults', () => {
    expect(parseOperatorArgs([], {}, d)).toEqual({
      leaderElect: true,
      leaderElectionNamespace: 'slmops-system',
      leaderElectionId: 'slmops-operator',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2000,
      metricsBind: { host: '0.0.0.0', port: 8080 },
      healthBind: { host: '0.0.0.0', port: 8081 },
      sidecarImage: 'ghcr.io/slmops/sidecar:0.1.0',
      plugins: ['nvidia', 'jetson', 'intel', 'amd', 'qualcomm', 'cpu'],
      maxConcurrentReconciles: 4,
      resyncPeriodMs: 600_000,
      logFormat: 'json',
      identity: 'host_42',
      scrapeLimits: { maxBytes: 4 * 1024 * 1024, connectTimeoutMs: 5000, stallTimeoutMs: 5000 },
    });
  });

  it('reads POD_NAMESPACE, POD_NAME and SLMOPS_SIDECAR_IMAGE, and flags win over env', () => {
    const env = { POD_NAMESPACE: 'ops', POD_NAME: 'op-7f9', SLMOPS_SIDECAR_IMAGE: 'reg/sidecar:env' };
    expect(parseOperatorArgs([], env, d)).toMatchObject({ leaderElectionNamespace: 'ops', identity: 'op-7f9', sidecarImage: 'reg/sidecar:env' });
    expect(parseOperatorArgs(['--sidecar-image', 'reg/sidecar:flag', '--leader-election-namespace', 'x'], env, d)).toMatchObject({ sidecarImage: 'reg/sidecar:flag', leaderElectionNamespace: 'x' });
  });

  it('parses every flag form', () => {
    const o = parseOperatorArgs(
      ['--kubeconfig', 'k', '--context', 'c', '--namespace', 'edge', '--leader-elect=false', '--leader-election-id', 'id', '--metrics-bind-address', '127.0.0.1:9090', '--health-probe-bind-address', '0', '--plugins', 'cpu,nvidia', '--max-concurrent-reconciles', '8', '--resync-period', '90s', '--log-format', 'text'],
      {},
      d,
    );
    expect(o).toMatchObject({ kubeconfig: 'k', context: 'c', namespace: 'edge', leaderElect: false, leaderElectionId: 'id', metricsBind: { host: '127.0.0.1', port: 9090 }, plugins: ['cpu', 'nvidia'], maxConcurrentReconciles: 8, resyncPeriodMs: 90_000, logFormat: 'text' });
    expect(o.healthBind).toBeUndefined();
    expect(parseOperatorArgs(['--leader-elect', 'false'], {}, d).leaderElect).toBe(false);
    expect(parseOperatorArgs(['--leader-elect'], {}, d).leaderElect).toBe(true);
    expect(parseOperatorArgs(['--namespace', 'all'], {}, d).namespace).toBeUndefined();
    expect(parseOperatorArgs(['--scrape-max-bytes', '512Ki', '--scrape-timeout', '2s', '--scrape-stall-timeout', '1500ms'], {}, d).scrapeLimits).toEqual({ maxBytes: 524_288, connectTimeoutMs: 2000, stallTimeoutMs: 1500 });
  });

  it('rejects bad values naming the flag', () => {
    expect(() => parseOperatorArgs(['--plugins', 'cpu,tpu'], {}, d)).toThrow(/--plugins: unknown plugin "tpu"/);
    expect(() => parseOperatorArgs(['--max-concurrent-reconciles', '0'], {}, d)).toThrow(/--max-concurrent-reconciles/);
    expect(() => parseOperatorArgs(['--resync-period', 'soon'], {}, d)).toThrow(/--resync-period/);
    expect(() => parseOperatorArgs(['--log-format', 'xml'], {}, d)).toThrow(ConfigError);
    expect(() => parseOperatorArgs(['--leader-elect=maybe'], {}, d)).toThrow(/--leader-elect/);
    expect(() => parseOperatorArgs(['--leader-elect-retry-period', '20s'], {}, d)).toThrow(/retry period < renew deadline < lease duration/);
    expect(() => parseOperatorArgs(['--bogus'], {}, d)).toThrow();
    expect(() => parseOperatorArgs(['--scrape-max-bytes', '4MB'], {}, d)).toThrow(/--scrape-max-bytes/);
    expect(() => parseOperatorArgs(['--scrape-max-bytes', '0'], {}, d)).toThrow(/--scrape-max-bytes/);
    expect(() => parseOperatorArgs(['--scrape-stall-timeout', 'never'], {}, d)).toThrow(/--scrape-stall-timeout/);
  });

  it('parses bind addresses and durations', () => {
    expect(parseBindAddress('x', ':8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseBindAddress('x', '[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseBindAddress('x', '0')).toBeUndefined();
    expect(() => parseBindAddress('metrics-bind-address', '8080')).toThrow(/--metrics-bind-address/);
    expect(parseDuration('x', '1500ms')).toBe(1500);
    expect(parseDuration('x', '10m')).toBe(600_000);
    expect(parseDuration('x', '2h')).toBe(7_200_000);
    expect(parseDuration('x', '30')).toBe(30_000);
  });
});
