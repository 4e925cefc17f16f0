/** Runs `kubectl slm` in-process against a kube emulator that has the SLMDeployment CRD installed. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { type Emulator, resources, startEmulator } from '@slmops/kube-emulator';
import { parse } from 'yaml';
import { main, productionDeps } from '../src/kubectl-slm/main.js';
import type { PluginDeps } from '../src/kubectl-slm/options.js';

export const crdPath = join(import.meta.dirname, '../../../charts/slmops/crds/slmdeployments.slmops.io.yaml');
export const slmdRef = { group: 'slmops.io', version: 'v1alpha1', resource: 'slmdeployments' } as const;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A running invocation whose output can be read while it runs (for `rollout status`). */
export interface LiveRun {
  stdout(): string;
  stderr(): string;
  done: Promise<Run>;
}

export function startPlugin(argv: string[], env: Record<string, string | undefined> = {}, deps: PluginDeps = productionDeps()): LiveRun {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
  const done = main(argv, { stdout, stderr, cwd: process.cwd(), env }, deps).then(async (code) => {
    await new Promise((r) => setImmediate(r));
    return { code, stdout: out, stderr: err };
  });
  return { stdout: () => out, stderr: () => err, done };
}

export const runPlugin = (argv: string[], env?: Record<string, string | undefined>, deps?: PluginDeps): Promise<Run> => startPlugin(argv, env, deps).done;

/** An emulator with the chart's CRD installed, and `kubectl slm` bound to its kubeconfig. */
export async function startCluster(): Promise<{ emu: Emulator; kubectlSlm: (argv: string[]) => Promise<Run>; live: (argv: string[]) => LiveRun }> {
  const emu = await startEmulator();
  emu.store.create(resources.customresourcedefinitions, undefined, parse(readFileSync(crdPath, 'utf8')) as object);
  const withConfig = (argv: string[]) => [...argv, '--kubeconfig', emu.kubeconfigPath];
  return { emu, kubectlSlm: (argv) => runPlugin(withConfig(argv)), live: (argv) => startPlugin(withConfig(argv)) };
}

export const sha = (c: string) => `sha256:${c.repeat(64)}`;

/** A minimal valid SLMDeployment manifest (the CRD fills in defaults). */
export function slmdManifest(name: string, namespace = 'default', version = '1.0.0') {
  return {
    apiVersion: 'slmops.io/v1alpha1',
    kind: 'SLMDeployment',
    metadata: { name, namespace, labels: { team: 'edge' } },
    spec: { model: { name: 'stories260k', version, source: { uri: 'https://models.example/stories260k.slm.tar', digest: sha('a') } } },
  };
}

/** Waits until `check` passes (polling), failing with its last error after `ms`. */
export async function eventually<T>(check: () => T | Promise<T>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
