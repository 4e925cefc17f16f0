/**
 * The emulator's object store and write path, shared by HTTP requests and in-process callers (the simulator):
 * admission (defaulting, pruning, validation, CEL), resourceVersion and optimistic concurrency, generation,
 * status and scale subresources, managedFields and server-side apply, finalizers, ownerReference garbage
 * collection and watches. Objects the store returns are deeply frozen and shared: copy before changing them
 * (`structuredClone(obj)`).
 */
import { randomUUID } from 'node:crypto';
import type { FieldError } from '@slmops/api';
import { applyBuiltinDefaults, validateBuiltin } from './builtins.js';
import { admitCustomResource, valueAtPath, type FieldValidation } from './custom.js';
import { ApiError, alreadyExists, badRequest, conflict, forbidden, gone, invalid, notFound, qualifiedResource, unsupportedMediaType, type StatusObject } from './errors.js';
import { recordUpdate, serverSideApply, type OwnershipContext } from './fields.js';
import { GarbageCollector } from './gc.js';
import { builtinListInfo, schemaListInfo, type ListInfo } from './lists.js';
import { jsonPatch, mergePatch, strategicMerge } from './patch.js';
import { listRead } from './resource-version.js';
import { apiVersionOf, crdTypes, Registry, REVIEW_KINDS, storageKey, type ResourceType } from './registry.js';
import { RequestLog, type Verb } from './request-log.js';
import {
  formatLabelSelector,
  labelSelectorFromObject,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  type FieldRequirement,
  type LabelRequirement,
  type LabelSelectorObject,
} from './selectors.js';
import type { KubeObject, ObjectMeta, ResourceRef } from './types.js';
import { isPlainObject } from './types.js';
import { clone, deepEqual, deepFreeze, dropUndefined, randomSuffix, rfc3339 } from './util.js';

export type { KubeObject, ObjectMeta, OwnerReference, ResourceRef } from './types.js';
export type { LabelSelectorObject } from './selectors.js';
export type { ResourceType } from './registry.js';

/** Patch flavours, named after their Content-Type. */
export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

export const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

/** Options every write accepts (the query parameters of the REST API). */
export interface WriteOptions {
  /** Manager recorded in managedFields; required for apply. Defaults to `client`. */
  fieldManager?: string;
  /** Run admission and return the result without storing it or emitting events. */
  dryRun?: boolean;
  /** Unknown fields in custom resources: Strict fails (400), Warn (default) warns, Ignore drops silently. */
  fieldValidation?: FieldValidation;
  /** Apply only: take ownership of conflicting fields. */
  force?: boolean;
  /** Who is calling, for the request log (HTTP: the user agent). Default `in-process`. */
  client?: string;
  /** Receives warnings (`unknown field "spec.x"`) the HTTP layer sends as `Warning: 299` headers. */
  warnings?: string[];
}

export interface DeleteOptions extends WriteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
  gracePeriodSeconds?: number;
}

export interface ListOptions {
  /** Namespace to list in; omit for all namespaces (and for cluster-scoped resources). */
  namespace?: string;
  labelSelector?: string | LabelSelectorObject;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  /** With `resourceVersionMatch`, as the API server reads them (see resource-version.ts): Exact serves the state then. */
  resourceVersion?: string;
  resourceVersionMatch?: string;
  client?: string;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string | LabelSelectorObject;
  fieldSelector?: string;
  /** Unset or "0": start with a synthetic ADDED per current object. Otherwise replay events after it (410 if too old). */
  resourceVersion?: string;
  /**
   * WatchList (client-go's streaming list): send the current state as ADDED events, then a BOOKMARK annotated
   * `k8s.io/initial-events-end: "true"`, then changes.
   */
  sendInitialEvents?: boolean;
  client?: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: WatchEventType;
  /** The object, or a Status for ERROR (410 Expired, after which the watch is over). */
  object: KubeObject | StatusObject;
}

export type WatchListener = (event: WatchEvent) => void;

/** The result of a patch: `created` is true when server-side apply created the object. */
export interface PatchResult {
  object: KubeObject;
  created: boolean;
}

/** autoscaling/v1 Scale. */
export interface Scale {
  apiVersion: 'autoscaling/v1';
  kind: 'Scale';
  metadata: ObjectMeta;
  spec: { replicas?: number };
  status: { replicas: number; selector?: string };
}

export interface StoreOptions {
  /** Clock for timestamps (default: real time). */
  now?: () => Date;
  /** Watch events kept for resuming watches; older resourceVersions get 410 Gone. Default 20,000. */
  historySize?: number;
  requestLog?: RequestLog;
  /** Reports a watch listener that threw (default: console.error). */
  onListenerError?: (error: unknown) => void;
}

