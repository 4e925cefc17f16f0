/**
 * An in-memory KubeClient for unit tests: the API server semantics reconcile code depends on, without HTTP.
 *
 * Emulated: one global resourceVersion; uid and creationTimestamp; generation (custom resources and the
 * workload/policy kinds) bumped only by changes outside metadata and status, and when deletion starts; no-op
 * writes keep the resourceVersion and emit nothing; optimistic concurrency (stale resourceVersion = 409);
 * status subresource isolation (custom resources and the built-ins that have one); server-side apply per field
 * manager (maps merged key by key, fields a manager stops applying removed, 409 on another manager's differing
 * field unless forced); merge and JSON patch; delete preconditions, finalizers, ownerReference cascade
 * (background and foreground both delete dependents at once; Orphan strips the reference); watches from a
 * resourceVersion with ADDED/MODIFIED/DELETED (selector moves become ADDED/DELETED) and 410 Expired for
 * compacted history; a request log; injected failures.
 *
 * Not emulated: lists are atomic in apply and strategic merge patch is a merge patch (the real server merges
 * containers, env, ports… by key); no managedFields; no defaulting, validation or schema pruning; no namespace
 * lifecycle (creating in a missing namespace works); `limit` is ignored (one page); no bookmarks; no admission.
 */
import { randomUUID } from 'node:crypto';
import { eventObject, rfc3339 } from './events.js';
import {
  KubeApiError,
  Resources,
  objectKey,
  type ApplyOptions,
  type DeleteOptions,
  type EventInput,
  type KubeClient,
  type KubeObject,
  type ListOptions,
  type ObjectList,
  type PatchOptions,
  type PatchType,
  type ResourceType,
  type Watch,
  type WatchEvent,
  type WatchOptions,
} from './port.js';
import { matchesFieldSelector, matchesLabelSelector, parseLabelSelector } from './selectors.js';

export type FakeVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

/** One call the fake served (or failed). `resource` is the plural, e.g. "daemonsets". */
export interface FakeRequest {
  verb: FakeVerb;
  resource: string;
  name?: string;
  namespace?: string;
  subresource?: string;
}

/** Which requests an injected failure hits; omitted fields match anything. */
export interface FakeRequestMatch {
  verb?: FakeVerb | readonly FakeVerb[];
  resource?: string;
  name?: string;
  namespace?: string;
  subresource?: string;
}

export interface FakeFailureOptions {
  /** How many matching requests fail (default 1). */
  count?: number;
  retryAfterSeconds?: number;
  /** Status reason (default from the status: Conflict, TooManyRequests, InternalError, …). */
  reason?: string;
  message?: string;
}

export interface FakeKubeOptions {
  /** Clock for creationTimestamp, deletionTimestamp and events. */
  now?: () => Date;
  /** Watch events kept for resuming watches (default 1000); older resourceVersions get 410. */
  historySize?: number;
  /** Kinds besides `Resources` that create/replace/apply will see (others get a plural guessed from the kind). */
  types?: readonly ResourceType[];
  /** Field manager apply uses by default (default "slmops-operator"). */
  fieldManager?: string;
}

/** The fake client plus what a test needs to inspect and perturb it. */
export interface FakeKube extends KubeClient {
  /** Every request in order; clear it with `requests.length = 0`. */
  readonly requests: FakeRequest[];
  /** The requests that wrote (create, update, patch, delete). */
  writes(): FakeRequest[];
  /** The next `count` requests matching `match` throw KubeApiError(status) instead of running. */
  failNext(match: FakeRequestMatch, status: number, options?: FakeFailureOptions): void;
  /** Forgets watch history: watches from any resourceVersion before now get 410 Expired. */
  compact(): void;
  /** Ends every open watch normally (done resolves), as a server closing its watches does. Returns how many. */
  closeWatches(): number;
  /** Stored objects of a type, sorted by namespace/name, without logging a request. */
  objects<T extends KubeObject = KubeObject>(type: ResourceType, namespace?: string): T[];
  /** The current resourceVersion. */
  readonly resourceVersion: string;
  /** Resolves once every queued watch event has been delivered. */
  settle(): Promise<void>;
}

