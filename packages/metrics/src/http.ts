import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Handles a request it owns and resolves true, or resolves false to let the next handler try. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** GET /metrics in the Prometheus text format of the given registry. */
export function metricsHandler(registry: Registry): HttpHandler {
  return async (req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

export interface MetricsServer {
  server: Server;
  /** host:port actually bound (port 0 resolves to the real port). */
  address: string;
  port: number;
  close(): Promise<void>;
}

/** Creates (does not bind) an HTTP server that tries each handler in order and answers 404 otherwise. */
export function createHttpServer(handlers: HttpHandler[]): Server {
  return createServer((req, res) => {
    void (async () => {
      try {
        for (const h of handlers) if (await h(req, res)) return;
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      } catch (e) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`internal error: ${(e as Error).message}\n`);
      }
    })();
  });
}

/** Binds a server made by createHttpServer; resolves once it listens. */
export async function listenHttp(server: Server, port: number, host = '127.0.0.1'): Promise<MetricsServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    server,
    address: `${h}:${a.port}`,
    port: a.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serves /metrics (plus any extra handlers, tried first) on host:port. */
export function startMetricsServer(opts: { registry: Registry; port: number; host?: string; handlers?: HttpHandler[] }): Promise<MetricsServer> {
  return listenHttp(createHttpServer([...(opts.handlers ?? []), metricsHandler(opts.registry)]), opts.port, opts.host);
}
