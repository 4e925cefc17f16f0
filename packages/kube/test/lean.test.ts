/**
 * `@slmops/kube/lean` (built dist, in child processes: module hooks act on a whole process): with
 * registerLeanClientNode, loading @slmops/kube and making requests loads none of client-node's generated models,
 * while the kubeconfig's auth (here an exec credential plugin) still applies and KubeConfig.makeApiClient still
 * works; without it the same process does load them, so the guard below is what the first test relies on.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DIST = new URL('../dist/', import.meta.url);
const TOKEN = 'token-from-exec-plugin';

/** Module hooks that fail any import of a generated API model, registered by the child before anything else. */
const FORBID_MODELS = `export async function load(url, context, next) {
  if (url.includes('/@kubernetes/client-node/dist/gen/models/')) throw new Error('loaded a generated model: ' + url);
  return next(url, context);
}`;

/** The child: argv [lean|full, guard|noguard, kubeconfig, via]; prints the namespace names it listed. */
const CHILD = `
import { register } from 'node:module';
const [mode, guard, kubeconfig, via] = process.argv.slice(1);
if (guard === 'guard') register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(FORBID_MODELS)}));
const { registerLeanClientNode, skipWasmTierUp } = await import(${JSON.stringify(new URL('lean.js', DIST).href)});
if (mode === 'lean') { registerLeanClientNode(); skipWasmTierUp(); }
const kube = await import(${JSON.stringify(new URL('index.js', DIST).href)});
const kubeConfig = kube.loadKubeConfig({ kubeconfig, env: {} });
let names;
if (via === 'port') {
  names = (await kube.createKubeClient({ kubeConfig }).list(kube.Resources.Namespace)).items.map((n) => n.metadata.name);
} else {
  const { CoreV1Api } = await import('@kubernetes/client-node');
  names = (await kubeConfig.makeApiClient(CoreV1Api).listNamespace()).items.map((n) => n.metadata.name);
}
console.log(JSON.stringify(names));
`;

let dir: string;
let server: Server;
let kubeconfig: string;
const authorizations: (string | undefined)[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slmops-lean-'));
  // An API server that checks nothing but records the credentials it was sent.
  server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: '7' }, items: [{ metadata: { name: 'edge' } }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const plugin = join(dir, 'credential.mjs');
  writeFileSync(plugin, `console.log(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: '${TOKEN}' } }));\n`);
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [plugin], interactiveMode: 'Never' } } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the child; resolves to its exit code, stdout and stderr. */
function child(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, ['--input-type=module', '-e', CHILD, ...args], { cwd: join(import.meta.dirname, '..') }, (e, stdout, stderr) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe('registerLeanClientNode', () => {
  it('loads KubeConfig and makes requests with exec-plugin credentials without any generated model', async () => {
    authorizations.length = 0;
    const run = await child('lean', 'guard', kubeconfig, 'port');
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual(['edge']);
    expect(authorizations).toEqual([`Bearer ${TOKEN}`]);
  });

  it('is what keeps the models out: without it the same import loads them', async () => {
    const run = await child('full', 'guard', kubeconfig, 'port');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('loaded a generated model');
  });

  it('leaves KubeConfig.makeApiClient working with the generated client', async () => {
    authorizations.length = 0;
    const run = await child('lean', 'noguard', kubeconfig, 'generated');
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual(['edge']);
    expect(authorizations).toEqual([`Bearer ${TOKEN}`]);
  });
});
