import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';

const repo = join(import.meta.dirname, '../../..');
const bin = join(import.meta.dirname, '../bin/slmops.js');

describe('slmops validate', () => {
  it('accepts every example', async () => {
    const r = await runCli(['validate', '-f', 'examples'], repo);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('examples/cpu-fleet.yaml: SLMDeployment default/stories-cpu is valid');
    expect(r.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(3);
  });

  it('names the file, object and field of every problem and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slmops-validate-'));
    writeFileSync(
      join(dir, 'bad.yaml'),
      `apiVersion: slmops.io/v1alpha1
kind: SLMDeployment
metadata: {name: bad}
spec:
  model: {name: m, version: "1", source: {uri: "https://x/m.tar"}}
  placement: {replicas: 3}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other}
`,
    );
    const r = await runCli(['validate', '-f', 'bad.yaml'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad.yaml#0: SLMDeployment bad is invalid:');
    expect(r.stderr).toContain('spec.model.source.digest: digest is required unless uri is a file:// path');
    expect(r.stderr).toContain('spec.placement.replicas: replicas is only allowed when mode is Replicated');
    expect(r.stdout).toContain('bad.yaml#1: skipped: ConfigMap is not an SLMOps resource');
  });

  it('reports YAML syntax errors with the line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slmops-validate-'));
    writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: slmops.io/v1alpha1\nspec: [unclosed\n');
    const r = await runCli(['validate', '-f', 'broken.yaml', '-o', 'json'], dir);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.valid).toBe(false);
    expect(out.results[0].problems[0].message).toMatch(/YAML parse error at line \d/);
  });

  it('is a usage error (exit 2) without -f, with a missing file, or with an unknown command', async () => {
    expect((await runCli(['validate'])).code).toBe(2);
    const missing = await runCli(['validate', '-f', 'nope.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.yaml: no such file or directory');
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });

  it('runs as the built bin', () => {
    const out = execFileSync(process.execPath, [bin, 'validate', '-f', 'examples/mixed-fleet-waves.yaml'], { cwd: repo, encoding: 'utf8' });
    expect(out).toContain('SLMDeployment edge/stories-edge is valid');
    const bad = spawnSync(process.execPath, [bin, 'validate', '-f', 'missing.yaml'], { cwd: repo, encoding: 'utf8' });
    expect(bad.status).toBe(2);
  });
});