type Obj = Record<string, unknown>;

const GENERATION_KINDS = new Set(['Deployment', 'DaemonSet', 'ReplicaSet', 'StatefulSet', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy', 'Job']);
const STATUS_KINDS = new Set(['Pod', 'Node', 'Namespace', 'Service', 'Deployment', 'DaemonSet', 'ReplicaSet', 'StatefulSet', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Job']);
const REASONS: Record<number, string> = { 400: 'BadRequest', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 410: 'Expired', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' };
const SYSTEM_META = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'managedFields', 'selfLink'] as const;

const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');
/** Custom resources: groups outside Kubernetes' own (which are empty, dot-free or end in k8s.io). */
const isCustom = (t: ResourceType) => {
  const g = groupOf(t.apiVersion);
  return g.includes('.') && !g.endsWith('k8s.io');
};
const hasGeneration = (t: ResourceType) => isCustom(t) || GENERATION_KINDS.has(t.kind);
const hasStatus = (t: ResourceType) => isCustom(t) || STATUS_KINDS.has(t.kind);
const qualified = (t: ResourceType) => (groupOf(t.apiVersion) ? `${t.plural}.${groupOf(t.apiVersion)}` : t.plural);
const storageKey = (t: ResourceType) => `${groupOf(t.apiVersion)}/${t.plural}`;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** RFC 7386 merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const unescapePointer = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

/** RFC 6902 JSON patch (add, remove, replace, move, copy, test); a failed op is a 422. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new KubeApiError(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = clone(target);
  const fail = (msg: string) => new KubeApiError(422, 'Invalid', msg);
  const walk = (path: string): { parent: Obj | unknown[]; key: string } => {
    const parts = path.split('/').slice(1).map(unescapePointer);
    let cur: unknown = doc;
    for (const p of parts.slice(0, -1)) {
      cur = Array.isArray(cur) ? cur[Number(p)] : isObj(cur) ? cur[p] : undefined;
      if (cur === undefined) throw fail(`doc is missing path: "${path}"`);
    }
    return { parent: cur as Obj | unknown[], key: parts[parts.length - 1]! };
  };
  const read = (path: string): unknown => {
    if (path === '') return doc;
    const { parent, key } = walk(path);
    return Array.isArray(parent) ? parent[Number(key)] : (parent as Obj)[key];
  };
  const remove = (path: string) => {
    const { parent, key } = walk(path);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else if (key in parent) delete (parent as Obj)[key];
    else throw fail(`unable to remove nonexistent key: ${key}`);
  };
  const add = (path: string, value: unknown, replace: boolean) => {
    if (path === '') {
      doc = clone(value);
      return;
    }
    const { parent, key } = walk(path);
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (replace) parent[i] = clone(value);
      else parent.splice(i, 0, clone(value));
    } else {
      if (replace && !(key in parent)) throw fail(`replace operation does not apply: doc is missing key: ${path}`);
      (parent as Obj)[key] = clone(value);
    }
  };
  for (const op of ops as { op: string; path: string; from?: string; value?: unknown }[]) {
    switch (op.op) {
      case 'add':
        add(op.path, op.value, false);
        break;
      case 'replace':
        add(op.path, op.value, true);
        break;
      case 'remove':
        remove(op.path);
        break;
      case 'move': {
        const v = read(op.from!);
        remove(op.from!);
        add(op.path, v, false);
        break;
      }
      case 'copy':
        add(op.path, read(op.from!), false);
        break;
      case 'test':
        if (!deepEqual(read(op.path), op.value)) throw fail(`testing value ${op.path} failed`);
        break;
      default:
        throw new KubeApiError(400, 'BadRequest', `unexpected kind: ${op.op}`);
    }
  }
  return doc;
}

// ---------------------------------------------------------------- server-side apply field sets

/** Leaf paths of an applied object: map keys recurse, lists and scalars are leaves (atomic). */
function leafPaths(value: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  if (isObj(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) leafPaths(v, [...prefix, k], out);
  } else if (prefix.length > 0) out.push(prefix);
  return out;
}

const pathKey = (p: readonly string[]) => p.join('\u0000');
const pathOf = (k: string) => k.split('\u0000');

function valueAt(o: unknown, path: readonly string[]): unknown {
  let cur = o;
  for (const p of path) cur = isObj(cur) ? cur[p] : undefined;
  return cur;
}

/** Deletes a path, then the maps it leaves empty (below the top-level fields). */
function deleteAt(o: Obj, path: readonly string[]): void {
  const chain: Obj[] = [o];
  for (const p of path.slice(0, -1)) {
    const next = chain[chain.length - 1]![p];
    if (!isObj(next)) return;
    chain.push(next);
  }
  delete chain[chain.length - 1]![path[path.length - 1]!];
  for (let i = chain.length - 1; i >= 2; i--) if (Object.keys(chain[i]!).length === 0) delete chain[i - 1]![path[i - 1]!];
}

/** Maps merge key by key; everything else (lists included) is replaced. */
function applyMerge(target: unknown, applied: unknown): unknown {
  if (!isObj(applied) || !isObj(target)) return clone(applied);
  const out: Obj = { ...target };
  for (const [k, v] of Object.entries(applied)) out[k] = applyMerge(out[k], v);
  return out;
}

/** The part of an applied object that is field-owned: identity fields are not. */
function ownedPart(o: KubeObject, status: 'only' | 'without' | 'all'): Obj {
  const { apiVersion: _a, kind: _k, metadata, ...rest } = clone(o) as Obj & { metadata?: Obj };
  const meta: Obj = { ...(metadata ?? {}) };
  for (const k of ['name', 'namespace', 'generateName', ...SYSTEM_META]) delete meta[k];
  if (status === 'only') return isObj(rest['status']) || rest['status'] !== undefined ? { status: rest['status'] } : {};
  if (status === 'without') delete rest['status'];
  return { ...(Object.keys(meta).length > 0 ? { metadata: meta } : {}), ...rest };
}

// ---------------------------------------------------------------- watches

interface HistoryEvent {
  rv: number;
  sk: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  previous?: KubeObject;
}

interface Watcher {
  sk: string;
  namespace: string | undefined;
  labels: ReturnType<typeof parseLabelSelector>;
  fieldSelector: string | undefined;
  deliver: (event: WatchEvent) => void;
  end: (error?: unknown) => void;
  closed: boolean;
}

/** An in-memory KubeClient with API server semantics (see the module comment for what it leaves out). */
export function createFakeKube(options: FakeKubeOptions = {}): FakeKube {
  return new FakeKubeImpl(options);
}

class FakeKubeImpl implements FakeKube {
  readonly requests: FakeRequest[] = [];
  private readonly now: () => Date;
  private readonly historySize: number;
  private readonly fieldManager: string;
  private readonly types = new Map<string, ResourceType>();
  private readonly store = new Map<string, Map<string, KubeObject>>();
  /** Server-side apply ownership: object uid -> manager -> owned leaf paths. */
  private readonly owners = new Map<string, Map<string, Set<string>>>();
  private readonly history: HistoryEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private failures: (FakeRequestMatch & FakeFailureOptions & { status: number; remaining: number })[] = [];
  private rv = 1;
  private compactedRv = 0;
  private pending = 0;

  constructor(options: FakeKubeOptions) {
    this.now = options.now ?? (() => new Date());
    this.historySize = options.historySize ?? 1000;
    this.fieldManager = options.fieldManager ?? 'slmops-operator';
    for (const t of [...Object.values(Resources), ...(options.types ?? [])]) this.types.set(`${t.apiVersion}/${t.kind}`, t);
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  writes(): FakeRequest[] {
    return this.requests.filter((r) => r.verb === 'create' || r.verb === 'update' || r.verb === 'patch' || r.verb === 'delete');
  }

  failNext(match: FakeRequestMatch, status: number, options: FakeFailureOptions = {}): void {
    this.failures.push({ ...match, ...options, status, remaining: options.count ?? 1 });
  }

  compact(): void {
    this.history.length = 0;
    this.compactedRv = this.rv;
  }

  closeWatches(): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) w.end();
    return n;
  }

  objects<T extends KubeObject = KubeObject>(type: ResourceType, namespace?: string): T[] {
    return this.sorted(type, namespace).map((o) => clone(o) as T);
  }

  async settle(): Promise<void> {
    for (let i = 0; i < 50 && this.pending > 0; i++) await new Promise((r) => setImmediate(r));
  }

  // ---------------------------------------------------------------- request bookkeeping

  private typeFor(object: KubeObject): ResourceType {
    const known = this.types.get(`${object.apiVersion}/${object.kind}`);
    if (known) return known;
    const lower = object.kind.toLowerCase();
    const plural = lower.endsWith('y') ? `${lower.slice(0, -1)}ies` : lower.endsWith('s') ? `${lower}es` : `${lower}s`;
    return { apiVersion: object.apiVersion, kind: object.kind, plural, namespaced: object.metadata.namespace !== undefined };
  }

  private request(req: FakeRequest): void {
    const clean = Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined)) as unknown as FakeRequest;
    this.requests.push(clean);
    const rule = this.failures.find((f) => {
      if (f.remaining <= 0) return false;
      const verbs = f.verb === undefined ? undefined : Array.isArray(f.verb) ? f.verb : [f.verb];
      if (verbs && !verbs.includes(req.verb)) return false;
      return (f.resource === undefined || f.resource === req.resource) && (f.name === undefined || f.name === req.name) && (f.namespace === undefined || f.namespace === req.namespace) && (f.subresource === undefined || f.subresource === req.subresource);
    });
    if (!rule) return;
    rule.remaining--;
    this.failures = this.failures.filter((f) => f.remaining > 0);
    const reason = rule.reason ?? REASONS[rule.status] ?? 'InternalError';
    throw new KubeApiError(rule.status, reason, rule.message ?? `injected failure: ${reason}`, rule.retryAfterSeconds);
  }

  private bucket(t: ResourceType): Map<string, KubeObject> {
    let b = this.store.get(storageKey(t));
    if (!b) this.store.set(storageKey(t), (b = new Map()));
    return b;
  }

  private ns(t: ResourceType, namespace: string | undefined): string | undefined {
    return t.namespaced ? namespace || 'default' : undefined;
  }

  private sorted(t: ResourceType, namespace?: string): KubeObject[] {
    return [...this.bucket(t).entries()]
      .filter(([, o]) => !t.namespaced || !namespace || o.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
  }

  private existing(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const o = this.bucket(t).get(objectKey({ metadata: { name, ...(namespace ? { namespace } : {}) } }));
    if (!o) throw new KubeApiError(404, 'NotFound', `${qualified(t)} "${name}" not found`);
    return o;
  }

  private conflict(t: ResourceType, name: string): KubeApiError {
    return new KubeApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(t)} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
  }

  // ---------------------------------------------------------------- the one write path

  /** Stores `next` over `old`: no-op detection, generation, resourceVersion, finalizer-completed deletion, events. */
  private commit(t: ResourceType, old: KubeObject, next: KubeObject): KubeObject {
    if (deepEqual({ ...next, metadata: { ...next.metadata, resourceVersion: undefined } }, { ...old, metadata: { ...old.metadata, resourceVersion: undefined } })) return clone(old);
    const strip = (o: KubeObject) => {
      const { metadata: _m, ...rest } = o;
      if (hasStatus(t)) delete rest['status'];
      return rest;
    };
    if (hasGeneration(t) && !deepEqual(strip(old), strip(next))) next.metadata.generation = (old.metadata.generation ?? 1) + 1;
    next.metadata.resourceVersion = String(++this.rv);
    const key = objectKey(next);
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      this.bucket(t).delete(key);
      this.emit(t, 'DELETED', next, old);
      this.collect(t, next, undefined);
      return clone(next);
    }
    this.bucket(t).set(key, next);
    this.emit(t, 'MODIFIED', next, old);
    return clone(next);
  }

  private insert(t: ResourceType, object: KubeObject): KubeObject {
    const o = clone(object);
    o.apiVersion = t.apiVersion;
    o.kind = t.kind;
    const meta = o.metadata ?? ({} as KubeObject['metadata']);
    o.metadata = meta;
    const namespace = this.ns(t, meta.namespace);
    if (namespace) meta.namespace = namespace;
    else delete meta.namespace;
    for (const k of SYSTEM_META) delete meta[k];
    if (!meta.name) {
      if (!meta.generateName) throw new KubeApiError(422, 'Invalid', `${t.kind} "" is invalid: metadata.name: Required value: name or generateName is required`);
      // Retry suffix collisions, as the API server does since 1.30.
      for (let i = 0; i < 8 && (!meta.name || this.bucket(t).has(objectKey(o))); i++) meta.name = `${meta.generateName}${randomUUID().replace(/-/g, '').slice(0, 5)}`;
    }
    if (this.bucket(t).has(objectKey(o))) throw new KubeApiError(409, 'AlreadyExists', `${qualified(t)} "${meta.name}" already exists`);
    if (hasStatus(t)) delete o['status'];
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(this.now());
    if (hasGeneration(t)) meta.generation = 1;
    meta.resourceVersion = String(++this.rv);
    this.bucket(t).set(objectKey(o), o);
    this.emit(t, 'ADDED', o);
    return o;
  }

  // ---------------------------------------------------------------- KubeClient

  async get<T extends KubeObject = KubeObject>(type: ResourceType, name: string, namespace?: string): Promise<T | undefined> {
    const ns = this.ns(type, namespace);
    this.request({ verb: 'get', resource: type.plural, name, namespace: ns });
    const o = this.bucket(type).get(objectKey({ metadata: { name, ...(ns ? { namespace: ns } : {}) } }));
    return o ? (clone(o) as T) : undefined;
  }

  async list<T extends KubeObject = KubeObject>(type: ResourceType, options: ListOptions = {}): Promise<ObjectList<T>> {
    const ns = type.namespaced ? options.namespace : undefined;
    this.request({ verb: 'list', resource: type.plural, namespace: ns });
    const labels = parseLabelSelector(options.labelSelector ?? '');
    const items = this.sorted(type, ns).filter((o) => matchesLabelSelector(labels, o.metadata.labels) && matchesFieldSelector(options.fieldSelector, o));
    return { items: items.map((o) => clone(o) as T), resourceVersion: String(this.rv) };
  }

  async watch<T extends KubeObject = KubeObject>(type: ResourceType, options: WatchOptions, onEvent: (event: WatchEvent<T>) => void): Promise<Watch> {
    const ns = type.namespaced ? options.namespace : undefined;
    this.request({ verb: 'watch', resource: type.plural, namespace: ns });
    let settle!: { resolve: () => void; reject: (e: unknown) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    done.catch(() => undefined);
    const w: Watcher = {
      sk: storageKey(type),
      namespace: ns,
      labels: parseLabelSelector(options.labelSelector ?? ''),
      fieldSelector: options.fieldSelector,
      closed: false,
      deliver: (event) => {
        if (w.closed) return;
        try {
          onEvent(clone(event) as WatchEvent<T>);
        } catch (e) {
          w.end(e);
        }
      },
      end: (error) => {
        if (w.closed) return;
        w.closed = true;
        this.watchers.delete(w);
        if (error === undefined) settle.resolve();
        else settle.reject(error);
      },
    };
    const from = options.resourceVersion;
    const replay: WatchEvent[] = [];
    if (from === '' || from === '0' || from === undefined) {
      for (const o of this.sorted(type, ns)) if (this.matches(w, o)) replay.push({ type: 'ADDED', object: o });
    } else {
      const rv = Number(from);
      if (!Number.isInteger(rv) || rv < this.compactedRv) {
        const error = new KubeApiError(410, 'Expired', `too old resource version: ${from} (${this.rv})`);
        this.later(() => w.end(error));
        return { stop: () => w.end(), done };
      }
      for (const ev of this.history) {
        if (ev.rv <= rv || ev.sk !== w.sk) continue;
        const out = this.eventFor(w, ev);
        if (out) replay.push(out);
      }
    }
    this.watchers.add(w);
    for (const ev of replay) this.later(() => w.deliver(ev));
    return { stop: () => w.end(), done };
  }

  async create<T extends KubeObject = KubeObject>(object: T): Promise<T> {
    const t = this.typeFor(object);
    this.request({ verb: 'create', resource: t.plural, name: object.metadata.name || undefined, namespace: this.ns(t, object.metadata.namespace) });
    return clone(this.insert(t, object)) as T;
  }

  async replace<T extends KubeObject = KubeObject>(object: T, options: { subresource?: 'status' | 'scale' } = {}): Promise<T> {
    const t = this.typeFor(object);
    const ns = this.ns(t, object.metadata.namespace);
    const name = object.metadata.name;
    this.request({ verb: 'update', resource: t.plural, name, namespace: ns, subresource: options.subresource });
    const old = this.existing(t, ns, name);
    const rv = object.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw this.conflict(t, name);
    if ((rv === undefined || rv === '') && isCustom(t)) throw new KubeApiError(422, 'Invalid', `${t.kind}.${groupOf(t.apiVersion)} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`);
    return this.commit(t, old, this.merged(t, old, clone(object), options.subresource)) as T;
  }

  /** What a full-object write leaves: identity and system metadata from `old`, status per the subresource rules. */
  private merged(t: ResourceType, old: KubeObject, body: KubeObject, subresource: string | undefined): KubeObject {
    if (subresource === 'status') {
      const next = clone(old);
      if (body['status'] === undefined) delete next['status'];
      else next['status'] = body['status'];
      return next;
    }
    const next: KubeObject = { ...body, apiVersion: t.apiVersion, kind: t.kind, metadata: { ...body.metadata } };
    for (const k of ['name', 'namespace', 'uid', 'creationTimestamp', 'generation', 'deletionTimestamp'] as const) {
      const meta = next.metadata as Record<string, unknown>;
      if (old.metadata[k] === undefined) delete meta[k];
      else meta[k] = old.metadata[k];
    }
    if (old.metadata.deletionTimestamp) {
      // No new finalizers once deletion started.
      next.metadata.finalizers = (next.metadata.finalizers ?? []).filter((f) => (old.metadata.finalizers ?? []).includes(f));
      if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers;
    }
    if (hasStatus(t)) {
      if (old['status'] === undefined) delete next['status'];
      else next['status'] = clone(old['status']);
    }
    return next;
  }

  async apply<T extends KubeObject = KubeObject>(object: KubeObject, options: ApplyOptions = {}): Promise<T> {
    const t = this.typeFor(object);
    const ns = this.ns(t, object.metadata.namespace);
    const name = object.metadata.name;
    this.request({ verb: 'patch', resource: t.plural, name, namespace: ns, subresource: options.subresource });
    const manager = options.fieldManager ?? this.fieldManager;
    const force = options.force ?? true;
    const key = objectKey({ metadata: { name, ...(ns ? { namespace: ns } : {}) } });
    const old = this.bucket(t).get(key);
    const part = ownedPart(object, options.subresource === 'status' ? 'only' : hasStatus(t) ? 'without' : 'all');
    const paths = new Set(leafPaths(part).map(pathKey));
    if (!old) {
      if (options.subresource) throw new KubeApiError(404, 'NotFound', `${qualified(t)} "${name}" not found`);
      if (options.dryRun) return clone({ ...object, metadata: { ...object.metadata, namespace: ns } }) as T;
      const created = this.insert(t, { ...object, metadata: { ...object.metadata, ...(ns ? { namespace: ns } : {}) } });
      this.owners.set(created.metadata.uid!, new Map([[manager, paths]]));
      return clone(created) as T;
    }
    if (object.metadata.resourceVersion && object.metadata.resourceVersion !== old.metadata.resourceVersion) throw this.conflict(t, name);
    const owners = new Map([...(this.owners.get(old.metadata.uid!) ?? new Map<string, Set<string>>())].map(([m, s]) => [m, new Set(s)]));
    const conflicts: string[] = [];
    for (const [other, owned] of owners) {
      if (other === manager) continue;
      for (const p of owned) {
        const overlapping = [...paths].filter((q) => q === p || q.startsWith(`${p}\u0000`) || p.startsWith(`${q}\u0000`));
        if (overlapping.length === 0) continue;
        const differs = overlapping.some((q) => !deepEqual(valueAt(old, pathOf(q)), valueAt(part, pathOf(q))));
        if (!differs) continue;
        if (force) owned.delete(p);
        else conflicts.push(`conflict with "${other}": .${pathOf(p).join('.')}`);
      }
    }
    if (conflicts.length > 0) throw new KubeApiError(409, 'Conflict', `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}: ${conflicts.join(', ')}`);
    let next = clone(old) as Obj;
    const coOwned = (p: string) => [...owners].some(([m, s]) => m !== manager && s.has(p));
    for (const p of owners.get(manager) ?? []) if (!paths.has(p) && !coOwned(p)) deleteAt(next, pathOf(p));
    next = applyMerge(next, part) as Obj;
    let result: KubeObject;
    if (options.subresource === 'status') {
      // Only status moves through the status subresource.
      result = clone(old);
      if (next['status'] === undefined) delete result['status'];
      else result['status'] = next['status'];
    } else result = this.merged(t, old, next as KubeObject, undefined);
    if (options.dryRun) return clone(result) as T;
    owners.set(manager, paths);
    this.owners.set(old.metadata.uid!, owners);
    return this.commit(t, old, result) as T;
  }

  async patch<T extends KubeObject = KubeObject>(type: ResourceType, name: string, namespace: string | undefined, patch: unknown, patchType: PatchType, options: PatchOptions = {}): Promise<T> {
    const ns = this.ns(type, namespace);
    this.request({ verb: 'patch', resource: type.plural, name, namespace: ns, subresource: options.subresource });
    const old = this.existing(type, ns, name);
    const patched = (patchType === 'json' ? jsonPatch(old, patch) : mergePatch(old, patch)) as KubeObject;
    const rv = isObj(patch) && isObj(patch['metadata']) ? patch['metadata']['resourceVersion'] : undefined;
    if (typeof rv === 'string' && rv !== old.metadata.resourceVersion) throw this.conflict(type, name);
    patched.metadata.resourceVersion = old.metadata.resourceVersion;
    return this.commit(type, old, this.merged(type, old, patched, options.subresource)) as T;
  }

  async delete(type: ResourceType, name: string, namespace?: string, options: DeleteOptions = {}): Promise<boolean> {
    const ns = this.ns(type, namespace);
    this.request({ verb: 'delete', resource: type.plural, name, namespace: ns });
    const old = this.bucket(type).get(objectKey({ metadata: { name, ...(ns ? { namespace: ns } : {}) } }));
    if (!old) return false;
    const pre = options.preconditions;
    if (pre?.uid !== undefined && pre.uid !== old.metadata.uid) {
      throw new KubeApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(type)} "${name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    }
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw new KubeApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(type)} "${name}": Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`);
    }
    this.remove(type, old, options.propagationPolicy);
    return true;
  }

  /** Deletes now, or marks for deletion while finalizers remain; then garbage-collects dependents. */
  private remove(t: ResourceType, old: KubeObject, policy: DeleteOptions['propagationPolicy']): void {
    if ((old.metadata.finalizers ?? []).length > 0) {
      if (old.metadata.deletionTimestamp) return;
      const next = clone(old);
      next.metadata.deletionTimestamp = rfc3339(this.now());
      if (hasGeneration(t)) next.metadata.generation = (old.metadata.generation ?? 1) + 1;
      next.metadata.resourceVersion = String(++this.rv);
      this.bucket(t).set(objectKey(next), next);
      this.emit(t, 'MODIFIED', next, old);
      return;
    }
    this.bucket(t).delete(objectKey(old));
    const gone = clone(old);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit(t, 'DELETED', gone, old);
    this.collect(t, old, policy);
  }

  /** ownerReference garbage collection for a deleted owner. */
  private collect(_t: ResourceType, owner: KubeObject, policy: DeleteOptions['propagationPolicy']): void {
    const uid = owner.metadata.uid;
    this.owners.delete(uid ?? '');
    for (const [sk, bucket] of this.store) {
      for (const dep of [...bucket.values()]) {
        const refs = dep.metadata.ownerReferences ?? [];
        if (!refs.some((r) => r.uid === uid)) continue;
        const depType = [...this.types.values()].find((x) => storageKey(x) === sk) ?? this.typeFor(dep);
        if (policy === 'Orphan') {
          const next = clone(dep);
          next.metadata.ownerReferences = refs.filter((r) => r.uid !== uid);
          if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
          this.commit(depType, dep, next);
        } else if (refs.every((r) => r.uid === uid || !this.uidExists(r.uid))) this.remove(depType, dep, policy);
      }
    }
  }

  private uidExists(uid: string): boolean {
    for (const bucket of this.store.values()) for (const o of bucket.values()) if (o.metadata.uid === uid) return true;
    return false;
  }

  async createEvent(event: EventInput): Promise<void> {
    await this.create(eventObject(event, this.fieldManager, this.now()));
  }

  // ---------------------------------------------------------------- watch delivery

  private matches(w: Watcher, o: KubeObject): boolean {
    if (w.namespace && o.metadata.namespace !== w.namespace) return false;
    return matchesLabelSelector(w.labels, o.metadata.labels) && matchesFieldSelector(w.fieldSelector, o);
  }

  /** The event a watcher sees: moves into or out of its selector become ADDED or DELETED. */
  private eventFor(w: Watcher, ev: HistoryEvent): WatchEvent | undefined {
    const now = this.matches(w, ev.object);
    const before = ev.previous !== undefined && this.matches(w, ev.previous);
    if (ev.type === 'MODIFIED') {
      if (now && before) return { type: 'MODIFIED', object: ev.object };
      if (now) return { type: 'ADDED', object: ev.object };
      if (before) return { type: 'DELETED', object: ev.object };
      return undefined;
    }
    return now ? { type: ev.type, object: ev.object } : undefined;
  }

  private later(fn: () => void): void {
    this.pending++;
    queueMicrotask(() => {
      this.pending--;
      fn();
    });
  }

  private emit(t: ResourceType, type: HistoryEvent['type'], object: KubeObject, previous?: KubeObject): void {
    const ev: HistoryEvent = { rv: Number(object.metadata.resourceVersion), sk: storageKey(t), type, object: clone(object), ...(previous ? { previous: clone(previous) } : {}) };
    this.history.push(ev);
    while (this.history.length > this.historySize) this.compactedRv = this.history.shift()!.rv;
    for (const w of this.watchers) {
      if (w.sk !== ev.sk) continue;
      const out = this.eventFor(w, ev);
      if (out) this.later(() => w.deliver(out));
    }
  }
}
