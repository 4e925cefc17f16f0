/**
 * charts/slmops with the real helm v4 and kubectl v1.33: lint, render with default values and with every
 * optional feature, and `kubectl apply --dry-run=server` of the result against the kube emulator, which has the
 * generated SLMDeployment CRD and stand-in Prometheus Operator CRDs installed.
 */
import { type Emulator, startEmulator } from '@slmops/kube-emulator';
import { type KubeTools, ensureKubeTools, kubectlFor, runTool, type ToolResult } from '@slmops/kube-emulator/testing';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CHART_DIR, REPO_ROOT, helmLint, helmTemplate } from '../src/helm.js';
import { type Manifest, hardeningProblems, kindsAndNames, ofKind, parseManifests, podSpecOf } from '../src/manifests.js';
import { parseExporterArgs } from '@slmops/exporter';
import { parseOperatorArgs } from '@slmops/operator';
import { OPERATOR_RBAC_EXCEPTIONS } from '../src/operator-rbac.js';
import { checkRbac, describeRequest, grantsFor, type ApiRequest, type RbacObject } from '../src/rbac.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const allFeatures = join(fixtures, 'values-all-features.yaml');
const NS = 'slmops-system';
const appVersion = (parseYaml(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string }).appVersion;

let tools: KubeTools;
let emu: Emulator;
let kubectl: ReturnType<typeof kubectlFor>;

const ok = (r: ToolResult, what: string): string => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
};

async function render(options: Parameters<typeof helmTemplate>[1] = {}): Promise<{ text: string; objects: Manifest[] }> {
  const text = ok(await helmTemplate(tools.helm, options), 'helm template');
  return { text, objects: parseManifests(text) };
}

/** Server-side dry run of rendered objects; returns the `Kind/name` kubectl reports for each. */
async function dryRunOnServer(text: string): Promise<string[]> {
  const out = ok(await kubectl(['apply', '--dry-run=server', '-o', 'name', '-f', '-'], { input: text, timeoutMs: 60_000 }), 'kubectl apply --dry-run=server');
  return out.trim().split('\n').filter(Boolean).sort();
}

/** kubectl's `-o name` form (`deployment.apps/x`) of a rendered object. */
const kubectlName = (o: Manifest): string => {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  return `${o.kind.toLowerCase()}${group ? `.${group}` : ''}/${o.metadata.name}`;
};

/** Names of the chart's files in `folder` (dashboards/, alerts/) ending in `ext`. */
const chartFiles = (folder: string, ext: string): string[] =>
  existsSync(join(CHART_DIR, folder)) ? readdirSync(join(CHART_DIR, folder)).filter((f) => f.endsWith(ext)).sort() : [];

const args = (o: Manifest): string[] => podSpecOf(o).containers[0]!.args ?? [];
const rbacObjects = (objects: Manifest[]): RbacObject[] =>
  objects.filter((o) => /^(Cluster)?Role(Binding)?$/.test(o.kind)) as unknown as RbacObject[];

beforeAll(async () => {
  tools = await ensureKubeTools();
  emu = await startEmulator();
  kubectl = kubectlFor(tools.kubectl, emu.kubeconfigPath);
  ok(await kubectl(['apply', '-f', join(CHART_DIR, 'crds'), '-f', join(fixtures, 'monitoring-crds.yaml')]), 'kubectl apply CRDs');
  ok(await kubectl(['create', 'namespace', NS]), 'kubectl create namespace');
  ok(await kubectl(['create', 'namespace', 'edge']), 'kubectl create namespace');
}, 180_000);

afterAll(async () => {
  await emu?.close();
});

