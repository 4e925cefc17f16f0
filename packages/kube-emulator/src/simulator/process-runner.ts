/**
 * The process runner: for pods carrying the `sim.slmops.io/run` annotation, the simulated kubelet starts a real
 * local process (e.g. the inference sidecar), gives every container port its own free loopback port, tells the
 * process its ports through env vars, probes its readiness with the pod's own readinessProbe against those
 * ports, restarts it with back-off when it exits (restartPolicy Always) and stops it when the pod goes.
 *
 * Env given to the process: the main container's literal env values, then SIM_POD_NAME, SIM_POD_NAMESPACE,
 * SIM_POD_UID, SIM_NODE_NAME, SIM_POD_IP (the address to listen on), SIM_PORT_<containerPort>=<port>,
 * SIM_PORT_<NAME>=<port> (port name upper-cased, '-' -> '_'), PORT=<first port>, then the spec's own env.
 *
 * Addressing: 'ports' (default) gives every process 127.0.0.1 and free local ports, published in the
 * `sim.slmops.io/ports` annotation (see `podEndpoint`). 'loopback-ips' gives every process its own loopback
 * address (127.1.0.1, 127.1.0.2, ...) and its real container ports, so clients reach `status.podIP:containerPort`
 * exactly as in a cluster (Linux routes all of 127.0.0.0/8 to loopback; macOS would need aliases).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { grpcHealthProbe, httpProbe, tcpProbe } from './probes.js';
import type { Container, Pod, Probe } from './types.js';

/** Pods with this annotation are backed by a real process. Value: a registry name, or (if allowed) JSON ProcessSpec. */
export const RUN_ANNOTATION = 'sim.slmops.io/run';
/** The simulator writes `{"<containerPort>": <local port>}` here once the process has its ports. */
export const PORTS_ANNOTATION = 'sim.slmops.io/ports';
/** The pod IP reported for process-backed pods. */
export const PROCESS_POD_IP = '127.0.0.1';

