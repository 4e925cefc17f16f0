/** Pure builders of every child object of an SLMDeployment. Same input, byte-identical output; no clock. */
import { API_VERSION, Annotations, FIELD_MANAGER, KIND, Labels, type SLMDeploymentSpec } from '@slmops/api';
import type { KubeObject, OwnerReference } from '@slmops/kube';
import type { ClassPlan, NodeClass } from '@slmops/plugin-sdk';
import type { OperatorConfig } from '../contract.js';
import { canonicalJson, childName, labelValue, stableHash } from './names.js';

/** The owning SLMDeployment's identity. */
export interface Owner {
  name: string;
  namespace: string;
  uid: string;
}

/**
 * The parts of the spec that define what a pod serves; a revision is their hash, and a ControllerRevision keeps
 * them. Security settings are not among them (SECURITY_SETTINGS).
 */
export interface RevisionSpec {
  model: SLMDeploymentSpec['model'];
  hardware: SLMDeploymentSpec['hardware'];
  serving: SLMDeploymentSpec['serving'];
  image: string;
  imagePullPolicy?: string;
}

/**
 * Spec fields that are security settings (ADR 0011): never part of a revision or of the template's config hash,
 * so a change reaches every pod at once (NetworkPolicy at once, files through the ConfigMap, flags by replacing
 * the pods of the revision they run) and no rollback ever restores an older value. `spec.security` joins here.
 */
export const SECURITY_SETTINGS = ['privacy'] as const;

/** The security settings of a spec, always rendered from the live spec, whatever revision a template serves. */
export type SecuritySettings = Pick<SLMDeploymentSpec, (typeof SECURITY_SETTINGS)[number]>;

export function securitySettingsOf(spec: SLMDeploymentSpec): SecuritySettings {
  return Object.fromEntries(SECURITY_SETTINGS.map((k) => [k, spec[k]])) as SecuritySettings;
}

/**
 * What the hashes see in place of the security settings: spec.privacy's defaults as of 994a067. Operators up to
 * then hashed spec.privacy into revisions and config hashes; hashing these values keeps the revision and the
 * templates of every deployment that never set it identical across the upgrade (ADR 0011). Fixed on purpose:
 * a later change of the schema's defaults must not change any revision.
 */
const HASHED_SECURITY_DEFAULTS: SecuritySettings = { privacy: { egress: 'Allow', requestLogging: 'None' } };

/** A node class with the nodes the workload will run on and the plugin's plan for it. */
export interface PlannedClass {
  nodeClass: NodeClass;
  plan: ClassPlan;
}

export const CACHE_DIR = '/var/cache/slmops';
export const CONFIG_DIR = '/etc/slmops';
export const PVC_MOUNT = '/models';
/** The sidecar image's non-root user (distroless "nonroot"). */
export const SIDECAR_UID = 65532;
const SIDECAR_GRACE_S = 30;

export function revisionSpecOf(spec: SLMDeploymentSpec, config: OperatorConfig): RevisionSpec {
  return {
    model: spec.model,
    hardware: spec.hardware,
    serving: spec.serving,
    image: config.sidecarImage,
    ...(config.imagePullPolicy ? { imagePullPolicy: config.imagePullPolicy } : {}),
  };
}

/** "<first 12 hex of the digest>-<hash of the revision spec>", e.g. "3f2a9c1b7d4e-5a1b2c3d4e"; a valid label value. */
export function revisionOf(rev: RevisionSpec): string {
  const digest = rev.model.source.digest?.replace(/^sha256:/, '').slice(0, 12) ?? 'nodigest';
  return `${digest}-${stableHash({ ...revisionFields(rev), ...HASHED_SECURITY_DEFAULTS })}`;
}

/** Only the fields of a RevisionSpec: a ControllerRevision written before ADR 0011 also holds `privacy`. */
export function revisionFields(rev: RevisionSpec): RevisionSpec {
  const { model, hardware, serving, image, imagePullPolicy } = rev;
  return { model, hardware, serving, image, ...(imagePullPolicy ? { imagePullPolicy } : {}) };
}

export function ownerReference(owner: Owner): OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true };
}

/** Labels every child carries; `deployment` selects all of the SLMDeployment's pods. */
export function commonLabels(owner: Owner, component: string): Record<string, string> {
  return {
    [Labels.name]: 'slmops',
    [Labels.instance]: labelValue(owner.name),
    [Labels.component]: component,
    [Labels.managedBy]: FIELD_MANAGER,
    [Labels.partOf]: 'slmops',
    [Labels.deployment]: labelValue(owner.name),
  };
}

