/**
 * The simulator: the kube-controller-manager (DaemonSet, Deployment, ReplicaSet, pod GC and node lifecycle
 * controllers), kube-scheduler and kubelets of a simulated fleet, driven by watches on an emulator Store and
 * writing through the Store's public write path, so resourceVersions, watch events, request counters and
 * ownerReference garbage collection behave exactly as for any other client.
 *
 * Work is level-triggered and batched: watch events mark objects dirty, and one pass (on the next macrotask)
 * reconciles each dirty object once from in-memory caches indexed by owner and node, so a pass costs
 * O(changed objects x their pods/nodes), never O(all pods x all nodes).
 */
import type { Store, WatchEvent } from '../server/store.js';
import { resources } from '../server/store.js';
import type { KubeObject as StoreObject, ResourceRef } from '../server/types.js';
import { reconcileDaemonSet } from './daemonset.js';
import { reconcileDeployment } from './deployment.js';
import { generateFleet, nodeCameOnline, nodeWentOffline, pickPercent, type FleetOptions } from './fleet.js';
import { kubeletSync, type KubeletInput } from './kubelet.js';
import { controllerOf, isNodeReady, isTerminating, jsonEqual } from './meta.js';
import { PORTS_ANNOTATION, PROCESS_POD_IP, ProcessRunner, type ProcessRunnerOptions } from './process-runner.js';
import { reconcileReplicaSet } from './replicaset.js';
import { addUsage, podRequests, schedulePod, type NodeUsage } from './scheduler.js';
import type { Action, ControllerRevision, DaemonSet, Deployment, KubeObject, Node, Pod, ReplicaSet, SimKind } from './types.js';

/** Clients (and so field managers) the simulator writes as, so request-log filters can tell them apart. */
export const SIMULATOR_CLIENTS = {
  controllers: 'kube-controller-manager/v1.33.1 (simulator)',
  scheduler: 'kube-scheduler/v1.33.1 (simulator)',
  kubelet: 'kubelet/v1.33.1 (simulator)',
  fleet: 'simulator/fleet',
} as const;

export interface SimulatorOptions {
  store: Store;
  /** Delay from a pod being bound to a Ready node until it runs (ms). Default 200. */
  podStartDelayMs?: number;
  /** Delay from running until Ready, for pods whose readiness has no other source (ms). Default 300. */
  podReadyDelayMs?: number;
  /**
   * Readiness of pods that are not process-backed: return false to hold a pod not Ready (a bad version),
   * true or undefined to let it pass. Re-evaluated on every pod event and on `resync()`.
   */
  readiness?: (pod: Pod) => boolean | undefined;
  /** Process runner options (registry of commands for the `sim.slmops.io/run` annotation, probe timing). */
  processes?: Omit<ProcessRunnerOptions, 'onChange'>;
  /** Clock (ms). Default Date.now. */
  now?: () => number;
  /** Reports a write or process failure the simulator retries or skips (default: console.error). */
  onError?: (error: unknown, context: string) => void;
}

type Kind = SimKind;

const REFS: Record<Kind, ResourceRef> = {
  Pod: resources.pods,
  Node: resources.nodes,
  DaemonSet: resources.daemonsets,
  Deployment: resources.deployments,
  ReplicaSet: resources.replicasets,
  ControllerRevision: resources.controllerrevisions,
};

const CONFLICT_RETRY_MS = 50;
const WATCHED: readonly Kind[] = ['Node', 'Pod', 'DaemonSet', 'Deployment', 'ReplicaSet', 'ControllerRevision'];

function rvOf(o: KubeObject): number {
  return Number(o.metadata.resourceVersion ?? 0);
}

function isApiError(e: unknown, code: number): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/** Objects of one kind keyed by uid, newest resourceVersion wins (own writes and watch events race). */
class Cache<T extends KubeObject> {
  readonly byUid = new Map<string, T>();
  /** uid -> resourceVersion of its deletion, so late events cannot bring a deleted object back. */
  private readonly tombstones = new Map<string, number>();

  /** Stores `o` if it is newer; returns the previous version, or undefined. 'stale' when ignored. */
  upsert(o: T): T | undefined | 'stale' {
    const uid = o.metadata.uid ?? '';
    const dead = this.tombstones.get(uid);
    if (dead !== undefined && rvOf(o) <= dead) return 'stale';
    const prev = this.byUid.get(uid);
    if (prev && rvOf(prev) > rvOf(o)) return 'stale';
    this.byUid.set(uid, o);
    return prev;
  }

