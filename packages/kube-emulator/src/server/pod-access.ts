/**
 * The pods/proxy and pods/portforward subresources: how a client outside the cluster network reaches a pod's
 * port through the API server. Only pods whose address is on this machine (loopback: the simulator's
 * process-backed pods, or a test's pod pointing at a local process) are dialled; a simulated pod without a process
 * answers as a real pod that is down does, and no packet ever goes to a simulated pod IP.
 *
 * Proxy: `/api/v1/namespaces/{ns}/pods/{name}[:{port}]/proxy/{path}` copies the request to the pod and the answer
 * back (status, headers, body streamed with backpressure). Port-forward: `GET …/pods/{name}/portforward?ports=N`
 * with `Upgrade: websocket` and subprotocol `v4.channel.k8s.io`, as @kubernetes/client-node's `PortForward` speaks
 * it: per requested port i a data channel 2i and an error channel 2i+1; every frame starts with its channel byte,
 * and each channel's first server frame carries the port as 2 little-endian bytes. kubectl's own `port-forward`
 * (SPDY, or SPDY tunnelled over WebSocket) is not served.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { connect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { podEndpoint } from '../simulator/process-runner.js';
import type { Pod } from '../simulator/types.js';
import { ApiError, badRequest, notFound } from './errors.js';
import type { Store } from './store.js';

const PODS = { group: '', version: 'v1', resource: 'pods' } as const;

/** The port-forward subprotocol served (client-node offers it among others). */
export const PORT_FORWARD_PROTOCOL = 'v4.channel.k8s.io';

/** A proxied request whose pod sends nothing for this long is cut. */
const PROXY_IDLE_MS = 60_000;
/** Largest WebSocket message a port-forward client may send. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Above this many bytes queued towards the client, reading from the pod pauses. */
const HIGH_WATER_BYTES = 1024 * 1024;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** A request for a pod subresource the REST routes do not cover. */
export interface PodSubresource {
  subresource: 'proxy' | 'portforward';
  namespace: string;
  /** The pod name without the `:port` suffix. */
  name: string;
  /** The port from `name:port` (proxy only). */
  port?: string;
  /** The path to request from the pod, with the query (proxy only). */
  path: string;
}

/** Matches `/api/v1/namespaces/{ns}/pods/{name}/(proxy|portforward)…` on the raw (still encoded) path. */
export function matchPodSubresource(url: URL): PodSubresource | undefined {
  const raw = url.pathname.split('/');
  // ['', 'api', 'v1', 'namespaces', ns, 'pods', name, sub, ...rest]
  if (raw[1] !== 'api' || raw[2] !== 'v1' || raw[3] !== 'namespaces' || raw[5] !== 'pods' || !raw[4] || !raw[6]) return undefined;
  const sub = raw[7];
  if (sub !== 'proxy' && sub !== 'portforward') return undefined;
  const namespace = decodeURIComponent(raw[4]);
  const id = decodeURIComponent(raw[6]);
  if (sub === 'portforward') return raw.length === 8 ? { subresource: sub, namespace, name: id, path: '' } : undefined;
  // "name", "name:port" or "scheme:name:port", as the API server splits them.
  const pieces = id.split(':');
  const [name, port] = pieces.length === 3 ? [pieces[1]!, pieces[2]!] : [pieces[0]!, pieces[1]];
  const path = `/${raw.slice(8).join('/')}${url.search}`;
  return { subresource: sub, namespace, name, ...(port ? { port } : {}), path };
}

/** 127.0.0.0/8 and ::1: the only addresses the emulator dials. */
const isLocal = (host: string) => (isIP(host) === 4 ? host.startsWith('127.') : host === '::1');

type Target = { host: string; port: number; shown: string } | { unreachable: string };