export interface ProcessSpec {
  command: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** Named process factories a test registers; the annotation value picks one. `ports`: containerPort -> local port. */
export type ProcessRegistry = Record<string, (pod: Pod, ports: Readonly<Record<number, number>>, ip: string) => ProcessSpec>;

export interface ProcessRunnerOptions {
  registry?: ProcessRegistry;
  /**
   * Picks process-backed pods without the annotation (e.g. pods an operator generated): return a registry
   * name for pods that should run one, undefined otherwise. The annotation, when present, wins.
   */
  select?: (pod: Pod) => string | undefined;
  /** Accept a JSON ProcessSpec in the annotation itself (anyone who can create pods can then run commands). Default false. */
  allowAnnotationCommands?: boolean;
  /** How processes are addressed (see the module comment). Default 'ports'. */
  addressing?: 'ports' | 'loopback-ips';
  /** Probe period (ms); faster than the pod's periodSeconds so tests move quickly. Default 250. */
  probeIntervalMs?: number;
  /** Per-probe timeout (ms). Default 1000. */
  probeTimeoutMs?: number;
  /** Back-off before restarting an exited process, doubled per restart up to 10 s. Default 500. */
  restartBackoffMs?: number;
  /** Time between SIGTERM and SIGKILL on stop (ms). Default 2000. */
  terminationGraceMs?: number;
  /** Called when a pod's process state or readiness changed (the simulator then re-syncs that pod). */
  onChange?: (podUid: string) => void;
  /** Receives each output line of every process, prefixed with the pod name (default: kept in memory only). */
  onOutput?: (podName: string, line: string) => void;
}

/** What the kubelet model needs to know about a pod's process. */
export interface ProcessState {
  running: boolean;
  restarts: number;
  lastExitCode?: number;
  /** Readiness from the probe: undefined when the pod declares no readinessProbe. */
  ready?: boolean;
  /** containerPort -> local port. */
  ports: Record<number, number>;
  /** The address the process listens on (its pod IP). */
  ip: string;
}

interface Entry {
  pod: Pod;
  ip: string;
  spec: ProcessSpec;
  ports: Record<number, number>;
  child?: ChildProcess;
  running: boolean;
  restarts: number;
  lastExitCode?: number;
  ready?: boolean;
  successes: number;
  failures: number;
  probeTimer?: NodeJS.Timeout;
  restartTimer?: NodeJS.Timeout;
  stopping: boolean;
  output: string[];
}

/** A free TCP port on 127.0.0.1 (bound and released; a tiny race with other processes is accepted). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function probeOf(pod: Pod): { container: Container; probe: Probe } | undefined {
  for (const container of pod.spec.containers) if (container.readinessProbe) return { container, probe: container.readinessProbe };
  return undefined;
}

/** All container ports of the pod plus numeric probe ports, each once. */
function declaredPorts(pod: Pod): number[] {
  const ports = new Set<number>();
  for (const c of pod.spec.containers) {
    for (const p of c.ports ?? []) ports.add(p.containerPort);
    for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
      const port = probe?.httpGet?.port ?? probe?.grpc?.port ?? probe?.tcpSocket?.port;
      if (typeof port === 'number') ports.add(port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}

/** Resolves a probe/container port (number or name) of `pod` to the containerPort number. */
export function resolveContainerPort(pod: Pod, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  for (const c of pod.spec.containers) for (const p of c.ports ?? []) if (p.name === port) return p.containerPort;
  return undefined;
}

/**
 * Where to reach a pod's container port from this machine: for process-backed pods the local port from the
 * `sim.slmops.io/ports` annotation on 127.0.0.1, otherwise status.podIP and the container port itself.
 */
export function podEndpoint(pod: Pod, port: number | string): { host: string; port: number } | undefined {
  const containerPort = resolveContainerPort(pod, port);
  if (containerPort === undefined) return undefined;
  const ip = pod.status?.podIP;
  const raw = pod.metadata.annotations?.[PORTS_ANNOTATION];
  if (raw) {
    const map = JSON.parse(raw) as Record<string, number>;
    const local = map[String(containerPort)];
    if (local !== undefined) return { host: ip ?? PROCESS_POD_IP, port: local };
  }
  return ip ? { host: ip, port: containerPort } : undefined;
}

export class ProcessRunner {
  readonly #entries = new Map<string, Entry>();
  readonly #stopping = new Set<Promise<void>>();
  #loopbackCounter = 0;
  readonly #opts: Required<Omit<ProcessRunnerOptions, 'onChange' | 'onOutput' | 'registry' | 'select'>> & ProcessRunnerOptions;

  constructor(options: ProcessRunnerOptions = {}) {
    this.#opts = {
      allowAnnotationCommands: false,
      addressing: 'ports',
      probeIntervalMs: 250,
      probeTimeoutMs: 1000,
      restartBackoffMs: 500,
      terminationGraceMs: 2000,
      ...options,
    };
  }

  /** True when the pod runs a process: it has one already, carries the annotation, or `select` names one. */
  wants(pod: Pod): boolean {
    if (this.#entries.has(pod.metadata.uid ?? '')) return true;
    return typeof pod.metadata.annotations?.[RUN_ANNOTATION] === 'string' || this.#opts.select?.(pod) !== undefined;
  }

  /** The process state of a pod, or undefined when none was started for it. */
  state(podUid: string): ProcessState | undefined {
    const e = this.#entries.get(podUid);
    if (!e) return undefined;
    const s: ProcessState = { running: e.running, restarts: e.restarts, ports: { ...e.ports }, ip: e.ip };
    if (e.lastExitCode !== undefined) s.lastExitCode = e.lastExitCode;
    if (probeOf(e.pod)) s.ready = e.ready ?? false;
    return s;
  }

  /** Last output lines of a pod's process (for diagnosing a test). */
  output(podUid: string): string[] {
    return [...(this.#entries.get(podUid)?.output ?? [])];
  }

  /** Pod uids with a process. */
  pods(): string[] {
    return [...this.#entries.keys()];
  }

  /** Starts the pod's process if it has none yet; returns its ports. Throws with the annotation named when the spec is unusable. */
  async start(pod: Pod, nodeName: string): Promise<Record<number, number>> {
    const uid = pod.metadata.uid;
    if (!uid) throw new Error(`pod ${pod.metadata.name}: no metadata.uid; cannot start a process for it`);
    const existing = this.#entries.get(uid);
    if (existing) return { ...existing.ports };
    const ports: Record<number, number> = {};
    const loopbackIps = this.#opts.addressing === 'loopback-ips';
    for (const p of declaredPorts(pod)) ports[p] = loopbackIps ? p : await freePort();
    if (this.#entries.has(uid)) return { ...(this.#entries.get(uid) as Entry).ports };
    const ip = loopbackIps ? this.#nextLoopbackIp() : PROCESS_POD_IP;
    const spec = this.#resolveSpec(pod, ports, ip);
    const env: Record<string, string> = {};
    for (const e of pod.spec.containers[0]?.env ?? []) if (typeof e.value === 'string') env[e.name] = e.value;
    Object.assign(env, {
      SIM_POD_NAME: pod.metadata.name ?? '',
      SIM_POD_NAMESPACE: pod.metadata.namespace ?? '',
      SIM_POD_UID: uid,
      SIM_NODE_NAME: nodeName,
      SIM_POD_IP: ip,
    });
    const first = Object.values(ports)[0];
    if (first !== undefined) env.PORT = String(first);
    for (const [containerPort, local] of Object.entries(ports)) env[`SIM_PORT_${containerPort}`] = String(local);
    for (const c of pod.spec.containers) {
      for (const p of c.ports ?? []) if (p.name) env[`SIM_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(ports[p.containerPort]);
    }
    Object.assign(env, spec.env ?? {});
    const entry: Entry = { pod, ip, spec: { ...spec, env }, ports, running: false, restarts: 0, successes: 0, failures: 0, stopping: false, output: [] };
    this.#entries.set(uid, entry);
    this.#spawn(uid, entry);
    this.#scheduleProbe(uid, entry, 0);
    return { ...ports };
  }

  /** Resolves once every process being stopped has exited. */
  async idle(): Promise<void> {
    await Promise.all([...this.#stopping]);
  }

  /** Stops the pod's process (SIGTERM, then SIGKILL after the grace period) and forgets it. */
  async stop(podUid: string): Promise<void> {
    const e = this.#entries.get(podUid);
    if (!e) return;
    this.#entries.delete(podUid);
    const done = this.#terminate(e);
    this.#stopping.add(done);
    try {
      await done;
    } finally {
      this.#stopping.delete(done);
    }
  }

  async #terminate(e: Entry): Promise<void> {
    e.stopping = true;
    clearTimeout(e.probeTimer);
    clearTimeout(e.restartTimer);
    const child = e.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), this.#opts.terminationGraceMs);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  /** Stops every process. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#entries.keys()].map((uid) => this.stop(uid)));
  }

  /** 127.1.0.1, 127.1.0.2, ... (skipping .0 and .255 in the last octet). */
  #nextLoopbackIp(): string {
    const n = this.#loopbackCounter++;
    const last = (n % 254) + 1;
    const mid = Math.floor(n / 254);
    return `127.${1 + Math.floor(mid / 256)}.${mid % 256}.${last}`;
  }

  #resolveSpec(pod: Pod, ports: Record<number, number>, ip: string): ProcessSpec {
    const annotated = pod.metadata.annotations?.[RUN_ANNOTATION];
    const value = annotated ?? this.#opts.select?.(pod) ?? '';
    const where = `pod ${pod.metadata.namespace}/${pod.metadata.name} ${annotated === undefined ? 'select()' : `annotation ${RUN_ANNOTATION}`}`;
    if (value.trim().startsWith('{')) {
      if (!this.#opts.allowAnnotationCommands) throw new Error(`${where}: inline commands are disabled (set allowAnnotationCommands) — use a registry name`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch (err) {
        throw new Error(`${where}: invalid JSON: ${(err as Error).message}`);
      }
      const spec = parsed as ProcessSpec;
      if (typeof spec.command !== 'string' || (spec.args !== undefined && !Array.isArray(spec.args))) {
        throw new Error(`${where}: expected {"command": string, "args"?: string[], "env"?: {..}}`);
      }
      return spec;
    }
    const factory = this.#opts.registry?.[value];
    if (!factory) throw new Error(`${where}: no process named "${value}" in the registry (known: ${Object.keys(this.#opts.registry ?? {}).join(', ') || 'none'})`);
    return factory(pod, ports, ip);
  }

  #spawn(uid: string, e: Entry): void {
    if (e.stopping) return;
    const child = spawn(e.spec.command, e.spec.args ?? [], {
      cwd: e.spec.cwd,
      env: { ...process.env, ...e.spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    e.child = child;
    e.running = true;
    const name = e.pod.metadata.name ?? uid;
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        e.output.push(line);
        if (e.output.length > 200) e.output.shift();
        this.#opts.onOutput?.(name, line);
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('error', (err) => collect(Buffer.from(`spawn error: ${err.message}`)));
    child.on('exit', (code, signal) => {
      e.running = false;
      e.ready = false;
      e.successes = 0;
      e.lastExitCode = code ?? (signal ? 128 + 15 : 1);
      if (e.stopping) return;
      this.#opts.onChange?.(uid);
      // restartPolicy Always, with the kubelet's doubling back-off (capped far lower than its 5 minutes).
      const delay = Math.min(this.#opts.restartBackoffMs * 2 ** e.restarts, 10_000);
      e.restartTimer = setTimeout(() => {
        if (e.stopping) return;
        e.restarts++;
        this.#spawn(uid, e);
        this.#opts.onChange?.(uid);
      }, delay);
    });
  }

  #scheduleProbe(uid: string, e: Entry, delay: number): void {
    if (e.stopping) return;
    const found = probeOf(e.pod);
    if (!found) return;
    e.probeTimer = setTimeout(() => {
      void this.#probeOnce(e, found.probe).then((ok) => {
        if (e.stopping) return;
        const before = e.ready;
        if (ok) {
          e.failures = 0;
          e.successes++;
          if (e.successes >= (found.probe.successThreshold ?? 1)) e.ready = true;
        } else {
          e.successes = 0;
          e.failures++;
          if (e.failures >= (found.probe.failureThreshold ?? 3) || e.ready === undefined) e.ready = false;
        }
        if (before !== e.ready) this.#opts.onChange?.(uid);
        this.#scheduleProbe(uid, e, this.#opts.probeIntervalMs);
      });
    }, delay);
  }

  async #probeOnce(e: Entry, probe: Probe): Promise<boolean> {
    if (!e.running) return false;
    const timeout = this.#opts.probeTimeoutMs;
    const local = (port: number | string) => {
      const cp = resolveContainerPort(e.pod, port);
      return cp === undefined ? undefined : e.ports[cp];
    };
    if (probe.httpGet) {
      const port = local(probe.httpGet.port);
      return port === undefined ? false : httpProbe(e.ip, port, probe.httpGet.path ?? '/', timeout);
    }
    if (probe.grpc) {
      const port = local(probe.grpc.port);
      return port === undefined ? false : grpcHealthProbe(e.ip, port, probe.grpc.service ?? '', timeout);
    }
    if (probe.tcpSocket) {
      const port = local(probe.tcpSocket.port);
      return port === undefined ? false : tcpProbe(e.ip, port, timeout);
    }
    // exec probes cannot run against a local process meaningfully; a running process counts as ready.
    return e.running;
  }
}
