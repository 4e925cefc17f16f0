/**
 * Metric-gated wave rollouts end to end on the kube emulator: the real operator (runtime + pure core)
 * over the real HTTP client, the fleet simulator, and, for analysis and rollback, real sidecar processes serving
 * the bundled stories260K model through the simulator's process runner.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Annotations, Labels } from '@slmops/api';
import type { KubeObject } from '@slmops/kube';
import { podEndpoint, type Pod } from '@slmops/kube-emulator';
import { convertLlama2cPackage } from '@slmops/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chosenNodes, type FleetUnit } from '../src/core.js';
import { type Harness, resources, startHarness } from './harness.js';

const ROOT = join(import.meta.dirname, '../../..');
const OPERATOR = /^slmops-operator\//;
const digest = (c: string) => `sha256:${c.repeat(64)}`;

const status = (h: Harness, name: string) => ((h.slmd(name) as { status?: Record<string, unknown> } | undefined)?.status ?? {}) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- deep status reads
const condition = (h: Harness, name: string, type: string) => (status(h, name).conditions as { type: string; status: string; reason: string; message: string }[] | undefined)?.find((c) => c.type === type);
const podsOf = (h: Harness, name: string) => h.objects(resources.pods, 'default', `${Labels.deployment}=${name}`) as KubeObject[];
const podDigest = (p: KubeObject) => p.metadata.annotations?.[Annotations.modelDigest];
const podNodeName = (p: KubeObject) => (p['spec'] as { nodeName?: string }).nodeName ?? '';
const isReady = (p: KubeObject) => ((p['status'] as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const nodesOn = (h: Harness, name: string, d: string) => new Set(podsOf(h, name).filter((p) => podDigest(p) === d).map(podNodeName));

/** Fleet units (node + class) as the operator sees them, read from the pods' node-class labels. */
function unitsOf(h: Harness, name: string): FleetUnit[] {
  return podsOf(h, name).map((p) => ({ node: podNodeName(p), classKey: p.metadata.labels![Labels.nodeClass]!, offline: false, pods: [] }));
}

function setModel(h: Harness, name: string, model: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const cur = h.slmd(name)!;
  return h.apply({ apiVersion: cur.apiVersion, kind: cur.kind, metadata: { name, namespace: 'default' }, spec: { ...(cur['spec'] as object), model: { ...((cur['spec'] as { model: object }).model), ...model }, ...extra } });
}

const applyDeployment = (h: Harness, name: string, spec: Record<string, unknown>) =>
  h.apply({ apiVersion: 'slmops.io/v1alpha1', kind: 'SLMDeployment', metadata: { name, namespace: 'default' }, spec });

const warningEvents = (h: Harness, reason: string) =>
  (h.objects({ group: '', version: 'v1', resource: 'events' }, 'default') as (KubeObject & { type?: string; reason?: string; message?: string })[]).filter((e) => e.type === 'Warning' && e.reason === reason);

