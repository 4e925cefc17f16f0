/**
 * What the API server's registry strategies do for built-in kinds on create and update: defaulting the fields
 * controllers diff against (so "desired vs actual" behaves as on a cluster), status resets, selector checks.
 */
import type { FieldError } from '@slmops/api';
import { matchesLabels, labelSelectorFromObject, type LabelSelectorObject } from './selectors.js';
import type { KubeObject } from './types.js';
import { isPlainObject } from './types.js';
import { deepEqual } from './util.js';

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj | undefined => (isPlainObject(v) ? v : undefined);

function defaultContainer(c: Obj): void {
  const image = typeof c['image'] === 'string' ? c['image'] : '';
  const tag = image.includes('@') ? 'digest' : (image.split('/').pop() ?? '').split(':')[1];
  c['imagePullPolicy'] ??= tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
  c['terminationMessagePath'] ??= '/dev/termination-log';
  c['terminationMessagePolicy'] ??= 'File';
  c['resources'] ??= {};
  for (const p of (c['ports'] as Obj[] | undefined) ?? []) if (isPlainObject(p)) p['protocol'] ??= 'TCP';
}

/** Pod spec defaults from k8s.io/kubernetes/pkg/apis/core/v1/defaults.go (the subset that shows in diffs). */
export function defaultPodSpec(spec: Obj): void {
  spec['restartPolicy'] ??= 'Always';
  spec['terminationGracePeriodSeconds'] ??= 30;
  spec['dnsPolicy'] ??= 'ClusterFirst';
  spec['schedulerName'] ??= 'default-scheduler';
  spec['securityContext'] ??= {};
  for (const list of ['containers', 'initContainers'] as const) for (const c of (spec[list] as Obj[] | undefined) ?? []) if (isPlainObject(c)) defaultContainer(c);
}

function qosClass(spec: Obj | undefined): string {
  const containers = ((spec?.['containers'] as Obj[] | undefined) ?? []).filter(isPlainObject);
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const r = obj(c['resources']);
    const req = obj(r?.['requests']) ?? {};
    const lim = obj(r?.['limits']) ?? {};
    if (Object.keys(req).length > 0 || Object.keys(lim).length > 0) any = true;
    for (const res of ['cpu', 'memory']) {
      if (lim[res] === undefined || (req[res] !== undefined && req[res] !== lim[res])) guaranteed = false;
    }
  }
  return !any ? 'BestEffort' : guaranteed ? 'Guaranteed' : 'Burstable';
}

let nextServiceIp = 1;

