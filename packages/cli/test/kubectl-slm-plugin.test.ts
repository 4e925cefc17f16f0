/** The real kubectl v1.33 finds `kubectl-slm` on PATH (plugin discovery) and runs it against the emulator. */
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Emulator } from '@slmops/kube-emulator';
import { ensureKubeTools, runTool } from '@slmops/kube-emulator/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slmdManifest, slmdRef, startCluster } from './kubectl-slm-harness.js';

const bin = resolve(import.meta.dirname, '../bin/kubectl-slm.js');
let emu: Emulator;
let kubectl: string;
let pluginDir: string;

beforeAll(async () => {
  // The bin runs the built plugin, as an installed package would; `nx test` builds it first.
  if (!existsSync(resolve(import.meta.dirname, '../dist/kubectl-slm/main.js'))) throw new Error('packages/cli/dist is missing: run `npx nx run @slmops/cli:build` first');
  kubectl = (await ensureKubeTools()).kubectl;
  ({ emu } = await startCluster());
  emu.store.create(slmdRef, 'default', slmdManifest('chat'));
  // What `npm install -g @slmops/cli` does: a kubectl-slm link to the package's bin in a folder on PATH.
  pluginDir = mkdtempSync(join(tmpdir(), 'kubectl-plugins-'));
  symlinkSync(bin, join(pluginDir, 'kubectl-slm'));
}, 120_000);
afterAll(() => emu?.close());

/** Each case starts kubectl and the plugin's node process 1-3 times; on 2 busy cores one start can take 5 s. */
const PROCESS_TEST_MS = 60_000;

const run = (args: string[], onStdout?: (text: string) => void) =>
  runTool(kubectl, args, {
    env: { PATH: [pluginDir, dirname(process.execPath), '/usr/bin', '/bin'].join(':'), HOME: pluginDir, KUBECONFIG: emu.kubeconfigPath },
    ...(onStdout ? { onStdout } : {}),
  });

describe('kubectl plugin discovery', () => {
  it('kubectl plugin list shows kubectl-slm and `kubectl slm get` runs it', async () => {
    const list = await run(['plugin', 'list']);
    expect(list.stdout).toContain(join(pluginDir, 'kubectl-slm'));
    const get = await run(['slm', 'get']);
    expect(get.stderr).toBe('');
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/^NAME\s+MODEL\s+VERSION\s+READY\s+UPDATED\s+PHASE\s+AGE\nchat\s+stories260k\s+1\.0\.0\s/);
  }, PROCESS_TEST_MS);

  it('passes flags through and keeps the plugin\'s exit codes and stderr', async () => {
    const json = await run(['slm', 'get', 'chat', '-n', 'default', '-o', 'json']);
    expect((JSON.parse(json.stdout) as { metadata: { uid: string } }).metadata.uid).toBe(emu.store.get(slmdRef, 'default', 'chat').metadata.uid);
    const missing = await run(['slm', 'get', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('Error from server (NotFound): slmdeployments.slmops.io "nope" not found\n');
  }, PROCESS_TEST_MS);

  it('rollout status through kubectl follows a watch and the process exits when the rollout completes', async () => {
    const status = (rollout: object) => emu.store.patch(slmdRef, 'default', 'chat', 'merge', { status: { observedGeneration: 1, rollout } }, { subresource: 'status' });
    status({ wave: 1, phase: 'Progressing' });
    let seen = '';
    const follow = run(['slm', 'rollout', 'status', 'chat', '--timeout', '25s'], (t) => {
      seen += t;
      if (seen.includes('phase Progressing')) status({ wave: 2, phase: 'Complete' });
    });
    const r = await follow;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Waiting for slmdeployment "chat" rollout: wave 1/3, phase Progressing...\nslmdeployment "chat" successfully rolled out\n');
  }, PROCESS_TEST_MS);
});
