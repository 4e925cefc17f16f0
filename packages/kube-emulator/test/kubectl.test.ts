/**
 * The real kubectl 1.33 against the emulator: every command of the acceptance list, asserting on what kubectl
 * prints. One emulator and one kubectl extraction serve the whole file; steps build on each other in order.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resources, startEmulator, type Emulator } from '../src/index.js';
import { ensureKubeTools, kubectlFor, type RunOptions, type ToolResult } from '../src/testing/index.js';

const crdPath = join(import.meta.dirname, '../../../charts/slmops/crds/slmdeployments.slmops.io.yaml');
const slmd = { group: 'slmops.io', version: 'v1alpha1', resource: 'slmdeployments' };

const manifest = (name: string, extra: { version?: string; replicas?: number; mode?: string; label?: string } = {}) => `
apiVersion: slmops.io/v1alpha1
kind: SLMDeployment
metadata:
  name: ${name}
  labels: {app: ${extra.label ?? name}}
spec:
  model:
    name: stories260k
    version: "${extra.version ?? '1.0.0'}"
    source: {uri: "file:///models/stories260k"}
  placement:
    mode: ${extra.mode ?? 'Fleet'}
${extra.replicas !== undefined ? `    replicas: ${extra.replicas}\n` : ''}`;

let emu: Emulator;
let kubectl: (args: readonly string[], options?: RunOptions) => Promise<ToolResult>;

const ok = async (args: string[], options?: RunOptions): Promise<string> => {
  const r = await kubectl(args, options);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};

/** Splits a kubectl table into rows of cells. */
const table = (out: string) =>
  out
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s{2,}/));

beforeAll(async () => {
  const tools = await ensureKubeTools();
  emu = await startEmulator({ bookmarkIntervalMs: 500 });
  kubectl = kubectlFor(tools.kubectl, emu.kubeconfigPath);
}, 120_000);

afterAll(async () => {
  await emu?.close();
});

