/**
 * The operator's read side: informer caches of SLMDeployments, nodes, their pods and their children, indexed
 * so one reconcile gathers its Observation without scanning every object of the cluster.
 */
import { API_VERSION as SLMD_API_VERSION, Labels, labelValue } from '@slmops/api';
import { type InformerHandler, type KubeObject, type ResourceType, objectKey } from '@slmops/kube';

/** The part of an Informer the cache reads. */
export interface InformerLike<T extends KubeObject = KubeObject> {
  list(): T[];
  get(key: string): T | undefined;
  on(handler: InformerHandler<T>): () => void;
}

/** What one reconcile reads; implemented over informers here, over plain arrays in tests. */
export interface ClusterView {
  deployment(key: string): KubeObject | undefined;
  deployments(): KubeObject[];
  nodes(): readonly KubeObject[];
  /** Pods labelled slmops.io/deployment=labelValue(name) in the namespace. */
  pods(namespace: string, deployment: string): KubeObject[];
  /** Children whose controller ownerReference has this uid. */
  children(ownerUid: string): KubeObject[];
  /** The cached live object of a kind (for the apply diff), or undefined. */
  live(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  /** True while a write of ours to this object has not yet come back through its watch. */
  pendingApply(apiVersion: string, kind: string, namespace: string | undefined, name: string, hash: string): boolean;
  noteApplied(apiVersion: string, kind: string, namespace: string | undefined, name: string, hash: string): void;
  /** True once the SLMDeployment with this uid was seen deleted or terminating (watch or a fresh read): never write for it. */
  ownerGone(uid: string): boolean;
  /** Records that a fresh read found this SLMDeployment uid gone or terminating before its watch said so. */
  noteOwnerGone(uid: string): void;
}

/** Tombstones kept (uids of deleted SLMDeployments); older ones are forgotten first. */
const TOMBSTONES = 10_000;

export const kindKey = (apiVersion: string, kind: string): string => `${apiVersion}/${kind}`;
const refKey = (apiVersion: string, kind: string, namespace: string | undefined, name: string) =>
  `${kindKey(apiVersion, kind)}|${namespace ? `${namespace}/${name}` : name}`;

/** The uid of the object's controller, if any. */
export const controllerUid = (o: KubeObject): string | undefined => o.metadata.ownerReferences?.find((r) => r.controller)?.uid;

/**
 * namespace/name of the SLMDeployment a pod or child belongs to, from its controller ref or its label. The label
 * holds labelValue(name), hashed for names over 63 characters: `byLabel` maps such a value back to the name.
 */
export function owningDeploymentKey(o: KubeObject, byLabel: (namespaceAndLabel: string) => string | undefined = () => undefined): string | undefined {
  const ns = o.metadata.namespace;
  if (!ns) return undefined;
  const ref = o.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'SLMDeployment');
  if (ref) return `${ns}/${ref.name}`;
  const label = o.metadata.labels?.[Labels.deployment];
  return label ? (byLabel(`${ns}/${label}`) ?? `${ns}/${label}`) : undefined;
}

export interface ClusterCacheInformers {
  deployments: InformerLike;
  nodes: InformerLike;
  pods: InformerLike;
  /** Informers of the child kinds, one per kind (list items may lack apiVersion/kind, so the type says it). */
  children: readonly { type: ResourceType; informer: InformerLike }[];
}

export class ClusterCache implements ClusterView {
  /** Keyed by namespace/labelValue(name): pods carry the label value, which differs from long names. */
  private readonly podsByDeployment = new Map<string, Map<string, KubeObject>>();
  /** namespace/labelValue(name) -> namespace/name of every SLMDeployment. */
  private readonly deploymentByLabel = new Map<string, string>();
  private readonly podHome = new Map<string, string>();
  private readonly childrenByOwner = new Map<string, Map<string, KubeObject>>();
  private readonly childHome = new Map<string, string>();
  private readonly liveByRef = new Map<string, KubeObject>();
  private readonly pending = new Map<string, string>();
  private readonly tombstones = new Set<string>();
  private nodeList: readonly KubeObject[] | undefined;
  private readonly unsubscribe: (() => void)[] = [];

