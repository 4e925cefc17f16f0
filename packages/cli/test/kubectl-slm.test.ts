/** `kubectl slm get|describe|rollout` against the kube emulator with the chart's CRD and statuses written in the test. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Annotations } from '@slmops/api';
import { type Emulator, type KubeObject, kubeconfigFor, resources } from '@slmops/kube-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { eventually, runPlugin, sha, slmdManifest, slmdRef, startCluster, type LiveRun, type Run } from './kubectl-slm-harness.js';

let emu: Emulator;
let kubectlSlm: (argv: string[]) => Promise<Run>;
let live: (argv: string[]) => LiveRun;

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

function setStatus(name: string, status: Record<string, unknown>, namespace = 'default'): KubeObject {
  return emu.store.patch(slmdRef, namespace, name, 'merge', { status }, { subresource: 'status' }).object;
}
const read = (name: string, namespace = 'default') => emu.store.get(slmdRef, namespace, name) as KubeObject & { spec: { rollout: { paused: boolean } } };

const cond = (type: string, status: 'True' | 'False', reason: string, message: string, at = now()) => ({ type, status, reason, message, lastTransitionTime: at, observedGeneration: 1 });

const fullStatus = {
  observedGeneration: 1,
  currentRevision: `${sha('a')}/5d8c7f`,
  updateRevision: `${sha('b')}/77aa01`,
  conditions: [cond('Ready', 'True', 'AllReplicasReady', '9 of 10 pods ready'), cond('Progressing', 'True', 'WaveAnalysis', 'wave 2 of 3 under analysis')],
  rollout: { wave: 2, phase: 'Analyzing', updatedPercent: 40, lastAnalysis: { time: ago(30), passed: true, reason: 'WithinLimits', samples: 120, errorRate: 0.01, ttftP95Ms: 42 } },
  nodes: { desired: 10, updated: 4, ready: 9, offline: 1 },
  servedDigests: [{ digest: sha('a'), count: 6 }, { digest: sha('b'), count: 4 }],
  placements: [{ plugin: 'nvidia', executionProvider: 'cuda', precision: 'fp16', nodes: 4 }, { plugin: 'cpu', executionProvider: 'cpu', precision: 'int8', nodes: 6 }],
};

beforeAll(async () => {
  ({ emu, kubectlSlm, live } = await startCluster());
  emu.store.create(resources.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'edge' } });
  emu.store.create(slmdRef, 'default', slmdManifest('chat'));
  emu.store.create(slmdRef, 'default', slmdManifest('summarize', 'default', '2.1.0'));
  emu.store.create(slmdRef, 'edge', slmdManifest('kiosk', 'edge', '0.9.0'));
  setStatus('chat', fullStatus);
});
afterAll(() => emu?.close());

describe('kubectl slm get', () => {
  it('prints the table in the context namespace, with the status columns the operator wrote', async () => {
    const r = await kubectlSlm(['get']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+MODEL\s+VERSION\s+READY\s+UPDATED\s+PHASE\s+AGE$/);
    expect(lines[1]).toMatch(/^chat\s+stories260k\s+1\.0\.0\s+9\/10\s+4\s+Analyzing\s+\d+s$/);
    expect(lines[2]).toMatch(/^summarize\s+stories260k\s+2\.1\.0\s+<none>\s+<none>\s+<none>\s+\d+s$/);
    expect(lines).toHaveLength(3);
  });

  it('-o wide adds the wave, served digests and placements', async () => {
    const r = await kubectlSlm(['get', 'chat', '-o', 'wide']);
    expect(r.code).toBe(0);
    const [header, row] = r.stdout.trimEnd().split('\n');
    expect(header).toMatch(/PHASE\s+AGE\s+WAVE\s+DIGESTS\s+PLACEMENTS$/);
    expect(row).toMatch(/\s2\/3\s+sha256:aaaaaaaaaaaa=6,sha256:bbbbbbbbbbbb=4\s+nvidia\/cuda\/fp16=4,cpu\/cpu\/int8=6$/);
  });

  it('-o json and -o yaml print the stored object, or a v1 List without a name', async () => {
    const one = await kubectlSlm(['get', 'chat', '-o', 'json']);
    const obj = JSON.parse(one.stdout) as KubeObject & { status: typeof fullStatus; spec: { rollout: { waves: unknown[] } } };
    expect(obj.metadata.resourceVersion).toBe(read('chat').metadata.resourceVersion);
    expect(obj.status.servedDigests).toEqual(fullStatus.servedDigests);
    expect(obj.spec.rollout.waves).toHaveLength(3);
    const list = parse((await kubectlSlm(['get', '-o', 'yaml'])).stdout) as { kind: string; items: KubeObject[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => i.metadata.name)).toEqual(['chat', 'summarize']);
    expect((await kubectlSlm(['get', '-o', 'name'])).stdout).toBe('slmdeployment.slmops.io/chat\nslmdeployment.slmops.io/summarize\n');
  });

  it('-A lists every namespace with a NAMESPACE column; -n picks one; -l filters', async () => {
    const all = await kubectlSlm(['get', '-A']);
    const rows = all.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^NAMESPACE\s+NAME\s+MODEL/);
    expect(rows.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join('/'))).toEqual(['default/chat', 'default/summarize', 'edge/kiosk']);
    const edge = await kubectlSlm(['get', '-n', 'edge']);
    expect(edge.stdout).toMatch(/\nkiosk\s+stories260k\s+0\.9\.0/);
    expect(edge.stdout).not.toContain('chat');
    const none = await kubectlSlm(['get', '-n', 'edge', '-l', 'team=web']);
    expect(none).toMatchObject({ code: 0, stdout: '', stderr: 'No resources found in edge namespace.\n' });
  });

  it('defaults the namespace from the kubeconfig context, and --context switches context', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubectl-slm-'));
    const edgeFile = join(dir, 'edge');
    writeFileSync(edgeFile, kubeconfigFor(emu.url, 'edge').replaceAll('kube-emulator', 'edge-ctx'));
    const viaEnv = await runPlugin(['get', '-o', 'name'], { KUBECONFIG: edgeFile });
    expect(viaEnv.stdout).toBe('slmdeployment.slmops.io/kiosk\n');
    const both = `${edgeFile}:${emu.kubeconfigPath}`;
    const switched = await runPlugin(['get', '-o', 'name', '--context', 'kube-emulator'], { KUBECONFIG: both });
    expect(switched.stdout).toBe('slmdeployment.slmops.io/chat\nslmdeployment.slmops.io/summarize\n');
    const missing = await runPlugin(['get', '--context', 'nope'], { KUBECONFIG: both });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: context "nope" not found/);
  });

  it('names a missing object the way kubectl does (exit 1), and rejects misuse with exit 2', async () => {
    const r = await kubectlSlm(['get', 'nope']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe('Error from server (NotFound): slmdeployments.slmops.io "nope" not found\n');
    const badOutput = await kubectlSlm(['get', '-o', 'xml']);
    expect(badOutput.code).toBe(2);
    expect(badOutput.stderr).toContain('output format "xml"');
    const badFlag = await kubectlSlm(['get', '--frobnicate']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("See 'kubectl slm get --help' for usage.");
    const help = await kubectlSlm(['get', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: kubectl slm get [NAME]');
    expect(help.stdout).toContain('--all-namespaces');
    expect((await runPlugin([])).code).toBe(2);
    expect((await runPlugin(['frob'])).code).toBe(2);
  });
});

describe('kubectl slm describe', () => {
  it('shows spec, status, rollout analysis, digests, placements and the object\'s events oldest first', async () => {
    const chat = read('chat');
    const event = (name: string, reason: string, message: string, at: string, about = chat) =>
      emu.store.create(resources.events, 'default', {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name },
        involvedObject: { apiVersion: 'slmops.io/v1alpha1', kind: 'SLMDeployment', name: about.metadata.name, namespace: 'default', uid: about.metadata.uid },
        type: reason === 'AnalysisFailed' ? 'Warning' : 'Normal',
        reason,
        message,
        source: { component: 'slmops-operator' },
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      });
    event('chat.2', 'WaveStarted', 'wave 2 of 3 started: 4 pods', ago(60));
    event('chat.1', 'WaveStarted', 'wave 1 of 3 started: 1 pod', ago(600));
    event('chat.3', 'AnalysisPassed', 'wave 2 analysis passed', ago(5));
    event('other.1', 'WaveStarted', 'not about chat', ago(10), read('summarize'));
    const r = await kubectlSlm(['describe', 'chat']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^Name:\s+chat$/m);
    expect(out).toMatch(/^Labels:\s+team=edge$/m);
    expect(out).toMatch(/^ {2}Model:\s+stories260k 1\.0\.0$/m);
    expect(out).toMatch(/^ {2}Strategy:\s+Waves: 10% \(pause 5m\), 50% \(pause 5m\), 100%$/m);
    expect(out).toMatch(/^ {2}Nodes:\s+10 desired, 4 updated, 9 ready, 1 offline$/m);
    expect(out).toMatch(/^ {4}Wave:\s+2\/3$/m);
    expect(out).toMatch(/^ {4}Phase:\s+Analyzing$/m);
    expect(out).toMatch(/^ {4}Last Analysis:\s+passed \(WithinLimits\) \d+s ago, samples 120, error rate 0\.01, TTFT p95 42ms$/m);
    expect(out).toMatch(/^ {2}Ready\s+True\s+AllReplicasReady\s+\d+s\s+9 of 10 pods ready$/m);
    expect(out).toMatch(new RegExp(`^  ${sha('b')}\\s+4$`, 'm'));
    expect(out).toMatch(/^ {2}nvidia\s+cuda\s+fp16\s+4$/m);
    const events = out.slice(out.indexOf('Events:'));
    expect(events).toMatch(/Type\s+Reason\s+Age\s+From\s+Message/);
    expect(events.indexOf('wave 1 of 3')).toBeLessThan(events.indexOf('wave 2 of 3'));
    expect(events.indexOf('wave 2 of 3')).toBeLessThan(events.indexOf('wave 2 analysis passed'));
    expect(events).toMatch(/Normal\s+WaveStarted\s+10m\s+slmops-operator\s+wave 1 of 3 started: 1 pod/);
    expect(events).not.toContain('not about chat');
  });

  it('says when the operator has not reported and there are no events', async () => {
    const r = await kubectlSlm(['describe', 'kiosk', '-n', 'edge']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Status:\n  <none> (the operator has not reported yet)');
    expect(r.stdout).toMatch(/Events: {2}<none>\n$/);
    expect((await kubectlSlm(['describe'])).code).toBe(2);
    expect((await kubectlSlm(['describe', 'ghost'])).stderr).toBe('Error from server (NotFound): slmdeployments.slmops.io "ghost" not found\n');
  });
});

describe('kubectl slm rollout', () => {
  it('status follows each wave through watch updates and exits 0 on Complete', async () => {
    emu.store.create(slmdRef, 'default', slmdManifest('wave'));
    setStatus('wave', { observedGeneration: 1, rollout: { wave: 1, phase: 'Progressing', updatedPercent: 0 }, nodes: { desired: 10, updated: 0, ready: 10, offline: 0 } });
    const run = live(['rollout', 'status', 'wave', '--timeout', '60s']);
    await eventually(() => expect(run.stdout()).toContain('wave 1/3, phase Progressing'));
    setStatus('wave', { rollout: { wave: 1, phase: 'Analyzing', updatedPercent: 10 }, nodes: { desired: 10, updated: 1, ready: 10, offline: 0 } });
    await eventually(() => expect(run.stdout()).toContain('wave 1/3, phase Analyzing, 10% updated (1 of 10 pods updated, 10 ready)'));
    setStatus('wave', { rollout: { wave: 2, phase: 'Progressing', updatedPercent: 10 } });
    await eventually(() => expect(run.stdout()).toContain('wave 2/3, phase Progressing'));
    // A spec change the operator has not observed yet keeps the command waiting even though the phase says Complete.
    emu.store.patch(slmdRef, 'default', 'wave', 'merge', { spec: { serving: { maxTokens: 128 } } });
    setStatus('wave', { rollout: { wave: 3, phase: 'Complete', updatedPercent: 100 } });
    await eventually(() => expect(run.stdout()).toContain('spec update to be observed'));
    setStatus('wave', { observedGeneration: 2 });
    const r = await run.done;
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('slmdeployment "wave" successfully rolled out');
    expect(lines.filter((l) => l.startsWith('Waiting')).length).toBeGreaterThanOrEqual(4);
  });

  it('status exits 1 with the operator\'s message when the rollout is rolled back, and on --timeout', async () => {
    emu.store.create(slmdRef, 'default', slmdManifest('bad'));
    setStatus('bad', { observedGeneration: 1, rollout: { wave: 1, phase: 'Analyzing' } });
    const run = live(['rollout', 'status', 'bad']);
    await eventually(() => expect(run.stdout()).toContain('phase Analyzing'));
    setStatus('bad', { rollout: { wave: 1, phase: 'RolledBack', message: 'wave 1 error rate 0.31 > 0.05' } });
    const r = await run.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: slmdeployment "bad" rollout RolledBack: wave 1 error rate 0.31 > 0.05\n');
    const slow = await kubectlSlm(['rollout', 'status', 'chat', '--timeout', '300ms']);
    expect(slow.code).toBe(1);
    expect(slow.stderr).toContain('timed out waiting for slmdeployment "chat"');
    expect((await kubectlSlm(['rollout', 'status', 'chat', '--timeout', 'soon'])).code).toBe(2);
  });

  it('promote and abort write a new annotation value each time', async () => {
    const r1 = await kubectlSlm(['rollout', 'promote', 'chat']);
    expect(r1).toMatchObject({ code: 0, stdout: 'slmdeployment.slmops.io/chat promoted\n' });
    const first = read('chat').metadata.annotations?.[Annotations.promote];
    expect(first).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z-[0-9a-f]{8}$/);
    await kubectlSlm(['rollout', 'promote', 'chat']);
    const second = read('chat').metadata.annotations?.[Annotations.promote];
    expect(second).not.toBe(first);
    expect((await kubectlSlm(['rollout', 'abort', 'chat'])).stdout).toBe('slmdeployment.slmops.io/chat aborted\n');
    expect(read('chat').metadata.annotations?.[Annotations.abort]).toMatch(/Z-[0-9a-f]{8}$/);
    expect(read('chat').metadata.managedFields?.some((m) => m.manager === 'kubectl-slm')).toBe(true);
    const missing = await kubectlSlm(['rollout', 'promote', 'ghost']);
    expect(missing.stderr).toBe('Error from server (NotFound): slmdeployments.slmops.io "ghost" not found\n');
  });

  it('promote refuses a paused rollout and leaves the object alone', async () => {
    expect((await kubectlSlm(['rollout', 'pause', 'chat'])).code).toBe(0);
    const before = read('chat').metadata.annotations?.[Annotations.promote];
    const r = await kubectlSlm(['rollout', 'promote', 'chat']);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'error: slmdeployments.slmops.io "chat" is paused (spec.rollout.paused=true): resume it first with kubectl slm rollout resume chat\n' });
    expect(read('chat').metadata.annotations?.[Annotations.promote]).toBe(before);
    expect((await kubectlSlm(['rollout', 'resume', 'chat'])).code).toBe(0);
  });

  it('pause and resume flip spec.rollout.paused and refuse a no-op like kubectl', async () => {
    const gen = read('summarize').metadata.generation;
    expect((await kubectlSlm(['rollout', 'pause', 'summarize'])).stdout).toBe('slmdeployment.slmops.io/summarize paused\n');
    expect(read('summarize').spec.rollout.paused).toBe(true);
    expect(read('summarize').metadata.generation).toBe(gen! + 1);
    const again = await kubectlSlm(['rollout', 'pause', 'summarize']);
    expect(again).toMatchObject({ code: 1, stderr: 'error: slmdeployments.slmops.io "summarize" is already paused\n' });
    expect((await kubectlSlm(['rollout', 'resume', 'summarize'])).stdout).toBe('slmdeployment.slmops.io/summarize resumed\n');
    expect(read('summarize').spec.rollout.paused).toBe(false);
    expect((await kubectlSlm(['rollout', 'resume', 'summarize'])).stderr).toContain('is not paused');
    expect((await kubectlSlm(['rollout', 'frob', 'x'])).code).toBe(2);
    expect((await kubectlSlm(['rollout', 'pause'])).code).toBe(2);
  });

  it('history lists the operator\'s ControllerRevisions and undo restores the previous one\'s spec', async () => {
    emu.store.create(slmdRef, 'default', slmdManifest('roll', 'default', '1.1.0'));
    emu.store.patch(slmdRef, 'default', 'roll', 'merge', { spec: { model: { source: { digest: sha('b') } }, serving: { contextLength: 512 } } });
    setStatus('roll', { observedGeneration: 2, currentRevision: 'aaaaaaaaaaaa-11111111', updateRevision: 'bbbbbbbbbbbb-22222222', rollout: { wave: 1, phase: 'Analyzing' } });
    const owner = (o: KubeObject) => [{ apiVersion: 'slmops.io/v1alpha1', kind: 'SLMDeployment', name: o.metadata.name, uid: o.metadata.uid!, controller: true, blockOwnerDeletion: true }];
    // The shape the operator writes (packages/operator desired/render.ts controllerRevision): data is the revision spec.
    const revision = (name: string, number: number, rev: string, version: string, digest: string, about = read('roll')) =>
      emu.store.create(resources.controllerrevisions, 'default', {
        apiVersion: 'apps/v1',
        kind: 'ControllerRevision',
        metadata: { name, labels: { 'slmops.io/deployment': about.metadata.name, 'slmops.io/revision': rev }, ownerReferences: owner(about) },
        revision: number,
        data: {
          model: { name: 'stories260k', version, source: { uri: 'https://models.example/stories260k.slm.tar', digest }, precisions: ['int8', 'fp32'] },
          hardware: { plugins: ['cpu'] },
          serving: { port: 50051, metricsPort: 9464, maxBatchSize: 4, maxQueue: 64, maxTokens: 128, generationDefaults: { temperature: 0.8, topP: 0.95, topK: 0, repetitionPenalty: 1 } },
          privacy: { egress: 'Deny', requestLogging: 'None' },
          image: 'ghcr.io/slmops/sidecar:0.1.0',
        },
      });
    revision('roll-rev-a', 1, 'aaaaaaaaaaaa-11111111', '1.0.0', sha('a'));
    revision('roll-rev-b', 2, 'bbbbbbbbbbbb-22222222', '1.1.0', sha('b'));
    revision('other-rev', 3, 'cccccccccccc-33333333', '9.9.9', sha('c'), read('summarize'));
    const history = await kubectlSlm(['rollout', 'history', 'roll']);
    const rows = history.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^REVISION\s+MODEL\s+VERSION\s+DIGEST\s+REVISION-HASH\s+STATE$/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).filter((_, i) => i !== 3))).toEqual([
      ['1', 'stories260k', '1.0.0', 'aaaaaaaaaaaa-11111111', 'current'],
      ['2', 'stories260k', '1.1.0', 'bbbbbbbbbbbb-22222222', 'update'],
    ]);
    expect((await kubectlSlm(['rollout', 'undo', 'roll', '--to-revision', '3'])).stderr).toBe('error: unable to find revision 3 of slmdeployment "roll" (known: 1, 2)\n');
    const privacyBefore = (read('roll') as unknown as { spec: { privacy?: unknown } }).spec.privacy;
    const undo = await kubectlSlm(['rollout', 'undo', 'roll']);
    expect(undo).toMatchObject({ code: 0, stdout: 'slmdeployment.slmops.io/roll rolled back to revision 1 (stories260k 1.0.0)\n' });
    const spec = (read('roll') as unknown as { spec: { model: { version: string; source: { digest: string }; precisions: string[] }; serving: Record<string, unknown>; privacy?: { egress: string } } }).spec;
    expect(spec.model.version).toBe('1.0.0');
    expect(spec.model.source.digest).toBe(sha('a'));
    expect(spec.model.precisions).toEqual(['int8', 'fp32']);
    expect(spec.serving['maxTokens']).toBe(128);
    expect(spec.serving['contextLength']).toBeUndefined();
    // The revision (as an older operator recorded it) says Deny; security settings are never rolled back (ADR 0011).
    expect(spec.privacy).toEqual(privacyBefore);
    expect(spec.privacy?.egress).not.toBe('Deny');
    expect(read('roll').metadata.generation).toBe(3);
  });

  it('undo explains when there is nothing to go back to', async () => {
    const fresh = await kubectlSlm(['rollout', 'undo', 'kiosk', '-n', 'edge']);
    expect(fresh).toMatchObject({ code: 1, stderr: 'error: slmdeployment "kiosk" has no status.updateRevision yet: the operator has not recorded a revision to undo\n' });
    setStatus('kiosk', { observedGeneration: 1, currentRevision: 'k-1', updateRevision: 'k-1' }, 'edge');
    const only = await kubectlSlm(['rollout', 'undo', 'kiosk', '-n', 'edge']);
    expect(only.stderr).toBe('error: no rollout history found for slmdeployment "kiosk": only revision k-1 is recorded\n');
    expect((await kubectlSlm(['rollout', 'undo', 'kiosk', '--to-revision', 'two'])).code).toBe(2);
  });
});