  remove(uid: string, rv: number): T | undefined {
    const prev = this.byUid.get(uid);
    this.byUid.delete(uid);
    this.tombstones.set(uid, Math.max(rv, this.tombstones.get(uid) ?? 0));
    return prev;
  }

  /** The DELETED event itself arrived: no older event can follow it, so the tombstone can go. */
  forget(uid: string): void {
    this.tombstones.delete(uid);
  }
}

/** Adds/removes `uid` in the set at `key` of a multimap. */
function index(map: Map<string, Set<string>>, key: string | undefined, uid: string, add: boolean): void {
  if (!key) return;
  let set = map.get(key);
  if (add) {
    if (!set) map.set(key, (set = new Set()));
    set.add(uid);
  } else if (set) {
    set.delete(uid);
    if (set.size === 0) map.delete(key);
  }
}

export class Simulator {
  readonly store: Store;
  readonly processes: ProcessRunner;
  private readonly opts: Required<Pick<SimulatorOptions, 'podStartDelayMs' | 'podReadyDelayMs' | 'now' | 'onError'>> & SimulatorOptions;

  private readonly nodes = new Cache<Node>();
  private readonly nodesByName = new Map<string, Node>();
  private sortedNodes: Node[] | null = null;
  private readonly pods = new Cache<Pod>();
  private readonly daemonSets = new Cache<DaemonSet>();
  private readonly deployments = new Cache<Deployment>();
  private readonly replicaSets = new Cache<ReplicaSet>();
  private readonly revisions = new Cache<ControllerRevision>();

  private readonly podsByOwner = new Map<string, Set<string>>();
  private readonly podsByNode = new Map<string, Set<string>>();
  private readonly rsByOwner = new Map<string, Set<string>>();
  private readonly revsByOwner = new Map<string, Set<string>>();
  private readonly usage = new Map<string, NodeUsage>();
  private readonly requestsByPod = new Map<string, Map<string, number>>();
  private readonly unbound = new Set<string>();

  private readonly dirty: Record<'ds' | 'deploy' | 'rs' | 'kubelet' | 'schedule', Set<string>> = {
    ds: new Set(),
    deploy: new Set(),
    rs: new Set(),
    kubelet: new Set(),
    schedule: new Set(),
  };
  private readonly wakeTimers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly boundAt = new Map<string, number>();
  private readonly ipCounters = new Map<string, { prefix: string; next: number }>();
  private readonly starting = new Map<string, Promise<void>>();
  private readonly failedStarts = new Map<string, string>();
  private passScheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private passRunning = false;
  private stops: (() => void)[] = [];
  private readonly watchStops = new Map<Kind, () => void>();
  /** The resourceVersion each watch has delivered up to, to resume from after a dropped watch. */
  private readonly lastRv = new Map<Kind, string>();
  private running = false;
  /** Number of reconcile passes so far (for tests and benchmarks). */
  passes = 0;

  constructor(options: SimulatorOptions) {
    this.store = options.store;
    this.opts = {
      podStartDelayMs: 200,
      podReadyDelayMs: 300,
      now: Date.now,
      onError: (e, ctx) => console.error(`kube-emulator simulator: ${ctx}:`, e),
      ...options,
    };
    this.processes = new ProcessRunner({ ...(options.processes ?? {}), onChange: (uid) => this.markKubelet(uid) });
  }

  /** Starts watching the store; resolves once the current objects have been seen. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    // Injected faults close every watch without telling the listener: resume each from where it was.
    this.stops.push(this.store.onCloseAllWatches(() => queueMicrotask(() => this.resumeWatches())));
    for (const kind of WATCHED) this.watchKind(kind, undefined);
    await this.store.settle();
  }

  /** (Re)opens the watch of one kind: from `resourceVersion` (replaying what was missed), or a full relist. */
  private watchKind(kind: Kind, resourceVersion: string | undefined): void {
    this.watchStops.get(kind)?.();
    if (!this.running) return;
    const relist = resourceVersion === undefined;
    const seen = relist ? new Set<string>() : undefined;
    if (relist) this.lastRv.set(kind, this.store.resourceVersion);
    const stop = this.store.watch(REFS[kind], { client: SIMULATOR_CLIENTS.controllers, ...(relist ? {} : { resourceVersion }) }, (ev) => {
      if (seen && ev.type === 'ADDED') seen.add((ev.object as unknown as KubeObject).metadata.uid ?? '');
      this.onEvent(kind, ev);
    });
    this.watchStops.set(kind, stop);
    if (seen) {
      // After a relist, objects the cache still holds but the list did not show were deleted meanwhile.
      void this.store.settle().then(() => {
        for (const [uid, o] of this.cacheOf(kind).byUid) if (!seen.has(uid)) this.removeObject(kind, o, true);
      });
    }
  }

