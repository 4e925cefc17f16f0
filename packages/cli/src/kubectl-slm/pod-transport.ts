/**
 * How `kubectl slm` reaches a pod's port from outside the cluster network, through the API server with the
 * kubeconfig's credentials and TLS: pods/proxy for HTTP reads (`top`'s /metrics scrapes, bounded like every
 * outbound read) and pods/portforward for a TCP tunnel (`generate`'s gRPC, which the proxy cannot carry). The
 * port-forward speaks the WebSocket protocol `v4.channel.k8s.io` as @kubernetes/client-node's PortForward does:
 * data on channel 0, errors on channel 1, each channel's first frame from the server starting with the port as
 * 2 little-endian bytes.
 */
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { fetchTextBounded, type OutboundLimits, type OutboundRequest } from '@slmops/metrics/outbound';

/** What of a client-node KubeConfig this needs (the one `loadKubeConfig` returns). */
export interface KubeConfigLike {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: object): Promise<void>;
}

/** A local loopback listener whose every connection is tunnelled to one pod port. */
export interface Tunnel {
  /** `127.0.0.1:PORT` to dial. */
  address: string;
  /** The last error the API server or the kubelet reported for a tunnelled connection, if any. */
  lastError(): string | undefined;
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>;
}

export interface PodTransport {
  /** GETs `path` (with its query) from the pod's `port` through pods/proxy, within `limits`. */
  proxyGetText(namespace: string, pod: string, port: number, path: string, limits: OutboundLimits, signal?: AbortSignal): Promise<string>;
  /** Opens a tunnel to the pod's `port` through pods/portforward; the WebSocket handshake of each connection has `connectTimeoutMs`. */
  forward(namespace: string, pod: string, port: number, connectTimeoutMs: number): Promise<Tunnel>;
}

export const PORT_FORWARD_PROTOCOL = 'v4.channel.k8s.io';
/** Largest WebSocket message accepted from the API server, and the most error text kept. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;
const MAX_ERROR_BYTES = 4096;
/** Above this many bytes queued towards the API server, reading from the local connection pauses. */
const HIGH_WATER_BYTES = 1024 * 1024;

interface HttpsOptions {
  headers?: Record<string, string>;
  auth?: string;
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  pfx?: Buffer | string;
  passphrase?: string;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/** The subset of the `ws` package's client (8.x, no bundled types) used here. */
interface WsClient {
  readonly bufferedAmount: number;
  send(data: Buffer, cb?: (err?: Error) => void): void;
  close(code?: number): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  on(event: 'open' | 'close', listener: () => void): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  on(event: 'unexpected-response', listener: (req: unknown, res: IncomingMessage) => void): void;
}
type WsClientCtor = new (url: string, protocols: string[], options: HttpsOptions & { handshakeTimeout: number; maxPayload: number }) => WsClient;

const podPath = (namespace: string, pod: string) => `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}`;

/** The pods/proxy and pods/portforward transport for a kubeconfig. */
export function podTransport(kubeConfig: KubeConfigLike, userAgent: string): PodTransport {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig context has no cluster');
  const server = cluster.server.replace(/\/+$/, '');
  const credentials = async (): Promise<HttpsOptions & { headers: Record<string, string> }> => {
    const opts: HttpsOptions = {};
    await kubeConfig.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = { ...(opts.headers ?? {}), 'User-Agent': userAgent };
    if (opts.auth && !headers['Authorization']) headers['Authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    return { ...opts, headers };
  };
  return {
    async proxyGetText(namespace, pod, port, path, limits, signal) {
      const { headers, auth: _auth, ...tls } = await credentials();
      const req: OutboundRequest = { headers, tls, ...(signal ? { signal } : {}) };
      return fetchTextBounded(`${server}${podPath(namespace, pod)}:${port}/proxy${path}`, limits, req);
    },
    async forward(namespace, pod, port, connectTimeoutMs) {
      const { auth: _auth, ...opts } = await credentials();
      const url = `${server.replace(/^http/, 'ws')}${podPath(namespace, pod)}/portforward?ports=${port}`;
      const { WebSocket } = createRequire(import.meta.url)('ws') as { WebSocket: WsClientCtor };
      let lastError: string | undefined;
      const open = new Set<Socket>();
      const listener = createServer((local) => {
        open.add(local);
        local.on('close', () => open.delete(local));
        tunnelOne(local, new WebSocket(url, [PORT_FORWARD_PROTOCOL], { ...opts, handshakeTimeout: connectTimeoutMs, maxPayload: MAX_FRAME_BYTES }), (e) => (lastError = e));
      });
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(0, '127.0.0.1', () => resolve());
      });
      return {
        address: `127.0.0.1:${(listener.address() as AddressInfo).port}`,
        lastError: () => lastError,
        close: () =>
          new Promise<void>((resolve) => {
            for (const s of open) s.destroy();
            listener.close(() => resolve());
          }),
      };
    },
  };
}

/** Reads at most MAX_ERROR_BYTES of a refused handshake's body (a Status) into a message. */
function refusal(res: IncomingMessage, report: (e: string) => void): void {
  let body = '';
  res.on('data', (b: Buffer) => {
    if (body.length < MAX_ERROR_BYTES) body += b.toString('utf8');
    else res.destroy();
  });
  const done = () => {
    let message = body.slice(0, MAX_ERROR_BYTES).trim();
    try {
      message = (JSON.parse(message) as { message?: string }).message ?? message;
    } catch {
      // Not a Status: keep the text.
    }
    report(`the API server refused the port-forward: HTTP ${res.statusCode}${message ? `: ${message}` : ''}`);
  };
  res.on('end', done);
  res.on('close', done);
}

/** Carries one local connection over one port-forward WebSocket, both ways, with backpressure. */
function tunnelOne(local: Socket, ws: WsClient, report: (error: string) => void): void {
  let errorText = '';
  let reported = false;
  let localClosed = false;
  const fail = (message: string) => {
    // Once the local side has gone, the WebSocket's end is ours, not an error.
    if (!reported && !localClosed) report(message);
    reported = true;
    local.destroy();
  };
  const prefixPending = [true, true];
  local.pause();
  ws.on('open', () => local.resume());
  ws.on('unexpected-response', (_req, res) => {
    refusal(res, fail);
    ws.terminate();
  });
  ws.on('error', (e) => fail(`port-forward: ${e.message}`));
  ws.on('message', (data) => {
    const channel = data[0];
    if (channel !== 0 && channel !== 1) return;
    let payload = data.subarray(1);
    if (prefixPending[channel]) {
      payload = payload.subarray(2);
      prefixPending[channel] = false;
    }
    if (channel === 1) {
      if (errorText.length < MAX_ERROR_BYTES) errorText += payload.toString('utf8');
      return;
    }
    if (!local.write(payload)) {
      ws.pause();
      local.once('drain', () => ws.resume());
    }
  });
  ws.on('close', () => {
    if (errorText) fail(errorText.slice(0, MAX_ERROR_BYTES));
    else local.end();
  });
  local.on('data', (chunk: Buffer) => {
    ws.send(Buffer.concat([Buffer.from([0]), chunk]), () => {
      if (ws.bufferedAmount < HIGH_WATER_BYTES) local.resume();
    });
    if (ws.bufferedAmount >= HIGH_WATER_BYTES) local.pause();
  });
  local.on('error', () => local.destroy());
  local.on('close', () => {
    localClosed = true;
    ws.terminate();
  });
}