  /** Subscribe before the informers start so the initial lists are indexed too. */
  constructor(private readonly informers: ClusterCacheInformers) {
    this.unsubscribe.push(informers.nodes.on(() => (this.nodeList = undefined)));
    this.unsubscribe.push(informers.pods.on((type, pod) => this.indexPod(type, pod)));
    for (const c of informers.children) this.unsubscribe.push(c.informer.on((type, o) => this.indexChild(c.type, type, o)));
    this.unsubscribe.push(
      informers.deployments.on((type, d) => {
        this.pending.delete(refKey(SLMD_API_VERSION, 'SLMDeployment', d.metadata.namespace, d.metadata.name));
        const byLabel = `${d.metadata.namespace}/${labelValue(d.metadata.name)}`;
        if ((type === 'DELETED' || d.metadata.deletionTimestamp) && d.metadata.uid) this.noteOwnerGone(d.metadata.uid);
        if (type === 'DELETED') this.deploymentByLabel.delete(byLabel);
        else this.deploymentByLabel.set(byLabel, `${d.metadata.namespace}/${d.metadata.name}`);
      }),
    );
  }

  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }

  deployment(key: string): KubeObject | undefined {
    return this.informers.deployments.get(key);
  }

  deployments(): KubeObject[] {
    return this.informers.deployments.list();
  }

  nodes(): readonly KubeObject[] {
    return (this.nodeList ??= this.informers.nodes.list());
  }

  pods(namespace: string, deployment: string): KubeObject[] {
    return [...(this.podsByDeployment.get(`${namespace}/${labelValue(deployment)}`)?.values() ?? [])];
  }

  /** owningDeploymentKey, resolving hashed `slmops.io/deployment` labels through the SLMDeployments seen. */
  ownerKey(o: KubeObject): string | undefined {
    return owningDeploymentKey(o, (k) => this.deploymentByLabel.get(k));
  }

  children(ownerUid: string): KubeObject[] {
    return [...(this.childrenByOwner.get(ownerUid)?.values() ?? [])];
  }

  live(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    if (apiVersion === SLMD_API_VERSION && kind === 'SLMDeployment') return this.informers.deployments.get(namespace ? `${namespace}/${name}` : name);
    return this.liveByRef.get(refKey(apiVersion, kind, namespace, name));
  }

  pendingApply(apiVersion: string, kind: string, namespace: string | undefined, name: string, hash: string): boolean {
    return this.pending.get(refKey(apiVersion, kind, namespace, name)) === hash;
  }

  noteApplied(apiVersion: string, kind: string, namespace: string | undefined, name: string, hash: string): void {
    this.pending.set(refKey(apiVersion, kind, namespace, name), hash);
  }

  ownerGone(uid: string): boolean {
    return this.tombstones.has(uid);
  }

  noteOwnerGone(uid: string): void {
    if (this.tombstones.has(uid)) return;
    if (this.tombstones.size >= TOMBSTONES) this.tombstones.delete(this.tombstones.values().next().value!);
    this.tombstones.add(uid);
  }

  private indexPod(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: KubeObject): void {
    const key = objectKey(pod);
    const before = this.podHome.get(key);
    if (before) this.podsByDeployment.get(before)?.delete(key);
    this.podHome.delete(key);
    if (type === 'DELETED') return;
    const dep = pod.metadata.labels?.[Labels.deployment];
    if (!dep || !pod.metadata.namespace) return;
    const home = `${pod.metadata.namespace}/${dep}`;
    let m = this.podsByDeployment.get(home);
    if (!m) this.podsByDeployment.set(home, (m = new Map()));
    m.set(key, pod);
    this.podHome.set(key, home);
    if (before && before !== home && this.podsByDeployment.get(before)?.size === 0) this.podsByDeployment.delete(before);
  }

  private indexChild(rt: ResourceType, type: 'ADDED' | 'MODIFIED' | 'DELETED', o: KubeObject): void {
    const ref = refKey(rt.apiVersion, rt.kind, o.metadata.namespace, o.metadata.name);
    this.pending.delete(ref);
    const before = this.childHome.get(ref);
    if (before) {
      const m = this.childrenByOwner.get(before);
      m?.delete(ref);
      if (m?.size === 0) this.childrenByOwner.delete(before);
    }
    this.childHome.delete(ref);
    if (type === 'DELETED') {
      this.liveByRef.delete(ref);
      return;
    }
    this.liveByRef.set(ref, o);
    const owner = controllerUid(o);
    if (!owner) return;
    let m = this.childrenByOwner.get(owner);
    if (!m) this.childrenByOwner.set(owner, (m = new Map()));
    m.set(ref, o);
    this.childHome.set(ref, owner);
  }
}
