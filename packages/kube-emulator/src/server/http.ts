/**
 * The REST front of the store: routing, JSON/YAML bodies, Status errors, Tables, discovery, OpenAPI and watch
 * streams (chunked JSON lines, headers flushed at once, bookmarks on request), with fault injection and the
 * request log applied to every request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { aggregatedDiscovery, legacyApiVersions, legacyGroup, legacyGroupList, resourceList } from './discovery.js';
import { ApiError, badRequest, gone, methodNotAllowed, qualifiedResource, unsupportedMediaType } from './errors.js';
import type { Faults } from './faults.js';
import { OpenApi } from './openapi.js';
import { matchPodSubresource, PortForwarder, proxyToPod, rejectUpgrade } from './pod-access.js';
import { decodeProtobuf } from './protobuf.js';
import type { RequestLogEntry } from './request-log.js';
import { apiVersionOf, type ResourceType } from './registry.js';
import type { Verb } from './request-log.js';
import { HTTP_CLIENT_MARK, PATCH_CONTENT_TYPES, type DeleteOptions, type PatchType, type Store, type WatchEvent, type WriteOptions } from './store.js';
import { toTable, type IncludeObject } from './table.js';
import type { KubeObject, ResourceRef } from './types.js';
import { isPlainObject } from './types.js';
import { rfc3339 } from './util.js';

export const SERVER_VERSION = {
  major: '1',
  minor: '33',
  gitVersion: 'v1.33.1',
  gitCommit: '8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828',
  gitTreeState: 'clean',
  buildDate: '2025-05-15T08:19:08Z',
  goVersion: 'go1.24.2',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export interface HttpOptions {
  /** How often watch streams that asked for bookmarks get one (default 5 s). */
  bookmarkIntervalMs?: number;
  now?: () => Date;
}

interface Route {
  ref: ResourceRef;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  verb: Verb;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  warnings: string[];
}

const JSON_TYPE = 'application/json';
const AGGREGATED = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Parses `/api/v1/...` and `/apis/{g}/{v}/...` resource paths. */
function parseResourcePath(parts: string[]): Route | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(group === '' && rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize'))) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length === 0 || rest.length > 3) return undefined;
  return { ref: { group, version, resource: rest[0]! }, namespace, name: rest[1], subresource: rest[2] };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function decode(body: Buffer, contentType: string, allowYaml: boolean): unknown {
  if (body.length === 0) return undefined;
  if (contentType.includes('protobuf')) return decodeProtobuf(body);
  const text = body.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return allowYaml || contentType.includes('yaml') ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw badRequest(`error decoding ${allowYaml ? 'YAML' : 'JSON'}: ${(e as Error).message.split('\n')[0]}`);
  }
}

function patchTypeOf(contentType: string): PatchType {
  const ct = contentType.split(';')[0]!.trim();
  for (const [type, mime] of Object.entries(PATCH_CONTENT_TYPES)) if (mime === ct) return type as PatchType;
  throw unsupportedMediaType(Object.values(PATCH_CONTENT_TYPES));
}

const wantsTable = (req: IncomingMessage) => (req.headers.accept ?? '').includes('as=Table');

const fieldValidationOf = (v: string | null): WriteOptions['fieldValidation'] => (v === 'Strict' || v === 'Ignore' || v === 'Warn' ? v : undefined);

/** Handles every request of one emulator server. */
export class HttpApi {
  private readonly openapi: OpenApi;
  private readonly streams = new Set<ServerResponse>();
  private readonly bookmarkIntervalMs: number;
  private readonly now: () => Date;
  private readonly portForwarder: PortForwarder;
  serverAddress = '127.0.0.1:0';

  constructor(
    private readonly store: Store,
    private readonly faults: Faults,
    options: HttpOptions = {},
  ) {
    this.openapi = new OpenApi(store.registry);
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 5000;
    this.now = options.now ?? (() => new Date());
    this.portForwarder = new PortForwarder(store);
    store.onCloseAllWatches(() => {
      for (const res of this.streams) res.end();
      this.streams.clear();
    });
  }

  /** Ends every open watch stream (used on shutdown). */
  closeStreams(): void {
    for (const res of this.streams) res.destroy();
    this.streams.clear();
    this.portForwarder.closeAll();
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    void this.serve(req, res);
  };

