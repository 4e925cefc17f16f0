import { Labels } from '@slmops/api';
import type { KubeObject } from '@slmops/kube';
import { describe, expect, it } from 'vitest';
import { childName, labelValue, planReconcile } from '../../src/core.js';
import { MiniCluster, T0, asObj, at, ctx, intelNode, slmd, threeClassFleet } from './fixtures.js';
import type { Any } from './fixtures.js';
import { cpuAmd64Node, nvidiaGpuNode } from '@slmops/plugin-sdk/testing/nodes';

const plan = (deployment: KubeObject, nodes: KubeObject[], pods: KubeObject[] = [], now = T0) =>
  planReconcile({ deployment, nodes, pods, children: [], scrapes: [], now }, ctx);
const byKind = (objs: KubeObject[], kind: string) => objs.filter((o) => o.kind === kind) as Any[];
const podSpec = (ds: Any) => ds.spec.template.spec as Any;
const container = (ds: Any) => podSpec(ds).containers[0] as Any;
const arg = (ds: Any, flag: string) => {
  const a = container(ds).args as string[];
  return a[a.indexOf(flag) + 1];
};

describe('desired state per node class (Fleet)', () => {
  const p = plan(slmd(), threeClassFleet(3));
  const ds: Record<string, Any> = Object.fromEntries(byKind(p.apply, 'DaemonSet').map((d) => [d.metadata.labels[Labels.nodeClass], d]));

  it.each([
    // class, plugin, precision chosen from spec [int8, fp16, fp32] by the plugin's preference, device resource
    ['nvidia', 'nvidia', 'fp16', 'nvidia.com/gpu'],
    ['jetson', 'jetson', 'fp16', 'nvidia.com/gpu'],
    ['cpu', 'cpu', 'int8', undefined],
  ])('class %s: DaemonSet with the %s plugin patch, precision %s, device %s', (cls, plugin, precision, device) => {
    const d = ds[cls]!;
    expect(d.metadata.name).toBe(`chat-${cls}`);
    expect(d.spec.updateStrategy).toEqual({ type: 'OnDelete' });
    expect(d.spec.selector.matchLabels).toEqual({ [Labels.deployment]: 'chat', [Labels.nodeClass]: cls });
    expect(arg(d, '--plugin')).toBe(plugin);
    // The chosen variant first, then the rest of spec.model.precisions (the sidecar serves the first the package has).
    expect(arg(d, '--precision')?.split(',')[0]).toBe(precision);
    expect(arg(d, '--precision')?.split(',').sort()).toEqual(['fp16', 'fp32', 'int8']);
    expect(d.spec.template.metadata.labels).toMatchObject({ [Labels.plugin]: plugin, [Labels.precision]: precision, [Labels.nodeClass]: cls });
    if (device) expect(container(d).resources.limits[device]).toBe('1');
    else expect(container(d).resources).toBeUndefined();
    expect(Number(arg(d, '--threads'))).toBeGreaterThanOrEqual(1);
  });

  it('carries runtimeClassName, tolerations, env and node selector from the plugin', () => {
    expect(podSpec(ds['jetson']!).runtimeClassName).toBe('nvidia');
    expect(podSpec(ds['nvidia']!).tolerations).toContainEqual({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
    expect(container(ds['nvidia']!).env).toContainEqual({ name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'compute,utility' });
    expect(podSpec(ds['jetson']!).nodeSelector['kubernetes.io/arch']).toBe('arm64');
    expect(podSpec(ds['cpu']!).runtimeClassName).toBeUndefined();
  });

  it('pins each DaemonSet to exactly its class nodes by metadata.name', () => {
    for (const [cls, d] of Object.entries(ds)) {
      const terms = podSpec(d).affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
      expect(terms).toEqual([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [`${cls === 'nvidia' ? 'gpu' : cls}-00`, `${cls === 'nvidia' ? 'gpu' : cls}-01`, `${cls === 'nvidia' ? 'gpu' : cls}-02`] }] }]);
    }
  });

  it('renders a hardened sidecar with gRPC readiness and the digest it must verify', () => {
    for (const d of Object.values(ds)) {
      const c = container(d);
      expect(c.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(podSpec(d).securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(podSpec(d).automountServiceAccountToken).toBe(false);
      expect(c.readinessProbe.grpc).toEqual({ port: 50051 });
      expect(c.ports).toEqual([
        { name: 'grpc', containerPort: 50051, protocol: 'TCP' },
        { name: 'metrics', containerPort: 9464, protocol: 'TCP' },
      ]);
      expect(arg(d, '--digest')).toBe(`sha256:${'a'.repeat(64)}`);
      expect(d.spec.template.metadata.annotations['slmops.io/model-digest']).toBe(`sha256:${'a'.repeat(64)}`);
      // A read-only root filesystem needs writable mounts for the cache and /tmp.
      expect(c.volumeMounts.map((m: Any) => m.mountPath)).toEqual(['/var/cache/slmops', '/tmp', '/etc/slmops']);
    }
  });

  it('sets a controller owner reference and the common labels on every child', () => {
    for (const o of p.apply) {
      expect(o.metadata.ownerReferences).toEqual([{ apiVersion: 'slmops.io/v1alpha1', kind: 'SLMDeployment', name: 'chat', uid: 'uid-chat', controller: true, blockOwnerDeletion: true }]);
      expect(o.metadata.labels).toMatchObject({ [Labels.deployment]: 'chat', [Labels.managedBy]: 'slmops-operator' });
      expect(o.metadata.namespace).toBe('edge');
    }
    expect(p.apply.map((o) => o.kind)).toEqual(['ConfigMap', 'Service', 'PodDisruptionBudget', 'DaemonSet', 'DaemonSet', 'DaemonSet', 'ControllerRevision']);
  });

  it('renders the Service over all classes and the serving config', () => {
    const svc = byKind(p.apply, 'Service')[0]!;
    expect(svc.spec.selector).toEqual({ [Labels.deployment]: 'chat' });
    expect(svc.spec.ports.map((x: Any) => x.port)).toEqual([50051, 9464]);
    const cm = byKind(p.apply, 'ConfigMap')[0]!;
    expect(JSON.parse(cm.data['serving.json'])).toMatchObject({ model: { name: 'stories260k', version: '1.0.0' }, serving: { maxBatchSize: 8, port: 50051 } });
  });
});

describe('desired state options', () => {
  it('adds a deny-all-egress NetworkPolicy only when privacy.egress is Deny', () => {
    expect(byKind(plan(slmd(), threeClassFleet(1)).apply, 'NetworkPolicy')).toEqual([]);
    const np = byKind(plan(slmd({ privacy: { egress: 'Deny' } }), threeClassFleet(1)).apply, 'NetworkPolicy');
    expect(np).toHaveLength(1);
    expect(np[0]!.spec).toEqual({ podSelector: { matchLabels: { [Labels.deployment]: 'chat' } }, policyTypes: ['Egress'], egress: [] });
  });

  it('Replicated: a stable Deployment on the preferred class and an HPA on the /scale subresource', () => {
    const p = plan(slmd({ placement: { mode: 'Replicated' }, autoscaling: { minReplicas: 2, maxReplicas: 6, targetQueueDepth: 3 } }), threeClassFleet(2));
    expect(byKind(p.apply, 'DaemonSet')).toEqual([]);
    const [dep] = byKind(p.apply, 'Deployment');
    expect(dep!.metadata.name).toBe('chat-stable');
    expect(dep!.spec.replicas).toBe(2);
    expect(arg(dep!, '--plugin')).toBe('nvidia');
    expect(dep!.spec.template.spec.affinity).toBeUndefined();
    const [hpa] = byKind(p.apply, 'HorizontalPodAutoscaler');
    expect(hpa!.spec).toMatchObject({ scaleTargetRef: { apiVersion: 'slmops.io/v1alpha1', kind: 'SLMDeployment', name: 'chat' }, minReplicas: 2, maxReplicas: 6 });
    expect(hpa!.spec.metrics[0].pods.target).toEqual({ type: 'AverageValue', averageValue: '3' });
    expect(p.status.placements).toEqual([{ plugin: 'nvidia', executionProvider: 'cuda', precision: 'fp16', nodes: 2 }]);
  });

  it('passes serving.streamInterval to the sidecar only when set', () => {
    const flags = (spec: Record<string, unknown>) => byKind(plan(slmd(spec), threeClassFleet(1)).apply, 'DaemonSet').map((d) => container(d).args as string[]);
    expect(flags({}).every((a) => !a.includes('--stream-interval'))).toBe(true);
    for (const a of flags({ serving: { streamInterval: '20ms' } })) expect(a[a.indexOf('--stream-interval') + 1]).toBe('20ms');
  });

  it('has no HPA without autoscaling', () => {
    expect(byKind(plan(slmd({ placement: { mode: 'Replicated', replicas: 3 } }), threeClassFleet(1)).apply, 'HorizontalPodAutoscaler')).toEqual([]);
  });

  it('uses spec.model.precisions within the plugin preference, and overrides per node class', () => {
    const p = plan(slmd({ model: { ...(slmd()['spec'] as Any).model, precisions: ['fp32'] }, hardware: { plugins: ['nvidia', 'cpu'], overrides: [{ match: { labels: { 'kubernetes.io/arch': 'amd64' } }, precision: 'int4', threads: 2 }] } }), threeClassFleet(1));
    const ds = byKind(p.apply, 'DaemonSet');
    const cls = Object.fromEntries(ds.map((d) => [d.metadata.labels[Labels.nodeClass], d]));
    expect(Object.keys(cls).sort()).toEqual(['cpu', 'cpu-o0', 'nvidia-o0']);
    expect(arg(cls['cpu']!, '--precision')).toBe('fp32'); // the arm64 Jetson falls back to cpu (jetson not listed)
    expect(arg(cls['nvidia-o0']!, '--precision')).toBe('int4,fp32');
    expect(arg(cls['nvidia-o0']!, '--threads')).toBe('2');
  });

  it('places only nodes matching placement.nodeSelector and tolerating their taints', () => {
    const nodes = [
      asObj(cpuAmd64Node({ name: 'a', labels: { site: 'north' } })),
      asObj(cpuAmd64Node({ name: 'b', labels: { site: 'south' } })),
      asObj(cpuAmd64Node({ name: 'c', labels: { site: 'north' }, taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] })),
    ];
    const p = plan(slmd({ placement: { nodeSelector: { site: 'north' } } }), nodes);
    const [ds] = byKind(p.apply, 'DaemonSet');
    expect(podSpec(ds!).affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values).toEqual(['a']);
    expect(podSpec(ds!).nodeSelector.site).toBe('north');
    const tolerated = plan(slmd({ placement: { nodeSelector: { site: 'north' }, tolerations: [{ key: 'dedicated', operator: 'Exists' }] } }), nodes);
    expect(byKind(tolerated.apply, 'DaemonSet')[0]!.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values).toEqual(['a', 'c']);
  });

  it('mounts pvc:// sources read-only and passes the mounted path', () => {
    const spec = slmd()['spec'] as Any;
    const p = plan(slmd({ model: { ...spec.model, source: { uri: 'pvc://models/stories/1.0.0', digest: spec.model.source.digest } } }), threeClassFleet(1));
    const [ds] = byKind(p.apply, 'DaemonSet');
    expect(arg(ds!, '--model')).toBe('/models/models/stories/1.0.0');
    expect(podSpec(ds!).volumes).toContainEqual({ name: 'model', persistentVolumeClaim: { claimName: 'models', readOnly: true } });
  });

  it('reports NoMatchingNodes when no node matches', () => {
    const p = plan(slmd({ placement: { nodeSelector: { site: 'mars' } } }), threeClassFleet(1));
    expect(byKind(p.apply, 'DaemonSet')).toEqual([]);
    expect(p.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'NoMatchingNodes' });
  });
});

