/** The standalone command: flags, and a running emulator + simulator that kubectl can use by hand. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs, run } from '../src/main.js';
import { ensureKubeTools, kubectlFor } from '../src/testing/index.js';

describe('slmops-kube-emulator', () => {
  it('parses its flags and names the bad one', () => {
    expect(parseArgs(['--nodes', '50', '--kubeconfig-out', './kc'])).toMatchObject({ nodes: 50, kubeconfigOut: './kc', port: 0, installCrd: true });
    expect(parseArgs(['--port=8080', '--no-crd'])).toMatchObject({ port: 8080, installCrd: false });
    expect(parseArgs(['--help'])).toBe('help');
    expect(() => parseArgs(['--nodes', 'many'])).toThrow('--nodes needs an integer >= 0, got "many"');
    expect(() => parseArgs(['--bogus'])).toThrow('unknown option "--bogus"');
  });

  it('runs a fleet that kubectl sees, with the SLMDeployment CRD installed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emu-cmd-'));
    let printed = '';
    const running = await run({ port: 0, host: '127.0.0.1', nodes: 6, seed: 3, kubeconfigOut: 'kubeconfig', installCrd: true }, { stdout: { write: (s: string) => (printed += s) }, stderr: { write: () => true }, cwd: dir });
    try {
      const path = join(dir, 'kubeconfig');
      expect(readFileSync(path, 'utf8')).toContain(`server: ${running.emulator.url}`);
      expect(printed).toContain(`export KUBECONFIG=${path}`);
      const kubectl = kubectlFor((await ensureKubeTools()).kubectl, path);
      const nodes = await kubectl(['get', 'nodes', '-o', 'name']);
      expect(nodes.stdout.trim().split('\n')).toHaveLength(6);
      const crd = await kubectl(['get', 'crd', 'slmdeployments.slmops.io', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
      expect(crd.stdout).toBe('True');
    } finally {
      await running.stop();
    }
  });
});
