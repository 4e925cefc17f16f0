import { describe, expect, it } from 'vitest';
import { reconcileDaemonSet, REVISION_HASH_LABEL } from '../src/simulator/daemonset.js';
import { POD_TEMPLATE_HASH_LABEL, reconcileDeployment } from '../src/simulator/deployment.js';
import { computeTemplateHash, isPodAvailable, rfc3339 } from '../src/simulator/meta.js';
import { reconcileReplicaSet } from '../src/simulator/replicaset.js';
import type { Action, ControllerRevision, DaemonSet, Deployment, KubeObject, Node, Pod, ReplicaSet } from '../src/simulator/types.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
let uidCounter = 0;
const uid = () => `uid-${++uidCounter}`;

function node(name: string, labels: Record<string, string> = {}, opts: { ready?: boolean; taints?: NonNullable<Node['spec']>['taints'] } = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: uid(), labels: { 'kubernetes.io/hostname': name, ...labels } },
    spec: { taints: opts.taints },
    status: {
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'Unknown' : 'True' }],
      allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
      addresses: [{ type: 'InternalIP', address: `10.0.0.${name.length}` }],
    },
  };
}

function daemonSet(image: string, extra: Partial<DaemonSet['spec']> = {}, generation = 1): DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'serve', namespace: 'edge', uid: 'ds-uid', generation },
    spec: {
      selector: { matchLabels: { app: 'serve' } },
      template: { metadata: { labels: { app: 'serve' } }, spec: { containers: [{ name: 'sidecar', image }] } },
      ...extra,
    },
  };
}

/** A pod as the controller created it earlier, Ready since `readySince` (ms) unless ready is false. */
function ownedPod(owner: KubeObject, ownerKind: string, name: string, labels: Record<string, string>, nodeName: string | undefined, ready: boolean | 'pending', readySince = NOW - 60_000): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'edge',
      uid: uid(),
      labels,
      creationTimestamp: rfc3339(NOW - 120_000),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: ownerKind, name: owner.metadata.name ?? '', uid: owner.metadata.uid ?? '', controller: true }],
    },
    spec: { nodeName, containers: [{ name: 'sidecar', image: 'x' }] },
    status:
      ready === 'pending'
        ? { phase: 'Pending' }
        : { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: rfc3339(readySince) }] },
  };
}

function revisionFor(ds: DaemonSet, revision: number): ControllerRevision {
  const hash = computeTemplateHash(ds.spec.template);
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: { name: `serve-${hash}`, namespace: 'edge', uid: uid(), labels: { [REVISION_HASH_LABEL]: hash }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'serve', uid: 'ds-uid', controller: true }] },
    data: { spec: { template: { ...ds.spec.template, $patch: 'replace' } } },
    revision,
  };
}

const creates = (actions: Action[], kind: string) => actions.filter((a): a is Extract<Action, { type: 'create' }> => a.type === 'create' && a.kind === kind);
const deletes = (actions: Action[], kind: string) => actions.filter((a): a is Extract<Action, { type: 'delete' }> => a.type === 'delete' && a.kind === kind);

