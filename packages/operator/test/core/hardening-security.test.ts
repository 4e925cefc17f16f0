/**
 * Hardening items 12 and 13 in the pure core. 12: security settings (spec.privacy) are not rolled like a model:
 * no revision, no waves, no rollback; an operator upgrade keeps the revisions of deployments that never set them.
 * 13: Replicated mode whose nodeSelector matches no node still renders its Deployment and says why.
 */
import { Annotations, Labels } from '@slmops/api';
import type { KubeObject } from '@slmops/kube';
import { describe, expect, it } from 'vitest';
import type { Observation, Plan } from '../../src/contract.js';
import { planReconcile, scrapeTargets } from '../../src/core.js';
import { DIGEST_B, MiniCluster, T0, at, ctx, metricsText, slmd, threeClassFleet } from './fixtures.js';
import type { Any } from './fixtures.js';

const byKind = (objs: readonly KubeObject[], kind: string) => objs.filter((o) => o.kind === kind) as Any[];
const workloads = (objs: readonly KubeObject[]) => objs.filter((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment') as Any[];
const args = (w: Any) => w.spec.template.spec.containers[0].args as string[];
const scrape = (o: Omit<Observation, 'scrapes'>) => scrapeTargets(o, ctx);
const podDeletes = (p: Plan) => p.delete.filter((d) => d.kind === 'Pod');

/**
 * Representative SLMDeployments with default privacy, and what the operator at commit 994a067 computed for them
 * (revision, and each workload template's spec-hash label and config-hash annotation), recorded by running that
 * commit's planReconcile and revisionOf once on these specs over threeClassFleet(1) with slmops.io/site=edge.
 */
const DIGEST = `sha256:${'c'.repeat(64)}`;
const UPGRADE_FIXTURES: { name: string; spec: Any; revision: string; templates: Record<string, { specHash: string; configHash: string }> }[] = [
  {
    name: 'fleet, defaults',
    spec: {
      model: { name: 'stories260k', version: '1.0.0', source: { uri: 'https://models.example/stories260k-1.0.0.slm.tar', digest: DIGEST }, precisions: ['int8', 'fp16', 'fp32'] },
      hardware: { plugins: ['nvidia', 'jetson', 'cpu'] },
    },
    revision: 'cccccccccccc-53c8036b8b',
    templates: {
      'chat-cpu': { specHash: '73cff3f962', configHash: 'f7719e7b9e' },
      'chat-jetson': { specHash: 'bfb0bac90d', configHash: 'f7719e7b9e' },
      'chat-nvidia': { specHash: '4b4f059838', configHash: 'f7719e7b9e' },
    },
  },
  {
    name: 'fleet, tuned serving and rollout, privacy spelled out at its defaults',
    spec: {
      model: { name: 'tinyllama', version: '2.1.0', source: { uri: `oci://registry.example/models/tinyllama@sha256:${'d'.repeat(64)}`, digest: `sha256:${'d'.repeat(64)}` }, precisions: ['fp16', 'int8'] },
      placement: { mode: 'Fleet', nodeSelector: { 'slmops.io/site': 'edge' } },
      hardware: { plugins: ['nvidia', 'cpu'] },
      serving: { port: 9000, maxBatchSize: 4, maxQueue: 32, maxTokens: 128 },
      rollout: { waves: [{ percent: 20, pause: '1m' }, { percent: 100 }], analysis: { minSamples: 10 } },
      privacy: { egress: 'Allow', requestLogging: 'None' },
    },
    revision: 'dddddddddddd-27f80bb11e',
    templates: {
      'chat-cpu': { specHash: '9fba8b57e0', configHash: 'c06dae39f7' },
      'chat-nvidia': { specHash: '5f5a46dea3', configHash: 'c06dae39f7' },
    },
  },
  {
    name: 'replicated, file:// model without digest',
    spec: {
      model: { name: 'stories260k', version: '3', source: { uri: 'file:///models/stories260k-3' }, precisions: ['fp32'] },
      placement: { mode: 'Replicated', replicas: 2 },
      hardware: { plugins: ['cpu'] },
    },
    revision: 'nodigest-4d38a8f915',
    templates: { 'chat-stable': { specHash: '8f9f581180', configHash: '12c4206161' } },
  },
];

const edgeFleet = () => threeClassFleet(1).map((n) => ({ ...n, metadata: { ...n.metadata, labels: { ...n.metadata.labels, 'slmops.io/site': 'edge' } } }));

/** A Fleet cluster at steady state on revision A (20 nodes per class). */
function steadyFleet(spec: Any = {}, opts: ConstructorParameters<typeof MiniCluster>[2] = {}) {
  const c = new MiniCluster(slmd({ rollout: { waves: [{ percent: 10, pause: '1m' }, { percent: 50 }, { percent: 100 }], analysis: { interval: '30s', minSamples: 10, maxErrorRate: 0.05 }, progressDeadline: '2m' }, ...spec }), threeClassFleet(20), opts);
  c.step(T0);
  c.step(at(1));
  expect(c.status().rollout.phase).toBe('Complete');
  return c;
}

describe('hardening item 12: security settings are not rolled like a model', () => {
  it.each(UPGRADE_FIXTURES)('an operator upgrade keeps the revision and every template of an unchanged deployment ($name)', ({ spec, revision, templates }) => {
    const d = slmd();
    d['spec'] = spec;
    const p = planReconcile({ deployment: d, nodes: edgeFleet(), pods: [], children: [], scrapes: [], now: T0 }, ctx);
    expect(p.status.updateRevision).toBe(revision);
    expect(Object.fromEntries(workloads(p.apply).map((w) => [w.metadata.name, { specHash: w.spec.template.metadata.labels[Labels.specHash], configHash: w.spec.template.metadata.annotations[Annotations.configHash] }]))).toEqual(templates);
  });

  it('tightening egress alone changes no revision and rolls no pod: the NetworkPolicy comes at once', () => {
    const c = steadyFleet();
    const revision = c.status().currentRevision;
    const templatesBefore = workloads([...c.children.values()]).map((w) => JSON.stringify(w.spec.template));
    c.setSpec((s) => (s.privacy = { egress: 'Deny' }));
    const p = c.step(at(2), scrape);
    expect(c.status()).toMatchObject({ currentRevision: revision, updateRevision: revision, rollout: { phase: 'Complete' } });
    expect(p.events).toEqual([]);
    expect(podDeletes(p)).toEqual([]);
    expect(byKind(p.apply, 'NetworkPolicy')).toHaveLength(1);
    expect(workloads(p.apply).map((w) => JSON.stringify(w.spec.template))).toEqual(templatesBefore);
    expect(byKind(p.apply, 'ControllerRevision')).toEqual([]);
    // The serving config file carries the new privacy (the kubelet refreshes it in place); its hash in the template does not move.
    expect(JSON.parse(byKind(p.apply, 'ConfigMap')[0]!.data['serving.json']).privacy).toEqual({ egress: 'Deny', requestLogging: 'None' });
    // Loosening it again removes the policy, still without a rollout.
    c.setSpec((s) => (s.privacy = { egress: 'Allow' }));
    const q = c.step(at(3), scrape);
    expect(q.delete.map((d) => `${d.kind}/${d.reason}`)).toEqual(['NetworkPolicy/stale child']);
    expect(c.status().updateRevision).toBe(revision);
  });

  it('egress Deny with a failing new version: the policy stays through Analyzing, RollingBack and RolledBack', () => {
    const isB = (pod: Any) => pod.metadata.annotations[Annotations.modelDigest] === DIGEST_B;
    let verdictIn = false; // below minSamples (Analyzing) until the failing numbers arrive
    const c = steadyFleet({}, { metrics: (pod) => (!isB(pod) ? metricsText(100, 0) : verdictIn ? metricsText(80, 20) : metricsText(5, 0)) });
    const before = c.status().currentRevision;
    c.setSpec((s) => {
      s.model.version = '2.0.0';
      s.model.source.digest = DIGEST_B;
      s.privacy = { egress: 'Deny' };
    });
    const phases: string[] = [];
    for (const t of [2, 3, 4, 6, 30, 300]) {
      if (t === 4) verdictIn = true;
      const p = c.step(at(t), scrape);
      phases.push(c.status().rollout.phase);
      expect(byKind(p.apply, 'NetworkPolicy'), `at ${t}s (${c.status().rollout.phase})`).toHaveLength(1);
      expect(p.delete.filter((d) => d.kind === 'NetworkPolicy')).toEqual([]);
      expect([...c.children.values()].some((o) => o.kind === 'NetworkPolicy')).toBe(true);
    }
    expect(phases.slice(0, 3)).toEqual(['Progressing', 'Analyzing', 'RollingBack']);
    expect(phases.at(-1)).toBe('RolledBack');
    expect(c.status().currentRevision).toBe(before);
    // The rollback restored the model template, and the ConfigMap still says Deny.
    for (const w of workloads([...c.children.values()])) expect(w.spec.template.metadata.labels[Labels.revision]).toBe(before);
    expect(JSON.parse(byKind([...c.children.values()], 'ConfigMap')[0]!.data['serving.json']).privacy.egress).toBe('Deny');
  });

  it('Replicated mode gets the NetworkPolicy immediately, also in the middle of a canary rollout', () => {
    const base = slmd({ placement: { mode: 'Replicated', replicas: 4 }, rollout: { waves: [{ percent: 25, pause: '10m' }, { percent: 100 }], analysis: { minSamples: 0 } } });
    const nodes = threeClassFleet(2);
    const first = planReconcile({ deployment: base, nodes, pods: [], children: [], scrapes: [], now: T0 }, ctx);
    const revision = first.status.updateRevision;
    const deny = { ...base, spec: { ...(base['spec'] as Any), privacy: { egress: 'Deny' } }, status: first.status };
    const p = planReconcile({ deployment: deny, nodes, pods: [], children: [], scrapes: [], now: at(1) }, ctx);
    expect(p.status.updateRevision).toBe(revision);
    expect(byKind(p.apply, 'NetworkPolicy')).toHaveLength(1);
    expect(byKind(p.apply, 'Deployment').map((d) => d.metadata.name)).toEqual(['chat-stable']);

    // A new model and Deny together: the stable Deployment still serves the current revision, the policy is there at once.
    const both = { ...base, spec: { ...(base['spec'] as Any), model: { ...(base['spec'] as Any).model, version: '2.0.0', source: { uri: 'https://models.example/2.slm.tar', digest: DIGEST_B } }, privacy: { egress: 'Deny' } }, status: first.status };
    const children = first.apply.map((o) => ({ ...o, metadata: { ...o.metadata, uid: `uid-${o.kind}-${o.metadata.name}` } }));
    const q = planReconcile({ deployment: both, nodes, pods: [], children, scrapes: [], now: at(1) }, ctx);
    expect(q.status.rollout).toMatchObject({ phase: 'Progressing' });
    expect(byKind(q.apply, 'Deployment').map((d) => [d.metadata.name, d.spec.template.metadata.labels[Labels.revision]])).toEqual([
      ['chat-stable', revision],
      ['chat-canary', q.status.updateRevision],
    ]);
    expect(byKind(q.apply, 'NetworkPolicy')).toHaveLength(1);
  });

  it('requestLogging: Metadata renders --request-logging=metadata, keeps the revision, and replaces every pod at once (not in waves)', () => {
    const c = steadyFleet();
    const revision = c.status().currentRevision;
    expect(workloads([...c.children.values()]).every((w) => !args(w).some((a) => a.startsWith('--request-logging')))).toBe(true);
    c.setSpec((s) => (s.privacy = { requestLogging: 'Metadata' }));
    const p = c.step(at(2), scrape);
    expect(c.status().updateRevision).toBe(revision);
    for (const w of workloads(p.apply)) expect(args(w).at(-1)).toBe('--request-logging=metadata');
    expect(podDeletes(p)).toHaveLength(60);
    expect(new Set(podDeletes(p).map((d) => d.reason))).toEqual(new Set(['security settings changed (--request-logging=metadata)']));
    // The DaemonSets recreated every pod from the new template; nothing more to replace.
    expect(c.pods.every((pod) => ((pod['spec'] as Any).containers[0].args as string[]).includes('--request-logging=metadata'))).toBe(true);
    expect(podDeletes(c.step(at(3), scrape))).toEqual([]);
  });

  it('a requestLogging change during a rollout replaces only pods of the revision the templates render, and a rollback keeps the flag', () => {
    const isB = (pod: Any) => pod.metadata.annotations[Annotations.modelDigest] === DIGEST_B;
    const c = steadyFleet({}, { metrics: (pod) => (isB(pod) ? metricsText(80, 20) : metricsText(100, 0)) });
    const before = c.status().currentRevision;
    c.setSpec((s) => {
      s.model.version = '2.0.0';
      s.model.source.digest = DIGEST_B;
      s.privacy = { requestLogging: 'Metadata' };
    });
    const wave1 = c.step(at(2), scrape);
    // Wave 1 (10% of each class): only the chosen pods move; no current-revision pod is replaced for the flag.
    expect(podDeletes(wave1).every((d) => /^wave 1 of 3/.test(d.reason))).toBe(true);
    expect(podDeletes(wave1)).toHaveLength(6);
    for (const t of [3, 6, 30]) c.step(at(t), scrape);
    expect(c.status().rollout.phase).toBe('RolledBack');
    for (const w of workloads([...c.children.values()])) {
      expect(w.spec.template.metadata.labels[Labels.revision]).toBe(before);
      expect(args(w)).toContain('--request-logging=metadata');
    }
    // Pods of the current revision that still run without the flag are replaced, once.
    c.step(at(31), scrape);
    expect(c.pods.every((pod) => ((pod['spec'] as Any).containers[0].args as string[]).includes('--request-logging=metadata'))).toBe(true);
    expect(podDeletes(c.step(at(32), scrape))).toEqual([]);
  });
});

describe('hardening item 13: Replicated mode whose nodeSelector matches no node', () => {
  const spec = { placement: { mode: 'Replicated', replicas: 2, nodeSelector: { 'slmops.io/site': 'mars' } } };

  it('renders the Deployment (its pods go Pending) and reports NoMatchingNodes naming the selector', () => {
    const p = planReconcile({ deployment: slmd(spec), nodes: threeClassFleet(2), pods: [], children: [], scrapes: [], now: T0 }, ctx);
    const [d, ...more] = byKind(p.apply, 'Deployment');
    expect(more).toEqual([]);
    expect(d).toMatchObject({ metadata: { name: 'chat-stable' }, spec: { replicas: 2 } });
    expect(d!.spec.template.spec.nodeSelector).toMatchObject({ 'slmops.io/site': 'mars' });
    expect(args(d!)).toEqual(expect.arrayContaining(['--plugin', 'cpu']));
    const ready = p.status.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'NoMatchingNodes' });
    expect(ready!.message).toBe('no node matches spec.placement.nodeSelector slmops.io/site=mars; 2 replica(s) stay Pending until one does');
    expect(p.status.placements).toEqual([]);
  });

  it('keeps saying why while the pods are Pending, and serves on the matching class once a node appears', () => {
    const pending = (name: string, template: Any): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { ...template.metadata, name, namespace: 'edge', uid: `uid-${name}` }, spec: template.spec, status: { phase: 'Pending' } });
    const first = planReconcile({ deployment: slmd(spec), nodes: threeClassFleet(2), pods: [], children: [], scrapes: [], now: T0 }, ctx);
    const template = byKind(first.apply, 'Deployment')[0]!.spec.template;
    const d = { ...slmd(spec), status: first.status };
    const p = planReconcile({ deployment: d, nodes: threeClassFleet(2), pods: [pending('chat-stable-1', template), pending('chat-stable-2', template)], children: [], scrapes: [], now: at(1) }, ctx);
    expect(p.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'NoMatchingNodes' });

    const mars = threeClassFleet(1).filter((n) => n.metadata.name.startsWith('gpu')).map((n) => ({ ...n, metadata: { ...n.metadata, name: 'gpu-mars', labels: { ...n.metadata.labels, 'slmops.io/site': 'mars' } } }));
    const q = planReconcile({ deployment: d, nodes: [...threeClassFleet(2), ...mars], pods: [], children: [], scrapes: [], now: at(2) }, ctx);
    expect(args(byKind(q.apply, 'Deployment')[0]!)).toEqual(expect.arrayContaining(['--plugin', 'nvidia']));
    expect(q.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ReplicasNotReady' });
  });
});
