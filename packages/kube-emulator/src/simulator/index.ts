/**
 * The fleet simulator: pure workload controllers and kubelet model, a fleet generator, a process runner for
 * real serving processes, and the `Simulator` adapter that plays them against an emulator Store.
 */
export { Simulator, SIMULATOR_CLIENTS, type SimulatorOptions } from './simulator.js';
export {
  reconcileDaemonSet,
  daemonNodeFit,
  daemonPodTolerations,
  newDaemonPod,
  revisionTemplate,
  DAEMON_POD_TOLERATIONS,
  REVISION_HASH_LABEL,
  POD_TEMPLATE_GENERATION_LABEL,
  type DaemonSetReconcileResult,
} from './daemonset.js';
export {
  reconcileDeployment,
  resolveRollingLimits,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  type DeploymentReconcileResult,
} from './deployment.js';
export { reconcileReplicaSet, newReplicaSetPod, isActivePod, type ReplicaSetReconcileResult } from './replicaset.js';
export { kubeletSync, type KubeletInput, type KubeletOutput } from './kubelet.js';
export { schedulePod, podRequests, type NodeUsage } from './scheduler.js';
export {
  generateFleet,
  nodeWentOffline,
  nodeCameOnline,
  pickPercent,
  apportion,
  podCIDRFor,
  DEFAULT_FLEET_MIX,
  type FleetOptions,
  type SimulatedNodeKind,
} from './fleet.js';
export {
  ProcessRunner,
  podEndpoint,
  freePort,
  resolveContainerPort,
  RUN_ANNOTATION,
  PORTS_ANNOTATION,
  PROCESS_POD_IP,
  type ProcessSpec,
  type ProcessRegistry,
  type ProcessRunnerOptions,
  type ProcessState,
} from './process-runner.js';
export { grpcHealthProbe, httpProbe, tcpProbe } from './probes.js';
export {
  matchesLabelSelector,
  nodeMatchesPodSpec,
  tolerates,
  untoleratedTaints,
  isNodeReady,
  isPodReady,
  isPodAvailable,
  computeTemplateHash,
} from './meta.js';
export type {
  Action,
  SimKind,
  Pod,
  Node,
  DaemonSet,
  Deployment,
  ReplicaSet,
  ControllerRevision,
  PodTemplateSpec,
  Taint,
  Toleration,
} from './types.js';