describe('helm lint --strict', () => {
  it('passes with default values and with every optional feature enabled', async () => {
    const plain = await helmLint(tools.helm);
    expect(plain.code, plain.stdout + plain.stderr).toBe(0);
    expect(plain.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    const all = await helmLint(tools.helm, [allFeatures]);
    expect(all.code, all.stdout + all.stderr).toBe(0);
  });
});

describe('default values', () => {
  it('render the operator, its RBAC and the exporter, and the emulator accepts every object', async () => {
    const { text, objects } = await render();
    expect(kindsAndNames(objects)).toEqual(
      [
        'ClusterRole/slmops-operator',
        'ClusterRoleBinding/slmops-operator',
        'DaemonSet/slmops-exporter',
        'Deployment/slmops-operator',
        'Role/slmops-operator-leader-election',
        'RoleBinding/slmops-operator-leader-election',
        'Service/slmops-exporter',
        'Service/slmops-operator-metrics',
        'ServiceAccount/slmops-exporter',
        'ServiceAccount/slmops-operator',
        ...chartFiles('dashboards', '.json').map((f) => `ConfigMap/slmops-dashboard-${f.replace(/\.json$/, '').replaceAll('_', '-')}`),
      ].sort(),
    );
    expect(await dryRunOnServer(text)).toEqual(objects.map(kubectlName).sort());
    // A dry run persists nothing.
    expect(ok(await kubectl(['get', 'deployments,daemonsets,serviceaccounts', '-n', NS, '-o', 'name']), 'kubectl get')).not.toContain('slmops-operator');
  });

  it('are checked by the server: the dry run refuses objects the API server would refuse', async () => {
    const { text } = await render({ namespace: 'no-such-namespace' });
    const refused = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: text, timeoutMs: 60_000 });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/namespaces "no-such-namespace" not found/);
    const broken = text.replace(/(kind: Deployment[\s\S]*?matchLabels:\n\s+app\.kubernetes\.io\/name: )slmops/, '$1not-the-template');
    expect(broken).not.toBe(text);
    const mismatch = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: broken.replaceAll('no-such-namespace', NS), timeoutMs: 60_000 });
    expect(mismatch.code).not.toBe(0);
    expect(mismatch.stderr).toMatch(/selector/);
  });

  it('use the images the Dockerfiles build, tagged with the appVersion', async () => {
    const { objects } = await render();
    const operator = ofKind(objects, 'Deployment')[0]!;
    const exporter = ofKind(objects, 'DaemonSet')[0]!;
    expect(podSpecOf(operator).containers[0]!.image).toBe(`ghcr.io/slmops/operator:${appVersion}`);
    expect(podSpecOf(exporter).containers[0]!.image).toBe(`ghcr.io/slmops/exporter:${appVersion}`);
    expect(args(operator)).toContain(`--sidecar-image=ghcr.io/slmops/sidecar:${appVersion}`);
    const dockerfiles = readdirSync(join(REPO_ROOT, 'images')).filter((f) => f.endsWith('.Dockerfile'));
    expect(dockerfiles.sort()).toEqual(['exporter.Dockerfile', 'operator.Dockerfile', 'sidecar.Dockerfile']);
  });

  it('cap the operator heap at 256 MiB (NODE_OPTIONS) under a 512Mi limit, and mount nothing but /tmp', async () => {
    const { objects } = await render();
    const c = podSpecOf(ofKind(objects, 'Deployment')[0]!).containers[0]! as { env?: { name: string; value?: string }[]; resources?: { limits?: { memory?: string } } };
    // bench/operator.ts: RSS stayed under 400 MB at 1,000 SLMDeployments only with this cap.
    expect(c.env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-old-space-size=256' });
    expect(c.resources?.limits?.memory).toBe('512Mi');
    expect(podSpecOf(ofKind(objects, 'Deployment')[0]!)['volumes']).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }]);
    expect(ofKind(objects, 'ConfigMap').map((m) => m.metadata.name)).not.toContain('slmops-operator-plugins');
  });

  it('run the operator with leader election, probes on /healthz and /readyz and the configured flags', async () => {
    const { objects } = await render({ set: ['operator.watchNamespace=edge', 'plugins.enabled={nvidia,cpu}'] });
    const operator = ofKind(objects, 'Deployment')[0]!;
    const c = podSpecOf(operator).containers[0]! as { livenessProbe?: { httpGet?: { path: string } }; readinessProbe?: { httpGet?: { path: string } } };
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(args(operator)).toEqual(
      expect.arrayContaining([
        '--namespace=edge',
        '--leader-elect=true',
        '--leader-election-id=slmops-operator',
        `--leader-election-namespace=${NS}`,
        '--metrics-bind-address=:8080',
        '--health-probe-bind-address=:8081',
        '--plugins=nvidia,cpu',
      ]),
    );
  });

  it('harden every pod: non-root, read-only root filesystem, drop ALL, RuntimeDefault seccomp, no escalation', async () => {
    for (const { objects } of [await render(), await render({ valuesFiles: [allFeatures] })]) {
      const workloads = [...ofKind(objects, 'Deployment'), ...ofKind(objects, 'DaemonSet')];
      expect(workloads).toHaveLength(2);
      expect(workloads.flatMap(hardeningProblems)).toEqual([]);
    }
  });
});

