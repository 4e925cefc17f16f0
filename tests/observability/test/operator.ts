/**
 * The real operator binary against the kube emulator and its fleet simulator, with one SLMDeployment to roll
 * out, so its /metrics carry a live rollout.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type Emulator, type ResourceRef, Simulator, startEmulator } from '@slmops/kube-emulator';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '../../..');
const OPERATOR_BIN = join(ROOT, 'packages/operator/bin/slmops-operator.js');
const CRD_PATH = join(ROOT, 'charts/slmops/crds/slmdeployments.slmops.io.yaml');
const CRD: ResourceRef = { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions' };
const SLMD: ResourceRef = { group: 'slmops.io', version: 'v1alpha1', resource: 'slmdeployments' };
const NAMESPACES: ResourceRef = { group: '', version: 'v1', resource: 'namespaces' };

export interface OperatorOnEmulator {
  /** host:port of the operator's /metrics. */
  metricsAddress: string;
  emu: Emulator;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts the emulator with `nodes` simulated CPU nodes, the CRD, a namespace and the operator binary. */
export async function startOperatorOnEmulator(opts: { namespace: string; nodes: number }): Promise<OperatorOnEmulator> {
  const emu = await startEmulator();
  const sim = new Simulator({ store: emu.store, podStartDelayMs: 20, podReadyDelayMs: 20, onError: () => {} });
  await sim.start();
  sim.addFleet({ nodes: opts.nodes, mix: { 'cpu-amd64': 1 }, seed: 1 });
  emu.store.create(CRD, undefined, parse(readFileSync(CRD_PATH, 'utf8')), { client: 'observability-test' });
  emu.store.create(NAMESPACES, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: opts.namespace } }, { client: 'observability-test' });
  const proc: ChildProcess = spawn(
    process.execPath,
    [OPERATOR_BIN, '--kubeconfig', emu.kubeconfigPath, '--metrics-bind-address', '127.0.0.1:0', '--health-probe-bind-address', '127.0.0.1:0', '--leader-elect=false', '--plugins', 'cpu', '--sidecar-image', 'registry.local/sidecar:test'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env['PATH'] ?? '', POD_NAME: 'operator-0' } },
  );
  let err = '';
  const metricsAddress = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stderr! }).on('line', (line) => {
      err += `${line}\n`;
      try {
        const l = JSON.parse(line) as { msg?: string; metrics?: string };
        if (l.msg === 'starting' && l.metrics) resolve(l.metrics);
      } catch {
        // not a log line
      }
    });
    proc.once('exit', (code) => reject(new Error(`operator exited ${code}: ${err}`)));
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    metricsAddress,
    emu,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      await sim.stop();
      await emu.close();
    },
  };
}

/** Creates an SLMDeployment in Fleet mode over the simulated nodes, rolled out in two waves. */
export function createDeployment(emu: Emulator, namespace: string, name: string, version: string): void {
  emu.store.create(
    SLMD,
    namespace,
    {
      apiVersion: 'slmops.io/v1alpha1',
      kind: 'SLMDeployment',
      metadata: { name, namespace },
      spec: {
        model: { name: 'stories260k', version, source: { uri: `file:///models/stories260k-${version}` }, precisions: ['fp32'] },
        placement: { mode: 'Fleet' },
        hardware: { plugins: ['cpu'] },
        rollout: { strategy: 'Waves', waves: [{ percent: 50 }, { percent: 100 }] },
      },
    },
    { client: 'observability-test' },
  );
}

/** Changes an annotation of the SLMDeployment (no spec change): a watch event the operator reconciles on. */
export function touchDeployment(emu: Emulator, namespace: string, name: string, n: number): void {
  emu.store.patch(SLMD, namespace, name, 'merge', { metadata: { annotations: { 'test.slmops.io/touch': String(n) } } });
}
