/**
 * The real helm v4 against the emulator: release storage in Secrets (protobuf request bodies), server-side
 * apply of the chart's objects, `--wait` through WatchList streams, upgrade, history and uninstall.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resources, startEmulator, type Emulator } from '../src/index.js';
import { ensureKubeTools, runTool, type ToolResult } from '../src/testing/index.js';

let emu: Emulator;
let helm: (args: string[]) => Promise<ToolResult>;
let chart: string;

beforeAll(async () => {
  const tools = await ensureKubeTools();
  emu = await startEmulator();
  const home = mkdtempSync(join(tmpdir(), 'helm-'));
  chart = join(home, 'demo');
  mkdirSync(join(chart, 'templates'), { recursive: true });
  writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: demo\nversion: 0.1.0\n');
  writeFileSync(join(chart, 'values.yaml'), 'greeting: hello\n');
  writeFileSync(join(chart, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\ndata: {greeting: {{ .Values.greeting | quote }}}\n');
  writeFileSync(join(chart, 'templates', 'svc.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: demo}\nspec: {selector: {app: demo}, ports: [{port: 80}]}\n');
  const env = { HOME: home, PATH: process.env['PATH'] ?? '', HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
  helm = (args) => runTool(tools.helm, ['--kubeconfig', emu.kubeconfigPath, ...args], { env, timeoutMs: 60_000 });
}, 120_000);

afterAll(async () => emu?.close());

describe('helm v4 against the emulator', () => {
  it('installs with --wait, upgrades and uninstalls a chart', async () => {
    const install = await helm(['install', 'demo', chart, '--wait', '--timeout', '30s']);
    expect(install.stderr).toBe('');
    expect(install.stdout).toContain('STATUS: deployed');
    expect(emu.store.get(resources.configmaps, 'default', 'demo')['data']).toEqual({ greeting: 'hello' });
    const release = emu.store.get(resources.secrets, 'default', 'sh.helm.release.v1.demo.v1');
    expect(release['type']).toBe('helm.sh/release.v1');
    expect(release.metadata.labels).toMatchObject({ owner: 'helm', name: 'demo', status: 'deployed' });

    const upgrade = await helm(['upgrade', 'demo', chart, '--set', 'greeting=hi', '--wait', '--timeout', '30s']);
    expect(upgrade.stdout).toContain('REVISION: 2');
    expect(emu.store.get(resources.configmaps, 'default', 'demo')['data']).toEqual({ greeting: 'hi' });
    const history = await helm(['history', 'demo']);
    expect(history.stdout).toMatch(/1\s.*superseded/);
    expect(history.stdout).toMatch(/2\s.*deployed/);

    const uninstall = await helm(['uninstall', 'demo', '--wait']);
    expect(uninstall.stdout).toContain('release "demo" uninstalled');
    expect(emu.store.tryGet(resources.configmaps, 'default', 'demo')).toBeUndefined();
    expect(emu.store.list(resources.secrets, { namespace: 'default', labelSelector: 'owner=helm' }).items).toEqual([]);
  }, 60_000);
});
