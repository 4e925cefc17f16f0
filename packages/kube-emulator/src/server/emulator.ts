/** Starts the emulator's HTTP server on loopback and writes a kubeconfig that kubectl and client-node accept. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Faults } from './faults.js';
import { HttpApi } from './http.js';
import type { RequestLog } from './request-log.js';
import { Store, type StoreOptions } from './store.js';

export interface EmulatorOptions extends StoreOptions {
  /** TCP port (default 0: any free port). */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Where to write the kubeconfig (default: a new temporary directory, removed by close()). */
  kubeconfigPath?: string;
  /** Interval of watch bookmarks for clients that allow them (default 5000 ms). */
  bookmarkIntervalMs?: number;
  /** Use an existing store instead of a new one. */
  store?: Store;
}

export interface Emulator {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** The kubeconfig text: one cluster with insecure-skip-tls-verify (client-node needs it for http://). */
  kubeconfig: string;
  kubeconfigPath: string;
  store: Store;
  faults: Faults;
  requestLog: RequestLog;
  /** Ends watches, stops the server and removes the temporary kubeconfig. */
  close(): Promise<void>;
}

/** The kubeconfig for a server URL; `namespace` is the context's default namespace. */
export function kubeconfigFor(url: string, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '  - name: kube-emulator',
    '    cluster:',
    `      server: ${url}`,
    '      insecure-skip-tls-verify: true',
    'users:',
    '  - name: kube-emulator',
    '    user:',
    '      token: kube-emulator',
    'contexts:',
    '  - name: kube-emulator',
    '    context:',
    '      cluster: kube-emulator',
    '      user: kube-emulator',
    `      namespace: ${namespace}`,
    'current-context: kube-emulator',
    'preferences: {}',
    '',
  ].join('\n');
}

/** Starts an emulator; resolves once it listens. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const store = options.store ?? new Store(options);
  const faults = new Faults(store);
  const api = new HttpApi(store, faults, { ...(options.bookmarkIntervalMs ? { bookmarkIntervalMs: options.bookmarkIntervalMs } : {}), ...(options.now ? { now: options.now } : {}) });
  const server: Server = createServer({ keepAlive: true }, api.handle);
  server.on('upgrade', api.upgrade);
  server.keepAliveTimeout = 30_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;
  api.serverAddress = `${host}:${port}`;
  const tempDir = options.kubeconfigPath ? undefined : mkdtempSync(join(tmpdir(), 'kube-emulator-'));
  const kubeconfigPath = options.kubeconfigPath ?? join(tempDir!, 'kubeconfig');
  const kubeconfig = kubeconfigFor(url);
  writeFileSync(kubeconfigPath, kubeconfig);
  let closed = false;
  return {
    url,
    port,
    kubeconfig,
    kubeconfigPath,
    store,
    faults,
    requestLog: store.requestLog,
    async close() {
      if (closed) return;
      closed = true;
      faults.reset();
      api.closeStreams();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    },
  };
}
