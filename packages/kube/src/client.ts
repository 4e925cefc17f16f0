/**
 * The KubeClient port over @kubernetes/client-node 2.0.1. client-node supplies what is hard to get right (the
 * KubeConfig: TLS, tokens, exec/OIDC auth providers, its undici dispatcher); the REST calls themselves are made
 * here from the ResourceType, because its generic KubernetesObjectApi drops `continue` for custom resources,
 * hides Retry-After and cannot stream a watch with its ERROR events.
 */
import type { KubeConfig } from '@kubernetes/client-node';
// Deep imports: the package index loads every generated API class and model (about 2,700 modules, most of a
// second at start-up); these two modules hold all the request machinery this client uses.
import { HttpMethod, RequestContext, type ResponseContext } from '@kubernetes/client-node/dist/gen/http/http.js';
import { IsomorphicFetchHttpLibrary } from '@kubernetes/client-node/dist/gen/http/isomorphic-fetch.js';
import { FIELD_MANAGER } from '@slmops/api/keys';
import { eventObject } from './events.js';
import {
  KubeApiError,
  Resources,
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

/** The API verb of a request, as `onRequest` reports it. */
export type RequestVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'discovery';

export interface KubeClientOptions {
  kubeConfig: KubeConfig;
  /** Field manager for apply and every other write (default "slmops-operator"). */
  fieldManager?: string;
  /** User-Agent header, e.g. "slmops-operator/0.1.0 (replica-a)"; the API server's logs and the emulator show it. */
  userAgent?: string;
  /** Called after every response (status 0 when the request failed before one arrived), e.g. to count writes. */
  onRequest?: (verb: RequestVerb, status: number) => void;
  /** Limit for each non-watch request (default 30 s). */
  requestTimeoutMs?: number;
  /** Kinds create/replace/apply may be given besides `Resources`; others are found through API discovery. */
  types?: readonly ResourceType[];
  /** Event timestamps (default: the system clock). */
  now?: () => Date;
}

const CONTENT_TYPES: Record<PatchType | 'apply', string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Gone',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** `/api/v1/namespaces/ns/pods/name/status`: the REST path of a resource, object or subresource. */
export function resourcePath(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const base = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const tail = name === undefined ? '' : `/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
  return `${base}${ns}/${type.plural}${tail}`;
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

interface StatusBody {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
  details?: { retryAfterSeconds?: number };
}

/** A KubeApiError from a metav1.Status body (or whatever the server sent) and the Retry-After header. */
export function statusError(status: number, body: string, retryAfterHeader: string | undefined, what: string): KubeApiError {
  let reason = REASONS[status] ?? 'Unknown';
  let message = `${what}: HTTP ${status}${body.trim() ? ` ${body.trim().slice(0, 200)}` : ''}`;
  let retryAfter = parseRetryAfter(retryAfterHeader);
  try {
    const s = JSON.parse(body) as StatusBody;
    if (s && s.kind === 'Status') {
      if (s.reason) reason = s.reason;
      if (s.message) message = s.message;
      retryAfter ??= s.details?.retryAfterSeconds;
    }
  } catch {
    // Not a Status (a proxy's HTML page, an empty body): keep the generic message, which names the request.
  }
  return new KubeApiError(status, reason, message, retryAfter);
}

function apiVersionKey(apiVersion: string, kind: string) {
  return `${apiVersion}/${kind}`;
}

/** The KubeClient over a KubeConfig. */
export function createKubeClient(options: KubeClientOptions): KubeClient {
  return new HttpKubeClient(options);
}

class HttpKubeClient implements KubeClient {
  private readonly kc: KubeConfig;
  private readonly server: string;
  private readonly defaultNamespace: string;
  private readonly fieldManager: string;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  private readonly http = new IsomorphicFetchHttpLibrary();
  private readonly types = new Map<string, ResourceType>();
  private readonly discovered = new Map<string, Promise<void>>();
  private readonly now: () => Date;

  constructor(private readonly options: KubeClientOptions) {
    this.kc = options.kubeConfig;
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error(`kubeconfig context "${this.kc.getCurrentContext()}" has no cluster`);
    this.server = cluster.server.replace(/\/+$/, '');
    const ctx = this.kc.getContextObject(this.kc.getCurrentContext());
    this.defaultNamespace = ctx?.namespace || 'default';
    this.fieldManager = options.fieldManager ?? FIELD_MANAGER;
    this.userAgent = options.userAgent ?? `${FIELD_MANAGER}/0.1.0`;
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.now = options.now ?? (() => new Date());
    for (const t of [...Object.values(Resources), ...(options.types ?? [])]) this.types.set(apiVersionKey(t.apiVersion, t.kind), t);
  }

  // ------------------------------------------------------------------ transport

  private async send(
    verb: RequestVerb,
    method: HttpMethod,
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    body?: { text: string; contentType: string },
    signal?: AbortSignal,
  ): Promise<ResponseContext> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), method);
    try {
      await this.kc.applySecurityAuthentication(ctx);
    } catch (e) {
      this.options.onRequest?.(verb, 0);
      throw new Error(`${method} ${url.pathname}: kubeconfig credentials failed: ${(e as Error).message}`, { cause: e });
    }
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('User-Agent', this.userAgent);
    if (body) {
      ctx.setHeaderParam('Content-Type', body.contentType);
      ctx.setBody(body.text);
    }
    ctx.setSignal(signal ?? AbortSignal.timeout(this.timeoutMs));
    try {
      const response = await this.http.send(ctx).toPromise();
      this.options.onRequest?.(verb, response.httpStatusCode);
      return response;
    } catch (e) {
      this.options.onRequest?.(verb, 0);
      const cause = e as Error & { cause?: Error };
      throw new Error(`${method} ${url.origin}${url.pathname}: ${cause.cause?.message ?? cause.message}`, { cause: e });
    }
  }

  /** Sends a request and parses the JSON answer; error statuses become KubeApiError. */
  private async call<T>(verb: RequestVerb, method: HttpMethod, path: string, query: Record<string, string | number | boolean | undefined> = {}, body?: { text: string; contentType: string }): Promise<T> {
    const response = await this.send(verb, method, path, query, body);
    const text = await response.body.text();
    if (response.httpStatusCode < 200 || response.httpStatusCode >= 300) throw statusError(response.httpStatusCode, text, response.headers['retry-after'], `${method} ${path}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  // ------------------------------------------------------------------ kinds

  private namespaceOf(type: ResourceType, namespace: string | undefined): string | undefined {
    return type.namespaced ? namespace || this.defaultNamespace : undefined;
  }

  /** The ResourceType of an object: the known table, else the API server's discovery for its group/version. */
  private async typeOf(object: KubeObject): Promise<ResourceType> {
    const key = apiVersionKey(object.apiVersion, object.kind);
    const known = this.types.get(key);
    if (known) return known;
    let pending = this.discovered.get(object.apiVersion);
    if (!pending) {
      pending = this.discover(object.apiVersion);
      this.discovered.set(object.apiVersion, pending);
      // A failed discovery is retried on the next call instead of being cached.
      pending.catch(() => this.discovered.delete(object.apiVersion));
    }
    await pending;
    const found = this.types.get(key);
    if (!found) throw new KubeApiError(404, 'NotFound', `no matches for kind "${object.kind}" in version "${object.apiVersion}" (is its CRD installed?)`);
    return found;
  }

  private async discover(apiVersion: string): Promise<void> {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = await this.call<{ resources?: { name: string; kind: string; namespaced: boolean }[] }>('discovery', HttpMethod.GET, path);
    for (const r of list.resources ?? []) {
      if (r.name.includes('/')) continue;
      const key = apiVersionKey(apiVersion, r.kind);
      if (!this.types.has(key)) this.types.set(key, { apiVersion, kind: r.kind, plural: r.name, namespaced: r.namespaced });
    }
  }

  // ------------------------------------------------------------------ KubeClient

  async get<T extends KubeObject = KubeObject>(type: ResourceType, name: string, namespace?: string): Promise<T | undefined> {
    try {
      return await this.call<T>('get', HttpMethod.GET, resourcePath(type, this.namespaceOf(type, namespace), name));
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject = KubeObject>(type: ResourceType, options: ListOptions = {}): Promise<ObjectList<T>> {
    const path = resourcePath(type, type.namespaced ? options.namespace : undefined);
    const items: T[] = [];
    let resourceVersion: string | undefined;
    let cont: string | undefined;
    do {
      const page = await this.call<{ metadata?: { resourceVersion?: string; continue?: string }; items?: T[] }>('list', HttpMethod.GET, path, {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit,
        continue: cont,
      });
      // Every page of a paged list is served at the first page's resourceVersion: watching from it misses nothing.
      resourceVersion ??= page.metadata?.resourceVersion ?? '';
      // Items of built-in lists carry no apiVersion/kind on the wire; the port's objects always do.
      for (const item of page.items ?? []) items.push({ ...item, apiVersion: item.apiVersion ?? type.apiVersion, kind: item.kind ?? type.kind });
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, resourceVersion: resourceVersion ?? '' };
  }

  async watch<T extends KubeObject = KubeObject>(type: ResourceType, options: WatchOptions, onEvent: (event: WatchEvent<T>) => void): Promise<Watch> {
    const path = resourcePath(type, type.namespaced ? options.namespace : undefined);
    const controller = new AbortController();
    const response = await this.send(
      'watch',
      HttpMethod.GET,
      path,
      {
        watch: 'true',
        resourceVersion: options.resourceVersion,
        allowWatchBookmarks: options.allowWatchBookmarks ? 'true' : undefined,
        timeoutSeconds: options.timeoutSeconds,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
      },
      undefined,
      controller.signal,
    );
    if (response.httpStatusCode !== 200) {
      const text = await response.body.text();
      throw statusError(response.httpStatusCode, text, response.headers['retry-after'], `GET ${path} (watch)`);
    }
    const stream = response.body.stream();
    if (!stream) throw new Error(`GET ${path} (watch): the response has no body stream`);
    let stopped = false;
    let expired = false;
    // The server ends a watch after timeoutSeconds; this guard ends one the network silently lost.
    const guard = options.timeoutSeconds ? setTimeout(() => ((expired = true), controller.abort()), (options.timeoutSeconds + 30) * 1000) : undefined;
    guard?.unref();
    const handleLine = (line: string) => {
      if (line.trim() === '') return;
      let event: { type?: string; object?: unknown };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        throw new Error(`GET ${path} (watch): malformed event: ${line.slice(0, 120)}`);
      }
      if (event.type === 'ERROR') {
        const s = (event.object ?? {}) as StatusBody;
        throw new KubeApiError(s.code ?? 500, s.reason ?? REASONS[s.code ?? 500] ?? 'Unknown', s.message ?? `watch ${path} failed`, s.details?.retryAfterSeconds);
      }
      if (event.type !== 'ADDED' && event.type !== 'MODIFIED' && event.type !== 'DELETED' && event.type !== 'BOOKMARK') return;
      const object = event.object as T;
      onEvent({ type: event.type, object: { ...object, apiVersion: object.apiVersion ?? type.apiVersion, kind: object.kind ?? type.kind } });
    };
    const done = (async () => {
      const reader = stream.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) break;
          buffer += decoder.decode(value, { stream: true });
          for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
            const line = buffer.slice(0, nl);
            buffer = buffer.slice(nl + 1);
            handleLine(line);
          }
        }
        handleLine(buffer + decoder.decode());
      } catch (e) {
        if (stopped || expired) return;
        controller.abort();
        if (e instanceof KubeApiError) throw e;
        const err = e as Error;
        // An event handler's own error passes through unchanged; transport errors name the watch.
        if (err.name === 'AbortError' || err.name === 'TypeError' || (err as { code?: string }).code?.startsWith('UND_ERR')) {
          throw new Error(`GET ${path} (watch): ${err.message}`, { cause: e });
        }
        throw e;
      } finally {
        if (guard) clearTimeout(guard);
      }
    })();
    // Callers that only stop() must not crash the process with an unhandled rejection; awaiting done still throws.
    done.catch(() => undefined);
    return {
      stop() {
        stopped = true;
        controller.abort();
      },
      done,
    };
  }

  private writeQuery(fieldManager?: string, dryRun?: boolean) {
    return { fieldManager: fieldManager ?? this.fieldManager, dryRun: dryRun ? 'All' : undefined };
  }

  async create<T extends KubeObject = KubeObject>(object: T): Promise<T> {
    const type = await this.typeOf(object);
    return this.call<T>('create', HttpMethod.POST, resourcePath(type, this.namespaceOf(type, object.metadata.namespace)), this.writeQuery(), { text: JSON.stringify(object), contentType: 'application/json' });
  }

  async replace<T extends KubeObject = KubeObject>(object: T, options: { subresource?: 'status' | 'scale' } = {}): Promise<T> {
    const type = await this.typeOf(object);
    const path = resourcePath(type, this.namespaceOf(type, object.metadata.namespace), object.metadata.name, options.subresource);
    return this.call<T>('update', HttpMethod.PUT, path, this.writeQuery(), { text: JSON.stringify(object), contentType: 'application/json' });
  }

  async apply<T extends KubeObject = KubeObject>(object: KubeObject, options: ApplyOptions = {}): Promise<T> {
    const type = await this.typeOf(object);
    const path = resourcePath(type, this.namespaceOf(type, object.metadata.namespace), object.metadata.name, options.subresource);
    // JSON is YAML, so the body is sent as JSON under the apply content type (as client-node and kubectl do).
    return this.call<T>('patch', HttpMethod.PATCH, path, { ...this.writeQuery(options.fieldManager, options.dryRun), force: options.force ?? true }, { text: JSON.stringify(object), contentType: CONTENT_TYPES.apply });
  }

  async patch<T extends KubeObject = KubeObject>(type: ResourceType, name: string, namespace: string | undefined, patch: unknown, patchType: PatchType, options: PatchOptions = {}): Promise<T> {
    const path = resourcePath(type, this.namespaceOf(type, namespace), name, options.subresource);
    return this.call<T>('patch', HttpMethod.PATCH, path, this.writeQuery(options.fieldManager), { text: JSON.stringify(patch), contentType: CONTENT_TYPES[patchType] });
  }

  async delete(type: ResourceType, name: string, namespace?: string, options: DeleteOptions = {}): Promise<boolean> {
    const body = { apiVersion: 'v1', kind: 'DeleteOptions', ...options };
    try {
      await this.call('delete', HttpMethod.DELETE, resourcePath(type, this.namespaceOf(type, namespace), name), {}, { text: JSON.stringify(body), contentType: 'application/json' });
      return true;
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return false;
      throw e;
    }
  }

  async createEvent(event: EventInput): Promise<void> {
    await this.create(eventObject(event, this.fieldManager, this.now()));
  }
}