export const podSelectorLabels = (owner: Owner): Record<string, string> => ({ [Labels.deployment]: labelValue(owner.name) });

function meta(owner: Owner, name: string, labels: Record<string, string>, annotations?: Record<string, string>): KubeObject['metadata'] {
  return {
    name,
    namespace: owner.namespace,
    labels,
    ...(annotations ? { annotations } : {}),
    ownerReferences: [ownerReference(owner)],
  };
}

export const servingConfigName = (owner: Owner): string => childName([owner.name, 'serving']);
export const serviceName = (owner: Owner): string => childName([owner.name], 63);
export const daemonSetName = (owner: Owner, classKey: string): string => childName([owner.name, classKey]);
export const deploymentName = (owner: Owner, track: 'stable' | 'canary'): string => childName([owner.name, track]);
export const revisionName = (owner: Owner, revision: string): string => childName([owner.name, revision], 63);

/**
 * The serving config mounted at /etc/slmops/serving.json: what clients and the sidecar agree on. Its privacy
 * block is the live spec's (a kubelet refreshes the mounted file in place; pods are not replaced for it).
 */
export function servingConfigData(rev: RevisionSpec, revision: string, security: SecuritySettings): Record<string, string> {
  const { serving, model } = rev;
  const { privacy } = security;
  const doc = {
    model: { name: model.name, version: model.version, ...(model.source.digest ? { digest: model.source.digest } : {}) },
    revision,
    serving: {
      port: serving.port,
      metricsPort: serving.metricsPort,
      maxBatchSize: serving.maxBatchSize,
      maxQueue: serving.maxQueue,
      maxTokens: serving.maxTokens,
      ...(serving.contextLength !== undefined ? { contextLength: serving.contextLength } : {}),
      generationDefaults: serving.generationDefaults,
    },
    privacy,
  };
  return { 'serving.json': `${JSON.stringify(JSON.parse(canonicalJson(doc)), null, 2)}\n` };
}

/** Where the sidecar reads the model: pvc:// sources are mounted read-only; other URIs pass through. */
function modelLocation(uri: string): { arg: string; claim?: string } {
  const m = /^pvc:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) return { arg: uri };
  return { arg: `${PVC_MOUNT}/${m[1]}${m[2] ? `/${m[2]}` : ''}`, claim: m[1]! };
}

/**
 * The variants a pod may serve, best first: the class's chosen precision, then the rest of spec.model.precisions.
 * The operator cannot see which variants a package holds; the sidecar serves the first one it has.
 */
export function precisionPreference(chosen: string, acceptable: readonly string[] | undefined): string[] {
  return [chosen, ...(acceptable ?? []).filter((p) => p !== chosen)];
}

/** Sidecar flags that carry security settings; only non-default values are rendered (a default renders nothing). */
export function securityArgs(security: SecuritySettings): string[] {
  return security.privacy.requestLogging === 'Metadata' ? ['--request-logging=metadata'] : [];
}

const SECURITY_FLAG = /^--request-logging(=|$)/;

/** The security flags a pod's sidecar runs with, as securityArgs renders them (to find pods to replace). */
export function podSecurityArgs(pod: KubeObject): string[] {
  const containers = ((pod['spec'] ?? {}) as { containers?: { name?: string; args?: string[] }[] }).containers ?? [];
  return (containers.find((c) => c.name === 'sidecar')?.args ?? []).filter((a) => SECURITY_FLAG.test(a));
}

/** The sidecar's command-line flags (see docs/sidecar.md), in a fixed order; security flags last. */
export function sidecarArgs(rev: RevisionSpec, plan: ClassPlan, security: SecuritySettings): string[] {
  const s = rev.serving;
  const args = ['--model', modelLocation(rev.model.source.uri).arg];
  if (rev.model.source.digest) args.push('--digest', rev.model.source.digest);
  args.push(
    '--host', '0.0.0.0',
    '--port', String(s.port),
    '--metrics-port', String(s.metricsPort),
    '--cache-dir', CACHE_DIR,
    '--plugin', plan.plugin,
    '--precision', precisionPreference(plan.precision.precision, rev.model.precisions).join(','),
    '--threads', String(plan.patch.threads),
    '--max-batch-size', String(s.maxBatchSize),
    '--max-queue', String(s.maxQueue),
    '--default-max-tokens', String(s.maxTokens),
    '--grace-period', `${SIDECAR_GRACE_S}s`,
  );
  if (s.streamInterval !== undefined) args.push('--stream-interval', s.streamInterval);
  args.push(...securityArgs(security));
  return args;
}