describe('reconcileDaemonSet: node eligibility', () => {
  const gpuTaint = { key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' as const };
  const unreachable = [
    { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' as const },
    { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' as const },
  ];
  const nodes = [
    node('a', { hw: 'gpu' }),
    node('b', { hw: 'cpu' }),
    node('c', { hw: 'gpu' }, { taints: [gpuTaint] }),
    node('d', { hw: 'gpu' }, { ready: false, taints: unreachable }),
  ];

  it.each([
    { name: 'nodeSelector only', extra: { nodeSelector: { hw: 'gpu' } }, want: ['a'] },
    { name: 'with a toleration for the GPU taint', extra: { nodeSelector: { hw: 'gpu' }, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists' as const }] }, want: ['a', 'c'] },
    {
      name: 'required node affinity NotIn',
      extra: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'hw', operator: 'NotIn' as const, values: ['gpu'] }] }] } } } },
      want: ['b'],
    },
    { name: 'tolerate everything', extra: { tolerations: [{ operator: 'Exists' as const }] }, want: ['a', 'b', 'c', 'd'] },
  ])('$name', ({ extra, want }) => {
    const ds = daemonSet('img:1');
    ds.spec.template.spec = { ...ds.spec.template.spec, ...extra };
    const { actions, status } = reconcileDaemonSet(ds, nodes, [], [], NOW);
    const pods = creates(actions, 'Pod').map((a) => a.object as Pod);
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(want);
    expect(status.desiredNumberScheduled).toBe(want.length);
    expect(creates(actions, 'ControllerRevision')).toHaveLength(1);
    for (const pod of pods) {
      expect(pod.metadata.generateName).toBe('serve-');
      expect(pod.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'DaemonSet', uid: 'ds-uid', controller: true });
      expect(pod.metadata.labels?.[REVISION_HASH_LABEL]).toBe(computeTemplateHash(ds.spec.template));
      expect(pod.spec.tolerations).toContainEqual({ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' });
    }
  });

  it('keeps a pod on a node that gained a NoSchedule taint but deletes it when the node stops matching', () => {
    const ds = daemonSet('img:1', {}, 1);
    ds.spec.template.spec.nodeSelector = { hw: 'gpu' };
    const hash = computeTemplateHash(ds.spec.template);
    const onTainted = ownedPod(ds, 'DaemonSet', 'serve-t', { app: 'serve', [REVISION_HASH_LABEL]: hash }, 'c', true);
    const onCpu = ownedPod(ds, 'DaemonSet', 'serve-b', { app: 'serve', [REVISION_HASH_LABEL]: hash }, 'b', true);
    const { actions, status } = reconcileDaemonSet(ds, nodes, [onTainted, onCpu], [revisionFor(ds, 1)], NOW);
    expect(deletes(actions, 'Pod').map((a) => a.name)).toEqual(['serve-b']);
    expect(status.numberMisscheduled).toBe(2);
  });
});