describe('rendered command lines', () => {
  it('parse with the operator\'s and exporter\'s own flag parsers, to the values they came from', async () => {
    for (const values of [[], [allFeatures]]) {
      const { objects } = await render({ valuesFiles: values, set: ['operator.watchNamespace=edge'] });
      const operatorArgs = args(ofKind(objects, 'Deployment')[0]!);
      const op = parseOperatorArgs(operatorArgs, { POD_NAMESPACE: NS, POD_NAME: 'slmops-operator-0' }, { version: appVersion, hostname: 'h', pid: 1 });
      expect(op.namespace).toBe('edge');
      expect(op.leaderElect).toBe(true);
      expect(op.leaderElectionNamespace).toBe(NS);
      expect(op.metricsBind?.port).toBe(8080);
      expect(op.healthBind?.port).toBe(8081);
      expect(op.sidecarImage).toMatch(/^ghcr\.io\/slmops\/sidecar:/);
      expect(op.plugins).toEqual(values.length ? ['nvidia', 'intel', 'cpu'] : ['nvidia', 'jetson', 'intel', 'amd', 'qualcomm', 'cpu']);
      expect(op.resyncPeriodMs).toBe(600_000);
      const exporterArgs = args(ofKind(objects, 'DaemonSet')[0]!);
      const ex = parseExporterArgs(exporterArgs, { NODE_NAME: 'edge-1' });
      expect(ex.nodeName).toBe('edge-1');
      expect(ex.modelCacheDir).toBe('/var/lib/slmops/models');
      expect(ex.sysfsRoot).toBe('/host/sys');
      expect(ex.procfsRoot).toBe('/host/proc');
      expect(ex.nodeCostPerHour).toBe(values.length ? 0.35 : 0);
      expect(ex.sidecarMetricsUrls).toEqual(values.length ? ['http://127.0.0.1:9464/metrics'] : []);
    }
  });
});