  /** The HTTP server's `upgrade` event: pods/portforward over WebSocket; anything else is refused. */
  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    void this.serveUpgrade(req, socket, head);
  };

  private async serveUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const match = matchPodSubresource(url);
    socket.on('error', () => socket.destroy());
    let code = 101;
    try {
      if (match?.subresource !== 'portforward' || req.method !== 'GET') throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      await this.faults.before({ verb: 'create', resource: 'pods', subresource: 'portforward' });
      await this.portForwarder.upgrade(match, url, req, socket, head);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`);
      code = err.code;
      rejectUpgrade(socket, err);
    } finally {
      this.record(req, url, code, {
        verb: match ? 'create' : 'other',
        resource: match ? 'pods' : '',
        ...(match ? { subresource: match.subresource, namespace: match.namespace, name: match.name } : {}),
      });
    }
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
    const podSub = matchPodSubresource(url);
    const route = podSub ? undefined : parseResourcePath(parts);
    const ctx: Context = { req, res, url, verb: 'other', resource: '', warnings: [] };
    if (podSub) {
      Object.assign(ctx, { resource: 'pods', subresource: podSub.subresource, namespace: podSub.namespace, name: podSub.name, verb: podSub.subresource === 'proxy' ? 'get' : 'create' });
    } else if (route) {
      ctx.resource = qualifiedResource(route.ref.resource, route.ref.group);
      if (route.subresource) ctx.subresource = route.subresource;
      if (route.namespace) ctx.namespace = route.namespace;
      if (route.name) ctx.name = route.name;
      ctx.verb = verbOf(req.method ?? 'GET', route, url);
    } else if (parts[0] === 'api' || parts[0] === 'apis') ctx.verb = 'discovery';
    else if (parts[0] === 'openapi') ctx.verb = 'openapi';
    let code = 200;
    try {
      await this.faults.before({ verb: ctx.verb, resource: ctx.resource, ...(ctx.subresource ? { subresource: ctx.subresource } : {}) });
      if (podSub?.subresource === 'proxy') code = await proxyToPod(this.store, podSub, req, res);
      else if (podSub) throw badRequest('Upgrade request required');
      else if (route) code = await this.resource(ctx, route);
      else code = this.nonResource(ctx, parts);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`);
      if (!(e instanceof ApiError)) console.error('kube-emulator: request failed:', e);
      code = err.code;
      if (!res.headersSent) {
        for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
        this.send(ctx, err.code, JSON.stringify(err.status));
      } else res.end();
    } finally {
      this.record(req, url, code, {
        verb: ctx.verb,
        resource: ctx.resource,
        ...(ctx.subresource ? { subresource: ctx.subresource } : {}),
        ...(ctx.namespace ? { namespace: ctx.namespace } : {}),
        ...(ctx.name ? { name: ctx.name } : {}),
        ...(url.searchParams.get('fieldManager') ? { fieldManager: url.searchParams.get('fieldManager')! } : {}),
      });
    }
  }

  /** One request-log entry for an HTTP request: what it addressed (`what`) plus the fields every entry carries. */
  private record(req: IncomingMessage, url: URL, code: number, what: Pick<RequestLogEntry, 'verb' | 'resource' | 'subresource' | 'namespace' | 'name' | 'fieldManager'>): void {
    this.store.requestLog.record({
      time: rfc3339(this.now()),
      ...what,
      code,
      client: req.headers['user-agent'] ?? '',
      ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
      source: 'http',
      method: req.method ?? 'GET',
      path: url.pathname,
    });
  }

  private send(ctx: Context, code: number, body: string, contentType = JSON_TYPE): void {
    const { res } = ctx;
    for (const w of ctx.warnings) res.appendHeader('Warning', `299 - ${JSON.stringify(w)}`);
    res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache, private' });
    res.end(body);
  }

  private nonResource(ctx: Context, parts: string[]): number {
    const path = parts.join('/');
    const { req } = ctx;
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(`the server does not allow this method on the requested resource`);
    if (path === 'version') return this.json(ctx, 200, SERVER_VERSION);
    if (path === 'healthz' || path === 'readyz' || path === 'livez') {
      this.send(ctx, 200, 'ok', 'text/plain; charset=utf-8');
      return 200;
    }
    const aggregated = (req.headers.accept ?? '').includes('v=v2;as=APIGroupDiscoveryList');
    if (path === 'api' || path === 'apis') {
      if (aggregated) {
        this.send(ctx, 200, JSON.stringify(aggregatedDiscovery(this.store.registry, path === 'api')), AGGREGATED);
        return 200;
      }
      return this.json(ctx, 200, path === 'api' ? legacyApiVersions(this.serverAddress) : legacyGroupList(this.store.registry));
    }
    if (parts[0] === 'apis' && parts.length === 2) {
      const group = legacyGroup(this.store.registry, parts[1]!);
      if (group) return this.json(ctx, 200, group);
    }
    if ((parts[0] === 'api' && parts.length === 2) || (parts[0] === 'apis' && parts.length === 3)) {
      const list = parts[0] === 'api' ? resourceList(this.store.registry, '', parts[1]!) : resourceList(this.store.registry, parts[1]!, parts[2]!);
      if (list) return this.json(ctx, 200, list);
    }
    if (path === 'openapi/v2') {
      this.send(ctx, 200, '', 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
      return 200;
    }
    if (path === 'openapi/v3') {
      this.send(ctx, 200, this.openapi.index());
      return 200;
    }
    if (parts[0] === 'openapi' && parts[1] === 'v3') {
      const doc = this.openapi.document(parts.slice(2).join('/'));
      if (doc !== undefined) {
        this.send(ctx, 200, doc);
        return 200;
      }
    }
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
  }

  private json(ctx: Context, code: number, body: unknown): number {
    this.send(ctx, code, JSON.stringify(body));
    return code;
  }

  private writeOptions(ctx: Context): WriteOptions {
    const q = ctx.url.searchParams;
    const ua = ctx.req.headers['user-agent'] ?? '';
    const opts: WriteOptions = { client: HTTP_CLIENT_MARK, fieldManager: q.get('fieldManager') || ua.split('/')[0] || 'unknown', warnings: ctx.warnings };
    const fv = fieldValidationOf(q.get('fieldValidation'));
    if (fv) opts.fieldValidation = fv;
    if (q.getAll('dryRun').includes('All')) opts.dryRun = true;
    if (q.get('force') === 'true') opts.force = true;
    return opts;
  }

  private async resource(ctx: Context, route: Route): Promise<number> {
    const { req, url } = ctx;
    const q = url.searchParams;
    const t = this.store.typeOf(route.ref);
    const namespace = t.namespaced ? route.namespace : undefined;
    const method = req.method ?? 'GET';
    const sub = route.subresource;
    if (sub !== undefined && sub !== 'status' && !(sub === 'scale' && t.scale)) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (method === 'GET') {
      if (!route.name) {
        if (q.get('watch') === 'true' || q.get('watch') === '1') return this.watch(ctx, t, namespace);
        return this.list(ctx, t, namespace);
      }
      if (sub === 'scale') return this.json(ctx, 200, this.store.getScale(route.ref, namespace, route.name, { client: HTTP_CLIENT_MARK }));
      const obj = this.store.get(route.ref, namespace, route.name, { client: HTTP_CLIENT_MARK });
      return this.object(ctx, t, 200, obj);
    }
    if (method === 'POST') {
      if (route.name) throw methodNotAllowed('the server does not allow this method on the requested resource');
      const body = decode(await readBody(req), req.headers['content-type'] ?? JSON_TYPE, false);
      return this.object(ctx, t, 201, this.store.create(route.ref, namespace, body, this.writeOptions(ctx)));
    }
    if (method === 'PUT' && route.name) {
      const body = decode(await readBody(req), req.headers['content-type'] ?? JSON_TYPE, false);
      if (sub === 'scale') return this.json(ctx, 200, this.store.updateScale(route.ref, namespace, route.name, body, this.writeOptions(ctx)));
      const obj = sub === 'status' ? this.store.updateStatus(route.ref, namespace, route.name, body, this.writeOptions(ctx)) : this.store.update(route.ref, namespace, route.name, body, this.writeOptions(ctx));
      return this.object(ctx, t, 200, obj);
    }
    if (method === 'PATCH' && route.name) {
      const type = patchTypeOf(req.headers['content-type'] ?? '');
      const body = decode(await readBody(req), req.headers['content-type'] ?? '', type === 'apply');
      if (sub === 'scale') return this.json(ctx, 200, this.store.patchScale(route.ref, namespace, route.name, type, body, this.writeOptions(ctx)));
      const result = this.store.patch(route.ref, namespace, route.name, type, body, { ...this.writeOptions(ctx), ...(sub === 'status' ? { subresource: 'status' as const } : {}) });
      return this.object(ctx, t, result.created ? 201 : 200, result.object);
    }
    if (method === 'DELETE') {
      const raw = decode(await readBody(req), req.headers['content-type'] ?? JSON_TYPE, false);
      const opts: DeleteOptions = { ...this.writeOptions(ctx), ...deleteOptions(raw, q) };
      if (!route.name) {
        const deleted = this.store.deleteCollection(route.ref, { ...opts, ...listQuery(q, namespace) });
        return this.listBody(ctx, t, deleted, this.store.resourceVersion);
      }
      const obj = this.store.delete(route.ref, namespace, route.name, opts);
      const removed = !this.store.tryGet(route.ref, namespace, route.name);
      if (removed && !this.store.returnsDeletedObject(route.ref)) {
        return this.json(ctx, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: route.name, group: t.group, kind: t.resource, uid: obj.metadata.uid } });
      }
      return this.object(ctx, t, 200, obj);
    }
    throw methodNotAllowed('the server does not allow this method on the requested resource');
  }

  private object(ctx: Context, t: ResourceType, code: number, obj: KubeObject): number {
    if (wantsTable(ctx.req)) return this.json(ctx, code, toTable(t, [obj], { resourceVersion: obj.metadata.resourceVersion! }, this.now().getTime(), includeObject(ctx.url)));
    this.send(ctx, code, this.store.toJson(obj));
    return code;
  }

  private list(ctx: Context, t: ResourceType, namespace: string | undefined): number {
    const q = ctx.url.searchParams;
    const result = this.store.list({ group: t.group, version: t.version, resource: t.resource }, { ...listQuery(q, namespace), client: HTTP_CLIENT_MARK });
    if (wantsTable(ctx.req)) {
      const meta = { resourceVersion: result.resourceVersion, ...(result.continue ? { continue: result.continue } : {}), ...(result.remainingItemCount !== undefined ? { remainingItemCount: result.remainingItemCount } : {}) };
      return this.json(ctx, 200, toTable(t, result.items, meta, this.now().getTime(), includeObject(ctx.url)));
    }
    return this.listBody(ctx, t, result.items, result.resourceVersion, result.continue, result.remainingItemCount);
  }

  private listBody(ctx: Context, t: ResourceType, items: readonly KubeObject[], resourceVersion: string, cont?: string, remaining?: number): number {
    const meta: Record<string, unknown> = { resourceVersion };
    if (cont) meta['continue'] = cont;
    if (remaining !== undefined) meta['remainingItemCount'] = remaining;
    const body = `{"kind":${JSON.stringify(t.listKind)},"apiVersion":${JSON.stringify(apiVersionOf(t))},"metadata":${JSON.stringify(meta)},"items":[${items.map((o) => this.store.toJson(o)).join(',')}]}`;
    this.send(ctx, 200, body);
    return 200;
  }

  private watch(ctx: Context, t: ResourceType, namespace: string | undefined): number {
    const { req, res, url } = ctx;
    const q = url.searchParams;
    const table = wantsTable(req);
    const include = includeObject(url);
    const bookmarks = q.get('allowWatchBookmarks') === 'true';
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? '0');
    const ref = { group: t.group, version: t.version, resource: t.resource };
    let firstTableEvent = true;
    const line = (ev: WatchEvent): string => {
      if (ev.type === 'ERROR' || ev.type === 'BOOKMARK') return `${JSON.stringify(ev)}\n`;
      if (table) {
        const obj = ev.object as KubeObject;
        const tbl = toTable(t, [obj], { resourceVersion: obj.metadata.resourceVersion! }, this.now().getTime(), include, firstTableEvent);
        firstTableEvent = false;
        return `${JSON.stringify({ type: ev.type, object: tbl })}\n`;
      }
      return `{"type":"${ev.type}","object":${this.store.toJson(ev.object)}}\n`;
    };
    const held: string[] = [];
    let corked = false;
    const write = (text: string) => {
      if (res.writableEnded) return;
      if (this.faults.paused) {
        held.push(text);
        return;
      }
      // Events of one tick go out in one chunk: far fewer syscalls when a write burst hits many watches.
      if (!corked) {
        corked = true;
        res.cork();
        process.nextTick(() => {
          corked = false;
          res.uncork();
        });
      }
      res.write(text);
    };
    const expire = this.faults.takeWatchExpiry();
    let unsubscribe: () => void = () => undefined;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      unsubscribe();
      clearInterval(bookmarkTimer);
      clearTimeout(timeoutTimer);
      stopResume();
      this.streams.delete(res);
      if (!res.writableEnded) res.end();
    };
    // Subscribe before sending headers so selector errors still become a 400.
    if (!expire) {
      unsubscribe = this.store.watch(ref, { ...listQuery(q, namespace), ...(q.get('resourceVersion') !== null ? { resourceVersion: q.get('resourceVersion')! } : {}), ...(q.get('sendInitialEvents') === 'true' ? { sendInitialEvents: true } : {}), client: HTTP_CLIENT_MARK }, (ev) => {
        write(line(ev));
        if (ev.type === 'ERROR') finish();
      });
    }
    res.writeHead(200, { 'Content-Type': JSON_TYPE, 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    this.streams.add(res);
    const stopResume = this.faults.onResume(() => {
      for (const text of held.splice(0)) if (!res.writableEnded) res.write(text);
    });
    const bookmarkTimer = setInterval(() => {
      if (!bookmarks || finished) return;
      write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: t.kind, apiVersion: apiVersionOf(t), metadata: { resourceVersion: this.store.deliveredResourceVersion } } })}\n`);
    }, this.bookmarkIntervalMs);
    bookmarkTimer.unref();
    const timeoutTimer = setTimeout(finish, timeoutSeconds > 0 ? timeoutSeconds * 1000 : 2 ** 31 - 1);
    timeoutTimer.unref();
    res.on('close', finish);
    if (expire) {
      const rv = q.get('resourceVersion') ?? '0';
      res.write(line({ type: 'ERROR', object: gone(`too old resource version: ${rv} (${this.store.resourceVersion})`).status }));
      finish();
    }
    return 200;
  }
}

function verbOf(method: string, route: Route, url: URL): Verb {
  switch (method) {
    case 'GET':
      if (route.name) return 'get';
      return url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1' ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name ? 'delete' : 'deletecollection';
    default:
      return 'other';
  }
}

function includeObject(url: URL): IncludeObject {
  const v = url.searchParams.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

function listQuery(q: URLSearchParams, namespace: string | undefined) {
  const out: { namespace?: string; labelSelector?: string; fieldSelector?: string; limit?: number; continue?: string; resourceVersion?: string; resourceVersionMatch?: string } = {};
  if (namespace) out.namespace = namespace;
  if (q.get('resourceVersion') !== null) out.resourceVersion = q.get('resourceVersion')!;
  if (q.get('resourceVersionMatch')) out.resourceVersionMatch = q.get('resourceVersionMatch')!;
  if (q.get('labelSelector')) out.labelSelector = q.get('labelSelector')!;
  if (q.get('fieldSelector')) out.fieldSelector = q.get('fieldSelector')!;
  if (q.get('limit')) out.limit = Number(q.get('limit'));
  if (q.get('continue')) out.continue = q.get('continue')!;
  return out;
}

function deleteOptions(body: unknown, q: URLSearchParams): DeleteOptions {
  const b = isPlainObject(body) ? body : {};
  const opts: DeleteOptions = {};
  const policy = (b['propagationPolicy'] ?? q.get('propagationPolicy') ?? undefined) as DeleteOptions['propagationPolicy'] | undefined;
  if (policy) {
    if (!['Background', 'Foreground', 'Orphan'].includes(policy)) throw badRequest(`propagationPolicy: Unsupported value: "${policy}"`);
    opts.propagationPolicy = policy;
  }
  if (b['orphanDependents'] === true || q.get('orphanDependents') === 'true') opts.propagationPolicy = 'Orphan';
  if (isPlainObject(b['preconditions'])) opts.preconditions = b['preconditions'] as DeleteOptions['preconditions'];
  const grace = b['gracePeriodSeconds'] ?? q.get('gracePeriodSeconds');
  if (grace !== undefined && grace !== null) opts.gracePeriodSeconds = Number(grace);
  if (Array.isArray(b['dryRun']) && b['dryRun'].includes('All')) opts.dryRun = true;
  return opts;
}