describe('reconcileDaemonSet: updates', () => {
  const names = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const nodes = names.map((n) => node(n));
  const v1 = daemonSet('img:1');
  const h1 = computeTemplateHash(v1.spec.template);
  const oldPods = () => names.map((n) => ownedPod(v1, 'DaemonSet', `serve-${n}`, { app: 'serve', [REVISION_HASH_LABEL]: h1 }, n, true));

  it('OnDelete replaces nothing by itself and recreates only a deleted pod, from the current template', () => {
    const v2 = daemonSet('img:2', { updateStrategy: { type: 'OnDelete' } }, 2);
    const h2 = computeTemplateHash(v2.spec.template);
    const pods = oldPods();
    const first = reconcileDaemonSet(v2, nodes, pods, [revisionFor(v1, 1)], NOW);
    expect(deletes(first.actions, 'Pod')).toEqual([]);
    expect(creates(first.actions, 'Pod')).toEqual([]);
    expect(creates(first.actions, 'ControllerRevision')[0]?.object).toMatchObject({ metadata: { name: `serve-${h2}` }, revision: 2 });
    expect(first.status).toMatchObject({ desiredNumberScheduled: 5, updatedNumberScheduled: 0, numberReady: 5, observedGeneration: 2 });

    // The operator deletes the pods of n2 and n4 (one wave); only those nodes get new pods, with the new image.
    const remaining = pods.filter((p) => p.spec.nodeName !== 'n2' && p.spec.nodeName !== 'n4');
    const second = reconcileDaemonSet(v2, nodes, remaining, [revisionFor(v1, 1), revisionFor(v2, 2)], NOW);
    const created = creates(second.actions, 'Pod').map((a) => a.object as Pod);
    expect(created.map((p) => p.spec.nodeName).sort()).toEqual(['n2', 'n4']);
    for (const p of created) {
      expect(p.spec.containers[0]?.image).toBe('img:2');
      expect(p.metadata.labels?.[REVISION_HASH_LABEL]).toBe(h2);
    }
    expect(deletes(second.actions, 'Pod')).toEqual([]);
  });

  it.each([
    { maxUnavailable: 1, expected: 1 },
    { maxUnavailable: 2, expected: 2 },
    { maxUnavailable: '40%', expected: 2 },
    { maxUnavailable: '100%', expected: 5 },
  ])('RollingUpdate deletes at most maxUnavailable=$maxUnavailable available old pods', ({ maxUnavailable, expected }) => {
    const v2 = daemonSet('img:2', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable } } }, 2);
    const { actions } = reconcileDaemonSet(v2, nodes, oldPods(), [revisionFor(v1, 1)], NOW);
    expect(deletes(actions, 'Pod')).toHaveLength(expected);
  });

  it('RollingUpdate counts new pods that are not yet available against maxUnavailable', () => {
    const v2 = daemonSet('img:2', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } }, minReadySeconds: 30 }, 2);
    const h2 = computeTemplateHash(v2.spec.template);
    const pods = oldPods().filter((p) => p.spec.nodeName !== 'n1');
    // New pod on n1 is Ready but only for 10 s: not yet available with minReadySeconds 30.
    pods.push(ownedPod(v2, 'DaemonSet', 'serve-new1', { app: 'serve', [REVISION_HASH_LABEL]: h2 }, 'n1', true, NOW - 10_000));
    const { actions, status } = reconcileDaemonSet(v2, nodes, pods, [revisionFor(v1, 1), revisionFor(v2, 2)], NOW);
    expect(deletes(actions, 'Pod')).toHaveLength(1);
    expect(status).toMatchObject({ numberReady: 5, numberAvailable: 4, numberUnavailable: 1, updatedNumberScheduled: 1 });
  });

  it('RollingUpdate counts nodes still waiting for their new pod as unavailable', () => {
    const v2 = daemonSet('img:2', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } } }, 2);
    // The previous sync deleted the old pods of n1 and n2; their replacements do not exist yet.
    const pods = oldPods().filter((p) => p.spec.nodeName !== 'n1' && p.spec.nodeName !== 'n2');
    const { actions } = reconcileDaemonSet(v2, nodes, pods, [revisionFor(v1, 1), revisionFor(v2, 2)], NOW);
    expect(deletes(actions, 'Pod')).toEqual([]);
    expect(creates(actions, 'Pod').map((a) => (a.object as Pod).spec.nodeName).sort()).toEqual(['n1', 'n2']);
  });

  it('RollingUpdate replaces unavailable old pods immediately, beyond maxUnavailable', () => {
    const v2 = daemonSet('img:2', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } } }, 2);
    const pods = oldPods();
    (pods[2] as Pod).status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] };
    (pods[3] as Pod).status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] };
    const { actions } = reconcileDaemonSet(v2, nodes, pods, [revisionFor(v1, 1)], NOW);
    expect(deletes(actions, 'Pod').map((a) => a.name).sort()).toEqual(['serve-n3', 'serve-n4']);
  });

  it('writes status only when it changed and bumps an old revision when the template is rolled back', () => {
    const pods = oldPods();
    const first = reconcileDaemonSet(v1, nodes, pods, [revisionFor(v1, 1)], NOW);
    const written = first.actions.find((a) => a.type === 'updateStatus');
    expect(written).toBeDefined();
    const synced = { ...v1, status: first.status };
    expect(reconcileDaemonSet(synced, nodes, pods, [revisionFor(v1, 1)], NOW).actions).toEqual([]);

    const v2 = daemonSet('img:2');
    const back = reconcileDaemonSet({ ...v1, status: first.status }, nodes, pods, [revisionFor(v1, 1), revisionFor(v2, 2)], NOW);
    const bump = back.actions.find((a) => a.type === 'update' && a.kind === 'ControllerRevision');
    expect(bump?.type === 'update' && (bump.object as ControllerRevision).revision).toBe(3);
  });
});