describe('every optional feature enabled', () => {
  it('renders monitoring, dashboards, NetworkPolicies and a PDB, and the emulator accepts every object', async () => {
    const { text, objects } = await render({ valuesFiles: [allFeatures] });
    const kinds = new Set(objects.map((o) => o.kind));
    for (const k of ['ServiceMonitor', 'PodMonitor', 'NetworkPolicy', 'PodDisruptionBudget', 'ConfigMap']) expect(kinds, k).toContain(k);
    expect(ofKind(objects, 'ServiceMonitor').map((o) => o.metadata.name).sort()).toEqual(['slmops-exporter', 'slmops-operator']);
    expect(ofKind(objects, 'NetworkPolicy')).toHaveLength(2);
    expect(await dryRunOnServer(text)).toEqual(objects.map(kubectlName).sort());
  });

  it('pins the image by digest, caps the heap from operator.maxHeapMiB and runs two replicas apart', async () => {
    const { objects } = await render({ valuesFiles: [allFeatures] });
    const operator = ofKind(objects, 'Deployment')[0]!;
    const spec = podSpecOf(operator);
    expect(spec.containers[0]!.image).toBe('ghcr.io/slmops/operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
    expect((operator['spec'] as { replicas: number }).replicas).toBe(2);
    expect(spec['affinity']).toHaveProperty('podAntiAffinity');
    const c = spec.containers[0]! as { env?: { name: string; value?: string }[]; resources?: { limits?: { memory?: string } } };
    expect(c.env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-old-space-size=384' });
    expect(c.resources?.limits?.memory).toBe('1Gi');
    const pdb = ofKind(objects, 'PodDisruptionBudget')[0]!;
    expect((pdb['spec'] as { minAvailable: number }).minAvailable).toBe(1);
  });

  it('renders one dashboard ConfigMap per chart dashboard file, labelled for the Grafana sidecar', async () => {
    const files = chartFiles('dashboards', '.json');
    expect(files.length, 'charts/slmops/dashboards/*.json').toBeGreaterThan(0);
    const { objects } = await render({ valuesFiles: [allFeatures], set: ['monitoring.grafanaDashboards.label=my_dashboards'] });
    const dashboards = ofKind(objects, 'ConfigMap').filter((c) => c.metadata.labels?.['my_dashboards'] === '1');
    expect(dashboards).toHaveLength(files.length);
    for (const f of files) {
      const cm = dashboards.find((d) => (d['data'] as Record<string, string>)[f] !== undefined);
      expect(cm, f).toBeDefined();
      expect(JSON.parse((cm!['data'] as Record<string, string>)[f]!)).toEqual(JSON.parse(readFileSync(join(CHART_DIR, 'dashboards', f), 'utf8')));
    }
  });
});

describe('chart files loaded by templates', () => {
  /** A copy of the chart with the fixture dashboard and alert files added (the real chart's are generated and change). */
  function chartCopyWithExtras(): string {
    const dir = mkdtempSync(join(tmpdir(), 'slmops-chart-'));
    cpSync(CHART_DIR, join(dir, 'slmops'), { recursive: true });
    cpSync(join(fixtures, 'chart-extras'), join(dir, 'slmops'), { recursive: true });
    return join(dir, 'slmops');
  }

  it('turns dashboards/*.json into ConfigMaps and alerts/*.yaml groups into one PrometheusRule', async () => {
    const chart = chartCopyWithExtras();
    try {
      const r = await runTool(tools.helm, ['template', 'slmops', chart, '-n', NS, '--set', 'monitoring.prometheusRule.enabled=true'], { timeoutMs: 60_000 });
      const objects = parseManifests(ok(r, 'helm template'));
      const dashboard = ofKind(objects, 'ConfigMap').find((c) => (c['data'] as Record<string, string>)['fixture_rollout.json']);
      expect(dashboard?.metadata.name).toBe('slmops-dashboard-fixture-rollout');
      expect(dashboard?.metadata.labels?.['grafana_dashboard']).toBe('1');
      const rule = ofKind(objects, 'PrometheusRule')[0]!;
      const groups = (rule['spec'] as { groups: { name: string; rules: { alert: string; annotations: Record<string, string> }[] }[] }).groups;
      expect(groups.map((g) => g.name)).toContain('fixture.rules');
      const alert = groups.find((g) => g.name === 'fixture.rules')!.rules[0]!;
      // Prometheus templating in annotations must reach Prometheus untouched, not be evaluated by Helm.
      expect(alert.annotations['summary']).toBe('Rollout of {{ $labels.slmdeployment }} has not moved for 30 minutes');
      expect(await dryRunOnServer(r.stdout)).toContain('prometheusrule.monitoring.coreos.com/slmops');
    } finally {
      rmSync(join(chart, '..'), { recursive: true, force: true });
    }
  });

  it('names an alerts file that is not a Prometheus rule file', async () => {
    const chart = chartCopyWithExtras();
    try {
      writeFileSync(join(chart, 'alerts', 'broken.yaml'), 'rules: []\n');
      const r = await runTool(tools.helm, ['template', 'slmops', chart, '--set', 'monitoring.prometheusRule.enabled=true'], { timeoutMs: 60_000 });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('alerts/broken.yaml is not a Prometheus rule file');
    } finally {
      rmSync(join(chart, '..'), { recursive: true, force: true });
    }
  });
});

describe('monitoring.*.enabled: auto', () => {
  it('renders Prometheus Operator objects only when the cluster serves monitoring.coreos.com/v1', async () => {
    const without = await render();
    expect(without.objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'))).toEqual([]);
    const withApi = await render({ apiVersions: ['monitoring.coreos.com/v1'] });
    const monitoring = withApi.objects.filter((o) => o.apiVersion === 'monitoring.coreos.com/v1').map((o) => o.kind);
    const rule = chartFiles('alerts', '.yaml').length > 0 ? ['PrometheusRule'] : [];
    expect(monitoring.sort()).toEqual(['PodMonitor', ...rule, 'ServiceMonitor', 'ServiceMonitor']);
    const off = await render({ apiVersions: ['monitoring.coreos.com/v1'], set: ['monitoring.serviceMonitor.enabled=false', 'monitoring.podMonitor.enabled=false', 'monitoring.prometheusRule.enabled=false'] });
    expect(off.objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'))).toEqual([]);
  });
});

describe('RBAC', () => {
  /**
   * The API requests the operator's code makes (informers list + watch every kind, a deployment is read by name before a missing child is re-created; children and status are
   * written by server-side apply, i.e. patch; waves delete pods; events are created; the Lease is read, created
   * and renewed). The end-to-end suite checks the requests the running operator really makes.
   */
  const operatorRequests = (ns: string | undefined): ApiRequest[] => {
    const at = ns ? { namespace: ns } : {};
    const one = { namespace: ns ?? 'any-namespace', name: 'x' };
    const r: ApiRequest[] = [];
    const informer = (group: string, resource: string, scope: object = at) => {
      for (const verb of ['list', 'watch']) r.push({ verb, group, resource, ...scope });
    };
    informer('', 'nodes', {});
    informer('slmops.io', 'slmdeployments');
    // Read by name before a missing child is re-created (a deployment deleted meanwhile gets none back).
    r.push({ verb: 'get', group: 'slmops.io', resource: 'slmdeployments', ...one });
    r.push({ verb: 'patch', group: 'slmops.io', resource: 'slmdeployments', subresource: 'status', ...one });
    for (const [group, resource] of [['apps', 'daemonsets'], ['apps', 'deployments'], ['', 'services'], ['', 'configmaps'], ['networking.k8s.io', 'networkpolicies'], ['autoscaling', 'horizontalpodautoscalers'], ['policy', 'poddisruptionbudgets']] as const) {
      informer(group, resource);
      for (const verb of ['patch', 'delete']) r.push({ verb, group, resource, ...one });
    }
    // Revision history: applied once per revision (patch); pruning (delete) is a listed exception.
    informer('apps', 'controllerrevisions');
    r.push({ verb: 'patch', group: 'apps', resource: 'controllerrevisions', ...one });
    informer('', 'pods');
    r.push({ verb: 'delete', group: '', resource: 'pods', ...one });
    r.push({ verb: 'create', group: '', resource: 'events', namespace: one.namespace });
    r.push({ verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: NS });
    for (const verb of ['get', 'update']) r.push({ verb, group: 'coordination.k8s.io', resource: 'leases', namespace: NS, name: 'slmops-operator' });
    return r;
  };

  it('grants exactly the documented operator requests, without wildcards, cluster-wide by default', async () => {
    const { objects } = await render();
    const rbac = rbacObjects(objects);
    for (const role of rbac.filter((o) => o.rules)) {
      for (const rule of role.rules!) expect([...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs], role.metadata.name).not.toContain('*');
    }
    const report = checkRbac(grantsFor(rbac, { name: 'slmops-operator', namespace: NS }), operatorRequests(undefined), OPERATOR_RBAC_EXCEPTIONS);
    expect(report.denied.map(describeRequest)).toEqual([]);
    expect(report.unused).toEqual([]);
    expect(report.excepted.map((e) => `${e.verb} ${e.resource}`).sort()).toEqual(OPERATOR_RBAC_EXCEPTIONS.map((e) => `${e.verb} ${e.resource}`).sort());
  });

  it('confines namespaced permissions to operator.watchNamespace', async () => {
    const { objects } = await render({ set: ['operator.watchNamespace=edge'] });
    const grants = grantsFor(rbacObjects(objects), { name: 'slmops-operator', namespace: NS });
    const inEdge = checkRbac(grants, operatorRequests('edge'), OPERATOR_RBAC_EXCEPTIONS);
    expect(inEdge.denied.map(describeRequest)).toEqual([]);
    expect(inEdge.unused).toEqual([]);
    const elsewhere = checkRbac(grants, [{ verb: 'list', group: 'apps', resource: 'daemonsets', namespace: 'default' }, { verb: 'list', group: 'apps', resource: 'daemonsets' }]);
    expect(elsewhere.denied).toHaveLength(2);
  });

  it('leaves the exporter without API access and limits the Lease rule to its name', async () => {
    const { objects } = await render();
    expect(grantsFor(rbacObjects(objects), { name: 'slmops-exporter', namespace: NS })).toEqual([]);
    expect(podSpecOf(ofKind(objects, 'DaemonSet')[0]!)['automountServiceAccountToken']).toBe(false);
    const grants = grantsFor(rbacObjects(objects), { name: 'slmops-operator', namespace: NS });
    expect(checkRbac(grants, [{ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: NS, name: 'someone-elses-lease' }]).denied).toHaveLength(1);
  });
});
