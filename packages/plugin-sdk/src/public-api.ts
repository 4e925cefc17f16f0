// This file is the public contract for hardware plugins (what a plugin implements and what it receives).
// How the operator, sidecar and exporter drive plugins lives in ./host.ts, ./precision.ts and ./providers.ts.
import type { Precision } from '@slmops/api';
import type { NodeInfo } from './node.js';

/**
 * ONNX Runtime execution provider ids. Where onnxruntime-node has a name for the provider it is that name
 * (cpu, cuda, tensorrt, webgpu, qnn, xnnpack, dml, coreml); openvino, migraphx and rocm have none there.
 */
export type ExecutionProviderName =
  | 'tensorrt'
  | 'cuda'
  | 'openvino'
  | 'migraphx'
  | 'rocm'
  | 'qnn'
  | 'webgpu'
  | 'xnnpack'
  | 'dml'
  | 'coreml'
  | 'cpu';

/** One execution provider to try, with its ORT provider options (e.g. `{ device_id: 0 }`). */
export interface EPConfig {
  readonly name: ExecutionProviderName;
  readonly options?: Readonly<Record<string, string | number | boolean>>;
}

/** The accelerator a plugin found on a node (or, at run time, in its container). */
export interface DeviceInfo {
  kind: 'cpu' | 'gpu' | 'igpu' | 'npu';
  vendor: string;
  /** Product as the labels give it, e.g. "NVIDIA-A10G"; absent when unknown. */
  product?: string;
  /** Devices of this kind on the node (cores for a CPU); 0 when unknown. */
  count: number;
  memoryMiB?: number;
  /** Allocatable CPU cores of the node, when known: the default thread budget when the pod sets no CPU limit. */
  cpus?: number;
  /** Node architecture (GOARCH: amd64, arm64, …), "" when unknown. */
  arch: string;
  /** Extended resource a pod requests to get the device, e.g. "nvidia.com/gpu"; absent when none is needed. */
  resourceName?: string;
  /** Plugin-specific facts (driver major, compute capability, …), string values only so they stay serialisable. */
  attributes: Readonly<Record<string, string>>;
}

/** A plugin's positive answer to `detect(node)`. */
export interface Detection {
  plugin: string;
  device: DeviceInfo;
  /**
   * Sub-class of the plugin's nodes that need a different pod patch (intel "i915" vs "xe" vs "npu"); nodes with
   * the same plugin and variant share one schedule patch. A DNS label, or absent.
   */
  variant?: string;
  /** What on the node led to the detection ("capacity nvidia.com/gpu=1"), for logs, events and status. */
  evidence: string[];
}

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

/** Resources as a spec writes them: quantities may be numbers ("cpu: 2"). */
export interface ResourceRequirementsInput {
  requests?: Readonly<Record<string, string | number>>;
  limits?: Readonly<Record<string, string | number>>;
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

export interface EnvVar {
  name: string;
  value: string;
}

/** What the control plane asks a plugin for one node class. */
export interface ScheduleRequest {
  device: DeviceInfo;
  /** The model variant the pods will load (see selectPrecision). */
  precision: Precision;
  /** `spec.serving.resources` of the SLMDeployment: the plugin adds its device resources to these. */
  resources?: ResourceRequirementsInput;
  /** Accelerator devices per pod; default 1. */
  devicesPerPod?: number;
}

/** The hardware-specific part of the serving pod; the operator merges it into the pod template. */
export interface PodPatch {
  resources: ResourceRequirements;
  nodeSelector: Record<string, string>;
  tolerations: Toleration[];
  runtimeClassName?: string;
  /** Sorted by name, unique names. */
  env: EnvVar[];
  /** ONNX Runtime intra-op threads for the session. */
  threads: number;
}

/** I/O a plugin may use at run time, passed in by the sidecar or exporter (see createHostContext). */
export interface HostContext {
  /** File contents, or undefined when the file does not exist or is not readable. */
  readFile(path: string): Promise<string | undefined>;
  /** Entry names of a directory, or [] when it does not exist or is not readable. */
  readDir(path: string): Promise<string[]>;
  /** Runs a program without a shell; never rejects: a missing binary gives exitCode null and error "ENOENT". */
  exec(file: string, args: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
}

export interface ExecResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

/** What `probe()` gets in the sidecar: the providers this ONNX Runtime build has, plus host I/O. */
export interface ProbeContext extends HostContext {
  availableProviders: readonly string[];
}

/** Whether one provider of the plugin's chain is really usable in this process, and why not. */
export interface ProviderStatus {
  name: ExecutionProviderName;
  available: boolean;
  reason: string;
}

export interface ProbeResult {
  /** Status of every provider of the plugin's chain, in chain order. */
  providers: ProviderStatus[];
  /** The device as seen from inside the container, when the plugin could tell. */
  device?: DeviceInfo;
}

/** One sample of a metric family; counters report their current cumulative total. */
export interface MetricSample {
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  /** Prometheus metric name; counters end in `_total`. */
  name: string;
  help: string;
  labelNames?: readonly string[];
  /** Called at every scrape. */
  collect(): Promise<readonly MetricSample[]> | readonly MetricSample[];
}

/**
 * The exporter's registry as plugins see it. An adapter over prom-client registers a collect()-driven Gauge or
 * Counter per family (a counter's collect resets and sets the cumulative total read from the source).
 */
export interface MetricsRegistryPort {
  gauge(family: MetricFamily): void;
  counter(family: MetricFamily): void;
}

/**
 * A hardware plugin: a plain object returned by a factory (`nvidia(options)`), registered explicitly in each
 * app's main.ts. Exactly one plugin serves a node class; plugins never chain.
 */
export interface HardwarePlugin {
  /** Stable id used in `spec.hardware.plugins`, a DNS label ("nvidia"). */
  readonly name: string;
  /** Pure and total: the plugin's device on this node, or null. Must not throw on malformed nodes. */
  detect(node: NodeInfo): Detection | null;
  /** Pure: resources, nodeSelector, tolerations, runtimeClassName, env and threads for a node class. */
  schedule(request: ScheduleRequest): PodPatch;
  /** Pure: ORT providers in priority order, always ending in cpu. */
  executionProviders(device: DeviceInfo): EPConfig[];
  /** Model precisions this hardware serves best, best first. */
  readonly precisions: readonly Precision[];
  /** Sidecar: which providers of the chain are usable in this process. */
  probe?(ctx: ProbeContext): Promise<ProbeResult>;
  /** Exporter: registers hardware metric families; families whose source is unreadable are not registered. */
  collectors?(registry: MetricsRegistryPort, ctx: HostContext): void | Promise<void>;
}

/** Identity helper that gives plugin authors type checking and inference. */
export const defineHardwarePlugin = <T extends HardwarePlugin>(plugin: T): T => plugin;

/** A plugin factory: options in, plugin out. */
export type HardwarePluginFactory<O = void> = (options?: O) => HardwarePlugin;