/** Applies a kind's defaults in place; `isCreate` also resets status as the registry strategies do. */
export function applyBuiltinDefaults(o: KubeObject, isCreate: boolean): void {
  const spec = obj(o['spec']);
  switch (o.kind) {
    case 'Pod':
      if (spec) defaultPodSpec(spec);
      if (isCreate) o['status'] = { phase: 'Pending', qosClass: qosClass(spec) };
      break;
    case 'Deployment':
      if (spec) {
        spec['replicas'] ??= 1;
        spec['strategy'] ??= { type: 'RollingUpdate' };
        const strategy = obj(spec['strategy']);
        if (strategy?.['type'] === 'RollingUpdate') strategy['rollingUpdate'] ??= { maxUnavailable: '25%', maxSurge: '25%' };
        spec['revisionHistoryLimit'] ??= 10;
        spec['progressDeadlineSeconds'] ??= 600;
        const podSpec = obj(obj(spec['template'])?.['spec']);
        if (podSpec) defaultPodSpec(podSpec);
      }
      if (isCreate) o['status'] = {};
      break;
    case 'DaemonSet':
      if (spec) {
        spec['updateStrategy'] ??= { type: 'RollingUpdate' };
        const strategy = obj(spec['updateStrategy']);
        if (strategy?.['type'] === 'RollingUpdate') strategy['rollingUpdate'] ??= { maxUnavailable: 1, maxSurge: 0 };
        spec['revisionHistoryLimit'] ??= 10;
        const podSpec = obj(obj(spec['template'])?.['spec']);
        if (podSpec) defaultPodSpec(podSpec);
      }
      if (isCreate) o['status'] = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };
      break;
    case 'ReplicaSet':
      if (spec) {
        spec['replicas'] ??= 1;
        const podSpec = obj(obj(spec['template'])?.['spec']);
        if (podSpec) defaultPodSpec(podSpec);
      }
      if (isCreate) o['status'] = { replicas: 0 };
      break;
    case 'Service':
      if (spec) {
        spec['type'] ??= 'ClusterIP';
        spec['sessionAffinity'] ??= 'None';
        spec['internalTrafficPolicy'] ??= 'Cluster';
        if (spec['clusterIP'] === undefined && spec['type'] !== 'ExternalName') {
          const n = nextServiceIp++;
          spec['clusterIP'] = `10.96.${Math.floor(n / 250) % 250}.${(n % 250) + 2}`;
        }
        if (spec['clusterIP'] !== undefined && spec['clusterIP'] !== 'None') spec['clusterIPs'] ??= [spec['clusterIP']];
        spec['ipFamilies'] ??= ['IPv4'];
        spec['ipFamilyPolicy'] ??= 'SingleStack';
        for (const p of (spec['ports'] as Obj[] | undefined) ?? []) {
          if (!isPlainObject(p)) continue;
          p['protocol'] ??= 'TCP';
          p['targetPort'] ??= p['port'];
        }
      }
      if (isCreate) o['status'] = { loadBalancer: {} };
      break;
    case 'Namespace':
      o['spec'] = { finalizers: ['kubernetes'], ...(spec ?? {}) };
      o.metadata.labels = { ...(o.metadata.labels ?? {}), 'kubernetes.io/metadata.name': o.metadata.name! };
      if (isCreate) o['status'] = { phase: 'Active' };
      break;
    case 'Secret':
      o['type'] ??= 'Opaque';
      if (isPlainObject(o['stringData'])) {
        const data = { ...(obj(o['data']) ?? {}) };
        for (const [k, v] of Object.entries(o['stringData'])) data[k] = Buffer.from(String(v)).toString('base64');
        o['data'] = data;
        delete o['stringData'];
      }
      break;
    case 'HorizontalPodAutoscaler':
    case 'PodDisruptionBudget':
      if (isCreate) o['status'] = o.kind === 'PodDisruptionBudget' ? { currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0, expectedPods: 0 } : {};
      break;
    case 'CustomResourceDefinition':
      if (isCreate) o['status'] = {};
      break;
  }
}

/** Validation the built-in strategies do that matters to controllers: workload selectors. */
export function validateBuiltin(o: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errors: FieldError[] = [];
  if (o.kind === 'Deployment' || o.kind === 'DaemonSet' || o.kind === 'ReplicaSet') {
    const spec = obj(o['spec']);
    const selector = obj(spec?.['selector']) as LabelSelectorObject | undefined;
    if (!selector) errors.push({ path: 'spec.selector', type: 'Required', message: 'Required value' });
    else {
      const labels = obj(obj(obj(spec?.['template'])?.['metadata'])?.['labels']) as Record<string, string> | undefined;
      if (!matchesLabels(labelSelectorFromObject(selector), labels)) {
        errors.push({ path: 'spec.template.metadata.labels', type: 'Invalid', message: `Invalid value: ${JSON.stringify(labels ?? {})}: \`selector\` does not match template \`labels\`` });
      }
      const oldSelector = old ? obj(obj(old['spec'])?.['selector']) : undefined;
      if (oldSelector && !deepEqual(oldSelector, selector)) errors.push({ path: 'spec.selector', type: 'Invalid', message: `Invalid value: ${JSON.stringify(selector)}: field is immutable` });
    }
  }
  return errors;
}
