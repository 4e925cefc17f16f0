/**
 * The Kubernetes client port of SLMOps: the few verbs the operator and `kubectl slm` need, independent of
 * @kubernetes/client-node so reconcile code can run against the in-memory fake in unit tests.
 * Contract shared by the client-node adapter (./client.ts) and the fake (./fake.ts); add to it, never rename.
 */

/** Metadata fields the port reads and writes; other fields pass through untouched. */
export interface KubeMeta {
  name: string;
  namespace?: string;
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Any Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: KubeMeta;
  [key: string]: unknown;
}

/** A REST resource: enough to build its URL without discovery. */
export interface ResourceType {
  /** "v1", "apps/v1", "slmops.io/v1alpha1". */
  apiVersion: string;
  kind: string;
  /** Lower-case plural used in URLs: "daemonsets". */
  plural: string;
  namespaced: boolean;
}

export interface ListOptions {
  /** Omit for all namespaces (namespaced resources) or for cluster-scoped resources. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; the port follows `continue` tokens and returns every item. */
  limit?: number;
}

export interface ObjectList<T extends KubeObject = KubeObject> {
  items: T[];
  /** The list's resourceVersion, to start a watch from. */
  resourceVersion: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  object: T;
}

export interface WatchOptions extends ListOptions {
  resourceVersion: string;
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
}

export interface Watch {
  /** Stops the watch; `done` then settles without an error. */
  stop(): void;
  /**
   * Settles when the server or the network ends the watch. Rejects with a KubeApiError of status 410 when the
   * resourceVersion is too old (the caller relists), or with the transport error.
   */
  done: Promise<void>;
}

export interface ApplyOptions {
  /** Server-side apply field manager; defaults to the port's manager ("slmops-operator"). */
  fieldManager?: string;
  /** Take ownership of fields another manager owns (the operator always forces on its own children); default true. */
  force?: boolean;
  /** Apply to the status subresource instead of the main resource. */
  subresource?: 'status' | 'scale';
  dryRun?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  /** Delete only this incarnation (uid) / version; a mismatch is a 409. */
  preconditions?: { uid?: string; resourceVersion?: string };
  gracePeriodSeconds?: number;
}

export type PatchType = 'merge' | 'strategic' | 'json';

export interface PatchOptions {
  subresource?: 'status' | 'scale';
  fieldManager?: string;
}

/** A core/v1 Event the port creates (events.k8s.io-compatible fields are derived from it). */
export interface EventInput {
  /** The object the event is about. */
  regarding: { apiVersion: string; kind: string; name: string; namespace?: string; uid?: string; resourceVersion?: string };
  type: 'Normal' | 'Warning';
  /** CamelCase, e.g. "WaveStarted". */
  reason: string;
  /** Human text; never prompt or completion text. */
  message: string;
  /** The component reporting it, e.g. "slmops-operator". */
  reportingController?: string;
  reportingInstance?: string;
  action?: string;
}

/**
 * The client port. Every method throws KubeApiError for an API error status (except where documented),
 * with the HTTP status, the Status reason and, for 429/503, retryAfterSeconds.
 */
export interface KubeClient {
  /** The object, or undefined on 404. */
  get<T extends KubeObject = KubeObject>(type: ResourceType, name: string, namespace?: string): Promise<T | undefined>;
  list<T extends KubeObject = KubeObject>(type: ResourceType, options?: ListOptions): Promise<ObjectList<T>>;
  watch<T extends KubeObject = KubeObject>(type: ResourceType, options: WatchOptions, onEvent: (event: WatchEvent<T>) => void): Promise<Watch>;
  /** POST. 409 AlreadyExists throws. */
  create<T extends KubeObject = KubeObject>(object: T): Promise<T>;
  /** PUT with the object's resourceVersion (optimistic concurrency: 409 Conflict throws). */
  replace<T extends KubeObject = KubeObject>(object: T, options?: { subresource?: 'status' | 'scale' }): Promise<T>;
  /** Server-side apply (PATCH application/apply-patch+yaml) of a partial object holding only owned fields. */
  apply<T extends KubeObject = KubeObject>(object: KubeObject, options?: ApplyOptions): Promise<T>;
  patch<T extends KubeObject = KubeObject>(type: ResourceType, name: string, namespace: string | undefined, patch: unknown, patchType: PatchType, options?: PatchOptions): Promise<T>;
  /** True when deleted (or deletion started), false on 404. */
  delete(type: ResourceType, name: string, namespace?: string, options?: DeleteOptions): Promise<boolean>;
  createEvent(event: EventInput): Promise<void>;
}

/** An error status from the API server (or the fake). */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly status: number,
    /** metav1.Status reason: NotFound, Conflict, AlreadyExists, Gone, Expired, TooManyRequests, Invalid, … */
    readonly reason: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.status === 404;
export const isConflict = (e: unknown): boolean => e instanceof KubeApiError && e.status === 409;
export const isGone = (e: unknown): boolean => e instanceof KubeApiError && e.status === 410;

/** Resources the operator, CLI and exporter use. */
export const Resources = {
  Namespace: { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  Node: { apiVersion: 'v1', kind: 'Node', plural: 'nodes', namespaced: false },
  Pod: { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  Service: { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  ConfigMap: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  Event: { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  DaemonSet: { apiVersion: 'apps/v1', kind: 'DaemonSet', plural: 'daemonsets', namespaced: true },
  Deployment: { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  ControllerRevision: { apiVersion: 'apps/v1', kind: 'ControllerRevision', plural: 'controllerrevisions', namespaced: true },
  NetworkPolicy: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies', namespaced: true },
  HorizontalPodAutoscaler: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers', namespaced: true },
  PodDisruptionBudget: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true },
  Lease: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true },
  SLMDeployment: { apiVersion: 'slmops.io/v1alpha1', kind: 'SLMDeployment', plural: 'slmdeployments', namespaced: true },
} as const satisfies Record<string, ResourceType>;

/** `namespace/name` (or `name` for cluster-scoped objects): the informer cache and work-queue key. */
export const objectKey = (o: { metadata: { name: string; namespace?: string } }): string =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

export type InformerHandler<T extends KubeObject> = (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T, previous?: T) => void;

/**
 * A cache of one resource kept current by list + watch. It relists on 410 Gone and on every resync period
 * (emitting MODIFIED only for objects whose resourceVersion changed and DELETED for vanished ones), and
 * reconnects with backoff after transport errors. Created by `createInformer(client, type, options)`.
 */
export interface Informer<T extends KubeObject = KubeObject> {
  start(): Promise<void>;
  stop(): void;
  /** Resolves after the first list has been loaded into the cache. */
  synced(): Promise<void>;
  hasSynced(): boolean;
  /** Cached objects (do not mutate). */
  list(): T[];
  get(key: string): T | undefined;
  /** Subscribes; returns the unsubscribe function. */
  on(handler: InformerHandler<T>): () => void;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease (client-go semantics: acquire when the holder's
 * renewTime + leaseDurationSeconds is past, renew every retryPeriod, give up when renewal fails past
 * renewDeadline). Created by `createLeaderElector(client, options)`.
 */
export interface LeaderElector {
  /** Runs until stop(); calls onStartedLeading/onStoppedLeading on transitions. */
  start(): void;
  /** Stops; releases the lease (holderIdentity cleared) when leading, so a standby takes over at once. */
  stop(): Promise<void>;
  isLeader(): boolean;
}