describe('determinism and hashes', () => {
  it('gives byte-identical output for the same observation, whatever the input order', () => {
    const nodes = threeClassFleet(4);
    const c = new MiniCluster(slmd(), nodes);
    c.step(T0);
    c.step(at(1));
    const obs = c.observation(at(60));
    const a = planReconcile(obs, ctx);
    const b = planReconcile({ ...obs, nodes: [...obs.nodes].reverse(), pods: [...obs.pods].reverse(), children: [...obs.children].reverse() }, ctx);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    // Steady state: nothing to delete, no events, status equal to the observed one.
    expect(a.delete).toEqual([]);
    expect(a.events).toEqual([]);
    expect(JSON.stringify(a.status)).toBe(JSON.stringify(obs.deployment['status']));
    // Children are what is already applied (minus ControllerRevisions, which are created once).
    for (const o of a.apply) expect(JSON.stringify(o)).toBe(JSON.stringify({ ...c.children.get(`${o.kind}/${o.metadata.name}`), metadata: { ...o.metadata } }));
  });

  it('changes the spec-hash and revision with the model version, not with the nodes of a class', () => {
    const hashOf = (p: ReturnType<typeof plan>, cls: string) => byKind(p.apply, 'DaemonSet').find((d) => d.metadata.labels[Labels.nodeClass] === cls)!.spec.template.metadata.labels[Labels.specHash];
    const base = plan(slmd(), threeClassFleet(2));
    const more = plan(slmd(), [...threeClassFleet(2), asObj(nvidiaGpuNode({ name: 'gpu-new' }))]);
    const spec = slmd()['spec'] as Any;
    const bumped = plan(slmd({ model: { ...spec.model, version: '1.0.1' } }), threeClassFleet(2));
    expect(hashOf(more, 'nvidia')).toBe(hashOf(base, 'nvidia'));
    expect(more.status.updateRevision).toBe(base.status.updateRevision);
    expect(hashOf(bumped, 'nvidia')).not.toBe(hashOf(base, 'nvidia'));
    expect(bumped.status.updateRevision).not.toBe(base.status.updateRevision);
    expect(base.status.updateRevision).toMatch(/^aaaaaaaaaaaa-[0-9a-f]{10}$/);
  });

  it('makes long names DNS-valid, bounded and distinct', () => {
    const long = 'a'.repeat(60);
    const x = childName([long, 'nvidia']);
    const y = childName([long, 'cpu']);
    expect(x.length).toBeLessThanOrEqual(52);
    expect(x).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
    expect(x).not.toBe(y);
    expect(childName(['my.app', 'cpu'])).toBe('my-app-cpu');
    expect(childName(['1app'])).toBe('s1app');
    expect(labelValue('x'.repeat(100))).toHaveLength(63);
    const p = plan(slmd({}, { name: `edge.${'b'.repeat(70)}` }), [intelNode('i-1')]);
    for (const o of p.apply) expect(o.metadata.name.length).toBeLessThanOrEqual(63);
  });
});
