/** JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch over plain JSON values. */
import { ApiError, badRequest } from './errors.js';
import type { ListInfo } from './lists.js';
import { isPlainObject } from './types.js';
import { clone, deepEqual } from './util.js';

/** RFC 7386: objects merge recursively, `null` deletes, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface JsonPatchOp {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

const unescape = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw invalidPatch(`JSON pointer must start with "/": ${path}`);
  return path.slice(1).split('/').map(unescape);
}

const invalidPatch = (message: string) => new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${message}`);

function parentOf(doc: unknown, parts: string[], path: string): { parent: Record<string, unknown> | unknown[]; key: string } {
  let cur = doc;
  for (const p of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isPlainObject(cur)) cur = cur[p];
    else cur = undefined;
    if (cur === undefined) throw invalidPatch(`doc is missing path: "${path}": missing value`);
  }
  if (!Array.isArray(cur) && !isPlainObject(cur)) throw invalidPatch(`doc is missing path: "${path}": missing value`);
  return { parent: cur, key: parts[parts.length - 1]! };
}

function getAt(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const p of pointer(path)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isPlainObject(cur)) cur = cur[p];
    else return undefined;
  }
  return cur;
}

function arrayIndex(arr: unknown[], key: string, path: string, forAdd: boolean): number {
  if (forAdd && key === '-') return arr.length;
  const i = Number(key);
  if (!/^\d+$/.test(key) || i > arr.length || (!forAdd && i >= arr.length)) throw invalidPatch(`Unable to access invalid index: ${key} in "${path}"`);
  return i;
}

function addAt(doc: unknown, path: string, value: unknown): unknown {
  const parts = pointer(path);
  if (parts.length === 0) return value;
  const { parent, key } = parentOf(doc, parts, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, true), 0, value);
  else parent[key] = value;
  return doc;
}

function removeAt(doc: unknown, path: string): unknown {
  const parts = pointer(path);
  const { parent, key } = parentOf(doc, parts, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, false), 1);
  else {
    if (!(key in parent)) throw invalidPatch(`Unable to remove nonexistent key: ${key}: missing value`);
    delete parent[key];
  }
  return doc;
}

/** RFC 6902 including `test`; a body that is not an array is a 400 as in the API server. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest(`json: cannot unmarshal ${isPlainObject(ops) ? 'object' : typeof ops} into Go value of type jsonpatch.Patch`);
  let doc = clone(target);
  for (const raw of ops) {
    if (!isPlainObject(raw) || typeof raw['op'] !== 'string' || typeof raw['path'] !== 'string') throw badRequest('invalid JSON patch operation: needs "op" and "path"');
    const op = raw as unknown as JsonPatchOp;
    switch (op.op) {
      case 'add':
        doc = addAt(doc, op.path, clone(op.value));
        break;
      case 'remove':
        doc = removeAt(doc, op.path);
        break;
      case 'replace':
        if (getAt(doc, op.path) === undefined) throw invalidPatch(`replace operation does not apply: doc is missing key: ${op.path}: missing value`);
        doc = addAt(removeAt(doc, op.path), op.path, clone(op.value));
        break;
      case 'move': {
        const v = getAt(doc, op.from ?? '');
        if (v === undefined) throw invalidPatch(`move operation does not apply: doc is missing from path: ${op.from}: missing value`);
        doc = addAt(removeAt(doc, op.from!), op.path, v);
        break;
      }
      case 'copy': {
        const v = getAt(doc, op.from ?? '');
        if (v === undefined) throw invalidPatch(`copy operation does not apply: doc is missing from path: ${op.from}: missing value`);
        doc = addAt(doc, op.path, clone(v));
        break;
      }
      case 'test':
        if (!deepEqual(getAt(doc, op.path), op.value)) throw invalidPatch(`testing value ${op.path} failed: test failed`);
        break;
      default:
        throw badRequest(`Unexpected kind: ${op.op}`);
    }
  }
  return doc;
}

const keyOf = (item: unknown, keys: string[]) => (isPlainObject(item) ? JSON.stringify(keys.map((k) => item[k])) : undefined);

/**
 * Strategic merge patch for built-in kinds: lists with merge keys merge item by item, `$patch`
 * (replace/delete/merge), `$setElementOrder/…`, `$retainKeys` and `$deleteFromPrimitiveList/…` directives are
 * honoured and never stored.
 */
export function strategicMerge(target: unknown, patch: unknown, lists: ListInfo, path: string[] = []): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const directive = patch['$patch'];
  if (directive === 'delete') return undefined;
  const base: Record<string, unknown> = directive === 'replace' || !isPlainObject(target) ? {} : { ...target };
  const orders: [string, unknown[]][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys') continue;
    if (k.startsWith('$setElementOrder/')) {
      if (Array.isArray(v)) orders.push([k.slice('$setElementOrder/'.length), v]);
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const cur = base[field];
      if (Array.isArray(cur) && Array.isArray(v)) base[field] = cur.filter((x) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    if (v === null) {
      delete base[k];
      continue;
    }
    const childPath = [...path, k];
    if (Array.isArray(v)) {
      base[k] = mergeList(base[k], v, lists(childPath), lists, childPath);
    } else if (isPlainObject(v)) {
      const merged = strategicMerge(base[k], v, lists, childPath);
      if (merged === undefined) delete base[k];
      else base[k] = merged;
    } else base[k] = v;
  }
  for (const [field, order] of orders) {
    const cur = base[field];
    if (Array.isArray(cur)) base[field] = applyOrder(cur, order, lists([...path, field]));
  }
  const retain = patch['$retainKeys'];
  if (Array.isArray(retain)) for (const k of Object.keys(base)) if (!retain.includes(k)) delete base[k];
  return base;
}

function mergeList(target: unknown, patch: unknown[], kind: ReturnType<ListInfo>, lists: ListInfo, path: string[]): unknown[] {
  const cur = Array.isArray(target) ? [...target] : [];
  if (kind.type === 'set') {
    for (const v of patch) if (!cur.some((c) => deepEqual(c, v))) cur.push(clone(v));
    return cur;
  }
  if (kind.type !== 'map') return patch.filter((v) => !(isPlainObject(v) && v['$patch'] !== undefined)).map(clone);
  if (patch.some((p) => isPlainObject(p) && p['$patch'] === 'replace')) {
    return patch.filter((p) => !(isPlainObject(p) && p['$patch'] === 'replace')).map(clone);
  }
  for (const item of patch) {
    const key = keyOf(item, kind.keys);
    const at = cur.findIndex((c) => keyOf(c, kind.keys) === key);
    if (isPlainObject(item) && item['$patch'] === 'delete') {
      if (at >= 0) cur.splice(at, 1);
      continue;
    }
    if (at >= 0) cur[at] = strategicMerge(cur[at], item, lists, path);
    else cur.push(strategicMerge(undefined, item, lists, path));
  }
  return cur;
}

function applyOrder(list: unknown[], order: unknown[], kind: ReturnType<ListInfo>): unknown[] {
  const keyFor = (v: unknown) => (kind.type === 'map' ? keyOf(v, kind.keys) : JSON.stringify(v));
  const rank = new Map(order.map((o, i) => [keyFor(o), i]));
  const ordered = list.filter((v) => rank.has(keyFor(v))).sort((a, b) => rank.get(keyFor(a))! - rank.get(keyFor(b))!);
  return [...ordered, ...list.filter((v) => !rank.has(keyFor(v)))];
}
