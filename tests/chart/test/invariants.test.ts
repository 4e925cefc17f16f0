/**
 * Hardening item 11 (issue 17): chart values that break an invariant are refused by the real `helm template` and
 * `helm lint --strict`, with a message naming the value: extraArgs overriding a flag the chart sets (e.g.
 * --leader-elect=false under two replicas: split brain), equal metrics and health ports, unbounded name overrides
 * and release names that make invalid object names, and a hostPath that mounts the host root or a system folder.
 */
import { ensureKubeTools, type ToolResult } from '@slmops/kube-emulator/testing';
import { parseExporterArgs } from '@slmops/exporter';
import { parseOperatorArgs } from '@slmops/operator';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { helmLint, helmTemplate, type RenderOptions } from '../src/helm.js';
import { type Manifest, ofKind, parseManifests, podSpecOf } from '../src/manifests.js';

const NS = 'slmops-system';
const allFeatures = join(import.meta.dirname, 'fixtures', 'values-all-features.yaml');
const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

let helm: string;
let dir: string;
let files = 0;

beforeAll(async () => {
  helm = (await ensureKubeTools()).helm;
  dir = mkdtempSync(join(tmpdir(), 'slmops-invariants-'));
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const valuesFile = (values: Record<string, unknown>): string => {
  const file = join(dir, `values-${files++}.yaml`);
  writeFileSync(file, stringify(values));
  return file;
};

const rendered = async (options: RenderOptions = {}): Promise<Manifest[]> => {
  const r = await helmTemplate(helm, { namespace: NS, ...options });
  expect(r.code, r.stderr).toBe(0);
  return parseManifests(r.stdout);
};

const argsOf = (objects: Manifest[], kind: 'Deployment' | 'DaemonSet'): string[] => podSpecOf(ofKind(objects, kind)[0]!).containers[0]!.args ?? [];

/** Both `helm template` and `helm lint --strict` refuse `values`, each with every message in its output. */
async function expectRefused(values: Record<string, unknown>, messages: RegExp[]): Promise<{ template: ToolResult; lint: ToolResult }> {
  const file = valuesFile(values);
  const template = await helmTemplate(helm, { valuesFiles: [file] });
  expect(template.code, `helm template accepted ${JSON.stringify(values)}`).not.toBe(0);
  const lint = await helmLint(helm, [file]);
  expect(lint.code, `helm lint --strict accepted ${JSON.stringify(values)}:\n${lint.stdout}`).not.toBe(0);
  for (const m of messages) {
    expect(template.stderr).toMatch(m);
    expect(lint.stdout + lint.stderr).toMatch(m);
  }
  return { template, lint };
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `--name` of a rendered `--name=value` argument. */
const flagName = (arg: string): string => arg.replace(/^--/, '').split('=')[0]!;

describe('chart invariants', () => {
  it('hardening item 11: operator.extraArgs may not set a flag the chart renders (--leader-elect=false under two replicas)', async () => {
    const { template } = await expectRefused({ operator: { replicas: 2, extraArgs: ['--leader-elect=false'] } }, [
      /operator\.extraArgs\[0\] \(--leader-elect=false\) sets --leader-elect, which the chart sets from operator\.leaderElection\.enabled/,
    ]);
    expect(template.stdout).not.toContain('kind: Deployment');
    // Every flag of the rendered command line (with every optional one switched on), in each spelling the parsers take.
    const owned = argsOf(await rendered({ set: ['operator.watchNamespace=edge'] }), 'Deployment').map(flagName);
    expect(owned).toEqual(expect.arrayContaining(['namespace', 'leader-elect', 'leader-election-id', 'leader-election-namespace', 'metrics-bind-address', 'health-probe-bind-address']));
    const extraArgs = owned.flatMap((f) => [`--${f}=x`, `--${f}`, `--no-${f}`]);
    await expectRefused(
      { operator: { extraArgs } },
      extraArgs.map((a, i) => new RegExp(`operator\\.extraArgs\\[${i}\\] \\(${escape(a)}\\) sets --${escape(flagName(a).replace(/^no-/, ''))}, which the chart sets from \\S+`)),
    );
    // A flag the chart leaves alone, even one that shares a prefix with a flag it sets, still reaches the operator.
    const operatorArgs = argsOf(await rendered({ valuesFiles: [valuesFile({ operator: { replicas: 2, extraArgs: ['--leader-elect-lease-duration=30s'] } })] }), 'Deployment');
    const parsed = parseOperatorArgs(operatorArgs, { POD_NAMESPACE: NS, POD_NAME: 'p' }, { version: '0', hostname: 'h', pid: 1 });
    expect(parsed.leaderElect).toBe(true);
    expect(parsed.leaseDurationMs).toBe(30_000);
  });

  it('hardening item 11: exporter.extraArgs may not set a flag the chart renders (e.g. --model-cache-dir=/)', async () => {
    await expectRefused({ exporter: { extraArgs: ['--model-cache-dir=/'] } }, [
      /exporter\.extraArgs\[0\] \(--model-cache-dir=\/\) sets --model-cache-dir, which the chart sets from exporter\.modelCacheDir/,
    ]);
    const owned = argsOf(await rendered({ valuesFiles: [allFeatures], set: ['exporter.extraArgs=null'] }), 'DaemonSet').map(flagName);
    expect(new Set(owned)).toEqual(new Set(['metrics-bind-address', 'model-cache-dir', 'node-cost-per-hour', 'plugins', 'sidecar-metrics-url', 'sysfs-root', 'procfs-root']));
    const extraArgs = [...new Set(owned)].map((f) => `--${f}=x`);
    await expectRefused({ exporter: { extraArgs } }, extraArgs.map((a, i) => new RegExp(`exporter\\.extraArgs\\[${i}\\] \\(${escape(a)}\\) sets --${escape(flagName(a))},`)));
    const exporterArgs = argsOf(await rendered({ valuesFiles: [valuesFile({ exporter: { extraArgs: ['--window-seconds=120'] } })] }), 'DaemonSet');
    expect(parseExporterArgs(exporterArgs, { NODE_NAME: 'n' }).windowSeconds).toBe(120);
  });

  it('hardening item 11: an extraArgs entry is one flag (--name or --name=value), so "--leader-elect false" cannot slip past', async () => {
    await expectRefused({ operator: { extraArgs: ['--leader-elect false'] } }, [/at '\/operator\/extraArgs\/0': '--leader-elect false' does not match pattern/]);
    await expectRefused({ exporter: { extraArgs: ['--'] } }, [/at '\/exporter\/extraArgs\/0': '--' does not match pattern/]);
  });

  it('hardening item 11: equal operator metrics and health ports are refused', async () => {
    await expectRefused({ operator: { metricsPort: 9000, healthPort: 9000 } }, [/operator\.metricsPort and operator\.healthPort are both 9000/]);
    const args = argsOf(await rendered({ set: ['operator.metricsPort=9000', 'operator.healthPort=9001'] }), 'Deployment');
    expect(args).toEqual(expect.arrayContaining(['--metrics-bind-address=:9000', '--health-probe-bind-address=:9001']));
  });

  it('hardening item 11: nameOverride and fullnameOverride are bounded, so every rendered name stays a DNS label', async () => {
    const long = 'a'.repeat(39);
    await expectRefused({ fullnameOverride: long }, [/at '\/fullnameOverride': maxLength: got 39, want 38/]);
    await expectRefused({ nameOverride: long }, [/at '\/nameOverride': maxLength: got 39, want 38/]);
    await expectRefused({ fullnameOverride: '9lives' }, [/at '\/fullnameOverride': '9lives' does not match pattern/]);
    // At the bound an override is never cut; with helm's longest release name (53) the release part is cut instead.
    const atBound = 'b'.repeat(38);
    for (const options of [{ set: [`fullnameOverride=${atBound}`] }, { set: [`nameOverride=${atBound}`], release: 'r' }, { release: 'r'.repeat(53) }]) {
      const objects = await rendered({ valuesFiles: [allFeatures], ...options });
      expect(objects.length).toBeGreaterThan(10);
      for (const o of objects) {
        expect(o.metadata.name, `${o.kind} of ${JSON.stringify(options)}`).toMatch(DNS_1123_LABEL);
        expect(o.metadata.name.length, `${o.kind}/${o.metadata.name}`).toBeLessThanOrEqual(63);
        if (o.kind === 'Service') expect(o.metadata.name).toMatch(DNS_1035_LABEL);
        if (options.set?.[0]?.startsWith('fullnameOverride')) expect(o.metadata.name.startsWith(atBound), o.metadata.name).toBe(true);
      }
    }
  });

  it('hardening item 11: a release name that gives no DNS-1035 name prefix is refused, naming the release', async () => {
    for (const release of ['1edge', 'edge.sites']) {
      const r = await helmTemplate(helm, { release, namespace: NS });
      expect(r.code, release).not.toBe(0);
      expect(r.stderr).toContain(`release name "${release}" gives the resource name prefix "${release}-slmops", which is not a DNS-1035 label`);
      expect(r.stderr).toContain('set fullnameOverride');
    }
    const fixed = await rendered({ release: '1edge', set: ['fullnameOverride=edge-slmops'] });
    expect(ofKind(fixed, 'Service').map((s) => s.metadata.name).sort()).toEqual(['edge-slmops-exporter', 'edge-slmops-operator-metrics']);
  });

  it('hardening item 11: exporter.modelCacheDir is an absolute, normalized path outside the system folders', async () => {
    const notNormalized = ['/', 'models', '/var/lib/../../etc', '/var//lib/slmops', '/var/lib/slmops/', '/var/lib/./slmops'];
    const system = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib64', '/proc', '/root', '/run', '/sbin', '/sys', '/usr', '/var', '/var/lib', '/var/run', '/home'];
    const underSystem = ['/proc/1/root', '/etc/kubernetes', '/var/run/containerd', '/var/lib/kubelet/pods', '/dev/shm', '/usr/local/models'];
    for (const dirValue of notNormalized) {
      await expectRefused({ exporter: { modelCacheDir: dirValue } }, [new RegExp(`at '/exporter/modelCacheDir': '${escape(dirValue)}' does not match pattern`)]);
    }
    for (const dirValue of [...system, ...underSystem]) {
      await expectRefused({ exporter: { modelCacheDir: dirValue } }, [/at '\/exporter\/modelCacheDir': 'not' failed/]);
    }
    for (const dirValue of ['/var/lib/slmops/models', '/home/edge/models', '/data/slm-models', '/var/lib/.cache/slmops']) {
      const ds = ofKind(await rendered({ set: [`exporter.modelCacheDir=${dirValue}`] }), 'DaemonSet')[0]!;
      const volumes = podSpecOf(ds)['volumes'] as { name: string; hostPath?: { path: string } }[];
      expect(volumes.find((v) => v.name === 'model-cache')?.hostPath?.path).toBe(dirValue);
    }
  });

  it('the default and every-feature values still render, with nothing refused, and pass helm lint --strict', async () => {
    for (const valuesFiles of [[], [allFeatures]]) {
      const lint = await helmLint(helm, valuesFiles);
      expect(lint.code, lint.stdout + lint.stderr).toBe(0);
      const objects = await rendered({ valuesFiles });
      expect(objects.map((o) => o.kind)).not.toContain('RefusedValues');
      expect(argsOf(objects, 'Deployment')).toContain('--leader-elect=true');
    }
  });
});
