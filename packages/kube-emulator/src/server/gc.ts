/**
 * The kube-controller-manager's garbage collector for the emulator's store: an owner → dependents index kept
 * on every write, and the collection rules of the real one. A dependent whose owners (by uid) are all gone is
 * deleted, whether the owner went before it or it was created after its owner was deleted; references to
 * absent owners are dropped when a live owner remains; foreground deletion waits for dependents that block
 * owner deletion; orphan deletion strips the references. Runs after the write that caused it, never inside it.
 */
import { clone } from './util.js';
import type { ResourceType } from './registry.js';
import type { KubeObject, OwnerReference } from './types.js';

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

/** What the collector needs from the store; its writes go through the store's public write path. */
export interface GcHost {
  /** The live object with this uid (and its type), or undefined once it is gone. */
  lookup(uid: string): { t: ResourceType; obj: KubeObject } | undefined;
  /** Deletes as the garbage collector (logged under its name). */
  delete(t: ResourceType, obj: KubeObject, policy: PropagationPolicy): void;
  /** Replaces unconditionally as the garbage collector. */
  update(t: ResourceType, obj: KubeObject, next: KubeObject): void;
  /** Runs `step` after the current write (asynchronously). */
  queue(step: () => void): void;
}

const FOREGROUND = 'foregroundDeletion';
const ORPHAN = 'orphan';

const finalizersOf = (o: KubeObject) => o.metadata.finalizers ?? [];
const refsOf = (o: KubeObject): OwnerReference[] => o.metadata.ownerReferences ?? [];

export class GarbageCollector {
  /** owner uid → uids of the objects that reference it (whether or not the owner exists). */
  private readonly dependents = new Map<string, Set<string>>();

  constructor(private readonly host: GcHost) {}

  /**
   * Indexes a stored change (`next` undefined: deleted) and queues collection of `next` when one of its
   * owners is absent: a dependent created or re-pointed after its owner was deleted is collected too.
   */
  observe(prev: KubeObject | undefined, next: KubeObject | undefined): void {
    const before = new Set(prev ? refsOf(prev).map((r) => r.uid) : []);
    const after = new Set(next ? refsOf(next).map((r) => r.uid) : []);
    const uid = (next ?? prev)!.metadata.uid!;
    for (const o of before) {
      if (after.has(o)) continue;
      const set = this.dependents.get(o);
      set?.delete(uid);
      if (set?.size === 0) this.dependents.delete(o);
    }
    for (const o of after) {
      if (before.has(o)) continue;
      let set = this.dependents.get(o);
      if (!set) this.dependents.set(o, (set = new Set()));
      set.add(uid);
    }
    if (next && !next.metadata.deletionTimestamp && refsOf(next).some((r) => this.ownerState(r) !== 'solid')) {
      this.host.queue(() => this.attemptToDelete(uid));
    }
  }

  /** An object was removed for good: its dependents are collected and owners waiting on it are re-checked. */
  removed(obj: KubeObject): void {
    for (const d of this.dependentsOf(obj.metadata.uid!)) this.attemptToDelete(d.obj.metadata.uid!);
    for (const ref of refsOf(obj)) this.checkForegroundOwner(ref.uid);
  }

  /**
   * Orphan and foreground deletion of an object that has a deletionTimestamp. Returns false when neither
   * finalizer is there (nothing for the collector to do yet).
   */
  deleting(uid: string): boolean {
    const current = this.host.lookup(uid);
    if (!current) return false;
    const finalizers = finalizersOf(current.obj);
    if (finalizers.includes(ORPHAN)) {
      for (const d of this.dependentsOf(uid)) {
        const next = clone(d.obj);
        next.metadata.ownerReferences = refsOf(next).filter((r) => r.uid !== uid);
        if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
        this.host.update(d.t, d.obj, next);
      }
      this.removeFinalizer(uid, ORPHAN);
      return true;
    }
    if (finalizers.includes(FOREGROUND)) {
      for (const d of this.dependentsOf(uid)) this.attemptToDelete(d.obj.metadata.uid!);
      this.checkForegroundOwner(uid);
      return true;
    }
    return false;
  }

  /**
   * The real collector's attemptToDeleteItem: owners are solid (live), dangling (gone) or waiting (being
   * deleted in the foreground). With a solid owner, dangling references are dropped and waiting ones stop
   * blocking; without one, the dependent is deleted (in the foreground when an owner waits for it).
   */
  private attemptToDelete(uid: string): void {
    const dep = this.host.lookup(uid);
    if (!dep) return;
    const refs = refsOf(dep.obj);
    if (refs.length === 0) return;
    const states = refs.map((r) => this.ownerState(r));
    if (states.includes('solid')) {
      if (states.every((s) => s === 'solid')) return;
      const next = clone(dep.obj);
      next.metadata.ownerReferences = refs.flatMap((r, i) => (states[i] === 'dangling' ? [] : states[i] === 'waiting' ? [{ ...r, blockOwnerDeletion: false }] : [r]));
      this.host.update(dep.t, dep.obj, next);
      for (const [i, r] of refs.entries()) if (states[i] === 'waiting') this.checkForegroundOwner(r.uid);
      return;
    }
    if (dep.obj.metadata.deletionTimestamp) return;
    this.host.delete(dep.t, dep.obj, states.includes('waiting') ? 'Foreground' : 'Background');
  }

  /** Live owner, gone owner, or owner being deleted in the foreground (waiting for its dependents). */
  private ownerState(ref: OwnerReference): 'solid' | 'dangling' | 'waiting' {
    const owner = this.host.lookup(ref.uid);
    if (!owner) return 'dangling';
    return owner.obj.metadata.deletionTimestamp && finalizersOf(owner.obj).includes(FOREGROUND) ? 'waiting' : 'solid';
  }

  private dependentsOf(uid: string): { t: ResourceType; obj: KubeObject }[] {
    return [...(this.dependents.get(uid) ?? [])].map((u) => this.host.lookup(u)).filter((d): d is { t: ResourceType; obj: KubeObject } => d !== undefined);
  }

  /** Removes `foregroundDeletion` once no dependent that blocks owner deletion remains. */
  private checkForegroundOwner(uid: string): void {
    const owner = this.host.lookup(uid);
    if (!owner || !finalizersOf(owner.obj).includes(FOREGROUND)) return;
    const blocking = this.dependentsOf(uid).some((d) => refsOf(d.obj).some((r) => r.uid === uid && r.blockOwnerDeletion));
    if (!blocking) this.removeFinalizer(uid, FOREGROUND);
  }

  private removeFinalizer(uid: string, finalizer: string): void {
    const current = this.host.lookup(uid);
    if (!current) return;
    const next = clone(current.obj);
    next.metadata.finalizers = finalizersOf(next).filter((f) => f !== finalizer);
    this.host.update(current.t, current.obj, next);
  }
}