/** The pod (404 when unknown) and where its `port` is; unreachable for pods without an address on this machine. */
function resolve(store: Store, namespace: string, name: string, port: string | number): { pod: Pod; target: Target } {
  const pod = store.tryGet(PODS, namespace, name) as Pod | undefined;
  if (!pod) throw notFound('pods', '', name);
  const ip = pod.status?.podIP;
  // As the API server: a pod without a usable IP is refused before any dial.
  if (!ip) throw badRequest('address not allowed');
  const endpoint = podEndpoint(pod, port);
  if (!endpoint) throw badRequest(`invalid port "${port}" for pod "${name}"`);
  const shown = `${ip.includes(':') ? `[${ip}]` : ip}:${typeof port === 'number' ? port : endpoint.port}`;
  if (!isLocal(endpoint.host)) return { pod, target: { unreachable: `dial tcp ${shown}: connect: no route to host (a simulated pod: no process runs behind it)` } };
  return { pod, target: { host: endpoint.host, port: endpoint.port, shown } };
}

const unreachableError = (message: string) => new ApiError(503, 'ServiceUnavailable', `error trying to reach service: ${message}`);

const firstContainerPort = (store: Store, namespace: string, name: string): string => {
  const pod = store.tryGet(PODS, namespace, name) as Pod | undefined;
  for (const c of pod?.spec.containers ?? []) for (const p of c.ports ?? []) return String(p.containerPort);
  return '80';
};

function forwardHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k) && k !== 'host' && k !== 'authorization') out[k] = v;
  return out;
}

/**
 * Serves pods/proxy: resolves to the status the pod answered. Errors before the pod answered are thrown as
 * ApiErrors (the caller writes the Status); after that, a failure cuts the response.
 */
export function proxyToPod(store: Store, match: PodSubresource, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const port = match.port ?? firstContainerPort(store, match.namespace, match.name);
  const { target } = resolve(store, match.namespace, match.name, port);
  if ('unreachable' in target) throw unreachableError(target.unreachable);
  return new Promise<number>((done, fail) => {
    // The client's credentials are for the API server, never for the pod.
    const upstream = httpRequest({ host: target.host, port: target.port, method: req.method ?? 'GET', path: match.path, headers: forwardHeaders(req.headers) }, (answer) => {
      const headers = forwardHeaders(answer.headers);
      res.writeHead(answer.statusCode ?? 502, headers as Record<string, string | string[]>);
      res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
      answer.on('end', () => done(answer.statusCode ?? 502));
    });
    upstream.setTimeout(PROXY_IDLE_MS, () => upstream.destroy(new Error(`no answer within ${PROXY_IDLE_MS} ms`)));
    upstream.on('error', (e) => {
      if (res.headersSent) {
        res.destroy();
        done(res.statusCode);
      } else fail(unreachableError(`dial tcp ${target.shown}: ${dialError(e)}`));
    });
    // The client went away: so does the request to the pod.
    res.on('close', () => {
      if (res.writableFinished) return;
      upstream.destroy();
      if (res.headersSent) done(res.statusCode);
    });
    req.pipe(upstream);
  });
}

const dialError = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'connect: connection refused';
  if (code === 'ECONNRESET') return 'connection reset by peer';
  return (e as Error).message;
};

// ------------------------------------------------------------------ port-forward

/** The subset of the `ws` package (8.x, no bundled types) used here. */
interface WsSocket {
  readonly protocol: string;
  readonly bufferedAmount: number;
  send(data: Buffer, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close', listener: () => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
interface WsServer {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: WsSocket) => void): void;
  close(): void;
}
type WsServerCtor = new (options: { noServer: true; maxPayload: number; handleProtocols: (protocols: Set<string>) => string | false }) => WsServer;

const frame = (channel: number, data: Buffer) => Buffer.concat([Buffer.from([channel]), data]);
const portPrefix = (channel: number, port: number) => Buffer.from([channel, port & 0xff, (port >> 8) & 0xff]);

