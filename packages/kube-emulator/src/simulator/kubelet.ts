/**
 * The kubelet (and the node lifecycle controller's pod side) as a pure function: from a bound pod, its node and
 * what the simulator knows about its containers, the pod status a real kubelet would report now, and when to
 * look again. Pods start Running `startDelayMs` after they are bound to a Ready node and become Ready
 * `readyDelayMs` later if their readiness (a real probe for process-backed pods, an override from the test, or
 * simply "passes") allows it. On a node that is not Ready, Ready turns False and nothing progresses; pods are
 * not evicted (a real cluster evicts non-daemon pods after the 300 s default toleration; the simulator leaves
 * that to the test, which can delete them).
 */
import { isNodeReady, isTerminating, jsonEqual, rfc3339 } from './meta.js';
import type { ContainerStatus, Node, Pod, PodCondition, PodStatus } from './types.js';

export interface KubeletInput {
  now: number;
  /** When the simulator first saw the pod bound to a Ready node (ms). */
  boundAt: number;
  startDelayMs: number;
  readyDelayMs: number;
  /** IP to report once the pod runs (kept if the pod already has one). */
  podIP: string;
  /** Readiness from a real probe or an override: undefined = no opinion (passes once the delay is over). */
  readiness?: boolean;
  /** For process-backed pods: whether the process is up and how often it was restarted. */
  process?: { running: boolean; restarts: number; lastExitCode?: number; startError?: string };
}

export interface KubeletOutput {
  /** The new status, only when it differs from the pod's current one. */
  status?: PodStatus;
  /** When (ms) the outcome may change by time alone. */
  wakeAt?: number;
}

function hostIPOf(node: Node): string | undefined {
  return node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}

function condition(prev: PodStatus | undefined, type: string, status: PodCondition['status'], now: number, reason?: string): PodCondition {
  const old = prev?.conditions?.find((c) => c.type === type);
  const lastTransitionTime = old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : rfc3339(now);
  const c: PodCondition = { type, status, lastProbeTime: null, lastTransitionTime };
  if (reason) c.reason = reason;
  return c;
}

function fakeId(seed: string): string {
  // A stable 64-hex container id derived from the pod uid and container name (no randomness, no clock).
  let h1 = 0x811c9dc5;
  let out = '';
  for (let round = 0; out.length < 64; round++) {
    for (const ch of `${seed}/${round}`) h1 = Math.imul(h1 ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    out += h1.toString(16).padStart(8, '0');
  }
  return out.slice(0, 64);
}

/** The pod status the kubelet of `node` reports for `pod` at `input.now`. */
export function kubeletSync(pod: Pod, node: Node | undefined, input: KubeletInput): KubeletOutput {
  if (!pod.spec.nodeName || !node || isTerminating(pod)) return {};
  const prev = pod.status;
  const { now } = input;

  if (!isNodeReady(node)) {
    // The node lifecycle controller marks the pods of an unreachable or NotReady node not Ready; nothing else moves.
    const ready = prev?.conditions?.find((c) => c.type === 'Ready');
    if (!ready || ready.status === 'False') return {};
    const status: PodStatus = {
      ...prev,
      conditions: (prev?.conditions ?? []).map((c) => (c.type === 'Ready' ? { ...c, status: 'False' as const, lastTransitionTime: rfc3339(now) } : c)),
    };
    return { status };
  }

  const runningAt = input.boundAt + input.startDelayMs;
  const hostIP = hostIPOf(node) ?? '';
  const scheduled = condition(prev, 'PodScheduled', 'True', now);
  if (now < runningAt) {
    const status: PodStatus = {
      phase: 'Pending',
      conditions: [scheduled],
      hostIP,
      hostIPs: hostIP ? [{ ip: hostIP }] : [],
      qosClass: prev?.qosClass ?? 'BestEffort',
      containerStatuses: pod.spec.containers.map((c) => ({
        name: c.name,
        image: c.image ?? '',
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: 'ContainerCreating' } },
      })),
    };
    return changed(prev, status, runningAt);
  }

  const startTime = prev?.startTime ?? rfc3339(runningAt);
  const proc = input.process;
  const up = proc ? proc.running : true;
  const readyAt = runningAt + input.readyDelayMs;
  const ready = up && now >= readyAt && input.readiness !== false;
  const podIP = prev?.podIP ?? input.podIP;
  const containerStatuses: ContainerStatus[] = pod.spec.containers.map((c) => {
    const prevC = prev?.containerStatuses?.find((s) => s.name === c.name);
    const startedAt = (prevC?.state?.running?.startedAt as string | undefined) ?? rfc3339(now);
    const cs: ContainerStatus = {
      name: c.name,
      image: c.image ?? '',
      imageID: prevC?.imageID || (c.image ? `${c.image}@sha256:${fakeId(c.image)}` : ''),
      containerID: prevC?.containerID ?? `containerd://${fakeId(`${pod.metadata.uid ?? ''}/${c.name}`)}`,
      ready,
      started: up,
      restartCount: proc?.restarts ?? 0,
      state: up
        ? { running: { startedAt: prevC?.state?.running ? startedAt : rfc3339(now) } }
        : proc?.startError !== undefined
          ? { waiting: { reason: 'CreateContainerError', message: proc.startError } }
          : { waiting: { reason: (proc?.restarts ?? 0) > 0 ? 'CrashLoopBackOff' : 'ContainerCreating' } },
    };
    if (proc?.lastExitCode !== undefined && (proc.restarts ?? 0) > 0) cs.lastState = { terminated: { exitCode: proc.lastExitCode, reason: proc.lastExitCode === 0 ? 'Completed' : 'Error' } };
    return cs;
  });
  const status: PodStatus = {
    phase: 'Running',
    conditions: [
      condition(prev, 'PodReadyToStartContainers', 'True', now),
      condition(prev, 'Initialized', 'True', now),
      condition(prev, 'Ready', ready ? 'True' : 'False', now, ready ? undefined : 'ContainersNotReady'),
      condition(prev, 'ContainersReady', ready ? 'True' : 'False', now, ready ? undefined : 'ContainersNotReady'),
      scheduled,
    ],
    hostIP,
    hostIPs: hostIP ? [{ ip: hostIP }] : [],
    podIP,
    podIPs: [{ ip: podIP }],
    startTime,
    qosClass: prev?.qosClass ?? 'BestEffort',
    containerStatuses,
  };
  return changed(prev, status, now < readyAt ? readyAt : undefined);
}

function changed(prev: PodStatus | undefined, next: PodStatus, wakeAt: number | undefined): KubeletOutput {
  const out: KubeletOutput = {};
  if (!jsonEqual(prev ?? {}, next)) out.status = next;
  if (wakeAt !== undefined) out.wakeAt = wakeAt;
  return out;
}