describe('rollout e2e: waves over 60 simulated nodes of three classes', () => {
  let h: Harness;
  const name = 'waves';
  beforeAll(async () => {
    h = await startHarness({ fleet: { nodes: 60, mix: { 'nvidia-gpu': 1, jetson: 1, 'cpu-amd64': 1 }, seed: 7 } });
    await h.startOperator();
    await applyDeployment(h, name, {
        model: { name: 'stories260k', version: '1.0.0', source: { uri: 'https://models.example/stories260k-1.slm.tar', digest: digest('1') } },
        hardware: { plugins: ['nvidia', 'jetson', 'cpu'] },
        rollout: {
          waves: [{ percent: 10, pause: '4s' }, { percent: 50, pause: '4s' }, { percent: 100 }],
          analysis: { interval: '1s', minSamples: 0 },
          offline: { maxOfflinePercent: 25 },
          progressDeadline: '60s',
        },
    });
    const wait = await h.kubectl(['wait', '--for=condition=Ready', `slmd/${name}`, '--timeout=60s'], { timeoutMs: 70_000 });
    expect(wait.code, wait.stderr).toBe(0);
  }, 90_000);
  afterAll(async () => {
    await h?.close();
  });

  it('rolls a new version out in waves with pauses, replacing only the chosen nodes\' pods, with skew in status', async () => {
    const units = unitsOf(h, name);
    expect(units).toHaveLength(60);
    const mark = h.emu.requestLog.mark();
    await setModel(h, name, { version: '2.0.0', source: { uri: 'https://models.example/stories260k-2.slm.tar', digest: digest('2') } });

    await h.waitFor('wave 1 paused', () => status(h, name).rollout?.wave === 1 && status(h, name).rollout?.phase === 'Paused', 60_000);
    expect(nodesOn(h, name, digest('2'))).toEqual(chosenNodes(units, 10));
    expect(chosenNodes(units, 10).size).toBe(6);
    expect(status(h, name).servedDigests).toEqual([
      { digest: digest('1'), count: 54 },
      { digest: digest('2'), count: 6 },
    ]);
    expect(status(h, name).nodes).toMatchObject({ desired: 60, updated: 6, ready: 60 });
    expect(condition(h, name, 'Progressing')).toMatchObject({ status: 'True', reason: 'WavePaused' });
    const table = await h.kubectlOk(['get', 'slmd', name]);
    expect(table.split('\n')[1]!.split(/\s+/).slice(0, 6)).toEqual([name, 'stories260k', '2.0.0', 'True', '6', 'Paused']);

    await h.waitFor('wave 2 paused', () => status(h, name).rollout?.wave === 2 && status(h, name).rollout?.phase === 'Paused', 60_000);
    expect(nodesOn(h, name, digest('2'))).toEqual(chosenNodes(units, 50));
    expect(status(h, name).servedDigests).toEqual([
      { digest: digest('1'), count: 30 },
      { digest: digest('2'), count: 30 },
    ]);

    await h.waitFor('rollout complete', () => status(h, name).rollout?.phase === 'Complete' && status(h, name).nodes?.ready === 60 && status(h, name).currentRevision === status(h, name).updateRevision, 60_000);
    expect(status(h, name).servedDigests).toEqual([{ digest: digest('2'), count: 60 }]);
    // Exactly one pod deletion per node, all by the operator.
    const deletes = h.emu.requestLog.since(mark, { verb: 'delete', resource: 'pods' });
    expect(deletes.filter((e) => OPERATOR.test(e.client) && e.code < 300)).toHaveLength(60);
    expect(new Set(deletes.map((e) => e.name)).size).toBe(deletes.length);
  }, 120_000);

  it('completes with 20% of nodes offline (maxOfflinePercent 25) and reports them pending', async () => {
    const down = h.sim.setNodesReady({ percent: 20, seed: 3 }, false);
    expect(down).toHaveLength(12);
    await setModel(h, name, { version: '3.0.0', source: { uri: 'https://models.example/stories260k-3.slm.tar', digest: digest('3') } });
    await h.waitFor('rollout complete with offline nodes', () => status(h, name).updateRevision !== status(h, name).currentRevision ? false : status(h, name).rollout?.phase === 'Complete' && status(h, name).nodes?.updated === 48, 90_000);
    expect(status(h, name).nodes).toMatchObject({ desired: 60, updated: 48, offline: 12 });
    expect(status(h, name).rollout.message).toBe('rollout complete; 12 offline node(s) pending: they update when they return');
    // Offline nodes keep their old pods: nothing was deleted there.
    for (const n of down) expect(nodesOn(h, name, digest('3')).has(n)).toBe(false);
    h.sim.setNodesReady(down, true);
    await h.waitFor('returning nodes catch up', () => status(h, name).nodes?.updated === 60 && status(h, name).nodes?.ready === 60, 60_000);
    expect(status(h, name).servedDigests).toEqual([{ digest: digest('3'), count: 60 }]);
  }, 150_000);

  it('pauses with reason OfflineNodesExceeded when 40% of nodes are offline', async () => {
    const down = h.sim.setNodesReady({ percent: 40, seed: 5 }, false);
    expect(down).toHaveLength(24);
    await setModel(h, name, { version: '4.0.0', source: { uri: 'https://models.example/stories260k-4.slm.tar', digest: digest('4') } });
    await h.waitFor('rollout paused for offline nodes', () => status(h, name).rollout?.reason === 'OfflineNodesExceeded', 60_000);
    expect(status(h, name).rollout).toMatchObject({ phase: 'Paused', wave: 1 });
    expect(status(h, name).rollout.message).toBe('24 of 60 nodes (40%) are offline, above rollout.offline.maxOfflinePercent 25%: the rollout holds at wave 1 until nodes return');
    expect(condition(h, name, 'Progressing')).toMatchObject({ status: 'False', reason: 'OfflineNodesExceeded' });
    expect(nodesOn(h, name, digest('4')).size).toBe(0);
    const [event] = await h.waitFor('Warning event', () => (warningEvents(h, 'OfflineNodesExceeded').length ? warningEvents(h, 'OfflineNodesExceeded') : undefined), 10_000);
    expect(event!.message).toMatch(/24 of 60 nodes \(40%\) are offline/);
    h.sim.setNodesReady(down, true);
    await h.waitFor('rollout resumes', () => nodesOn(h, name, digest('4')).size >= 6, 60_000);
  }, 120_000);
});