/** Refs of the built-in resources, for in-process callers. */
export const resources = {
  namespaces: { group: '', version: 'v1', resource: 'namespaces' },
  nodes: { group: '', version: 'v1', resource: 'nodes' },
  pods: { group: '', version: 'v1', resource: 'pods' },
  services: { group: '', version: 'v1', resource: 'services' },
  endpoints: { group: '', version: 'v1', resource: 'endpoints' },
  configmaps: { group: '', version: 'v1', resource: 'configmaps' },
  secrets: { group: '', version: 'v1', resource: 'secrets' },
  events: { group: '', version: 'v1', resource: 'events' },
  serviceaccounts: { group: '', version: 'v1', resource: 'serviceaccounts' },
  deployments: { group: 'apps', version: 'v1', resource: 'deployments' },
  daemonsets: { group: 'apps', version: 'v1', resource: 'daemonsets' },
  replicasets: { group: 'apps', version: 'v1', resource: 'replicasets' },
  controllerrevisions: { group: 'apps', version: 'v1', resource: 'controllerrevisions' },
  leases: { group: 'coordination.k8s.io', version: 'v1', resource: 'leases' },
  networkpolicies: { group: 'networking.k8s.io', version: 'v1', resource: 'networkpolicies' },
  horizontalpodautoscalers: { group: 'autoscaling', version: 'v2', resource: 'horizontalpodautoscalers' },
  poddisruptionbudgets: { group: 'policy', version: 'v1', resource: 'poddisruptionbudgets' },
  customresourcedefinitions: { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions' },
} as const satisfies Record<string, ResourceRef>;

interface Bucket {
  objects: Map<string, KubeObject>;
  byNamespace: Map<string, Map<string, KubeObject>>;
  sorted: string[] | null;
  sortedByNamespace: Map<string, string[]>;
}

interface HistoryEvent {
  rv: number;
  sk: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  prev: KubeObject | undefined;
}

interface Watcher {
  type: ResourceType;
  namespace: string | undefined;
  labels: LabelRequirement[];
  fields: FieldRequirement[];
  listener: WatchListener;
  lastRv: number;
  closed: boolean;
  /** Live events that arrive while the initial replay is still queued; delivered right after it. */
  backlog: WatchEvent[] | null;
}

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
const GENERATION_KINDS = new Set(['Deployment', 'DaemonSet', 'ReplicaSet', 'StatefulSet', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy', 'CustomResourceDefinition']);
/** Built-in deletes answer with a Status; these (and every custom resource) answer with the object. */
const RETURNS_DELETED_OBJECT = new Set(['Pod', 'Namespace', 'Node', 'Service', 'CustomResourceDefinition']);
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const RESOURCE_VERSION_MISSING = 'metadata.resourceVersion';

const objectKey = (namespace: string | undefined, name: string) => (namespace ? `${namespace}/${name}` : name);

/** An in-memory Kubernetes API: see the module comment for what it enforces. */
export class Store {
  readonly registry = new Registry();
  readonly requestLog: RequestLog;
  private readonly now: () => Date;
  private readonly historySize: number;
  private readonly onListenerError: (error: unknown) => void;
  private readonly buckets = new Map<string, Bucket>();
  private rv = 0;
  private readonly history: HistoryEvent[] = [];
  /** Events with rv <= compactedRv are gone from history: watching from them answers 410. */
  private compactedRv = 0;
  private readonly pending: HistoryEvent[] = [];
  private draining = false;
  private dispatchedRv = 0;
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly byUid = new Map<string, { sk: string; namespace: string | undefined; name: string }>();
  private readonly gc = new GarbageCollector({
    lookup: (uid) => this.lookupUid(uid),
    delete: (t, obj, policy) => this.controllerDelete(t, obj, { ...this.gcOptions, propagationPolicy: policy }),
    update: (t, obj, next) => this.controllerUpdate(t, obj, next),
    queue: (step) => this.queueGc(step),
  });
  private readonly jsonCache = new WeakMap<object, string>();
  private gcQueued = false;
  private readonly gcQueue: (() => void)[] = [];

  constructor(options: StoreOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.historySize = options.historySize ?? 20_000;
    this.requestLog = options.requestLog ?? new RequestLog();
    this.onListenerError = options.onListenerError ?? ((e) => console.error('kube-emulator: watch listener failed:', e));
    for (const name of SYSTEM_NAMESPACES) this.create(resources.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, { client: 'emulator-bootstrap' });
  }

  /** The current (latest) resourceVersion, as a string. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** The resource type for a ref, or a 404 NotFound naming it. */
  typeOf(ref: ResourceRef): ResourceType {
    const t = this.registry.get(ref);
    if (!t) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', { group: ref.group, kind: ref.resource });
    return t;
  }

  /** The ref for an apiVersion + kind (`apps/v1`, `Deployment`), e.g. for manifests; 404 if not served. */
  refFor(apiVersion: string, kind: string): ResourceRef {
    const t = this.registry.forKind(apiVersion, kind);
    if (!t) throw new ApiError(404, 'NotFound', `no matches for kind "${kind}" in version "${apiVersion}"`);
    return { group: t.group, version: t.version, resource: t.resource };
  }

  /** The JSON text of a stored object, cached per object version (lists and watches reuse it). */
  toJson(obj: object): string {
    let s = this.jsonCache.get(obj);
    if (s === undefined) {
      s = JSON.stringify(obj);
      if (Object.isFrozen(obj)) this.jsonCache.set(obj, s);
    }
    return s;
  }

  // ---------------------------------------------------------------- reads

  /** The object, or a 404 NotFound. */
  get(ref: ResourceRef, namespace: string | undefined, name: string, opts: { client?: string } = {}): KubeObject {
    return this.logged('get', ref, namespace, name, undefined, opts.client, () => this.getInternal(this.typeOf(ref), namespace, name));
  }

  /** The object or undefined; not logged (a cheap read for controllers and tests). */
  tryGet(ref: ResourceRef, namespace: string | undefined, name: string): KubeObject | undefined {
    const t = this.typeOf(ref);
    const o = this.bucket(t).objects.get(objectKey(t.namespaced ? namespace : undefined, name));
    return o && this.asVersion(o, t);
  }

  /** Matching objects sorted by namespace/name, with paging (`limit` / `continue`). */
  list(ref: ResourceRef, opts: ListOptions = {}): ListResult {
    return this.logged('list', ref, opts.namespace, undefined, undefined, opts.client, () => {
      const t = this.typeOf(ref);
      const read = listRead(opts.resourceVersion, opts.resourceVersionMatch, this.rv, this.compactedRv);
      return this.listInternal(t, opts, read.at === 'current' ? undefined : { rv: read.at, objects: this.objectsAt(t, read.at) });
    });
  }

  // ---------------------------------------------------------------- writes

  /** Creates an object (201 semantics): admission, generateName, uid, resourceVersion, ADDED event. */
  create(ref: ResourceRef, namespace: string | undefined, body: unknown, opts: WriteOptions = {}): KubeObject {
    return this.logged('create', ref, namespace, (body as KubeObject | undefined)?.metadata?.name, undefined, opts.client, () => this.createInternal(this.typeOf(ref), namespace, body, opts));
  }

  /** Replaces an object (PUT): stale resourceVersion → 409; custom resources need one (422 without). */
  update(ref: ResourceRef, namespace: string | undefined, name: string, body: unknown, opts: WriteOptions = {}): KubeObject {
    return this.logged('update', ref, namespace, name, undefined, opts.client, () => this.updateInternal(this.typeOf(ref), namespace, name, body, opts, undefined));
  }

  /** Replaces the status subresource (PUT …/status): only `.status` changes. */
  updateStatus(ref: ResourceRef, namespace: string | undefined, name: string, body: unknown, opts: WriteOptions = {}): KubeObject {
    return this.logged('update', ref, namespace, name, 'status', opts.client, () => this.updateInternal(this.statusType(ref), namespace, name, body, opts, 'status'));
  }

  /** Patches an object or its status; `apply` creates the object when it does not exist. */
  patch(ref: ResourceRef, namespace: string | undefined, name: string, type: PatchType, patch: unknown, opts: WriteOptions & { subresource?: 'status' } = {}): PatchResult {
    const sub = opts.subresource;
    return this.logged('patch', ref, namespace, name, sub, opts.client, () => this.patchInternal(sub ? this.statusType(ref) : this.typeOf(ref), namespace, name, type, patch, opts, sub));
  }

  /** Deletes an object: finalizers hold it (deletionTimestamp set) until they are all removed. */
  delete(ref: ResourceRef, namespace: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject {
    return this.logged('delete', ref, namespace, name, undefined, opts.client, () => this.deleteInternal(this.typeOf(ref), namespace, name, opts));
  }

  /** Deletes every matching object (deletecollection); returns what was deleted or marked for deletion. */
  deleteCollection(ref: ResourceRef, opts: ListOptions & DeleteOptions = {}): KubeObject[] {
    return this.logged('deletecollection', ref, opts.namespace, undefined, undefined, opts.client, () => {
      const t = this.typeOf(ref);
      const { items } = this.listInternal(t, { ...opts, limit: undefined, continue: undefined });
      return items.map((o) => this.deleteInternal(t, o.metadata.namespace, o.metadata.name!, opts));
    });
  }

  /** The autoscaling/v1 Scale of a resource that declares a scale subresource. */
  getScale(ref: ResourceRef, namespace: string | undefined, name: string, opts: { client?: string } = {}): Scale {
    return this.logged('get', ref, namespace, name, 'scale', opts.client, () => {
      const t = this.scaleType(ref);
      return this.toScale(t, this.getInternal(t, namespace, name));
    });
  }

  /** Writes `spec.replicas` of a Scale (PUT …/scale), honouring `metadata.resourceVersion` as a precondition. */
  updateScale(ref: ResourceRef, namespace: string | undefined, name: string, scale: unknown, opts: WriteOptions = {}): Scale {
    return this.logged('update', ref, namespace, name, 'scale', opts.client, () => this.writeScale(ref, namespace, name, () => scale, opts));
  }

  /** Patches a Scale (merge or JSON patch), as `kubectl scale` does. */
  patchScale(ref: ResourceRef, namespace: string | undefined, name: string, type: PatchType, patch: unknown, opts: WriteOptions = {}): Scale {
    return this.logged('patch', ref, namespace, name, 'scale', opts.client, () =>
      this.writeScale(ref, namespace, name, (current) => {
        if (type === 'merge') return mergePatch(current, patch);
        if (type === 'json') return jsonPatch(current, patch);
        throw unsupportedMediaType([PATCH_CONTENT_TYPES.json, PATCH_CONTENT_TYPES.merge]);
      }, opts),
    );
  }

  // ---------------------------------------------------------------- watch

  /**
   * Streams changes to matching objects to `listener`, in resourceVersion order, asynchronously (never inside
   * the write that caused them). Returns the function that stops the watch. An ERROR event (410 Expired)
   * ends the watch by itself.
   */
  watch(ref: ResourceRef, opts: WatchOptions, listener: WatchListener): () => void {
    const t = this.typeOf(ref);
    const labels = this.labelRequirements(opts.labelSelector);
    const fields = opts.fieldSelector ? parseFieldSelector(opts.fieldSelector, t.fieldSelectors) : [];
    const namespace = t.namespaced ? opts.namespace : undefined;
    const w: Watcher = { type: t, namespace, labels, fields, listener, lastRv: 0, closed: false, backlog: [] };
    if (opts.client !== HTTP_CLIENT_MARK) this.requestLog.record({ time: rfc3339(this.now()), verb: 'watch', resource: qualifiedResource(t.resource, t.group), ...(namespace ? { namespace } : {}), code: 200, client: opts.client ?? 'in-process', source: 'in-process' });
    const sk = storageKey(t);
    const from = opts.resourceVersion;
    const replay: WatchEvent[] = [];
    if (opts.sendInitialEvents || from === undefined || from === '' || from === '0') {
      for (const o of this.listInternal(t, { ...(namespace ? { namespace } : {}) }).items) {
        if (this.matches(w, o)) replay.push({ type: 'ADDED', object: o });
      }
      w.lastRv = this.rv;
      if (opts.sendInitialEvents) {
        const metadata = { resourceVersion: String(this.rv), annotations: { 'k8s.io/initial-events-end': 'true' } };
        replay.push({ type: 'BOOKMARK', object: { apiVersion: apiVersionOf(t), kind: t.kind, metadata } });
      }
    } else {
      const rv = Number(from);
      if (!Number.isInteger(rv) || rv < 0) throw badRequest(`invalid resource version "${from}"`);
      // Older than the retained history, or newer than anything this store has issued (its storage was reset,
      // e.g. an API server restarted empty): only a relist can resynchronise the client, so say 410.
      if (rv < this.compactedRv || rv > this.rv) {
        queueMicrotask(() => this.safeCall(listener, { type: 'ERROR', object: gone(`too old resource version: ${rv} (${this.rv})`).status }));
        return () => undefined;
      }
      for (const ev of this.history) {
        if (ev.rv > rv && ev.sk === sk) {
          const out = this.eventFor(w, ev);
          if (out) replay.push(out);
        }
      }
      w.lastRv = Math.max(rv, this.history.length > 0 ? this.history[this.history.length - 1]!.rv : rv);
    }
    let set = this.watchers.get(sk);
    if (!set) this.watchers.set(sk, (set = new Set()));
    set.add(w);
    queueMicrotask(() => {
      const backlog = w.backlog ?? [];
      w.backlog = null;
      for (const e of [...replay, ...backlog]) if (!w.closed) this.safeCall(listener, e);
    });
    return () => {
      w.closed = true;
      set.delete(w);
    };
  }

  /** The resourceVersion every watcher has been sent events up to (safe to announce in a BOOKMARK). */
  get deliveredResourceVersion(): string {
    return String(this.pending.length === 0 ? this.rv : this.dispatchedRv);
  }

  /** Forgets watch history so every resourceVersion before now answers 410 Gone (a compaction). */
  compact(): void {
    this.history.length = 0;
    this.compactedRv = this.rv;
  }

  /** Stops every watch (in-process and HTTP) without telling the listener, like a dropped connection. */
  closeAllWatches(): number {
    let n = 0;
    for (const set of this.watchers.values()) {
      for (const w of set) {
        w.closed = true;
        n++;
      }
      set.clear();
    }
    for (const l of this.closeListeners) l();
    return n;
  }

  private readonly closeListeners = new Set<() => void>();

  /** Lets the HTTP layer end its streams when `closeAllWatches` is called. */
  onCloseAllWatches(listener: () => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Resolves after every queued watch event and garbage-collection step has run (for tests). */
  async settle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setImmediate(r));
      if (this.pending.length === 0 && this.gcQueue.length === 0 && !this.gcQueued) return;
    }
  }

  // ---------------------------------------------------------------- internals: reads

  private bucket(t: { group: string; resource: string }): Bucket {
    const sk = storageKey(t);
    let b = this.buckets.get(sk);
    if (!b) this.buckets.set(sk, (b = { objects: new Map(), byNamespace: new Map(), sorted: null, sortedByNamespace: new Map() }));
    return b;
  }

  private statusType(ref: ResourceRef): ResourceType {
    const t = this.typeOf(ref);
    if (!t.status) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    return t;
  }

  private scaleType(ref: ResourceRef): ResourceType {
    const t = this.typeOf(ref);
    if (!t.scale) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    return t;
  }

  private asVersion(o: KubeObject, t: ResourceType): KubeObject {
    if (t.storedAs) return deepFreeze(t.storedAs.fromStored(o));
    const apiVersion = apiVersionOf(t);
    return o.apiVersion === apiVersion ? o : deepFreeze({ ...o, apiVersion });
  }

  private getInternal(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const o = this.bucket(t).objects.get(objectKey(t.namespaced ? namespace : undefined, name));
    if (!o) throw notFound(t.resource, t.group, name);
    return this.asVersion(o, t);
  }

  private labelRequirements(sel: string | LabelSelectorObject | undefined): LabelRequirement[] {
    if (sel === undefined || sel === '') return [];
    return typeof sel === 'string' ? parseLabelSelector(sel) : labelSelectorFromObject(sel);
  }

  private sortedKeys(b: Bucket, namespace: string | undefined): string[] {
    if (namespace === undefined) return (b.sorted ??= [...b.objects.keys()].sort());
    let keys = b.sortedByNamespace.get(namespace);
    if (!keys) {
      keys = [...(b.byNamespace.get(namespace)?.keys() ?? [])].sort().map((n) => objectKey(namespace, n));
      b.sortedByNamespace.set(namespace, keys);
    }
    return keys;
  }

  /** The objects of `t` as they were at resourceVersion `rv` (>= compactedRv): later history undone, newest first. */
  private objectsAt(t: ResourceType, rv: number): Map<string, KubeObject> {
    const sk = storageKey(t);
    const objects = new Map(this.bucket(t).objects);
    for (let i = this.history.length - 1; i >= 0 && this.history[i]!.rv > rv; i--) {
      const ev = this.history[i]!;
      if (ev.sk !== sk) continue;
      const key = objectKey(t.namespaced ? ev.object.metadata.namespace : undefined, ev.object.metadata.name!);
      if (ev.type === 'ADDED' || !ev.prev) objects.delete(key);
      else objects.set(key, ev.prev);
    }
    return objects;
  }

  private listInternal(t: ResourceType, opts: ListOptions, at?: { rv: number; objects: Map<string, KubeObject> }): ListResult {
    const b = at ? { objects: at.objects } : this.bucket(t);
    const namespace = t.namespaced && opts.namespace ? opts.namespace : undefined;
    const labels = this.labelRequirements(opts.labelSelector);
    const fields = opts.fieldSelector ? parseFieldSelector(opts.fieldSelector, t.fieldSelectors) : [];
    let listRv = at?.rv ?? this.rv;
    let after: string | undefined;
    if (opts.continue) {
      let token: { rv: number; start: string };
      try {
        token = JSON.parse(Buffer.from(opts.continue, 'base64url').toString('utf8')) as { rv: number; start: string };
      } catch {
        throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
      }
      if (token.rv < this.compactedRv) {
        throw gone('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      }
      listRv = token.rv;
      after = token.start;
    }
    const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
    const items: KubeObject[] = [];
    const keys = at ? [...at.objects.keys()].filter((k) => namespace === undefined || k.startsWith(`${namespace}/`)).sort() : this.sortedKeys(this.bucket(t), namespace);
    let i = after === undefined ? 0 : upperBound(keys, after);
    for (; i < keys.length; i++) {
      const o = b.objects.get(keys[i]!);
      if (!o) continue;
      if (labels.length > 0 && !matchesLabels(labels, o.metadata.labels)) continue;
      if (fields.length > 0 && !matchesFields(fields, t.storedAs ? t.storedAs.fromStored(o) : o)) continue;
      if (items.length >= limit) break;
      items.push(this.asVersion(o, t));
    }
    const result: ListResult = { items, resourceVersion: String(listRv) };
    if (i < keys.length && items.length >= limit) {
      const last = items[items.length - 1]!;
      result.continue = Buffer.from(JSON.stringify({ rv: listRv, start: objectKey(last.metadata.namespace, last.metadata.name!) })).toString('base64url');
      if (labels.length === 0 && fields.length === 0) result.remainingItemCount = keys.length - i;
    }
    return result;
  }

  // ---------------------------------------------------------------- internals: admission

  private listInfo(t: ResourceType): ListInfo {
    return t.custom ? schemaListInfo(t.schema) : builtinListInfo(t.kind);
  }

  private managerFor(opts: WriteOptions): string {
    if (opts.fieldManager) return opts.fieldManager;
    const client = opts.client ?? 'in-process';
    return client.split('/')[0] || client;
  }

  private hasGeneration(t: ResourceType): boolean {
    return t.custom || GENERATION_KINDS.has(t.kind);
  }

  /** Defaults, prunes and validates `obj` in place of a real admission chain; throws 400/422. */
  private admit(t: ResourceType, obj: KubeObject, old: KubeObject | undefined, opts: WriteOptions): KubeObject {
    const errors: FieldError[] = [];
    let out = obj;
    if (t.custom && t.schema) {
      const admitted = admitCustomResource(t.schema, obj, old, opts.fieldValidation ?? 'Warn', opts.warnings ?? []);
      out = admitted.object;
      errors.push(...admitted.errors);
    } else if (!t.custom) {
      applyBuiltinDefaults(out, old === undefined);
      errors.push(...validateBuiltin(out, old));
    }
    for (const [i, ref] of (out.metadata.ownerReferences ?? []).entries()) {
      if (!ref.uid) errors.push({ path: `metadata.ownerReferences[${i}].uid`, type: 'Invalid', message: 'Invalid value: "": uid must not be empty' });
    }
    if ((out.metadata.ownerReferences ?? []).filter((r) => r.controller).length > 1) {
      errors.push({ path: 'metadata.ownerReferences', type: 'Invalid', message: 'Invalid value: "": Only one reference can have Controller set to true' });
    }
    if (t.kind === 'CustomResourceDefinition') errors.push(...validateCrd(out));
    if (errors.length > 0) throw invalid(t.kind, t.group, out.metadata.name ?? '', errors, (p) => valueAtPath(out, p));
    return out;
  }

  private checkNamespace(t: ResourceType, namespace: string | undefined, name: string): void {
    if (!t.namespaced) return;
    if (!namespace) throw badRequest('the server could not find the requested resource: a namespace is required');
    const ns = this.bucket(resources.namespaces).objects.get(namespace);
    if (!ns) throw notFound('namespaces', '', namespace);
    if (ns.metadata.deletionTimestamp && t.kind !== 'Event') {
      throw forbidden(t.resource, t.group, name, `unable to create new content in namespace ${namespace} because it is being terminated`);
    }
  }

  private createInternal(t: ResourceType, namespace: string | undefined, body: unknown, opts: WriteOptions, managed?: (o: KubeObject) => void): KubeObject {
    if (!isPlainObject(body)) throw badRequest('the body of the request must be a JSON or YAML object');
    if (REVIEW_KINDS.has(t.kind)) {
      // There is no authorization in the emulator: every review is allowed, and nothing is stored.
      const review = clone(body) as KubeObject;
      this.checkKind(t, review);
      return deepFreeze({ ...review, metadata: { ...(isPlainObject(review.metadata) ? review.metadata : {}), creationTimestamp: rfc3339(this.now()) }, status: { allowed: true, reason: 'kube-emulator allows every request' } });
    }
    if (t.storedAs) {
      this.checkKind(t, body as KubeObject);
      return this.asVersion(this.createInternal(this.typeOf(t.storedAs.ref), namespace, t.storedAs.toStored(body), opts, managed), t);
    }
    const obj = clone(body) as KubeObject;
    dropUndefined(obj);
    this.checkKind(t, obj);
    obj.metadata = isPlainObject(obj.metadata) ? obj.metadata : {};
    const meta = obj.metadata;
    if (t.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      namespace = namespace ?? meta.namespace ?? 'default';
      meta.namespace = namespace;
    } else {
      delete meta.namespace;
      namespace = undefined;
    }
    if (!meta.name) {
      if (meta.generateName) {
        // Like the API server since 1.30 (RetryGenerateName): a suffix that collides is drawn again, up to 8 times.
        const taken = this.bucket(t).objects;
        let generated = `${meta.generateName}${randomSuffix()}`;
        for (let i = 1; i < 8 && taken.has(objectKey(namespace, generated)); i++) generated = `${meta.generateName}${randomSuffix()}`;
        meta.name = generated;
      } else throw invalid(t.kind, t.group, '', [{ path: 'metadata.name', type: 'Required', message: 'Required value: name or generateName is required' }]);
    }
    const name = meta.name;
    this.checkName(t, name);
    this.checkNamespace(t, namespace, name);
    if (this.bucket(t).objects.has(objectKey(namespace, name))) throw alreadyExists(t.resource, t.group, name);
    if (t.status && t.custom) delete obj['status'];
    for (const k of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink'] as const) delete meta[k];
    delete meta.managedFields;
    let admitted = this.admit(t, obj, undefined, opts);
    if (t.kind === 'CustomResourceDefinition') admitted = crdWithStatus(admitted, rfc3339(this.now()));
    const m = admitted.metadata;
    m.uid = randomUUID();
    m.creationTimestamp = rfc3339(this.now());
    if (this.hasGeneration(t)) m.generation = 1;
    if (managed) managed(admitted);
    else m.managedFields = recordUpdate(undefined, admitted, this.ownership(t, opts, undefined), t.status);
    if (m.managedFields?.length === 0) delete m.managedFields;
    if (opts.dryRun) return deepFreeze(admitted);
    m.resourceVersion = String(++this.rv);
    const stored = this.persist(t, undefined, admitted, 'ADDED');
    if (t.kind === 'CustomResourceDefinition') this.registry.setCrdTypes(name, crdTypes(stored));
    return stored;
  }

  private checkKind(t: ResourceType, obj: KubeObject): void {
    const apiVersion = apiVersionOf(t);
    const group = typeof obj.apiVersion === 'string' && obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[0] : '';
    if ((obj.kind !== undefined && obj.kind !== t.kind) || (obj.apiVersion !== undefined && group !== t.group)) {
      throw badRequest(`the object (apiVersion ${String(obj.apiVersion)}, kind ${String(obj.kind)}) does not match the resource ${qualifiedResource(t.resource, t.group)} (${apiVersion}, ${t.kind})`);
    }
    obj.apiVersion = apiVersion;
    obj.kind = t.kind;
  }

  private checkName(t: ResourceType, name: string): void {
    if (t.kind === 'Event' || t.kind === 'ClusterRole' || t.kind === 'Role' || t.kind === 'ClusterRoleBinding' || t.kind === 'RoleBinding') return;
    if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
      throw invalid(t.kind, t.group, name, [
        {
          path: 'metadata.name',
          type: 'Invalid',
          message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
        },
      ]);
    }
  }

  private ownership(t: ResourceType, opts: WriteOptions, subresource: string | undefined): OwnershipContext {
    return { manager: this.managerFor(opts), apiVersion: apiVersionOf(t), time: rfc3339(this.now()), subresource, lists: this.listInfo(t) };
  }

  /**
   * The shared update path of PUT, patches and subresources. `body` is the full desired object; with
   * `unconditional` a missing resourceVersion is fine (patches), otherwise custom resources need one.
   */
  private updateInternal(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    opts: WriteOptions,
    subresource: 'status' | 'scale' | undefined,
    how: { unconditional?: boolean; managed?: (next: KubeObject, old: KubeObject) => void } = {},
  ): KubeObject {
    if (!isPlainObject(body)) throw badRequest('the body of the request must be a JSON or YAML object');
    if (t.storedAs) {
      this.checkKind(t, body as KubeObject);
      return this.asVersion(this.updateInternal(this.typeOf(t.storedAs.ref), namespace, name, t.storedAs.toStored(body), opts, subresource, how), t);
    }
    const old = this.getInternal(t, namespace, name);
    const obj = clone(body) as KubeObject;
    dropUndefined(obj);
    this.checkKind(t, obj);
    obj.metadata = isPlainObject(obj.metadata) ? obj.metadata : {};
    if (obj.metadata.name !== undefined && obj.metadata.name !== name) {
      throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (t.namespaced && obj.metadata.namespace !== undefined && obj.metadata.namespace !== old.metadata.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const rv = obj.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw conflict(t.resource, t.group, name);
    if ((rv === undefined || rv === '') && t.custom && !how.unconditional) {
      throw invalid(t.kind, t.group, name, [{ path: RESOURCE_VERSION_MISSING, type: 'Invalid', message: 'Invalid value: 0x0: must be specified for an update' }]);
    }
    let next: KubeObject;
    if (subresource === 'status') {
      next = clone(old);
      if (obj['status'] === undefined) delete next['status'];
      else next['status'] = obj['status'];
    } else {
      next = obj;
      const m = next.metadata;
      for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'namespace', 'name'] as const) {
        if (old.metadata[k] === undefined) delete m[k];
        else (m as Record<string, unknown>)[k] = old.metadata[k];
      }
      if (t.status) {
        if (old['status'] === undefined) delete next['status'];
        else next['status'] = clone(old['status']);
      }
      if (old.metadata.deletionTimestamp) {
        const added = (m.finalizers ?? []).filter((f) => !(old.metadata.finalizers ?? []).includes(f));
        if (added.length > 0) {
          throw invalid(t.kind, t.group, name, [{ path: 'metadata.finalizers', type: 'Forbidden', message: `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}` }]);
        }
      }
    }
    next.metadata.resourceVersion = old.metadata.resourceVersion!;
    let admitted = this.admit(t, next, old, opts);
    if (t.kind === 'CustomResourceDefinition' && subresource !== 'status') admitted = crdWithStatus(admitted, rfc3339(this.now()), old);
    if (this.hasGeneration(t)) {
      admitted.metadata.generation = (old.metadata.generation ?? 1) + (specChanged(old, admitted, t.status) ? 1 : 0);
    }
    if (how.managed) how.managed(admitted, old);
    else admitted.metadata.managedFields = recordUpdate(old, admitted, this.ownership(t, opts, subresource), t.status);
    if (admitted.metadata.managedFields?.length === 0) delete admitted.metadata.managedFields;
    if (sameIgnoringManagedTimes(old, admitted)) return old;
    if (opts.dryRun) return deepFreeze(admitted);
    admitted.metadata.resourceVersion = String(++this.rv);
    if (admitted.metadata.deletionTimestamp && (admitted.metadata.finalizers ?? []).length === 0) {
      return this.remove(t, admitted);
    }
    const stored = this.persist(t, old, admitted, 'MODIFIED');
    if (t.kind === 'CustomResourceDefinition') this.registry.setCrdTypes(name, crdTypes(stored));
    if (stored.metadata.deletionTimestamp) this.queueGc(() => this.processDeleting(t, stored));
    return stored;
  }

  private patchInternal(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
    opts: WriteOptions,
    subresource: 'status' | undefined,
  ): PatchResult {
    if (type === 'strategic' && t.custom) {
      throw unsupportedMediaType([PATCH_CONTENT_TYPES.json, PATCH_CONTENT_TYPES.merge, PATCH_CONTENT_TYPES.apply, 'application/apply-patch+cbor']);
    }
    if (type === 'apply') return this.applyInternal(t, namespace, name, patch, opts, subresource);
    const current = this.getInternal(t, namespace, name);
    let next: unknown;
    if (type === 'merge') {
      if (!isPlainObject(patch)) throw badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
      next = mergePatch(current, patch);
    } else if (type === 'json') next = jsonPatch(current, patch);
    else {
      if (!isPlainObject(patch)) throw badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
      next = strategicMerge(clone(current), patch, this.listInfo(t));
    }
    if (!isPlainObject(next)) throw badRequest('the patch did not produce an object');
    return { object: this.updateInternal(t, namespace, name, next, opts, subresource, { unconditional: true }), created: false };
  }

  private applyInternal(t: ResourceType, namespace: string | undefined, name: string, patch: unknown, opts: WriteOptions, subresource: 'status' | undefined): PatchResult {
    if (!opts.fieldManager) {
      throw invalid(t.kind, t.group, name, [{ path: 'fieldManager', type: 'Required', message: 'Required value: is required for apply patch' }]);
    }
    if (!isPlainObject(patch)) throw badRequest('error decoding YAML: the apply configuration must be an object');
    const applied = clone(patch) as KubeObject;
    if (!applied.apiVersion || !applied.kind) throw badRequest('invalid object type: apiVersion and kind must be set in an apply configuration');
    applied.metadata = isPlainObject(applied.metadata) ? applied.metadata : {};
    if (applied.metadata.name !== undefined && applied.metadata.name !== name) {
      throw badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`);
    }
    applied.metadata.name = name;
    this.checkKind(t, applied);
    const live = this.bucket(t).objects.get(objectKey(t.namespaced ? namespace : undefined, name));
    const ctx = this.ownership(t, opts, subresource);
    const force = opts.force === true;
    if (!live) {
      if (subresource) throw notFound(t.resource, t.group, name);
      const merged = serverSideApply(undefined, applied, ctx, t.status, force);
      const managedFields = merged.metadata.managedFields;
      const created = this.createInternal(t, namespace, merged, opts, (o) => {
        o.metadata.managedFields = managedFields!;
      });
      return { object: created, created: true };
    }
    const precondition = applied.metadata.resourceVersion;
    if (precondition && precondition !== live.metadata.resourceVersion) throw conflict(t.resource, t.group, name);
    const merged = serverSideApply(this.asVersion(live, t), applied, ctx, t.status, force);
    merged.metadata.resourceVersion = live.metadata.resourceVersion!;
    const managedFields = merged.metadata.managedFields;
    const object = this.updateInternal(t, namespace, name, merged, opts, subresource, {
      unconditional: true,
      managed: (next) => {
        next.metadata.managedFields = managedFields!;
      },
    });
    return { object, created: false };
  }

  // ---------------------------------------------------------------- internals: scale

  private toScale(t: ResourceType, o: KubeObject): Scale {
    const s = t.scale!;
    const replicas = valueAtPath(o, s.specReplicasPath.replace(/^\./, ''));
    const statusReplicas = valueAtPath(o, s.statusReplicasPath.replace(/^\./, ''));
    const scale: Scale = {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name: o.metadata.name!, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), uid: o.metadata.uid!, resourceVersion: o.metadata.resourceVersion!, creationTimestamp: o.metadata.creationTimestamp! },
      spec: typeof replicas === 'number' ? { replicas } : {},
      status: { replicas: typeof statusReplicas === 'number' ? statusReplicas : 0 },
    };
    if (s.labelSelectorPath) {
      const sel = valueAtPath(o, s.labelSelectorPath.replace(/^\./, ''));
      if (typeof sel === 'string') scale.status.selector = sel;
      else if (isPlainObject(sel)) scale.status.selector = formatLabelSelector(sel as LabelSelectorObject);
    }
    return scale;
  }

  private writeScale(ref: ResourceRef, namespace: string | undefined, name: string, next: (current: Scale) => unknown, opts: WriteOptions): Scale {
    const t = this.scaleType(ref);
    const current = this.getInternal(t, namespace, name);
    const scale = next(this.toScale(t, current));
    if (!isPlainObject(scale)) throw badRequest('the body of the request must be a Scale object');
    const rv = (scale['metadata'] as ObjectMeta | undefined)?.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(t.resource, t.group, name);
    const replicas = (scale['spec'] as { replicas?: unknown } | undefined)?.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw invalid('Scale', 'autoscaling', name, [{ path: 'spec.replicas', type: 'Invalid', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` }]);
    }
    const updated = clone(current);
    setAtPath(updated, t.scale!.specReplicasPath.replace(/^\./, '').split('.'), replicas);
    return this.toScale(t, this.updateInternal(t, namespace, name, updated, opts, 'scale', { unconditional: true }));
  }

  // ---------------------------------------------------------------- internals: delete and GC

  private deleteInternal(t: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions): KubeObject {
    const current = this.getInternal(t, namespace, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== current.metadata.uid) {
      throw conflict(t.resource, t.group, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(t.resource, t.group, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in meta: ${current.metadata.resourceVersion}`);
    }
    const finalizers = [...(current.metadata.finalizers ?? [])];
    const policy = opts.propagationPolicy;
    if (policy === 'Foreground' && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
    if (policy === 'Orphan' && !finalizers.includes('orphan')) finalizers.push('orphan');
    if (t.kind === 'Namespace' && !current.metadata.deletionTimestamp) finalizers.push(NAMESPACE_FINALIZER);
    if (finalizers.length === 0) {
      if (opts.dryRun) return current;
      return this.remove(t, current);
    }
    if (current.metadata.deletionTimestamp && deepEqual(finalizers, current.metadata.finalizers ?? [])) return current;
    const next = clone(current);
    next.metadata.finalizers = finalizers.filter((f) => f !== NAMESPACE_FINALIZER);
    if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers;
    if (!next.metadata.deletionTimestamp) {
      next.metadata.deletionTimestamp = rfc3339(this.now());
      next.metadata.deletionGracePeriodSeconds = 0;
      if (this.hasGeneration(t)) next.metadata.generation = (next.metadata.generation ?? 1) + 1;
      if (t.kind === 'Namespace') next['status'] = { ...(isPlainObject(next['status']) ? next['status'] : {}), phase: 'Terminating' };
    }
    if (opts.dryRun) return deepFreeze(next);
    next.metadata.resourceVersion = String(++this.rv);
    const stored = this.persist(t, current, next, 'MODIFIED');
    this.queueGc(() => this.processDeleting(t, stored));
    return stored;
  }

  /** Removes an object for good (DELETED event) and lets the garbage collector look at its dependents. */
  private remove(t: ResourceType, obj: KubeObject): KubeObject {
    const final = clone(obj);
    final.metadata.resourceVersion = String(++this.rv);
    const stored = this.persist(t, obj, final, 'DELETED');
    if (t.kind === 'CustomResourceDefinition') this.dropCrd(stored);
    this.queueGc(() => this.gc.removed(stored));
    this.queueGc(() => this.namespaceContentRemoved(stored));
    return stored;
  }

  /** Whether `remove` answered a built-in delete with a Status (most kinds) or the object. */
  returnsDeletedObject(ref: ResourceRef): boolean {
    const t = this.typeOf(ref);
    return t.custom || RETURNS_DELETED_OBJECT.has(t.kind);
  }

  private dropCrd(crd: KubeObject): void {
    const spec = crd['spec'] as { group: string; names: { plural: string } };
    const b = this.buckets.get(storageKey({ group: spec.group, resource: spec.names.plural }));
    const types = crdTypes(crd);
    if (b && types[0]) for (const o of [...b.objects.values()]) this.remove(types[0], o);
    this.registry.setCrdTypes(crd.metadata.name!, []);
  }

  private queueGc(step: () => void): void {
    this.gcQueue.push(step);
    if (this.gcQueued) return;
    this.gcQueued = true;
    setImmediate(() => {
      while (this.gcQueue.length > 0) {
        const next = this.gcQueue.shift()!;
        try {
          next();
        } catch (e) {
          if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) this.onListenerError(e);
        }
      }
      this.gcQueued = false;
    });
  }

  private lookupUid(uid: string): { t: ResourceType; obj: KubeObject } | undefined {
    const at = this.byUid.get(uid);
    if (!at) return undefined;
    const obj = this.buckets.get(at.sk)?.objects.get(objectKey(at.namespace, at.name));
    if (!obj) return undefined;
    const t = this.registry.forKind(obj.apiVersion, obj.kind);
    return t ? { t, obj } : undefined;
  }

  private gcOptions: DeleteOptions = { client: 'generic-garbage-collector', fieldManager: 'generic-garbage-collector' };

  /** A delete made by a built-in controller (GC, namespace controller): logged under that controller's name. */
  private controllerDelete(t: ResourceType, obj: KubeObject, opts: DeleteOptions): void {
    const ref = { group: t.group, version: t.version, resource: t.resource };
    this.logged('delete', ref, obj.metadata.namespace, obj.metadata.name, undefined, opts.client, () => this.deleteInternal(t, obj.metadata.namespace, obj.metadata.name!, opts));
  }

  /** An update made by a built-in controller, logged under its name. */
  private controllerUpdate(t: ResourceType, obj: KubeObject, next: KubeObject): void {
    const ref = { group: t.group, version: t.version, resource: t.resource };
    this.logged('update', ref, obj.metadata.namespace, obj.metadata.name, undefined, this.gcOptions.client, () =>
      this.updateInternal(t, obj.metadata.namespace, obj.metadata.name!, next, this.gcOptions, undefined, { unconditional: true }),
    );
  }

  /** Orphan and foreground deletion (the garbage collector's), and namespace termination, once deletion starts. */
  private processDeleting(t: ResourceType, obj: KubeObject): void {
    if (this.gc.deleting(obj.metadata.uid!) || t.kind !== 'Namespace') return;
    const current = this.bucket(t).objects.get(obj.metadata.name!);
    if (current && current.metadata.uid === obj.metadata.uid) this.terminateNamespace(t, current);
  }

  /** The namespace controller finishes a terminating namespace once its last object is gone. */
  private namespaceContentRemoved(removed: KubeObject): void {
    const ns = removed.metadata.namespace;
    if (!ns) return;
    const namespace = this.bucket(resources.namespaces).objects.get(ns);
    if (namespace?.metadata.deletionTimestamp) this.terminateNamespace(this.typeOf(resources.namespaces), namespace);
  }

  /** Deletes everything in a terminating namespace, then the namespace itself. */
  private terminateNamespace(t: ResourceType, ns: KubeObject): void {
    const name = ns.metadata.name!;
    let remaining = 0;
    for (const type of this.registry.all()) {
      if (!type.namespaced || type.storedAs || this.registry.versionsOf(type)[0] !== type) continue;
      const objects = this.bucket(type).byNamespace.get(name);
      for (const o of [...(objects?.values() ?? [])]) {
        remaining++;
        if (!o.metadata.deletionTimestamp) this.controllerDelete(type, o, { ...this.gcOptions, client: 'namespace-controller', fieldManager: 'namespace-controller' });
      }
    }
    const current = this.bucket(t).objects.get(name);
    if (remaining === 0 && current?.metadata.deletionTimestamp && (current.metadata.finalizers ?? []).length === 0) this.remove(t, current);
  }

  // ---------------------------------------------------------------- internals: persistence and events

  private persist(t: ResourceType, prev: KubeObject | undefined, next: KubeObject, type: HistoryEvent['type']): KubeObject {
    const sk = storageKey(t);
    const b = this.bucket(t);
    const ns = t.namespaced ? next.metadata.namespace : undefined;
    const key = objectKey(ns, next.metadata.name!);
    const frozen = deepFreeze(next);
    if (type === 'DELETED') {
      b.objects.delete(key);
      b.byNamespace.get(ns ?? '')?.delete(next.metadata.name!);
      this.byUid.delete(frozen.metadata.uid!);
      b.sorted = null;
      if (ns) b.sortedByNamespace.delete(ns);
    } else {
      if (!b.objects.has(key)) {
        b.sorted = null;
        if (ns) b.sortedByNamespace.delete(ns);
      }
      b.objects.set(key, frozen);
      let nsMap = b.byNamespace.get(ns ?? '');
      if (!nsMap) b.byNamespace.set(ns ?? '', (nsMap = new Map()));
      nsMap.set(next.metadata.name!, frozen);
      this.byUid.set(frozen.metadata.uid!, { sk, namespace: ns, name: next.metadata.name! });
    }
    this.gc.observe(prev, type === 'DELETED' ? undefined : frozen);
    const ev: HistoryEvent = { rv: Number(frozen.metadata.resourceVersion), sk, type, object: frozen, prev };
    this.history.push(ev);
    if (this.history.length > this.historySize * 1.25) {
      const dropped = this.history.splice(0, this.history.length - this.historySize);
      this.compactedRv = dropped[dropped.length - 1]!.rv;
    }
    this.pending.push(ev);
    if (!this.draining) {
      this.draining = true;
      queueMicrotask(() => this.drain());
    }
    return this.asVersion(frozen, t);
  }

  private drain(): void {
    while (this.pending.length > 0) {
      const ev = this.pending.shift()!;
      this.dispatchedRv = ev.rv;
      const set = this.watchers.get(ev.sk);
      if (!set) continue;
      for (const w of set) {
        if (w.closed || ev.rv <= w.lastRv) continue;
        w.lastRv = ev.rv;
        const out = this.eventFor(w, ev);
        if (!out) continue;
        if (w.backlog) w.backlog.push(out);
        else this.safeCall(w.listener, out);
      }
    }
    this.draining = false;
  }

  private matches(w: Watcher, o: KubeObject): boolean {
    if (w.namespace !== undefined && o.metadata.namespace !== w.namespace) return false;
    if (w.labels.length > 0 && !matchesLabels(w.labels, o.metadata.labels)) return false;
    if (w.fields.length > 0 && !matchesFields(w.fields, w.type.storedAs ? w.type.storedAs.fromStored(o) : o)) return false;
    return true;
  }

  /** The event a watcher sees: objects moving out of (into) its selector are DELETED (ADDED) for it. */
  private eventFor(w: Watcher, ev: HistoryEvent): WatchEvent | undefined {
    const now = this.matches(w, ev.object);
    if (ev.type === 'MODIFIED') {
      const before = ev.prev ? this.matches(w, ev.prev) : false;
      if (!now && !before) return undefined;
      const type = now && before ? 'MODIFIED' : now ? 'ADDED' : 'DELETED';
      return { type, object: this.asVersion(ev.object, w.type) };
    }
    return now ? { type: ev.type, object: this.asVersion(ev.object, w.type) } : undefined;
  }

  private safeCall(listener: WatchListener, event: WatchEvent): void {
    try {
      listener(event);
    } catch (e) {
      this.onListenerError(e);
    }
  }

  private logged<T>(verb: Verb, ref: ResourceRef, namespace: string | undefined, name: string | undefined, subresource: string | undefined, client: string | undefined, fn: () => T): T {
    if (client === HTTP_CLIENT_MARK) return fn();
    let code = verb === 'create' ? 201 : 200;
    try {
      return fn();
    } catch (e) {
      code = e instanceof ApiError ? e.code : 500;
      throw e;
    } finally {
      this.requestLog.record({
        time: rfc3339(this.now()),
        verb,
        resource: qualifiedResource(ref.resource, ref.group),
        ...(subresource ? { subresource } : {}),
        ...(namespace ? { namespace } : {}),
        ...(name ? { name } : {}),
        code,
        client: client ?? 'in-process',
        source: 'in-process',
      });
    }
  }
}

/** Marks calls that the HTTP layer already logs (it passes this as `client`, then its own name as fieldManager). */
export const HTTP_CLIENT_MARK = '\u0000http';

const NAMESPACE_FINALIZER = '\u0000namespace';

function upperBound(sorted: string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function setAtPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    if (!isPlainObject(cur[p])) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

/** Whether anything outside metadata (and status, when it is a subresource) changed: that bumps generation. */
function specChanged(old: KubeObject, next: KubeObject, statusIsSubresource: boolean): boolean {
  const keys = new Set([...Object.keys(old), ...Object.keys(next)]);
  for (const k of keys) {
    if (k === 'metadata' || k === 'apiVersion' || k === 'kind' || (statusIsSubresource && k === 'status')) continue;
    if (!deepEqual(old[k], next[k])) return true;
  }
  return false;
}

/** A write that changes nothing but managedFields timestamps is a no-op: no new resourceVersion, no event. */
function sameIgnoringManagedTimes(old: KubeObject, next: KubeObject): boolean {
  const strip = (o: KubeObject) => ({ ...o, metadata: { ...o.metadata, managedFields: (o.metadata.managedFields ?? []).map((m) => ({ ...m, time: '' })) } });
  return deepEqual(strip(old), strip(next));
}

function validateCrd(crd: KubeObject): FieldError[] {
  const spec = crd['spec'] as { group?: string; names?: { plural?: string; kind?: string }; versions?: unknown[]; scope?: string } | undefined;
  const errors: FieldError[] = [];
  if (!spec?.group) errors.push({ path: 'spec.group', type: 'Required', message: 'Required value' });
  if (!spec?.names?.plural) errors.push({ path: 'spec.names.plural', type: 'Required', message: 'Required value' });
  if (!spec?.names?.kind) errors.push({ path: 'spec.names.kind', type: 'Required', message: 'Required value' });
  if (!spec?.versions?.length) errors.push({ path: 'spec.versions', type: 'Invalid', message: 'Invalid value: "null": must have exactly one version marked as storage version' });
  if (spec?.scope !== 'Namespaced' && spec?.scope !== 'Cluster') errors.push({ path: 'spec.scope', type: 'NotSupported', message: `Unsupported value: ${JSON.stringify(spec?.scope ?? '')}: supported values: "Cluster", "Namespaced"` });
  if (spec?.group && spec.names?.plural && crd.metadata.name !== `${spec.names.plural}.${spec.group}`) {
    errors.push({ path: 'metadata.name', type: 'Invalid', message: `Invalid value: ${JSON.stringify(crd.metadata.name)}: must be spec.names.plural+"."+spec.group` });
  }
  return errors;
}

/** The status the apiextensions controllers give a CRD: names accepted and established at once. */
function crdWithStatus(crd: KubeObject, now: string, old?: KubeObject): KubeObject {
  const spec = crd['spec'] as { names: Record<string, unknown>; versions: { name: string; storage?: boolean }[] };
  const oldStatus = (old?.['status'] ?? {}) as { conditions?: { type: string; lastTransitionTime: string }[]; storedVersions?: string[] };
  const since = (type: string) => oldStatus.conditions?.find((c) => c.type === type)?.lastTransitionTime ?? now;
  const stored = new Set([...(oldStatus.storedVersions ?? []), ...spec.versions.filter((v) => v.storage).map((v) => v.name)]);
  crd['status'] = {
    acceptedNames: clone(spec.names),
    conditions: [
      { type: 'NamesAccepted', status: 'True', lastTransitionTime: since('NamesAccepted'), reason: 'NoConflicts', message: 'no conflicts found' },
      { type: 'Established', status: 'True', lastTransitionTime: since('Established'), reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
    ],
    storedVersions: [...stored],
  };
  return crd;
}
