/**
 * Field ownership for managedFields and server-side apply: an object's fields as a set of leaf paths in the
 * FieldsV1 vocabulary (`f:spec`, `k:{"name":"c"}`, `v:"x"`, `.` for a list item itself).
 */
import { ApiError } from './errors.js';
import type { ListInfo } from './lists.js';
import type { JsonObject, KubeObject, ManagedFieldsEntry } from './types.js';
import { isPlainObject } from './types.js';
import { clone, deepEqual } from './util.js';

/** A set of leaf paths; each path is its elements joined with '\n'. */
export type FieldSet = Set<string>;

const SEP = '\n';
const SYSTEM_META = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink']);

/** Which part of an object a write may touch: the main resource leaves status out when it is a subresource. */
export type Scope = 'all' | 'main' | 'status';

function sortedKeyJson(item: Record<string, unknown>, keys: string[]): string {
  const o: Record<string, unknown> = {};
  for (const k of [...keys].sort()) if (item[k] !== undefined) o[k] = item[k];
  return JSON.stringify(o);
}

/** The leaf paths present in `obj` for the given scope. */
export function fieldSet(obj: Record<string, unknown>, lists: ListInfo, scope: Scope): FieldSet {
  const out: FieldSet = new Set();
  const names: string[] = [];
  const walk = (v: unknown, prefix: string): void => {
    if (isPlainObject(v)) {
      let any = false;
      for (const k in v) {
        const child = v[k];
        if (child === undefined) continue;
        any = true;
        names.push(k);
        walk(child, `${prefix}${SEP}f:${k}`);
        names.pop();
      }
      if (!any) out.add(prefix);
      return;
    }
    if (Array.isArray(v)) {
      const kind = lists(names);
      if (kind.type === 'map') {
        for (const item of v) {
          if (!isPlainObject(item)) continue;
          const e = `${prefix}${SEP}k:${sortedKeyJson(item, kind.keys)}`;
          out.add(`${e}${SEP}.`);
          for (const k in item) {
            if (item[k] === undefined) continue;
            names.push(k);
            walk(item[k], `${e}${SEP}f:${k}`);
            names.pop();
          }
        }
        return;
      }
      if (kind.type === 'set') {
        for (const item of v) out.add(`${prefix}${SEP}v:${JSON.stringify(item)}`);
        return;
      }
    }
    out.add(prefix);
  };
  for (const k in obj) {
    const v = obj[k];
    if (k === 'apiVersion' || k === 'kind' || v === undefined) continue;
    if (scope === 'main' && k === 'status') continue;
    if (scope === 'status' && k !== 'status') continue;
    if (k === 'metadata' && isPlainObject(v)) {
      for (const mk in v) {
        const mv = v[mk];
        if (SYSTEM_META.has(mk) || mv === undefined) continue;
        names.push('metadata', mk);
        walk(mv, `f:metadata${SEP}f:${mk}`);
        names.length = 0;
      }
      continue;
    }
    names.push(k);
    walk(v, `f:${k}`);
    names.length = 0;
  }
  return out;
}

const inStatus = (p: string) => p === 'f:status' || p.startsWith(`f:status${SEP}`);

/** Whether a path belongs to the part of the object a write in `scope` may change. */
const inScope = (scope: Scope, p: string) => (scope === 'all' ? true : scope === 'status' ? inStatus(p) : !inStatus(p));

/** Resolves a path to its value; list items (`.`) resolve to `true` when present. */
export function valueAt(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const e of path.split(SEP)) {
    if (cur === undefined) return undefined;
    if (e === '.') return cur === undefined ? undefined : true;
    if (e.startsWith('f:')) cur = isPlainObject(cur) ? cur[e.slice(2)] : undefined;
    else if (e.startsWith('k:')) {
      const key = JSON.parse(e.slice(2)) as Record<string, unknown>;
      cur = Array.isArray(cur) ? cur.find((item) => isPlainObject(item) && Object.entries(key).every(([k, kv]) => deepEqual(item[k], kv))) : undefined;
    } else if (e.startsWith('v:')) {
      const want = JSON.parse(e.slice(2)) as unknown;
      return Array.isArray(cur) && cur.some((x) => deepEqual(x, want)) ? want : undefined;
    }
  }
  return cur;
}

