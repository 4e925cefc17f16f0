/**
 * The CLI explains itself: local-development defaults of `slmops operator`, a missing Lease namespace named,
 * --version, per-flag help, no silent prompt, plain transport errors and a quiet exit on a closed pipe.
 */
import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import type { Emulator } from '@slmops/kube-emulator';
import { ensureKubeTools, kubectlFor } from '@slmops/kube-emulator/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperatorCommand, withLocalDefaults } from '../src/commands/operator.js';
import { createToolsCommand, kubectlSlmShim } from '../src/commands/tools.js';
import { plainErrorMessage } from '../src/context.js';
import { runCli } from './cli.js';
import { startCluster } from './kubectl-slm-harness.js';
import { convertedPackage } from './model-fixtures.js';

const bin = join(import.meta.dirname, '../bin/slmops.js');
const repo = join(import.meta.dirname, '../../..');

function capture() {
  let text = '';
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, text: () => text };
}

describe('slmops operator from the CLI', () => {
  let emu: Emulator;
  beforeAll(async () => {
    ({ emu } = await startCluster());
  });
  afterAll(() => emu?.close());

  it('defaults to no leader election, loopback servers and text logs; the user\'s flags win', () => {
    expect(withLocalDefaults(['--kubeconfig', 'k'])).toEqual([
      '--leader-elect=false',
      '--metrics-bind-address', '127.0.0.1:8080',
      '--health-probe-bind-address', '127.0.0.1:8081',
      '--log-format', 'text',
      '--kubeconfig', 'k',
    ]);
    const mine = withLocalDefaults(['--leader-elect', '--metrics-bind-address=0', '--health-probe-bind-address', ':9', '--log-format', 'json']);
    expect(mine).toEqual(['--leader-elect', '--metrics-bind-address=0', '--health-probe-bind-address', ':9', '--log-format', 'json']);
  });

  it('reconciles at once against a fresh cluster and says in one line what it watches', async () => {
    const signals = new EventEmitter();
    const out = capture();
    const err = capture();
    const run = createOperatorCommand(signals).run(
      ['--kubeconfig', emu.kubeconfigPath, '--metrics-bind-address', '127.0.0.1:0', '--health-probe-bind-address', '127.0.0.1:0'],
      { stdout: out.stream, stderr: err.stream, cwd: repo, env: {} },
    );
    await expect.poll(out.text, { timeout: 30_000 }).toMatch(/^slmops operator: watching SLMDeployments in all namespaces via .*; leader election off; plugins [a-z,]+; metrics http:\/\/127\.0\.0\.1:\d+\/metrics, health http:\/\/127\.0\.0\.1:\d+\n$/);
    // Leading without a Lease: nothing was created in a namespace the cluster may not have.
    expect(emu.requestLog.entries({ resource: 'leases' })).toEqual([]);
    signals.emit('SIGTERM');
    expect(await run).toBe(0);
    expect(err.text()).toMatch(/INFO started leading/);
  }, 60_000);

  it('kubectl explain documents every field of the API, and lists the known plugins', async () => {
    const kubectl = kubectlFor((await ensureKubeTools()).kubectl, emu.kubeconfigPath);
    for (const path of ['spec', 'spec.rollout', 'spec.rollout.analysis', 'spec.rollout.waves', 'spec.serving', 'spec.placement', 'spec.hardware']) {
      const r = await kubectl(['explain', `slmdeployment.${path}`]);
      expect(r.code, r.stderr).toBe(0);
      const fields = r.stdout.split('\nFIELDS:\n')[1]!.split(/\n(?=  [a-zA-Z]+\t)/).filter((f) => f.trim() !== '');
      expect(fields.length).toBeGreaterThan(1);
      // Each field: "  name\t<Type>", maybe "  enum: …", then its description indented by four spaces.
      for (const f of fields) expect(f, `${path}: ${f}`).toMatch(/^ {2}[a-zA-Z]+\t<[^>]+>[^\n]*\n(?: {2}enum:[^\n]*\n)? {4}\S/);
      expect(r.stdout).not.toContain('<no description>');
    }
    const plugins = await kubectl(['explain', 'slmdeployment.spec.hardware.plugins']);
    expect(plugins.stdout.replace(/\s+/g, ' ')).toContain('from nvidia, jetson, intel, amd, qualcomm, cpu;');
  }, 120_000);

  it('with --leader-elect and no Lease namespace, exits 1 with an error naming the namespace', async () => {
    const r = await runCli(['operator', '--kubeconfig', emu.kubeconfigPath, '--leader-elect', '--leader-election-namespace', 'slmops-system', '--metrics-bind-address', '0', '--health-probe-bind-address', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('slmops operator: leader election: the Lease namespace "slmops-system" does not exist; create it (kubectl create namespace slmops-system)');
  }, 60_000);
});

describe('the CLI explains itself', () => {
  it('slmops tools refuses a platform the packaged binaries do not cover, saying what to install', async () => {
    const tools = createToolsCommand({ platform: 'darwin', arch: 'arm64', node: '/usr/bin/node' });
    await expect(tools.run([], { stdout: new PassThrough(), stderr: new PassThrough(), cwd: repo, env: {} })).rejects.toThrow(
      /linux-x64 only, and this is darwin-arm64: install kubectl 1\.33 and helm 4 yourself .* on PATH as kubectl-slm$/,
    );
    // The shim kubectl runs as `kubectl slm`: this node, the plugin entry, every argument passed on.
    expect(kubectlSlmShim("/opt/no'de", '/r/kubectl-slm.js')).toBe(`#!/bin/sh\n# kubectl finds plugins as kubectl-<name> on PATH; written by \`slmops tools\`.\nexec '/opt/no'\\''de' '/r/kubectl-slm.js' "$@"\n`);
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r).toEqual({ code: 0, stdout: 'slmops 0.1.0\n', stderr: '' });
  });

  it('every binary answers --version', () => {
    const bins: Array<[string, string]> = [
      ['slmops-sidecar', '../../sidecar/bin/slmops-sidecar.js'],
      ['slmops-operator', '../../operator/bin/slmops-operator.js'],
      ['slmops-exporter', '../../exporter/bin/slmops-exporter.js'],
      ['kubectl-slm', '../bin/kubectl-slm.js'],
    ];
    for (const [name, rel] of bins) {
      const r = spawnSync(process.execPath, [join(import.meta.dirname, rel), '--version'], { encoding: 'utf8' });
      expect({ name, code: r.status, stdout: r.stdout }).toEqual({ name, code: 0, stdout: `${name} 0.1.0\n` });
    }
  });

  it('--help prints one line per flag with its default, from the table the parser reads', async () => {
    const r = await runCli(['generate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}-n, --max-tokens <n> +most tokens to generate \(default: 256\)$/m);
    expect(r.stdout).toMatch(/^ {6}--stop <text> +stop when the output ends with this text \(repeatable\)$/m);
    const flags = r.stdout.split('\n').filter((l) => /^ {2}(-\w, )? *--/.test(l));
    expect(flags).toHaveLength(13);
    const validate = await runCli(['validate', '--help']);
    expect(validate.stdout).toMatch(/-o, --output <text\|json> +output format \(default: text\)/);
  });

  it("serve --help is the sidecar's own usage, so it names every flag the sidecar accepts", async () => {
    const r = await runCli(['serve', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--threads', '--stream-interval', '--default-max-tokens', '--metrics-host', '--max-prompt-bytes', '--request-logging']) expect(r.stdout).toContain(flag);
  });

  it('generate without --prompt is a usage error, not a story about a default prompt', async () => {
    const r = await runCli(['generate', '--model', 'models/stories260k']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--prompt <text> is required');
    expect(r.stdout).toBe('');
  });

  it('transport internals become "cannot reach HOST:PORT (why)"', async () => {
    expect(plainErrorMessage('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ')).toBe('cannot reach 127.0.0.1:1 (connection refused)');
    expect(plainErrorMessage('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED [::1]:50051')).toBe('cannot reach [::1]:50051 (connection refused)');
    expect(plainErrorMessage('14 UNAVAILABLE: Name resolution failed for target dns:nosuch.invalid:50051')).toBe('cannot reach nosuch.invalid:50051 (name not resolved)');
    expect(plainErrorMessage('8 RESOURCE_EXHAUSTED: queue full (64 waiting)')).toBe('queue full (64 waiting)');
    const r = await runCli(['generate', '--server', '127.0.0.1:1', '--prompt', 'x']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'slmops generate: cannot reach 127.0.0.1:1 (connection refused)\n' });
  }, 30_000);

  it('exits quietly with 0 when the reader closes the pipe (`| head -c 50`)', async () => {
    const pkg = await convertedPackage();
    // ~100 kB of JSON: more than a pipe holds, so the CLI is still writing when head exits.
    const text = 'Once upon a time '.repeat(6000);
    const child = spawn('bash', ['-c', 'set -o pipefail; "$0" "$1" tokenize --model "$2" --text "$3" --json | head -c 50', process.execPath, bin, pkg, text], { cwd: repo });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((r) => child.once('close', r));
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: '{"ids":[1,403,407,261,378,403,407,261,378,403,407,', stderr: '' });
  }, 60_000);
});