/** The hardened sidecar container for one node class. */
export function sidecarContainer(rev: RevisionSpec, plan: ClassPlan, security: SecuritySettings): Record<string, unknown> {
  const { serving } = rev;
  const resources = plan.patch.resources;
  return {
    name: 'sidecar',
    image: rev.image,
    ...(rev.imagePullPolicy ? { imagePullPolicy: rev.imagePullPolicy } : {}),
    args: sidecarArgs(rev, plan, security),
    ports: [
      { name: 'grpc', containerPort: serving.port, protocol: 'TCP' },
      { name: 'metrics', containerPort: serving.metricsPort, protocol: 'TCP' },
    ],
    ...(plan.patch.env.length ? { env: plan.patch.env.map((e) => ({ name: e.name, value: e.value })) } : {}),
    ...(resources.requests || resources.limits ? { resources } : {}),
    // grpc.health.v1 turns SERVING only after the package digest verified and a session opened.
    readinessProbe: { grpc: { port: serving.port }, periodSeconds: 5, failureThreshold: 3, timeoutSeconds: 2 },
    // Liveness on /healthz, not gRPC health: a model still loading is alive but not ready.
    livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 10, failureThreshold: 6, timeoutSeconds: 2 },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: SIDECAR_UID,
      runAsGroup: SIDECAR_UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: 'model-cache', mountPath: CACHE_DIR },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'serving-config', mountPath: CONFIG_DIR, readOnly: true },
      ...(modelLocation(rev.model.source.uri).claim ? [{ name: 'model', mountPath: PVC_MOUNT + '/' + modelLocation(rev.model.source.uri).claim, readOnly: true }] : []),
    ],
  };
}

export interface TemplateInput {
  owner: Owner;
  rev: RevisionSpec;
  revision: string;
  cls: PlannedClass;
  placement: SLMDeploymentSpec['placement'];
  track?: 'stable' | 'canary';
  /** The live spec's security settings (never the revision's). */
  security: SecuritySettings;
}

/**
 * The pod template of a node class without node pinning, and its spec-hash (the hash of everything else in
 * the template): node membership changes never change the hash, so nodes joining a class start no rollout.
 */
export function podTemplate(input: TemplateInput): { template: Record<string, unknown>; specHash: string } {
  const { owner, rev, revision, cls, placement, track, security } = input;
  const { plan, nodeClass } = cls;
  const claim = modelLocation(rev.model.source.uri).claim;
  const labels: Record<string, string> = {
    ...commonLabels(owner, 'inference'),
    [Labels.version]: labelValue(rev.model.version),
    [Labels.nodeClass]: nodeClass.key,
    [Labels.plugin]: plan.plugin,
    [Labels.precision]: plan.precision.precision,
    [Labels.revision]: revision,
    ...(track ? { [Labels.track]: track } : {}),
  };
  const annotations: Record<string, string> = {
    // Security settings reach the file in place, so they never change the template (ADR 0011).
    [Annotations.configHash]: stableHash(servingConfigData(rev, revision, HASHED_SECURITY_DEFAULTS)),
    ...(rev.model.source.digest ? { [Annotations.modelDigest]: rev.model.source.digest } : {}),
  };
  const nodeSelector = { ...placement.nodeSelector, ...plan.patch.nodeSelector };
  const tolerations = [...(placement.tolerations ?? []), ...plan.patch.tolerations];
  const spec: Record<string, unknown> = {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: SIDECAR_GRACE_S + 15,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: SIDECAR_UID,
      runAsGroup: SIDECAR_UID,
      fsGroup: SIDECAR_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ...(Object.keys(nodeSelector).length ? { nodeSelector: sortObject(nodeSelector) } : {}),
    ...(tolerations.length ? { tolerations } : {}),
    ...(plan.patch.runtimeClassName ? { runtimeClassName: plan.patch.runtimeClassName } : {}),
    containers: [sidecarContainer(rev, plan, security)],
    volumes: [
      { name: 'model-cache', emptyDir: {} },
      { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
      { name: 'serving-config', configMap: { name: servingConfigName(owner) } },
      ...(claim ? [{ name: 'model', persistentVolumeClaim: { claimName: claim, readOnly: true } }] : []),
    ],
  };
  const specHash = stableHash({ labels, annotations, spec });
  return { template: { metadata: { labels: { ...labels, [Labels.specHash]: specHash }, annotations }, spec }, specHash };
}

function sortObject(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Required node affinity that pins pods to exactly these nodes (sorted) by metadata.name. */
export function pinToNodes(template: Record<string, unknown>, nodes: readonly string[]): Record<string, unknown> {
  const spec = template['spec'] as Record<string, unknown>;
  return {
    ...template,
    spec: {
      ...spec,
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [...nodes].sort() }] }],
          },
        },
      },
    },
  };
}