describe('kubectl 1.33 against the emulator', () => {
  it('reports the server version it pretends to be', async () => {
    const out = await ok(['version', '-o', 'json']);
    const v = JSON.parse(out) as { clientVersion: { minor: string }; serverVersion: { gitVersion: string } };
    expect(v.clientVersion.minor).toBe('33');
    expect(v.serverVersion.gitVersion).toBe('v1.33.1');
  });

  it('applies the project CRD and waits for it to be Established', async () => {
    expect(await ok(['apply', '-f', crdPath])).toContain('customresourcedefinition.apiextensions.k8s.io/slmdeployments.slmops.io created');
    expect(await ok(['wait', '--for=condition=Established', 'crd/slmdeployments.slmops.io', '--timeout=20s'])).toContain('condition met');
    expect(await ok(['apply', '-f', crdPath])).toContain('slmdeployments.slmops.io unchanged');
  });

  it('lists the custom resource in api-resources', async () => {
    const rows = table(await ok(['api-resources', '--api-group=slmops.io']));
    expect(rows[0]).toEqual(['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND']);
    expect(rows[1]).toEqual(['slmdeployments', 'slmd', 'slmops.io/v1alpha1', 'true', 'SLMDeployment']);
    expect((await ok(['auth', 'can-i', 'delete', 'slmdeployments'])).trim()).toBe('yes');
    const all = await ok(['api-resources']);
    expect(all).toMatch(/deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/);
    expect(all).toMatch(/leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease/);
  });

  it('apply creates, leaves unchanged and configures a custom resource', async () => {
    expect(await ok(['apply', '-f', '-'], { input: manifest('tiny') })).toContain('slmdeployment.slmops.io/tiny created');
    expect(await ok(['apply', '-f', '-'], { input: manifest('tiny') })).toContain('slmdeployment.slmops.io/tiny unchanged');
    const rv = emu.store.get(slmd, 'default', 'tiny').metadata.resourceVersion;
    expect(await ok(['apply', '-f', '-'], { input: manifest('tiny', { version: '1.1.0' }) })).toContain('slmdeployment.slmops.io/tiny configured');
    const obj = emu.store.get(slmd, 'default', 'tiny');
    expect(obj.metadata.resourceVersion).not.toBe(rv);
    expect(obj.metadata.generation).toBe(2);
  });

  it('get shows the printer columns, -o wide the priority ones', async () => {
    emu.store.patch(slmd, 'default', 'tiny', 'merge', { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Serving', message: 'all nodes serve', lastTransitionTime: '2026-01-01T00:00:00Z' }], rollout: { phase: 'Complete' }, nodes: { desired: 3, updated: 2, ready: 2, offline: 1 } } }, { subresource: 'status', fieldManager: 'test' });
    const rows = table(await ok(['get', 'slmd']));
    expect(rows[0]).toEqual(['NAME', 'MODEL', 'VERSION', 'READY', 'UPDATED', 'PHASE', 'AGE']);
    expect(rows[1]!.slice(0, 6)).toEqual(['tiny', 'stories260k', '1.1.0', 'True', '2', 'Complete']);
    expect(rows[1]![6]).toMatch(/^\d+s$/);
    const wide = table(await ok(['get', 'slmd', '-o', 'wide']));
    expect(wide[0]).toEqual(['NAME', 'MODEL', 'VERSION', 'READY', 'UPDATED', 'PHASE', 'AGE', 'MODE', 'DESIRED', 'OFFLINE', 'WAVE', 'REVISION']);
    // WAVE and REVISION have no value yet: kubectl prints nothing for them.
    expect(wide[1]!.slice(7)).toEqual(['Fleet', '3', '1']);
  });

  it('get -o yaml shows the stored object with schema defaults, -o jsonpath selects fields', async () => {
    const obj = parse(await ok(['get', 'slmd', 'tiny', '-o', 'yaml'])) as { metadata: Record<string, unknown>; spec: { hardware: { plugins: string[] }; placement: { mode: string } } };
    expect(obj.metadata['name']).toBe('tiny');
    expect(obj.metadata['generation']).toBe(2);
    expect(obj.metadata['uid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(obj.spec.hardware.plugins).toEqual(['cpu']);
    expect(obj.spec.placement.mode).toBe('Fleet');
    expect(await ok(['get', 'slmd', 'tiny', '-o', 'jsonpath={.spec.model.version}/{.status.conditions[?(@.type=="Ready")].reason}'])).toBe('1.1.0/Serving');
  });

  it('server-side apply conflicts with another manager, and --force-conflicts takes the field', async () => {
    expect(await ok(['apply', '--server-side', '-f', '-'], { input: manifest('ssa') })).toContain('slmdeployment.slmops.io/ssa serverside-applied');
    const conflict = await kubectl(['apply', '--server-side', '--field-manager=other', '-f', '-'], { input: manifest('ssa', { version: '2.0.0' }) });
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain('Apply failed with 1 conflict: conflict with "kubectl": .spec.model.version');
    expect(emu.store.get(slmd, 'default', 'ssa')['spec']).toMatchObject({ model: { version: '1.0.0' } });
    expect(await ok(['apply', '--server-side', '--field-manager=other', '--force-conflicts', '-f', '-'], { input: manifest('ssa', { version: '2.0.0' }) })).toContain('serverside-applied');
    const obj = emu.store.get(slmd, 'default', 'ssa');
    expect(obj['spec']).toMatchObject({ model: { version: '2.0.0' } });
    const owners = (obj.metadata.managedFields ?? []).map((m) => `${m.manager}:${m.operation}:${JSON.stringify(m.fieldsV1).includes('"f:version"')}`);
    expect(owners).toContain('other:Apply:true');
    expect(owners).toContain('kubectl:Apply:false');
  });

  it('patch --type merge and --type json; strategic is refused for custom resources', async () => {
    expect(await ok(['patch', 'slmd', 'tiny', '--type', 'merge', '-p', '{"spec":{"model":{"version":"1.2.0"}}}'])).toContain('slmdeployment.slmops.io/tiny patched');
    expect(await ok(['patch', 'slmd', 'tiny', '--type', 'json', '-p', '[{"op":"replace","path":"/spec/model/version","value":"1.3.0"}]'])).toContain('patched');
    expect(emu.store.get(slmd, 'default', 'tiny')['spec']).toMatchObject({ model: { version: '1.3.0' } });
    const smp = await kubectl(['patch', 'slmd', 'tiny', '-p', '{"spec":{"model":{"version":"9"}}}']);
    expect(smp.code).toBe(1);
    expect(smp.stderr).toContain('application/strategic-merge-patch+json is not supported');
  });

  it('label and annotate', async () => {
    expect(await ok(['label', 'slmd', 'tiny', 'tier=gold'])).toContain('slmdeployment.slmops.io/tiny labeled');
    expect(await ok(['annotate', 'slmd', 'tiny', 'owner=team-a'])).toContain('slmdeployment.slmops.io/tiny annotated');
    const meta = emu.store.get(slmd, 'default', 'tiny').metadata;
    expect(meta.labels).toMatchObject({ tier: 'gold', app: 'tiny' });
    expect(meta.annotations).toMatchObject({ owner: 'team-a' });
    expect(table(await ok(['get', 'slmd', '-l', 'tier=gold', '-o', 'name']))).toEqual([['slmdeployment.slmops.io/tiny']]);
  });

  it('describe prints the object and its events', async () => {
    const obj = emu.store.get(slmd, 'default', 'tiny');
    emu.store.create(resources.events, 'default', {
      metadata: { generateName: 'tiny.' },
      involvedObject: { apiVersion: 'slmops.io/v1alpha1', kind: 'SLMDeployment', name: 'tiny', namespace: 'default', uid: obj.metadata.uid },
      reason: 'WaveStarted',
      message: 'wave 1 of 3 started',
      type: 'Normal',
      source: { component: 'slmops-operator' },
      firstTimestamp: obj.metadata.creationTimestamp,
      lastTimestamp: obj.metadata.creationTimestamp,
      count: 1,
    });
    const out = await ok(['describe', 'slmd', 'tiny']);
    expect(out).toMatch(/Name:\s+tiny/);
    expect(out).toMatch(/Labels:\s+app=tiny/);
    expect(out).toMatch(/Kind:\s+SLMDeployment/);
    expect(out).toMatch(/Version:\s+1\.3\.0/);
    expect(out).toMatch(/Normal\s+WaveStarted\s+\S+\s+slmops-operator\s+wave 1 of 3 started/);
  });

  it('explain slmd.spec reads the schema from OpenAPI v3', async () => {
    const out = await ok(['explain', 'slmd.spec']);
    expect(out).toContain('KIND:       SLMDeployment');
    expect(out).toContain('FIELD: spec <Object>');
    expect(out).toMatch(/model\s+<Object> -required-/);
    expect(out).toMatch(/placement\s+<Object>/);
  });

  it('get --watch prints changes made by another client', async () => {
    let text = '';
    const lines = () => text.split('\n').filter((l) => l.trim() !== '');
    let seen: () => void = () => undefined;
    const sawChange = new Promise<void>((r) => (seen = r));
    const watching = kubectl(['get', 'slmd', 'tiny', '--watch'], {
      timeoutMs: 15_000,
      onStdout: (chunk) => {
        text += chunk;
        if (text.includes('1.4.0')) seen();
      },
    });
    while (!text.includes('1.3.0')) await new Promise((r) => setTimeout(r, 50));
    await ok(['patch', 'slmd', 'tiny', '--type', 'merge', '-p', '{"spec":{"model":{"version":"1.4.0"}}}']);
    await sawChange;
    emu.faults.closeAllWatches();
    await watching;
    expect(lines()[0]).toMatch(/^NAME\s+MODEL\s+VERSION/);
    expect(lines()[1]).toMatch(/^tiny\s+stories260k\s+1\.3\.0/);
    expect(lines().some((l) => /^tiny\s+stories260k\s+1\.4\.0/.test(l))).toBe(true);
  });

  it('wait --for=condition=Ready is satisfied by a later status patch', async () => {
    emu.store.patch(slmd, 'default', 'ssa', 'merge', { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'Progressing', message: 'rolling out', lastTransitionTime: '2026-01-01T00:00:00Z' }] } }, { subresource: 'status' });
    const waiting = kubectl(['wait', '--for=condition=Ready', 'slmd/ssa', '--timeout=15s']);
    await new Promise((r) => setTimeout(r, 700));
    expect(emu.store.get(slmd, 'default', 'ssa').metadata.name).toBe('ssa');
    emu.store.patch(slmd, 'default', 'ssa', 'merge', { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Serving', message: 'ok', lastTransitionTime: '2026-01-01T00:00:01Z' }] } }, { subresource: 'status' });
    const r = await waiting;
    expect(r.stdout).toContain('slmdeployment.slmops.io/ssa condition met');
    expect(r.code).toBe(0);
  });

  it('delete waits for a finalizer to be removed', async () => {
    await ok(['patch', 'slmd', 'ssa', '--type', 'merge', '-p', '{"metadata":{"finalizers":["slmops.io/cleanup"]}}']);
    let done = false;
    const deleting = kubectl(['delete', 'slmd', 'ssa', '--timeout=15s']).then((r) => ((done = true), r));
    for (let i = 0; i < 100 && !emu.store.tryGet(slmd, 'default', 'ssa')?.metadata.deletionTimestamp; i++) await new Promise((r) => setTimeout(r, 50));
    const held = emu.store.get(slmd, 'default', 'ssa');
    expect(held.metadata.deletionTimestamp).toBeDefined();
    await new Promise((r) => setTimeout(r, 500));
    expect(done).toBe(false);
    emu.store.patch(slmd, 'default', 'ssa', 'json', [{ op: 'remove', path: '/metadata/finalizers' }]);
    const r = await deleting;
    expect(r.stdout).toContain('slmdeployment.slmops.io "ssa" deleted');
    expect(emu.store.tryGet(slmd, 'default', 'ssa')).toBeUndefined();
  });

  it('apply of an invalid resource is rejected with the CEL rule message', async () => {
    const r = await kubectl(['apply', '-f', '-'], { input: manifest('bad', { replicas: 3 }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('The SLMDeployment "bad" is invalid: spec.placement.replicas: Forbidden: replicas is only allowed when mode is Replicated');
    expect(emu.store.tryGet(slmd, 'default', 'bad')).toBeUndefined();
    const unknown = await kubectl(['apply', '-f', '-'], { input: manifest('bad2').replace('spec:\n', 'spec:\n  replicaz: 2\n') });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown field "spec.replicaz"');
  });

  it('create namespace and configmap send protobuf bodies, which the emulator decodes for core kinds', async () => {
    expect(await ok(['create', 'namespace', 'proto'])).toContain('namespace/proto created');
    expect(await ok(['create', 'configmap', 'cfg', '-n', 'proto', '--from-literal=a=b'])).toContain('configmap/cfg created');
    expect(await ok(['create', 'secret', 'generic', 'sec', '-n', 'proto', '--from-literal=k=v'])).toContain('secret/sec created');
    expect(emu.store.get(resources.configmaps, 'proto', 'cfg')['data']).toEqual({ a: 'b' });
    expect(emu.store.get(resources.secrets, 'proto', 'sec')['data']).toEqual({ k: Buffer.from('v').toString('base64') });
    const unsupported = await kubectl(['create', 'deployment', 'd', '--image=nginx']);
    expect(unsupported.stderr).toContain('the body of the request was in an unknown format');
  });

  it('scale changes a Deployment through its scale subresource', async () => {
    const deploy = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}]
`;
    expect(await ok(['apply', '-f', '-'], { input: deploy })).toContain('deployment.apps/web created');
    expect(await ok(['scale', 'deployment/web', '--replicas=3'])).toContain('deployment.apps/web scaled');
    expect(await ok(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas} {.metadata.generation}'])).toBe('3 2');
    const rows = table(await ok(['get', 'deploy']));
    expect(rows[0]).toEqual(['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE']);
    expect(rows[1]!.slice(0, 2)).toEqual(['web', '0/3']);
    // A client-side apply of a changed built-in goes through strategic merge patch.
    expect(await ok(['apply', '-f', '-'], { input: deploy.replace('nginx:1.27', 'nginx:1.28').replace('replicas: 1', 'replicas: 3') })).toContain('deployment.apps/web configured');
    const containers = (emu.store.get(resources.deployments, 'default', 'web')['spec'] as { template: { spec: { containers: { image: string; ports: unknown[] }[] } } }).template.spec.containers;
    expect(containers).toHaveLength(1);
    expect(containers[0]!.image).toBe('nginx:1.28');
    expect(JSON.stringify(emu.store.get(resources.deployments, 'default', 'web'))).not.toContain('$setElementOrder');
  });

  it('delete cascades to owned objects, in the background and in the foreground', async () => {
    const own = (name: string, ownerName: string, blockOwnerDeletion: boolean) => {
      const owner = emu.store.get(resources.configmaps, 'default', ownerName);
      emu.store.create(resources.configmaps, 'default', { metadata: { name, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: ownerName, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion }] } });
    };
    for (const mode of ['background', 'foreground'] as const) {
      emu.store.create(resources.configmaps, 'default', { metadata: { name: `${mode}-owner` } });
      own(`${mode}-child`, `${mode}-owner`, mode === 'foreground');
      own(`${mode}-grandchild`, `${mode}-child`, mode === 'foreground');
      expect(await ok(['delete', 'configmap', `${mode}-owner`, `--cascade=${mode}`])).toContain(`configmap "${mode}-owner" deleted`);
      await emu.store.settle();
      expect(emu.store.list(resources.configmaps, { namespace: 'default', fieldSelector: `metadata.name=${mode}-child` }).items).toEqual([]);
      expect(emu.store.tryGet(resources.configmaps, 'default', `${mode}-grandchild`)).toBeUndefined();
    }
    const deleted = emu.requestLog.entries({ verb: 'delete', resource: 'configmaps', client: 'generic-garbage-collector' }).map((e) => e.name);
    expect(deleted).toEqual(expect.arrayContaining(['background-child', 'background-grandchild', 'foreground-child', 'foreground-grandchild']));
  });
});