describe('reconcileReplicaSet', () => {
  const rs: ReplicaSet = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web-abc', namespace: 'edge', uid: 'rs-uid', generation: 3 },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
  };

  it('creates the missing pods, unbound, owned by the ReplicaSet', () => {
    const { actions, status } = reconcileReplicaSet(rs, [ownedPod(rs, 'ReplicaSet', 'web-abc-1', { app: 'web' }, 'n1', true)], NOW);
    const made = creates(actions, 'Pod').map((a) => a.object as Pod);
    expect(made).toHaveLength(2);
    expect(made[0]?.spec.nodeName).toBeUndefined();
    expect(made[0]?.metadata.ownerReferences?.[0]?.uid).toBe('rs-uid');
    expect(status).toMatchObject({ replicas: 1, readyReplicas: 1, availableReplicas: 1, observedGeneration: 3 });
  });

  it('deletes surplus pods, unscheduled and not-ready ones first', () => {
    const pods = [
      ownedPod(rs, 'ReplicaSet', 'ready-1', { app: 'web' }, 'n1', true),
      ownedPod(rs, 'ReplicaSet', 'ready-2', { app: 'web' }, 'n2', true),
      ownedPod(rs, 'ReplicaSet', 'unready', { app: 'web' }, 'n3', false),
      ownedPod(rs, 'ReplicaSet', 'unbound', { app: 'web' }, undefined, 'pending'),
      ownedPod(rs, 'ReplicaSet', 'ready-3', { app: 'web' }, 'n4', true),
    ];
    const { actions } = reconcileReplicaSet(rs, pods, NOW);
    expect(deletes(actions, 'Pod').map((a) => a.name)).toEqual(['unbound', 'unready']);
  });
});

/** A tiny world that applies Deployment and ReplicaSet actions; new pods become Ready on the next step. */
function deploymentWorld(d: Deployment) {
  let rsList: ReplicaSet[] = [];
  let pods: Pod[] = [];
  let t = NOW;
  let n = 0;
  const apply = (actions: Action[]) => {
    for (const a of actions) {
      if (a.type === 'create' && a.kind === 'ReplicaSet') rsList.push({ ...(a.object as ReplicaSet), metadata: { ...a.object.metadata, uid: uid(), creationTimestamp: rfc3339(t + n++) } });
      if (a.type === 'update' && a.kind === 'ReplicaSet') rsList = rsList.map((rs) => (rs.metadata.uid === a.object.metadata.uid ? (a.object as ReplicaSet) : rs));
      if (a.type === 'updateStatus' && a.kind === 'ReplicaSet') rsList = rsList.map((rs) => (rs.metadata.uid === a.object.metadata.uid ? { ...rs, status: (a.object as ReplicaSet).status } : rs));
      if (a.type === 'delete' && a.kind === 'ReplicaSet') rsList = rsList.filter((rs) => rs.metadata.uid !== a.uid);
      if (a.type === 'create' && a.kind === 'Pod') {
        const p = a.object as Pod;
        pods.push({ ...p, metadata: { ...p.metadata, name: `${p.metadata.generateName}${n++}`, uid: uid(), creationTimestamp: rfc3339(t) }, spec: { ...p.spec, nodeName: 'n' }, status: { phase: 'Pending' } });
      }
      if (a.type === 'delete' && a.kind === 'Pod') pods = pods.filter((p) => p.metadata.uid !== a.uid);
      if (a.type === 'updateStatus' && a.kind === 'Deployment') d = { ...d, status: (a.object as Deployment).status };
      if (a.type === 'update' && a.kind === 'Deployment') d = { ...(a.object as Deployment), status: d.status };
    }
  };
  return {
    get deployment() {
      return d;
    },
    set deployment(next: Deployment) {
      d = next;
    },
    get replicaSets() {
      return rsList;
    },
    get pods() {
      return pods;
    },
    /** One round: kubelet readies pending pods, every ReplicaSet syncs, then the Deployment syncs. */
    step() {
      t += 1000;
      pods = pods.map((p) => (p.status?.phase === 'Pending' ? { ...p, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: rfc3339(t) }] } } : p));
      for (const rs of [...rsList]) apply(reconcileReplicaSet(rs, pods, t).actions);
      for (const rs of [...rsList]) apply(reconcileReplicaSet(rsList.find((r) => r.metadata.uid === rs.metadata.uid) ?? rs, pods, t).actions);
      const result = reconcileDeployment(d, rsList, pods, t);
      apply(result.actions);
      return result;
    },
    available: () => pods.filter((p) => isPodAvailable(p, 0, t)).length,
  };
}