  private resumeWatches(): void {
    for (const kind of WATCHED) this.watchKind(kind, this.lastRv.get(kind));
  }

  private cacheOf(kind: Kind): Cache<KubeObject> {
    const caches: Record<Kind, Cache<KubeObject>> = {
      Node: this.nodes,
      Pod: this.pods,
      DaemonSet: this.daemonSets,
      Deployment: this.deployments,
      ReplicaSet: this.replicaSets,
      ControllerRevision: this.revisions,
    } as unknown as Record<Kind, Cache<KubeObject>>;
    return caches[kind];
  }

  /** Stops watches, timers and every process it started. */
  async stop(): Promise<void> {
    this.running = false;
    for (const stop of this.stops) stop();
    this.stops = [];
    for (const stop of this.watchStops.values()) stop();
    this.watchStops.clear();
    if (this.passScheduled) {
      clearImmediate(this.passScheduled as NodeJS.Immediate);
      clearTimeout(this.passScheduled as NodeJS.Timeout);
    }
    this.passScheduled = undefined;
    for (const { timer } of this.wakeTimers.values()) clearTimeout(timer);
    this.wakeTimers.clear();
    await Promise.allSettled([...this.starting.values()]);
    await this.processes.stopAll();
  }

  // ------------------------------------------------------------------ fleet

  /** Creates the given Node objects in the store (status included); returns what was stored. */
  addNodes(nodes: readonly Node[]): Node[] {
    const out: Node[] = [];
    for (const n of nodes) {
      // Nodes keep their status on create (the kubelet registers itself with it), as on a real API server.
      const body = { ...n, metadata: { ...n.metadata, uid: undefined, creationTimestamp: undefined } };
      const stored = this.store.create(resources.nodes, undefined, body, { client: SIMULATOR_CLIENTS.fleet }) as unknown as Node;
      this.upsertNode(stored);
      out.push(stored);
    }
    return out;
  }

  /** Generates a fleet (see generateFleet) and creates its nodes; returns them. */
  addFleet(options: FleetOptions): Node[] {
    return this.addNodes(generateFleet(options));
  }

  /** Names of all nodes, sorted. */
  nodeNames(): string[] {
    return this.nodeList().map((n) => n.metadata.name ?? '');
  }

  /**
   * Takes nodes offline (kubelet stops posting status: Ready=Unknown plus the unreachable taints) or brings
   * them back. `which` is a list of names or `{percent, seed}` of all nodes. Returns the names changed.
   */
  setNodesReady(which: readonly string[] | { percent: number; seed?: number }, ready: boolean): string[] {
    const names = Array.isArray(which) ? [...which] : pickPercent(this.nodeNames(), (which as { percent: number }).percent, (which as { seed?: number }).seed ?? 1);
    const now = this.opts.now();
    for (const name of names) {
      const current = this.store.tryGet(resources.nodes, undefined, name) as unknown as Node | undefined;
      if (!current) throw new Error(`setNodesReady: node "${name}" does not exist`);
      if (isNodeReady(current) === ready) continue;
      const next = ready ? nodeCameOnline(current, now) : nodeWentOffline(current, now);
      // The node lifecycle controller writes taints (spec) and the conditions (status) separately.
      const withSpec = this.store.update(resources.nodes, undefined, name, { ...next, status: current.status }, { client: SIMULATOR_CLIENTS.controllers }) as unknown as Node;
      const stored = this.store.updateStatus(resources.nodes, undefined, name, { ...withSpec, status: next.status }, { client: SIMULATOR_CLIENTS.controllers }) as unknown as Node;
      this.upsertNode(stored);
    }
    return names;
  }

  /** Re-evaluates every pod's readiness (after a `readiness` callback changed its answer). */
  resync(): void {
    for (const uid of this.pods.byUid.keys()) this.dirty.kubelet.add(uid);
    for (const uid of this.daemonSets.byUid.keys()) this.dirty.ds.add(uid);
    for (const uid of this.deployments.byUid.keys()) this.dirty.deploy.add(uid);
    for (const uid of this.replicaSets.byUid.keys()) this.dirty.rs.add(uid);
    this.schedulePass();
  }