/** Writes a Status answer on a socket that asked for an upgrade, then closes it. */
export function rejectUpgrade(socket: Duplex, err: ApiError): void {
  const body = JSON.stringify(err.status);
  const reason = err.code === 404 ? 'Not Found' : err.code === 400 ? 'Bad Request' : 'Error';
  socket.end(`HTTP/1.1 ${err.code} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Serves pods/portforward WebSocket upgrades; `closeAll()` ends every open tunnel. */
export class PortForwarder {
  private server: WsServer | undefined;
  private readonly open = new Set<WsSocket>();

  constructor(private readonly store: Store) {}

  /**
   * Validates the request (pod, ports, subprotocol) and upgrades it; throws an ApiError (nothing written yet) when
   * it cannot be served. Resolves once the WebSocket is open.
   */
  upgrade(match: PodSubresource, url: URL, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const raw = url.searchParams.getAll('ports').flatMap((p) => p.split(','));
    if (raw.length === 0) throw badRequest('at least 1 port must be specified');
    const ports = raw.map((p) => {
      if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw badRequest(`unable to parse "${p}" as a port`);
      return Number(p);
    });
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') throw badRequest('Upgrade request required');
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(PORT_FORWARD_PROTOCOL)) throw badRequest(`none of the offered subprotocols ${JSON.stringify(offered)} is supported; this server speaks ${PORT_FORWARD_PROTOCOL}`);
    const targets = ports.map((port) => resolve(this.store, match.namespace, match.name, port).target);
    const label = `${match.namespace}/${match.name}`;
    return new Promise((done) => {
      this.wss().handleUpgrade(req, socket, head, (ws) => {
        this.open.add(ws);
        ws.on('close', () => this.open.delete(ws));
        ws.on('error', () => ws.terminate());
        this.tunnel(ws, ports, targets, label);
        done();
      });
    });
  }

  closeAll(): void {
    for (const ws of this.open) ws.terminate();
    this.open.clear();
    this.server?.close();
    this.server = undefined;
  }

  private wss(): WsServer {
    if (!this.server) {
      const { WebSocketServer } = createRequire(import.meta.url)('ws') as { WebSocketServer: WsServerCtor };
      this.server = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, handleProtocols: (p) => (p.has(PORT_FORWARD_PROTOCOL) ? PORT_FORWARD_PROTOCOL : false) });
    }
    return this.server;
  }

  private tunnel(ws: WsSocket, ports: number[], targets: Target[], label: string): void {
    const sockets: (Socket | undefined)[] = [];
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      for (const s of sockets) s?.destroy();
      ws.close(1000);
    };
    const failPort = (i: number, message: string) => {
      ws.send(frame(2 * i + 1, Buffer.from(`error forwarding port ${ports[i]} to pod ${label}: ${message}`)), () => finish());
    };
    ports.forEach((port, i) => {
      ws.send(portPrefix(2 * i, port));
      ws.send(portPrefix(2 * i + 1, port));
      const target = targets[i]!;
      if ('unreachable' in target) return failPort(i, target.unreachable);
      const sock = connect({ host: target.host, port: target.port });
      sockets[i] = sock;
      sock.on('data', (chunk: Buffer) => {
        ws.send(frame(2 * i, chunk), () => {
          if (ws.bufferedAmount < HIGH_WATER_BYTES) sock.resume();
        });
        if (ws.bufferedAmount >= HIGH_WATER_BYTES) sock.pause();
      });
      sock.on('error', (e) => failPort(i, `dial tcp ${target.shown}: ${dialError(e)}`));
      // The pod closed the connection: so does the tunnel, as the kubelet's does.
      sock.on('end', finish);
    });
    ws.on('message', (data) => {
      const channel = data[0];
      if (channel === undefined || channel % 2 === 1) return;
      const sock = sockets[channel / 2];
      if (!sock || sock.destroyed) return;
      if (!sock.write(data.subarray(1))) {
        ws.pause();
        sock.once('drain', () => ws.resume());
      }
    });
    ws.on('close', () => {
      closed = true;
      for (const s of sockets) s?.destroy();
    });
  }
}
