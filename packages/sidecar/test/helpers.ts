import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Engine } from '../src/inference/engine-port.js';
import type { SidecarConfig } from '../src/config.js';
import { createClient } from '../src/client.js';
import { createJsonLogger } from '../src/log.js';
import { type SidecarDeps, type SidecarHandle, runSidecar } from '../src/sidecar.js';

export type AnyClient = grpc.Client & Record<string, (...a: unknown[]) => unknown>;

export const baseConfig = (over: Partial<SidecarConfig> = {}): SidecarConfig => ({
  model: '.',
  host: '127.0.0.1',
  port: 0,
  metricsHost: '127.0.0.1',
  metricsPort: 0,
  cacheDir: '/nonexistent-cache',
  plugin: 'cpu',
  maxBatchSize: 8,
  maxQueue: 64,
  defaultMaxTokens: 16,
  streamIntervalMs: 5,
  graceMs: 5000,
  ...over,
});

export interface Harness {
  sidecar: SidecarHandle;
  logs: () => string;
  inference: AnyClient;
  oip: AnyClient;
  health: AnyClient;
  close(): Promise<void>;
}

/** Starts a sidecar in this process on loopback port 0 with injected deps and real gRPC clients. */
export async function startHarness(config: SidecarConfig, deps: Partial<SidecarDeps> & Pick<SidecarDeps, 'createEngine'>): Promise<Harness> {
  const logStream = new PassThrough();
  let logText = '';
  logStream.on('data', (c: Buffer) => (logText += c.toString()));
  const sidecar = await runSidecar(config, {
    logger: createJsonLogger(logStream),
    loadModel: async () => ({}),
    providerChain: async () => ({ chain: [{ name: 'cpu' }] }),
    availableProviders: ['cpu'],
    ...deps,
  });
  const address = `127.0.0.1:${sidecar.grpcPort}`;
  const h: Harness = {
    sidecar,
    logs: () => logText,
    inference: createClient('inference', address),
    oip: createClient('oip', address),
    health: createClient('health', address),
    async close() {
      for (const c of [h.inference, h.oip, h.health]) c.close();
      await sidecar.shutdown(1000);
    },
  };
  return h;
}

/** Calls a unary method and resolves with the response or rejects with the ServiceError. */
export function unary<T = Record<string, unknown>>(client: AnyClient, method: string, req: unknown, options: grpc.CallOptions = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    (client[method] as (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: T) => void) => void).call(client, req, options, (e, r) => (e ? reject(e) : resolve(r)));
  });
}

/** Collects a server stream; resolves with messages, or with messages and the error that ended it. */
export function collect(call: grpc.ClientReadableStream<Record<string, unknown>>): Promise<{ messages: Record<string, unknown>[]; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const messages: Record<string, unknown>[] = [];
    call.on('data', (m: Record<string, unknown>) => messages.push(m));
    call.on('error', (error: grpc.ServiceError) => resolve({ messages, error }));
    call.on('end', () => resolve({ messages }));
  });
}

export const generateCall = (h: Harness, req: unknown, options: grpc.CallOptions = {}) =>
  (h.inference['Generate'] as (r: unknown, o: grpc.CallOptions) => grpc.ClientReadableStream<Record<string, unknown>>).call(h.inference, req, options);

/** The text of a finished Generate stream. */
export const streamText = (messages: Record<string, unknown>[]) => messages.map((m) => (m['text'] as string) ?? '').join('');

/** Service names the server lists over grpc.reflection.v1 (what grpcurl list does). */
export async function reflectionServices(address: string): Promise<string[]> {
  const require = createRequire(import.meta.url);
  const root = join(dirname(require.resolve('@grpc/reflection')), '../proto');
  const def = protoLoader.loadSync(join(root, 'grpc/reflection/v1/reflection.proto'), { keepCase: true, includeDirs: [root] });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } } };
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure()) as AnyClient;
  const call = (client['ServerReflectionInfo'] as () => grpc.ClientDuplexStream<unknown, { list_services_response?: { service: { name: string }[] } }>).call(client);
  const res = await new Promise<string[]>((resolve, reject) => {
    call.on('data', (m) => {
      resolve((m.list_services_response?.service ?? []).map((s: { name: string }) => s.name));
      call.end();
    });
    call.on('error', reject);
    call.write({ list_services: '' });
  });
  client.close();
  return res;
}

export type EngineFactory = (model: unknown, opts: { executionProviders: string[]; maxBatchSize: number; maxQueue: number }) => Promise<Engine>;

export interface SpawnedNode {
  proc: ChildProcess;
  /** The first line the program printed on stdout (the sidecar's announce line). */
  first: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Spawns `node <bin> ...args`, adds it to `children` (for the suite's cleanup) and waits for its first stdout line. */
export async function spawnNode(bin: string, args: readonly string[], children: Set<ChildProcess>): Promise<SpawnedNode> {
  const proc = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`${bin} exited ${code}: ${err}`)));
  });
  return { proc, first, stderr: () => err, exited };
}