/** The sidecar runs from its build; apps never import apps, so make sure it exists (a real build, not a stub). */
function ensureSidecarBuilt(): string {
  const bin = join(ROOT, 'packages/sidecar/bin/slmops-sidecar.js');
  if (!existsSync(join(ROOT, 'packages/sidecar/dist/index.js'))) {
    execFileSync('npx', ['nx', 'run', '@slmops/sidecar:build'], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, NX_DAEMON: 'false' } });
  }
  return bin;
}

describe('rollout e2e: analysis on real sidecar metrics, and rollback of a bad digest', () => {
  let h: Harness;
  let dir: string;
  let v1: { path: string; digest: string };
  let v2: { path: string; digest: string };
  const name = 'real';

  beforeAll(async () => {
    const bin = ensureSidecarBuilt();
    dir = mkdtempSync(join(tmpdir(), 'slmops-e2e-rollout-'));
    const models = join(ROOT, 'models/stories260k');
    const p1 = join(dir, 'v1');
    await convertLlama2cPackage({ checkpoint: join(models, 'stories260K.bin'), tokenizer: join(models, 'tok512.bin'), out: p1, name: 'stories260k', version: '1.0.0' });
    // Version 2 is the same weights under another manifest, so its package digest differs.
    const p2 = join(dir, 'v2');
    cpSync(p1, p2, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(p2, 'slm.json'), 'utf8')) as { version: string };
    writeFileSync(join(p2, 'slm.json'), `${JSON.stringify({ ...manifest, version: '2.0.0' }, null, 2)}\n`);
    const sha = (p: string) => `sha256:${createHash('sha256').update(readFileSync(join(p, 'slm.json'))).digest('hex')}`;
    v1 = { path: p1, digest: sha(p1) };
    v2 = { path: p2, digest: sha(p2) };
    const cache = join(dir, 'cache');
    h = await startHarness({
      fleet: { nodes: 6, mix: { 'cpu-amd64': 1 }, seed: 2 },
      simulator: {
        podStartDelayMs: 20,
        podReadyDelayMs: 20,
        onError: () => {},
        processes: {
          addressing: 'loopback-ips',
          // Pods of version 2 and of the bad version run the real sidecar; version 1 pods are simulated.
          select: (pod: Pod) => (pod.metadata.annotations?.[Annotations.modelDigest] !== v1.digest ? 'sidecar' : undefined),
          registry: {
            sidecar: (pod: Pod, _ports, ip) => {
              const args = [...((pod as unknown as { spec: { containers: { args: string[] }[] } }).spec.containers[0]!.args)];
              const set = (flag: string, value: string) => (args[args.indexOf(flag) + 1] = value);
              // The container's file:// URI names a package folder; the process gets it as a path, its own pod IP and a writable cache.
              set('--model', args[args.indexOf('--model') + 1]!.replace(/^file:\/\//, ''));
              set('--host', ip);
              set('--cache-dir', cache);
              set('--grace-period', '1s');
              return { command: process.execPath, args: [bin, ...args] };
            },
          },
        },
      },
    });
    await h.startOperator();
    await applyDeployment(h, name, {
        model: { name: 'stories260k', version: '1.0.0', source: { uri: `file://${v1.path}`, digest: v1.digest }, precisions: ['fp32'] },
        hardware: { plugins: ['cpu'] },
        serving: { resources: { limits: { cpu: '1' } }, maxTokens: 16 },
        rollout: {
          waves: [{ percent: 50, pause: '1s' }, { percent: 100 }],
          analysis: { interval: '2s', minSamples: 20, maxErrorRate: 0.05, timeout: '120s' },
          progressDeadline: '120s',
        },
    });
    await h.waitFor('version 1 Ready', () => condition(h, name, 'Ready')?.status === 'True', 60_000);
  }, 180_000);
  afterAll(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('analysis reads the updated sidecars\' real metrics and promotes', async () => {
    await setModel(h, name, { version: '2.0.0', source: { uri: `file://${v2.path}`, digest: v2.digest } });
    // Wave 1: three real sidecars verify the package digest, load the model and turn Ready.
    const canaries = await h.waitFor(
      'wave 1 sidecars Ready',
      () => {
        const ready = podsOf(h, name).filter((p) => podDigest(p) === v2.digest && isReady(p));
        return ready.length === 3 ? ready : undefined;
      },
      120_000,
    );
    await h.waitFor('wave 1 analysing', () => status(h, name).rollout?.wave === 1 && status(h, name).rollout?.phase === 'Analyzing', 30_000);
    // Without traffic the analysis is inconclusive: fewer than minSamples.
    expect(status(h, name).rollout.message).toMatch(/0 of 20 required samples from 3 updated pods/);
    // Real traffic through the sidecars' OpenAI endpoint on the metrics port.
    for (const pod of canaries) {
      const ep = podEndpoint(pod as unknown as Pod, 'metrics')!;
      for (let i = 0; i < 8; i++) {
        const res = await fetch(`http://${ep.host}:${ep.port}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'stories260k', prompt: 'Once upon a time', max_tokens: 8, temperature: 0 }),
        });
        expect(res.status, await res.clone().text()).toBe(200);
        await res.text();
      }
    }
    await h.waitFor('wave 1 analysis passed', () => status(h, name).rollout?.wave === 2 || status(h, name).rollout?.phase === 'Complete', 60_000);
    const analysis = status(h, name).rollout.lastAnalysis;
    expect(analysis).toMatchObject({ passed: true, errorRate: 0 });
    expect(analysis.samples).toBeGreaterThanOrEqual(20);
    expect(analysis.p95LatencyMs).toBeGreaterThan(0);
    await h.waitFor('rollout complete', () => status(h, name).rollout?.phase === 'Complete' && status(h, name).currentRevision === status(h, name).updateRevision && status(h, name).nodes?.ready === 6, 120_000);
    expect(status(h, name).servedDigests).toEqual([{ digest: v2.digest, count: 6 }]);
    expect(condition(h, name, 'ModelVerified')).toMatchObject({ status: 'True', reason: 'DigestVerified' });
  }, 300_000);

  it('a version whose digest does not verify stops at wave 1 and rolls back automatically', async () => {
    const good = status(h, name).currentRevision as string;
    await setModel(h, name, { version: '3.0.0', source: { uri: `file://${v2.path}`, digest: digest('e') } });
    await h.waitFor('rolled back', () => condition(h, name, 'RolledBack')?.status === 'True' && status(h, name).rollout?.phase === 'RolledBack', 150_000);
    expect(status(h, name).rollout).toMatchObject({ wave: 1, reason: 'ModelLoadFailed', failedRevision: status(h, name).updateRevision });
    expect(condition(h, name, 'RolledBack')).toMatchObject({ reason: 'ModelLoadFailed' });
    expect(condition(h, name, 'ModelVerified')).toMatchObject({ status: 'False', reason: 'ModelLoadFailed' });
    expect(status(h, name).currentRevision).toBe(good);
    const events = await h.waitFor('Warning event', () => (warningEvents(h, 'ModelLoadFailed').length ? warningEvents(h, 'ModelLoadFailed') : undefined), 10_000);
    expect(events).toHaveLength(1);
    expect(events[0]!.message).toMatch(/CrashLoopBackOff.*rolling back to revision/);
    await h
      .waitFor('every node back on the old digest', () => {
        const pods = podsOf(h, name);
        return pods.length === 6 && pods.every((p) => podDigest(p) === v2.digest && isReady(p));
      }, 120_000)
      .catch((e: Error) => {
        throw new Error(`${e.message}; pods: ${podsOf(h, name).map((p) => `${p.metadata.name} ${podDigest(p)?.slice(7, 15)} ready=${isReady(p)} ${JSON.stringify((p['status'] as { containerStatuses?: unknown }).containerStatuses)}`).join('; ')}`);
      });
    expect(status(h, name).servedDigests).toEqual([{ digest: v2.digest, count: 6 }]);
  }, 300_000);
});