  /** Resolves when the store has delivered its events and no reconcile work is queued (timers may remain). */
  async settle(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      await this.store.settle();
      await Promise.allSettled([...this.starting.values()]);
      await this.processes.idle();
      await new Promise((r) => setImmediate(r));
      if (!this.passScheduled && !this.passRunning && Object.values(this.dirty).every((s) => s.size === 0) && this.starting.size === 0) return;
    }
  }

  /** Polls `check` (after settling) until it returns a truthy value; rejects after `timeoutMs` naming `what`. */
  async waitFor<T>(what: string, check: () => T | undefined | false | null, timeoutMs = 15_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      await this.settle();
      const v = check();
      if (v) return v;
      if (Date.now() > end) throw new Error(`simulator: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  // ------------------------------------------------------------------ events and caches

  private onEvent(kind: Kind, ev: WatchEvent): void {
    if (ev.type === 'BOOKMARK') return;
    if (ev.type === 'ERROR') {
      // 410 Gone: the history we wanted to resume from was compacted; relist, as an informer does.
      queueMicrotask(() => this.watchKind(kind, undefined));
      return;
    }
    const o = ev.object as unknown as KubeObject;
    // Replayed ADDED events of a relist carry older versions: the position only moves forward.
    if (Number(o.metadata.resourceVersion ?? 0) > Number(this.lastRv.get(kind) ?? 0)) this.lastRv.set(kind, o.metadata.resourceVersion ?? '0');
    if (ev.type === 'DELETED') this.removeObject(kind, o, true);
    else this.upsertObject(kind, o);
  }

  private upsertObject(kind: Kind, o: KubeObject): void {
    switch (kind) {
      case 'Node':
        return this.upsertNode(o as Node);
      case 'Pod':
        return this.upsertPod(o as Pod);
      case 'DaemonSet':
        if (this.daemonSets.upsert(o as DaemonSet) !== 'stale') this.markDirty('ds', o);
        return;
      case 'Deployment':
        if (this.deployments.upsert(o as Deployment) !== 'stale') this.markDirty('deploy', o);
        return;
      case 'ReplicaSet': {
        const prev = this.replicaSets.upsert(o as ReplicaSet);
        if (prev === 'stale') return;
        index(this.rsByOwner, prev ? controllerOf(prev)?.uid : undefined, o.metadata.uid ?? '', false);
        index(this.rsByOwner, controllerOf(o)?.uid, o.metadata.uid ?? '', true);
        this.markDirty('rs', o);
        this.markOwner(o);
        return;
      }
      case 'ControllerRevision': {
        const prev = this.revisions.upsert(o as ControllerRevision);
        if (prev === 'stale') return;
        index(this.revsByOwner, prev ? controllerOf(prev)?.uid : undefined, o.metadata.uid ?? '', false);
        index(this.revsByOwner, controllerOf(o)?.uid, o.metadata.uid ?? '', true);
        this.markOwner(o);
        return;
      }
    }
  }

  private removeObject(kind: Kind, o: KubeObject, fromWatch: boolean): void {
    const uid = o.metadata.uid ?? '';
    const rv = rvOf(o);
    switch (kind) {
      case 'Node': {
        const prev = this.nodes.remove(uid, rv);
        if (fromWatch) this.nodes.forget(uid);
        if (prev) {
          this.nodesByName.delete(prev.metadata.name ?? '');
          this.sortedNodes = null;
          for (const d of this.daemonSets.byUid.keys()) this.dirty.ds.add(d);
          // Pod GC: pods bound to a node that no longer exists are deleted.
          for (const podUid of this.podsByNode.get(prev.metadata.name ?? '') ?? []) {
            const pod = this.pods.byUid.get(podUid);
            if (pod && controllerOf(pod)?.kind !== 'DaemonSet') this.applyAction({ type: 'delete', kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name ?? '', uid: podUid }, SIMULATOR_CLIENTS.controllers);
          }
          this.schedulePass();
        }
        return;
      }
      case 'Pod': {
        const prev = this.pods.remove(uid, rv);
        if (fromWatch) this.pods.forget(uid);
        if (prev) this.unindexPod(prev);
        this.boundAt.delete(uid);
        this.failedStarts.delete(uid);
        this.cancelWake(`pod/${uid}`);
        void this.processes.stop(uid);
        this.markOwner(prev ?? o);
        return;
      }
      case 'DaemonSet':
        this.daemonSets.remove(uid, rv);
        if (fromWatch) this.daemonSets.forget(uid);
        this.dirty.ds.delete(uid);
        return;
      case 'Deployment':
        this.deployments.remove(uid, rv);
        if (fromWatch) this.deployments.forget(uid);
        this.dirty.deploy.delete(uid);
        return;
      case 'ReplicaSet': {
        const prev = this.replicaSets.remove(uid, rv);
        if (fromWatch) this.replicaSets.forget(uid);
        index(this.rsByOwner, controllerOf(prev ?? o)?.uid, uid, false);
        this.dirty.rs.delete(uid);
        this.markOwner(prev ?? o);
        return;
      }
      case 'ControllerRevision': {
        const prev = this.revisions.remove(uid, rv);
        if (fromWatch) this.revisions.forget(uid);
        index(this.revsByOwner, controllerOf(prev ?? o)?.uid, uid, false);
        this.markOwner(prev ?? o);
        return;
      }
    }
  }

  private upsertNode(n: Node): void {
    const prev = this.nodes.upsert(n);
    if (prev === 'stale') return;
    const name = n.metadata.name ?? '';
    this.nodesByName.set(name, n);
    this.sortedNodes = null;
    const relevant =
      !prev ||
      isNodeReady(prev) !== isNodeReady(n) ||
      !jsonEqual(prev.metadata.labels, n.metadata.labels) ||
      !jsonEqual(prev.spec, n.spec) ||
      !jsonEqual(prev.status?.allocatable, n.status?.allocatable);
    if (!relevant) return;
    for (const d of this.daemonSets.byUid.keys()) this.dirty.ds.add(d);
    for (const podUid of this.podsByNode.get(name) ?? []) this.dirty.kubelet.add(podUid);
    if (isNodeReady(n)) for (const podUid of this.unbound) this.dirty.schedule.add(podUid);
    this.schedulePass();
  }

  private upsertPod(p: Pod): void {
    const prev = this.pods.upsert(p);
    if (prev === 'stale') return;
    const uid = p.metadata.uid ?? '';
    if (prev) this.unindexPod(prev);
    index(this.podsByOwner, controllerOf(p)?.uid, uid, true);
    const nodeName = p.spec.nodeName;
    if (nodeName) {
      index(this.podsByNode, nodeName, uid, true);
      let requests = this.requestsByPod.get(uid);
      if (!requests) {
        try {
          requests = podRequests(p);
        } catch (e) {
          this.opts.onError(e, `pod ${p.metadata.namespace}/${p.metadata.name}`);
          requests = new Map();
        }
        this.requestsByPod.set(uid, requests);
      }
      let u = this.usage.get(nodeName);
      if (!u) this.usage.set(nodeName, (u = { pods: 0, requests: new Map() }));
      addUsage(u, requests, 1);
      this.dirty.kubelet.add(uid);
    } else if (!isTerminating(p)) {
      this.unbound.add(uid);
      this.dirty.schedule.add(uid);
    }
    // Owners only care about changes they count: phase, readiness, labels, deletion, binding.
    if (
      !prev ||
      prev.status?.phase !== p.status?.phase ||
      prev.metadata.deletionTimestamp !== p.metadata.deletionTimestamp ||
      prev.spec.nodeName !== p.spec.nodeName ||
      !jsonEqual(prev.status?.conditions, p.status?.conditions) ||
      !jsonEqual(prev.metadata.labels, p.metadata.labels)
    ) {
      this.markOwner(p);
    }
    this.schedulePass();
  }

  private unindexPod(p: Pod): void {
    const uid = p.metadata.uid ?? '';
    index(this.podsByOwner, controllerOf(p)?.uid, uid, false);
    this.unbound.delete(uid);
    const nodeName = p.spec.nodeName;
    if (nodeName) {
      index(this.podsByNode, nodeName, uid, false);
      const u = this.usage.get(nodeName);
      const requests = this.requestsByPod.get(uid);
      if (u) addUsage(u, requests ?? new Map(), -1);
    }
    if (!this.pods.byUid.has(uid)) this.requestsByPod.delete(uid);
  }

  private markDirty(queue: keyof Simulator['dirty'], o: KubeObject): void {
    if (o.metadata.uid) this.dirty[queue].add(o.metadata.uid);
    this.schedulePass();
  }

  /** Marks the controller owner of `o` (DaemonSet, ReplicaSet or Deployment) for a sync. */
  private markOwner(o: KubeObject): void {
    const ref = controllerOf(o);
    if (!ref) return;
    if (ref.kind === 'DaemonSet') this.dirty.ds.add(ref.uid);
    else if (ref.kind === 'ReplicaSet') this.dirty.rs.add(ref.uid);
    else if (ref.kind === 'Deployment') this.dirty.deploy.add(ref.uid);
    else return;
    this.schedulePass();
  }

  private markKubelet(uid: string): void {
    this.dirty.kubelet.add(uid);
    this.schedulePass();
  }

  private nodeList(): Node[] {
    if (!this.sortedNodes) this.sortedNodes = [...this.nodesByName.values()].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
    return this.sortedNodes;
  }

  private podsOf(ownerUid: string | undefined): Pod[] {
    const out: Pod[] = [];
    for (const uid of this.podsByOwner.get(ownerUid ?? '') ?? []) {
      const p = this.pods.byUid.get(uid);
      if (p) out.push(p);
    }
    return out;
  }

  // ------------------------------------------------------------------ the reconcile pass

  private schedulePass(delayMs = 0): void {
    if (!this.running || this.passScheduled) return;
    this.passScheduled = delayMs > 0 ? setTimeout(() => this.pass(), delayMs) : setImmediate(() => this.pass());
  }

  private wake(key: string, at: number, mark: () => void): void {
    const existing = this.wakeTimers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.wakeTimers.delete(key);
      mark();
      this.schedulePass();
    }, Math.max(at - this.opts.now(), 0) + 1);
    timer.unref?.();
    this.wakeTimers.set(key, { at, timer });
  }

  private cancelWake(key: string): void {
    const existing = this.wakeTimers.get(key);
    if (existing) clearTimeout(existing.timer);
    this.wakeTimers.delete(key);
  }

  private pass(): void {
    this.passScheduled = undefined;
    if (!this.running) return;
    this.passRunning = true;
    this.passes++;
    try {
      const now = this.opts.now();
      const take = (s: Set<string>) => {
        const items = [...s];
        s.clear();
        return items;
      };
      for (const uid of take(this.dirty.deploy)) this.syncDeployment(uid, now);
      for (const uid of take(this.dirty.rs)) this.syncReplicaSet(uid, now);
      for (const uid of take(this.dirty.ds)) this.syncDaemonSet(uid, now);
      this.syncScheduling(take(this.dirty.schedule));
      for (const uid of take(this.dirty.kubelet)) this.syncKubelet(uid, now);
    } finally {
      this.passRunning = false;
    }
  }

  private syncDaemonSet(uid: string, now: number): void {
    const ds = this.daemonSets.byUid.get(uid);
    if (!ds) return;
    const revs: ControllerRevision[] = [];
    for (const r of this.revsByOwner.get(uid) ?? []) {
      const rev = this.revisions.byUid.get(r);
      if (rev) revs.push(rev);
    }
    const result = reconcileDaemonSet(ds, this.nodeList(), this.podsOf(uid), revs, now);
    this.applyAll(result.actions, SIMULATOR_CLIENTS.controllers, () => this.dirty.ds.add(uid));
    // Availability with minReadySeconds changes by time alone.
    const minReady = ds.spec.minReadySeconds ?? 0;
    if (minReady > 0 && (result.status.numberReady ?? 0) > (result.status.numberAvailable ?? 0)) this.wake(`ds/${uid}`, now + 1000, () => this.dirty.ds.add(uid));
  }

  private syncReplicaSet(uid: string, now: number): void {
    const rs = this.replicaSets.byUid.get(uid);
    if (!rs) return;
    const result = reconcileReplicaSet(rs, this.podsOf(uid), now);
    this.applyAll(result.actions, SIMULATOR_CLIENTS.controllers, () => this.dirty.rs.add(uid));
    if (result.requeueAt !== undefined) this.wake(`rs/${uid}`, result.requeueAt, () => this.dirty.rs.add(uid));
  }

  private syncDeployment(uid: string, now: number): void {
    const d = this.deployments.byUid.get(uid);
    if (!d) return;
    const rsList: ReplicaSet[] = [];
    const pods: Pod[] = [];
    for (const r of this.rsByOwner.get(uid) ?? []) {
      const rs = this.replicaSets.byUid.get(r);
      if (!rs) continue;
      rsList.push(rs);
      pods.push(...this.podsOf(r));
    }
    const result = reconcileDeployment(d, rsList, pods, now);
    this.applyAll(result.actions, SIMULATOR_CLIENTS.controllers, () => this.dirty.deploy.add(uid));
    if (result.requeueAt !== undefined) this.wake(`deploy/${uid}`, result.requeueAt, () => this.dirty.deploy.add(uid));
  }

  private syncScheduling(uids: string[]): void {
    if (uids.length === 0) return;
    const nodes = this.nodeList();
    for (const uid of uids) {
      const pod = this.pods.byUid.get(uid);
      if (!pod || pod.spec.nodeName || isTerminating(pod)) continue;
      if ((pod.spec.schedulerName ?? 'default-scheduler') !== 'default-scheduler') continue;
      const placed = schedulePod(pod, nodes, this.usage);
      if ('nodeName' in placed) {
        const next = structuredClone(pod) as Pod;
        next.spec.nodeName = placed.nodeName;
        this.applyAction({ type: 'update', kind: 'Pod', object: next }, SIMULATOR_CLIENTS.scheduler, () => this.dirty.schedule.add(uid));
      } else {
        const cond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
        if (cond?.status === 'False' && cond.message === placed.message) continue;
        const status = {
          ...(pod.status ?? {}),
          conditions: [
            ...(pod.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled'),
            { type: 'PodScheduled', status: 'False' as const, reason: 'Unschedulable', message: placed.message, lastProbeTime: null, lastTransitionTime: new Date(this.opts.now()).toISOString().replace(/\.\d{3}Z$/, 'Z') },
          ],
        };
        this.applyAction({ type: 'updateStatus', kind: 'Pod', object: { ...pod, status } }, SIMULATOR_CLIENTS.scheduler, () => this.dirty.schedule.add(uid));
      }
    }
  }

  private syncKubelet(uid: string, now: number): void {
    const pod = this.pods.byUid.get(uid);
    if (!pod || !pod.spec.nodeName || isTerminating(pod)) return;
    const node = this.nodesByName.get(pod.spec.nodeName);
    if (!node) return;
    if (!isNodeReady(node) && !this.boundAt.has(uid)) {
      // Never started: nothing runs on an unreachable node. Already running pods are marked not Ready below.
      const out = kubeletSync(pod, node, { now, boundAt: now, startDelayMs: 0, readyDelayMs: 0, podIP: '' });
      if (out.status) this.applyAction({ type: 'updateStatus', kind: 'Pod', object: { ...pod, status: out.status } }, SIMULATOR_CLIENTS.kubelet, () => this.markKubelet(uid));
      return;
    }
    let boundAt = this.boundAt.get(uid);
    if (boundAt === undefined) this.boundAt.set(uid, (boundAt = now));

    const wantsProcess = this.processes.wants(pod);
    const startError = this.failedStarts.get(uid);
    const processState = wantsProcess ? (this.processes.state(uid) ?? (startError !== undefined ? { running: false, restarts: 0, ports: {}, ip: PROCESS_POD_IP } : undefined)) : undefined;
    if (wantsProcess && !processState) {
      if (!this.starting.has(uid) && isNodeReady(node)) this.startProcess(pod, node.metadata.name ?? '');
      return;
    }
    if (wantsProcess && startError === undefined && processState && pod.metadata.annotations?.[PORTS_ANNOTATION] === undefined) {
      const next = structuredClone(pod) as Pod;
      next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [PORTS_ANNOTATION]: JSON.stringify(processState.ports) };
      this.applyAction({ type: 'update', kind: 'Pod', object: next }, SIMULATOR_CLIENTS.kubelet, () => this.markKubelet(uid));
      return;
    }

    const input: KubeletInput = {
      now,
      boundAt,
      startDelayMs: this.opts.podStartDelayMs,
      readyDelayMs: wantsProcess ? 0 : this.opts.podReadyDelayMs,
      podIP: wantsProcess ? (processState?.ip ?? PROCESS_POD_IP) : (pod.status?.podIP ?? (now >= boundAt + this.opts.podStartDelayMs ? this.allocateIP(node) : '')),
    };
    if (processState) {
      input.process = { running: processState.running, restarts: processState.restarts };
      if (processState.lastExitCode !== undefined) input.process.lastExitCode = processState.lastExitCode;
      if (startError !== undefined) input.process.startError = startError;
      input.readiness = processState.ready;
    } else {
      const r = this.opts.readiness?.(pod);
      if (r !== undefined) input.readiness = r;
    }
    const out = kubeletSync(pod, node, input);
    if (out.status) this.applyAction({ type: 'updateStatus', kind: 'Pod', object: { ...pod, status: out.status } }, SIMULATOR_CLIENTS.kubelet, () => this.markKubelet(uid));
    if (out.wakeAt !== undefined) this.wake(`pod/${uid}`, out.wakeAt, () => this.dirty.kubelet.add(uid));
  }

  private startProcess(pod: Pod, nodeName: string): void {
    const uid = pod.metadata.uid ?? '';
    const started = this.processes
      .start(pod, nodeName)
      .then(() => undefined)
      .catch((e: unknown) => {
        this.failedStarts.set(uid, e instanceof Error ? e.message : String(e));
        this.opts.onError(e, `starting the process of pod ${pod.metadata.namespace}/${pod.metadata.name}`);
      })
      .finally(() => {
        this.starting.delete(uid);
        // The pod may have gone while the process was starting.
        if (!this.pods.byUid.has(uid)) void this.processes.stop(uid);
        this.markKubelet(uid);
      });
    this.starting.set(uid, started);
  }

  /** Next pod IP in the node's podCIDR (x.y.z.2 ... x.y.z.254, wrapping). */
  private allocateIP(node: Node): string {
    const name = node.metadata.name ?? '';
    let c = this.ipCounters.get(name);
    if (!c) {
      const cidr = node.spec?.podCIDR ?? '10.244.0.0/24';
      const base = cidr.split('/')[0]?.split('.') ?? ['10', '244', '0', '0'];
      this.ipCounters.set(name, (c = { prefix: `${base[0]}.${base[1]}.${base[2]}.`, next: 0 }));
    }
    return `${c.prefix}${(c.next++ % 253) + 2}`;
  }

  // ------------------------------------------------------------------ the write path

  /**
   * Applies a sync's actions in order. A later write to an object this sync already wrote (the Deployment's
   * revision annotation, then its status) continues from the returned resourceVersion, as a controller that
   * keeps the object the API server returned does; a change by anyone else still conflicts.
   */
  private applyAll(actions: Action[], client: string, retry: () => void): void {
    const written = new Map<string, { from: string; to: string }>();
    for (const a of actions) {
      if (a.type === 'update' || a.type === 'updateStatus') {
        const chain = written.get(a.object.metadata.uid ?? '');
        if (chain && a.object.metadata.resourceVersion === chain.from) a.object.metadata = { ...a.object.metadata, resourceVersion: chain.to };
        const from = a.object.metadata.resourceVersion;
        const stored = this.applyAction(a, client, retry);
        if (stored && from !== undefined && stored.metadata.resourceVersion) written.set(stored.metadata.uid ?? '', { from, to: stored.metadata.resourceVersion });
      } else this.applyAction(a, client, retry);
    }
  }

  /** Applies one action through the store; conflicts (stale cache) and races retry the sync shortly. Returns what was stored. */
  private applyAction(a: Action, client: string, retry?: () => void): KubeObject | undefined {
    const ref = REFS[a.kind];
    const requeue = () => {
      if (!retry) return;
      retry();
      this.schedulePass(CONFLICT_RETRY_MS);
    };
    try {
      switch (a.type) {
        case 'create': {
          const body = a.object as unknown as StoreObject;
          let stored: StoreObject | undefined;
          // generateName collisions answer AlreadyExists; a real API server retries those itself.
          for (let i = 0; i < 5 && !stored; i++) {
            try {
              stored = this.store.create(ref, a.object.metadata.namespace, body, { client });
            } catch (e) {
              if (!(isApiError(e, 409) && a.object.metadata.generateName && !a.object.metadata.name)) throw e;
            }
          }
          if (stored) this.upsertObject(a.kind, stored as unknown as KubeObject);
          return stored as unknown as KubeObject | undefined;
        }
        case 'update': {
          const stored = this.store.update(ref, a.object.metadata.namespace, a.object.metadata.name ?? '', a.object, { client });
          this.upsertObject(a.kind, stored as unknown as KubeObject);
          return stored as unknown as KubeObject;
        }
        case 'updateStatus': {
          const stored = this.store.updateStatus(ref, a.object.metadata.namespace, a.object.metadata.name ?? '', a.object, { client });
          this.upsertObject(a.kind, stored as unknown as KubeObject);
          return stored as unknown as KubeObject;
        }
        case 'delete': {
          const removed = this.store.delete(ref, a.namespace, a.name, { client, ...(a.uid ? { preconditions: { uid: a.uid } } : {}) });
          // Removed at once (no finalizers): drop it from the cache before the DELETED event arrives.
          if (this.store.tryGet(ref, a.namespace, a.name)) this.upsertObject(a.kind, removed as unknown as KubeObject);
          else this.removeObject(a.kind, removed as unknown as KubeObject, false);
          return undefined;
        }
      }
    } catch (e) {
      if (isApiError(e, 404) && (a.type === 'delete' || a.type === 'update' || a.type === 'updateStatus')) return undefined;
      if (!isApiError(e, 409) && !isApiError(e, 404)) {
        this.opts.onError(e, `${a.type} ${a.kind} ${a.type === 'delete' ? a.name : (a.object.metadata.name ?? a.object.metadata.generateName)}`);
      }
      requeue();
      return undefined;
    }
  }
}