/** Fleet: one DaemonSet per node class; OnDelete, so only pods the operator deletes move to a new template. */
export function daemonSet(owner: Owner, classKey: string, template: Record<string, unknown>, nodes: readonly string[]): KubeObject {
  const selector = { ...podSelectorLabels(owner), [Labels.nodeClass]: classKey };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta(owner, daemonSetName(owner, classKey), { ...commonLabels(owner, 'inference'), [Labels.nodeClass]: classKey }),
    spec: {
      selector: { matchLabels: selector },
      updateStrategy: { type: 'OnDelete' },
      revisionHistoryLimit: 3,
      template: pinToNodes(template, nodes),
    },
  };
}

/** Replicated: the stable or canary Deployment of the chosen node class. */
export function deployment(owner: Owner, track: 'stable' | 'canary', template: Record<string, unknown>, replicas: number): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(owner, deploymentName(owner, track), { ...commonLabels(owner, 'inference'), [Labels.track]: track }),
    spec: {
      replicas,
      selector: { matchLabels: { ...podSelectorLabels(owner), [Labels.track]: track } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      revisionHistoryLimit: 3,
      template,
    },
  };
}

export function service(owner: Owner, rev: RevisionSpec): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(owner, serviceName(owner), commonLabels(owner, 'inference')),
    spec: {
      type: 'ClusterIP',
      selector: podSelectorLabels(owner),
      ports: [
        { name: 'grpc', port: rev.serving.port, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
        { name: 'metrics', port: rev.serving.metricsPort, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  };
}

export function servingConfigMap(owner: Owner, rev: RevisionSpec, revision: string, security: SecuritySettings): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(owner, servingConfigName(owner), commonLabels(owner, 'serving-config')),
    data: servingConfigData(rev, revision, security),
  };
}

/** privacy.egress Deny: no egress at all from the serving pods (ingress is left to the cluster's policies). */
export function denyEgressPolicy(owner: Owner): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(owner, childName([owner.name, 'deny-egress'], 63), commonLabels(owner, 'privacy')),
    spec: { podSelector: { matchLabels: podSelectorLabels(owner) }, policyTypes: ['Egress'], egress: [] },
  };
}

/** Replicated + autoscaling: an HPA on the SLMDeployment's /scale subresource, by queue depth per pod. */
export function autoscaler(owner: Owner, autoscaling: NonNullable<SLMDeploymentSpec['autoscaling']>): KubeObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(owner, childName([owner.name], 63), commonLabels(owner, 'autoscaler')),
    spec: {
      scaleTargetRef: { apiVersion: API_VERSION, kind: KIND, name: owner.name },
      minReplicas: autoscaling.minReplicas,
      maxReplicas: autoscaling.maxReplicas,
      metrics: [
        {
          type: 'Pods',
          pods: {
            metric: { name: 'slmops_num_requests_waiting' },
            target: { type: 'AverageValue', averageValue: String(autoscaling.targetQueueDepth) },
          },
        },
      ],
    },
  };
}

/** Voluntary disruptions (drains) take at most 1 replica, or a quarter of a fleet, at a time. */
export function disruptionBudget(owner: Owner, mode: 'Fleet' | 'Replicated'): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(owner, childName([owner.name], 63), commonLabels(owner, 'inference')),
    spec: { maxUnavailable: mode === 'Fleet' ? '25%' : 1, selector: { matchLabels: podSelectorLabels(owner) } },
  };
}

/** The owned, immutable record of a revision's serving spec; rollback re-renders from it, even after a restart. */
export function controllerRevision(owner: Owner, revision: string, rev: RevisionSpec, number: number): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: meta(owner, revisionName(owner, revision), { ...commonLabels(owner, 'revision'), [Labels.revision]: revision }),
    data: JSON.parse(canonicalJson(revisionFields(rev))) as Record<string, unknown>,
    revision: number,
  };
}
