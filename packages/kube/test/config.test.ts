/**
 * loadKubeConfig: the kubectl order (--kubeconfig, KUBECONFIG, in-cluster, ~/.kube/config), --context, and errors
 * that name the missing file or context. Only the `env` passed in is read.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeconfigFor } from '@slmops/kube-emulator';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKubeConfig, loadKubeConfigWithSource } from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'slmops-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
};

/** A kubeconfig with two contexts, "one" (current) and "two". */
const twoContexts = (a: string, b: string) =>
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `  - { name: one, cluster: { server: "${a}", insecure-skip-tls-verify: true } }`,
    `  - { name: two, cluster: { server: "${b}", insecure-skip-tls-verify: true } }`,
    'users:',
    '  - { name: u, user: { token: t } }',
    'contexts:',
    '  - { name: one, context: { cluster: one, user: u, namespace: team-a } }',
    '  - { name: two, context: { cluster: two, user: u } }',
    'current-context: one',
    '',
  ].join('\n');

describe('loadKubeConfig', () => {
  it('prefers --kubeconfig, then KUBECONFIG (merged, first file wins), then in-cluster, then ~/.kube/config', () => {
    const explicit = write('explicit', kubeconfigFor('http://127.0.0.1:1111'));
    const envA = write('env-a', twoContexts('http://127.0.0.1:2222', 'http://127.0.0.1:3333'));
    const envB = write('env-b', kubeconfigFor('http://127.0.0.1:4444'));
    const home = join(dir, 'home');
    write('home/.kube/config', kubeconfigFor('http://127.0.0.1:5555'));
    const sa = join(dir, 'sa');
    write('sa/token', 'tok');
    write('sa/namespace', 'slmops-system\n');

    const server = (kc: ReturnType<typeof loadKubeConfig>) => kc.getCurrentCluster()?.server;
    expect(server(loadKubeConfig({ kubeconfig: explicit, env: { KUBECONFIG: envA, HOME: home } }))).toBe('http://127.0.0.1:1111');
    const merged = loadKubeConfigWithSource({ env: { KUBECONFIG: `${envA}:${join(dir, 'absent')}:${envB}`, HOME: home } });
    expect(server(merged.kubeConfig)).toBe('http://127.0.0.1:2222');
    expect(merged.kubeConfig.getContexts().map((c) => c.name).sort()).toEqual(['kube-emulator', 'one', 'two']);
    expect(merged.source).toBe(`KUBECONFIG ${envA}:${envB}`);

    const inCluster = loadKubeConfigWithSource({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443', HOME: home }, serviceAccountDir: sa });
    expect(inCluster.source).toBe('in-cluster');
    expect(server(inCluster.kubeConfig)).toBe('https://[fd00::1]:443');
    expect(inCluster.kubeConfig.getContextObject('inClusterContext')?.namespace).toBe('slmops-system');
    expect(inCluster.kubeConfig.getCurrentUser()?.authProvider).toEqual({ name: 'tokenFile', config: { tokenFile: join(sa, 'token') } });

    // Without a token the service-account env alone is not in-cluster: fall through to the home directory.
    const fallback = loadKubeConfigWithSource({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443', HOME: home }, serviceAccountDir: join(dir, 'nothing') });
    expect(fallback.source).toBe(`file ${join(home, '.kube', 'config')}`);
    expect(server(fallback.kubeConfig)).toBe('http://127.0.0.1:5555');
  });

  it('selects --context and names what is missing', () => {
    const file = write('ctx', twoContexts('http://127.0.0.1:2222', 'http://127.0.0.1:3333'));
    expect(loadKubeConfig({ kubeconfig: file, context: 'two', env: {} }).getCurrentCluster()?.server).toBe('http://127.0.0.1:3333');
    expect(() => loadKubeConfig({ kubeconfig: file, context: 'three', env: {} })).toThrow(`context "three" not found in kubeconfig (file ${file}); contexts: one, two`);
    expect(() => loadKubeConfig({ kubeconfig: join(dir, 'nope'), env: {} })).toThrow(`kubeconfig file ${join(dir, 'nope')} (from --kubeconfig) does not exist`);
    expect(() => loadKubeConfig({ env: { KUBECONFIG: join(dir, 'nope') } })).toThrow(`no kubeconfig file of KUBECONFIG=${join(dir, 'nope')} exists`);
    expect(() => loadKubeConfig({ env: { HOME: join(dir, 'empty-home') }, serviceAccountDir: join(dir, 'nothing') })).toThrow(`create ${join(dir, 'empty-home', '.kube', 'config')}`);
    const noCurrent = write('no-current', twoContexts('http://a', 'http://b').replace('current-context: one', 'current-context: ""'));
    expect(() => loadKubeConfig({ kubeconfig: noCurrent, env: {} })).toThrow(`kubeconfig (file ${noCurrent}) has no current context; pass --context`);
  });
});