function deployment(image: string, replicas: number, strategy: Deployment['spec']['strategy']): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'edge', uid: 'dep-uid', generation: 1 },
    spec: { replicas, strategy, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } } },
  };
}

describe('reconcileDeployment', () => {
  it('creates a ReplicaSet named with the pod-template-hash and reaches Available/NewReplicaSetAvailable', () => {
    const w = deploymentWorld(deployment('web:1', 3, undefined));
    const first = w.step();
    const hash = computeTemplateHash(w.deployment.spec.template);
    expect(first.newReplicaSetName).toBe(`web-${hash}`);
    expect(w.replicaSets[0]?.spec.selector.matchLabels?.[POD_TEMPLATE_HASH_LABEL]).toBe(hash);
    expect(w.replicaSets[0]?.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('1');
    for (let i = 0; i < 5; i++) w.step();
    expect(w.deployment.status).toMatchObject({ observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 });
    const conds = Object.fromEntries((w.deployment.status?.conditions ?? []).map((c) => [c.type, c.reason]));
    expect(conds).toEqual({ Available: 'MinimumReplicasAvailable', Progressing: 'NewReplicaSetAvailable' });
    expect(w.deployment.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('1');
    // Steady state: no writes at all.
    expect(w.step().actions).toEqual([]);
  });

  it.each([
    { maxSurge: 1, maxUnavailable: 1 },
    { maxSurge: 0, maxUnavailable: 2 },
    { maxSurge: '50%', maxUnavailable: 0 },
  ])('a rolling update keeps availability >= replicas - maxUnavailable (surge $maxSurge, unavailable $maxUnavailable)', ({ maxSurge, maxUnavailable }) => {
    const replicas = 6;
    const w = deploymentWorld(deployment('web:1', replicas, { type: 'RollingUpdate', rollingUpdate: { maxSurge, maxUnavailable } }));
    for (let i = 0; i < 6; i++) w.step();
    expect(w.available()).toBe(replicas);
    w.deployment = { ...w.deployment, metadata: { ...w.deployment.metadata, generation: 2 }, spec: { ...w.deployment.spec, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'web:2' }] } } } };
    const surge = typeof maxSurge === 'number' ? maxSurge : Math.ceil((replicas * 50) / 100);
    const minAvailable = replicas - maxUnavailable;
    let done = false;
    for (let i = 0; i < 40 && !done; i++) {
      w.step();
      expect(w.available()).toBeGreaterThanOrEqual(minAvailable);
      expect(w.pods.length).toBeLessThanOrEqual(replicas + surge);
      done = w.pods.every((p) => (p.spec.containers[0]?.image ?? '') === 'web:2') && w.available() === replicas;
    }
    expect(done).toBe(true);
    for (let i = 0; i < 3; i++) w.step();
    expect(w.deployment.status).toMatchObject({ observedGeneration: 2, updatedReplicas: replicas, availableReplicas: replicas });
    expect(w.replicaSets.find((rs) => rs.spec.template.spec.containers[0]?.image === 'web:1')?.spec.replicas).toBe(0);
    expect(w.deployment.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
  });

  it('rolling back to an earlier template reuses its ReplicaSet and makes it the newest revision', () => {
    const w = deploymentWorld(deployment('web:1', 2, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }));
    const withImage = (image: string) => ({ ...w.deployment, spec: { ...w.deployment.spec, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } } } });
    for (let i = 0; i < 4; i++) w.step();
    w.deployment = withImage('web:2');
    for (let i = 0; i < 12; i++) w.step();
    const v1 = w.replicaSets.find((rs) => rs.spec.template.spec.containers[0]?.image === 'web:1');
    expect(v1?.spec.replicas).toBe(0);
    w.deployment = withImage('web:1');
    for (let i = 0; i < 12; i++) w.step();
    expect(w.replicaSets).toHaveLength(2);
    const back = w.replicaSets.find((rs) => rs.metadata.uid === v1?.metadata.uid);
    expect(back?.spec.replicas).toBe(2);
    expect(back?.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('3');
    expect(w.deployment.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('3');
    expect(w.pods.map((p) => p.spec.containers[0]?.image)).toEqual(['web:1', 'web:1']);
  });

  it('Recreate scales the old ReplicaSet to zero and creates the new one only after the old pods are gone', () => {
    const w = deploymentWorld(deployment('web:1', 3, { type: 'Recreate' }));
    for (let i = 0; i < 4; i++) w.step();
    w.deployment = { ...w.deployment, spec: { ...w.deployment.spec, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'web:2' }] } } } };
    const r = reconcileDeployment(w.deployment, w.replicaSets, w.pods, NOW + 10_000);
    expect(creates(r.actions, 'ReplicaSet')).toEqual([]);
    expect(r.actions.find((a) => a.type === 'update' && a.kind === 'ReplicaSet')).toMatchObject({ object: { spec: { replicas: 0 } } });
    let sawMixed = false;
    for (let i = 0; i < 8; i++) {
      w.step();
      const images = new Set(w.pods.map((p) => p.spec.containers[0]?.image));
      if (images.size > 1) sawMixed = true;
    }
    expect(sawMixed).toBe(false);
    expect(w.pods.map((p) => p.spec.containers[0]?.image)).toEqual(['web:2', 'web:2', 'web:2']);
  });

  it('scales the current ReplicaSet up and down with spec.replicas', () => {
    const w = deploymentWorld(deployment('web:1', 2, undefined));
    for (let i = 0; i < 4; i++) w.step();
    w.deployment = { ...w.deployment, spec: { ...w.deployment.spec, replicas: 5 } };
    for (let i = 0; i < 4; i++) w.step();
    expect(w.pods).toHaveLength(5);
    expect(w.deployment.status?.availableReplicas).toBe(5);
    w.deployment = { ...w.deployment, spec: { ...w.deployment.spec, replicas: 1 } };
    for (let i = 0; i < 4; i++) w.step();
    expect(w.pods).toHaveLength(1);
    expect(w.replicaSets).toHaveLength(1);
    expect(w.deployment.status).toMatchObject({ replicas: 1, availableReplicas: 1 });
  });

  it('reports ProgressDeadlineExceeded when pods never become ready', () => {
    const d = deployment('web:1', 2, undefined);
    d.spec.progressDeadlineSeconds = 60;
    const rsHash = computeTemplateHash(d.spec.template);
    const rs: ReplicaSet = {
      metadata: { name: `web-${rsHash}`, uid: 'rs1', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'dep-uid', controller: true }], annotations: { 'deployment.kubernetes.io/revision': '1' } },
      spec: { replicas: 2, selector: d.spec.selector, template: { ...d.spec.template, metadata: { labels: { app: 'web', [POD_TEMPLATE_HASH_LABEL]: rsHash } } } },
      status: { replicas: 2, readyReplicas: 0, availableReplicas: 0 },
    };
    d.metadata.annotations = { 'deployment.kubernetes.io/revision': '1' };
    const first = reconcileDeployment(d, [rs], [], NOW);
    expect(first.status.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe('ReplicaSetUpdated');
    expect(first.requeueAt).toBe(NOW + 60_000);
    const d2 = { ...d, status: first.status };
    expect(reconcileDeployment(d2, [rs], [], NOW + 30_000).actions).toEqual([]);
    const late = reconcileDeployment(d2, [rs], [], NOW + 61_000);
    expect(late.status.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    expect(late.status.conditions?.find((c) => c.type === 'Available')).toMatchObject({ status: 'False', reason: 'MinimumReplicasUnavailable' });
  });
});