/** Removes the field at `path` from `obj` in place (map items and set values leave their list). */
function removeAt(obj: Record<string, unknown>, path: string): void {
  const elems = path.split(SEP);
  const last = elems[elems.length - 1]!;
  const target = last === '.' ? elems.slice(0, -1) : elems;
  const parentElems = target.slice(0, -1);
  const leaf = target[target.length - 1]!;
  const parent = valueAt(obj, parentElems.join(SEP));
  if (leaf.startsWith('f:') && isPlainObject(parent)) delete parent[leaf.slice(2)];
  else if (leaf.startsWith('k:') && Array.isArray(parent)) {
    const key = JSON.parse(leaf.slice(2)) as Record<string, unknown>;
    const i = parent.findIndex((item) => isPlainObject(item) && Object.entries(key).every(([k, kv]) => deepEqual(item[k], kv)));
    if (i >= 0) parent.splice(i, 1);
  } else if (leaf.startsWith('v:') && Array.isArray(parent)) {
    const want = JSON.parse(leaf.slice(2)) as unknown;
    const i = parent.findIndex((x) => deepEqual(x, want));
    if (i >= 0) parent.splice(i, 1);
  }
}

/** `.spec.containers[name="c"].image`, the path notation of apply conflicts. */
export function formatPath(path: string): string {
  let s = '';
  for (const e of path.split(SEP)) {
    if (e === '.') continue;
    if (e.startsWith('f:')) s += `.${e.slice(2)}`;
    else if (e.startsWith('k:')) {
      const key = JSON.parse(e.slice(2)) as Record<string, unknown>;
      s += `[${Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
    } else if (e.startsWith('v:')) s += `[=${e.slice(2)}]`;
  }
  return s;
}

/** FieldsV1 JSON (`{"f:spec":{"f:replicas":{}}}`) from a field set. */
export function toFieldsV1(set: FieldSet): JsonObject {
  const root: JsonObject = {};
  for (const path of [...set].sort()) {
    let cur = root;
    for (const e of path.split(SEP)) cur = (cur[e] ??= {}) as JsonObject;
  }
  return root;
}

export function fromFieldsV1(v: JsonObject | undefined): FieldSet {
  const out: FieldSet = new Set();
  const walk = (node: JsonObject, elems: string[]) => {
    const keys = Object.keys(node);
    if (keys.length === 0) {
      if (elems.length > 0) out.add(elems.join(SEP));
      return;
    }
    for (const k of keys) {
      // A map's own '.' marker is implied by its children; list items keep theirs.
      if (k === '.' && !elems[elems.length - 1]?.startsWith('k:')) continue;
      walk((node[k] ?? {}) as JsonObject, [...elems, k]);
    }
  };
  walk(v ?? {}, []);
  return out;
}

const managerId = (m: ManagedFieldsEntry) => `${m.manager}\u0000${m.operation}\u0000${m.subresource ?? ''}`;

/** Parsed FieldsV1 by object identity: stored entries are frozen and reused, so most writes parse nothing. */
const parsedFields = new WeakMap<object, FieldSet>();

interface ManagerState {
  entry: ManagedFieldsEntry;
  set: FieldSet;
  /** The set was copied and changed: the entry must be written anew. */
  dirty: boolean;
}

interface Managers {
  entries: Map<string, ManagerState>;
}

function readManagers(obj: KubeObject): Managers {
  const entries = new Map<string, ManagerState>();
  for (const m of obj.metadata.managedFields ?? []) {
    let set = parsedFields.get(m.fieldsV1);
    if (!set) parsedFields.set(m.fieldsV1, (set = fromFieldsV1(m.fieldsV1)));
    entries.set(managerId(m), { entry: m, set, dirty: false });
  }
  return { entries };
}

/** The set of a manager, copied before its first change. */
function writable(state: ManagerState): FieldSet {
  if (!state.dirty) {
    state.set = new Set(state.set);
    state.dirty = true;
  }
  return state.set;
}

function writeManagers(m: Managers): ManagedFieldsEntry[] {
  const out: ManagedFieldsEntry[] = [];
  for (const state of m.entries.values()) {
    if (state.set.size === 0) continue;
    if (!state.dirty) {
      out.push(state.entry);
      continue;
    }
    const fieldsV1 = toFieldsV1(state.set);
    parsedFields.set(fieldsV1, state.set);
    out.push({ ...state.entry, fieldsV1 });
  }
  return out;
}

export interface OwnershipContext {
  manager: string;
  apiVersion: string;
  time: string;
  subresource: string | undefined;
  lists: ListInfo;
}

const scopeOf = (subresource: string | undefined, hasStatus: boolean): Scope => (subresource === 'status' ? 'status' : hasStatus ? 'main' : 'all');

/** managedFields after a non-apply write: the writer owns what it changed; removed fields lose their owners. */
export function recordUpdate(oldObj: KubeObject | undefined, newObj: KubeObject, ctx: OwnershipContext, hasStatus: boolean): ManagedFieldsEntry[] {
  const scope = scopeOf(ctx.subresource, hasStatus);
  const managers: Managers = oldObj ? readManagers(oldObj) : { entries: new Map() };
  const mine = fieldSet(newObj, ctx.lists, scope);
  const changed = new Set<string>();
  for (const p of mine) if (!oldObj || !deepEqual(valueAt(oldObj, p), valueAt(newObj, p))) changed.add(p);
  for (const state of managers.entries.values()) {
    for (const p of state.set) {
      if (changed.has(p) || (inScope(scope, p) && !mine.has(p))) writable(state).delete(p);
    }
  }
  const entry: ManagedFieldsEntry = { manager: ctx.manager, operation: 'Update', apiVersion: ctx.apiVersion, time: ctx.time, fieldsType: 'FieldsV1', fieldsV1: {} };
  if (ctx.subresource) entry.subresource = ctx.subresource;
  const id = managerId(entry);
  if (changed.size > 0) {
    const existing = managers.entries.get(id);
    const set = existing ? writable(existing) : new Set<string>();
    for (const p of changed) set.add(p);
    managers.entries.set(id, { entry, set, dirty: true });
  }
  return writeManagers(managers);
}

/** Merges an applied configuration into `base` in place: objects merge, map lists merge by key, sets union. */
function mergeApplied(base: Record<string, unknown>, applied: Record<string, unknown>, lists: ListInfo, names: string[]): void {
  for (const [k, v] of Object.entries(applied)) {
    if (v === undefined) continue;
    const childNames = [...names, k];
    const cur = base[k];
    if (isPlainObject(v) && isPlainObject(cur)) {
      mergeApplied(cur, v, lists, childNames);
    } else if (Array.isArray(v) && Array.isArray(cur)) {
      const kind = lists(childNames);
      if (kind.type === 'map') {
        for (const item of v) {
          const at = isPlainObject(item) ? cur.findIndex((c) => isPlainObject(c) && kind.keys.every((key) => deepEqual(c[key], item[key]))) : -1;
          if (at >= 0 && isPlainObject(cur[at]) && isPlainObject(item)) mergeApplied(cur[at] as Record<string, unknown>, item, lists, childNames);
          else cur.push(clone(item));
        }
      } else if (kind.type === 'set') {
        for (const item of v) if (!cur.some((c) => deepEqual(c, item))) cur.push(clone(item));
      } else base[k] = clone(v);
    } else base[k] = clone(v);
  }
}

/** Drops objects that became empty because an applier gave up all their fields. */
function pruneEmpty(v: unknown): void {
  if (!isPlainObject(v)) return;
  for (const [k, child] of Object.entries(v)) {
    if (isPlainObject(child)) {
      pruneEmpty(child);
      if (Object.keys(child).length === 0) delete v[k];
    }
  }
}

/**
 * Server-side apply: returns the merged object (managedFields set) or throws a 409 listing conflicts with
 * other managers that own a field the applier sets to a different value (unless `force`).
 */
export function serverSideApply(live: KubeObject | undefined, applied: KubeObject, ctx: OwnershipContext, hasStatus: boolean, force: boolean): KubeObject {
  const scope = scopeOf(ctx.subresource, hasStatus);
  const managers: Managers = live ? readManagers(live) : { entries: new Map() };
  const appliedSet = fieldSet(applied, ctx.lists, scope);
  const entry: ManagedFieldsEntry = { manager: ctx.manager, operation: 'Apply', apiVersion: ctx.apiVersion, time: ctx.time, fieldsType: 'FieldsV1', fieldsV1: {} };
  if (ctx.subresource) entry.subresource = ctx.subresource;
  const id = managerId(entry);
  const previous = managers.entries.get(id)?.set ?? new Set<string>();

  const conflicts: { manager: string; path: string }[] = [];
  const forced: string[] = [];
  if (live) {
    for (const [otherId, { entry: other, set }] of managers.entries) {
      if (otherId === id) continue;
      for (const p of appliedSet) {
        if (!set.has(p)) continue;
        if (deepEqual(valueAt(live, p), valueAt(applied, p))) continue;
        if (force) forced.push(p);
        else conflicts.push({ manager: other.operation === 'Update' ? `"${other.manager}" using ${other.apiVersion}` : `"${other.manager}"`, path: formatPath(p) });
      }
    }
  }
  if (conflicts.length > 0) throw applyConflict(conflicts);

  const merged = clone(live ?? ({ apiVersion: applied.apiVersion, kind: applied.kind, metadata: {} } as KubeObject)) as KubeObject;
  delete merged.metadata.managedFields;
  const ownedByOthers = new Set<string>();
  for (const [otherId, { set }] of managers.entries) if (otherId !== id) for (const p of set) ownedByOthers.add(p);
  for (const p of previous) if (!appliedSet.has(p) && !ownedByOthers.has(p)) removeAt(merged, p);
  const appliedBody = clone(applied) as Record<string, unknown>;
  if (scope === 'main') delete appliedBody['status'];
  if (scope === 'status') for (const k of Object.keys(appliedBody)) if (k !== 'status' && k !== 'apiVersion' && k !== 'kind' && k !== 'metadata') delete appliedBody[k];
  const meta = appliedBody['metadata'] as Record<string, unknown> | undefined;
  if (meta) for (const k of SYSTEM_META) if (k !== 'name' && k !== 'namespace') delete meta[k];
  if (scope === 'status') appliedBody['metadata'] = {};
  mergeApplied(merged as unknown as Record<string, unknown>, appliedBody, ctx.lists, []);
  pruneEmpty(merged.metadata);
  pruneEmpty(merged['spec']);

  for (const [otherId, state] of managers.entries) if (otherId !== id) for (const p of forced) if (state.set.has(p)) writable(state).delete(p);
  managers.entries.set(id, { entry, set: appliedSet, dirty: true });
  const present = fieldSet(merged, ctx.lists, 'all');
  for (const state of managers.entries.values()) for (const p of state.set) if (!present.has(p)) writable(state).delete(p);
  merged.metadata.managedFields = writeManagers(managers);
  return merged;
}

function applyConflict(conflicts: { manager: string; path: string }[]): ApiError {
  let text: string;
  if (conflicts.length === 1) text = `conflict with ${conflicts[0]!.manager}: ${conflicts[0]!.path}`;
  else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) byManager.set(c.manager, [...(byManager.get(c.manager) ?? []), c.path]);
    text = [...byManager.keys()].sort().flatMap((m) => [`conflicts with ${m}:`, ...byManager.get(m)!.map((p) => `- ${p}`)]).join('\n');
  }
  const plural = conflicts.length === 1 ? '' : 's';
  return new ApiError(409, 'Conflict', `Apply failed with ${conflicts.length} conflict${plural}: ${text}`, {
    causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${c.manager}`, field: c.path })),
  });
}
