import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { grpcHealthProbe, httpProbe } from '../src/simulator/probes.js';
import { podEndpoint, PORTS_ANNOTATION, ProcessRunner, RUN_ANNOTATION, type ProcessRegistry } from '../src/simulator/process-runner.js';
import type { Pod, Probe } from '../src/simulator/types.js';

const fixture = join(import.meta.dirname, 'simulator-fixture-server.mjs');
const registry: ProcessRegistry = { fixture: () => ({ command: process.execPath, args: [fixture], env: { MODEL: 'tiny' } }) };

function processPod(uid: string, readinessProbe: Probe, annotation = 'fixture'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${uid}`, namespace: 'edge', uid, annotations: { [RUN_ANNOTATION]: annotation } },
    spec: {
      nodeName: 'n1',
      containers: [
        {
          name: 'sidecar',
          env: [{ name: 'SLMOPS_MODEL', value: 'stories' }],
          ports: [
            { name: 'http', containerPort: 8080 },
            { name: 'grpc', containerPort: 9000 },
          ],
          readinessProbe: { ...readinessProbe, failureThreshold: 2 },
        },
      ],
    },
  };
}

async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('ProcessRunner', () => {
  let runner: ProcessRunner | undefined;
  afterEach(async () => {
    await runner?.stopAll();
  });

  it('starts the process with its ports in env, follows its HTTP readiness and stops it', async () => {
    const changes: string[] = [];
    runner = new ProcessRunner({ registry, probeIntervalMs: 100, onChange: (uid) => changes.push(uid) });
    const pod = processPod('u1', { httpGet: { path: '/healthz', port: 'http' } });
    const ports = await runner.start(pod, 'n1');
    expect(Object.keys(ports).sort()).toEqual(['8080', '9000']);
    await until('ready', () => runner?.state('u1')?.ready === true);
    expect(changes).toContain('u1');

    const base = `http://127.0.0.1:${ports[8080]}`;
    const env = (await (await fetch(`${base}/env`)).json()) as Record<string, string>;
    expect(env).toMatchObject({
      SIM_POD_NAME: 'pod-u1',
      SIM_POD_NAMESPACE: 'edge',
      SIM_NODE_NAME: 'n1',
      SIM_POD_IP: '127.0.0.1',
      SIM_PORT_8080: String(ports[8080]),
      SIM_PORT_HTTP: String(ports[8080]),
      SIM_PORT_GRPC: String(ports[9000]),
      MODEL: 'tiny',
    });

    // The endpoint helper finds the process through the ports annotation the simulator writes.
    const annotated: Pod = { ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata.annotations, [PORTS_ANNOTATION]: JSON.stringify(ports) } } };
    expect(podEndpoint(annotated, 'http')).toEqual({ host: '127.0.0.1', port: ports[8080] });
    await fetch(`${base}/work`);
    const metrics = await (await fetch(`http://127.0.0.1:${podEndpoint(annotated, 8080)?.port}/metrics`)).text();
    expect(metrics).toContain('fixture_work_total 1');

    await fetch(`${base}/fail`, { method: 'POST' });
    await until('not ready after failing probes', () => runner?.state('u1')?.ready === false);
    await fetch(`${base}/recover`, { method: 'POST' });
    await until('ready again', () => runner?.state('u1')?.ready === true);

    await runner.stop('u1');
    expect(runner.state('u1')).toBeUndefined();
    expect(await httpProbe('127.0.0.1', ports[8080] as number, '/healthz', 500)).toBe(false);
  });

  it("with addressing 'loopback-ips' gives each process its own 127.x address and its real container ports", async () => {
    runner = new ProcessRunner({ registry, probeIntervalMs: 100, addressing: 'loopback-ips' });
    const probe = { httpGet: { path: '/healthz', port: 8080 } };
    const [a, b] = [processPod('ua', probe), processPod('ub', probe)];
    expect(await runner.start(a, 'n1')).toEqual({ 8080: 8080, 9000: 9000 });
    await runner.start(b, 'n2');
    await until('both ready', () => runner?.state('ua')?.ready && runner.state('ub')?.ready);
    const ips = [runner.state('ua')?.ip, runner.state('ub')?.ip];
    expect(ips).toEqual(['127.1.0.1', '127.1.0.2']);
    for (const [i, ip] of ips.entries()) {
      const env = (await (await fetch(`http://${ip}:8080/env`)).json()) as Record<string, string>;
      expect(env).toMatchObject({ SIM_POD_IP: ip, SIM_PORT_8080: '8080', SIM_POD_NAME: i === 0 ? 'pod-ua' : 'pod-ub' });
    }
    // Clients that know only status.podIP and the container port reach the process, as in a cluster.
    const asSeen: Pod = { ...b, status: { podIP: ips[1] } };
    expect(podEndpoint(asSeen, 'http')).toEqual({ host: '127.1.0.2', port: 8080 });
  });

  it('probes gRPC health (grpc.health.v1) like the kubelet', async () => {
    runner = new ProcessRunner({ registry, probeIntervalMs: 100 });
    const ports = await runner.start(processPod('u2', { grpc: { port: 9000 } }), 'n1');
    await until('grpc ready', () => runner?.state('u2')?.ready === true);
    expect(await grpcHealthProbe('127.0.0.1', ports[9000] as number, '', 1000)).toBe(true);
    await fetch(`http://127.0.0.1:${ports[8080]}/fail`, { method: 'POST' });
    expect(await grpcHealthProbe('127.0.0.1', ports[9000] as number, '', 1000)).toBe(false);
    await until('grpc not ready', () => runner?.state('u2')?.ready === false);
  });

  it('restarts a process that exits and counts the restart', async () => {
    runner = new ProcessRunner({ registry: { crash: () => ({ command: process.execPath, args: ['-e', 'process.exit(3)'] }) }, restartBackoffMs: 50 });
    await runner.start(processPod('u3', { tcpSocket: { port: 8080 } }, 'crash'), 'n1');
    const s = await until('restart', () => {
      const st = runner?.state('u3');
      return st && st.restarts >= 1 ? st : undefined;
    });
    expect(s.lastExitCode).toBe(3);
  });

  it('names the annotation when the process cannot be resolved', async () => {
    runner = new ProcessRunner({ registry });
    await expect(runner.start(processPod('u4', {}, 'nope'), 'n1')).rejects.toThrow(/sim\.slmops\.io\/run: no process named "nope"/);
    await expect(runner.start(processPod('u5', {}, '{"command":"/bin/true"}'), 'n1')).rejects.toThrow(/inline commands are disabled/);
  });
});
