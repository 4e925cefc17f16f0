/**
 * Realistic Kubernetes Node objects, shaped the way `kubectl get node -o json` shows them on real clusters:
 * kubelet labels, Node Feature Discovery (NFD) labels, NVIDIA GPU Feature Discovery (GFD) labels, device-plugin
 * extended resources, taints, nodeInfo and conditions. Used by plugin tests and by the kube emulator's simulated
 * fleets. Deterministic: no clock, no randomness; the same options always give the same object.
 *
 * Provenance of the labels is documented per factory and in docs/plugins.md. Values marked UNCONFIRMED below
 * are plausible but were not checked against a real node of that kind.
 */
import type { NodeCondition, NodeInfo, Taint } from '../node.js';

/** Options every factory accepts. */
export interface NodeOptions {
  name?: string;
  /** Ready condition; false gives Ready=False with reason KubeletNotReady (an offline edge node). */
  ready?: boolean;
  /** Extra labels merged over the factory's labels (a value of "" is kept, not removed). */
  labels?: Record<string, string>;
  /** Extra taints appended to the factory's taints. */
  taints?: Taint[];
  zone?: string;
}

const FIXED_TIME = '2026-01-05T08:00:00Z';
const HEARTBEAT = '2026-01-05T09:30:00Z';

interface BaseSpec {
  name: string;
  arch: 'amd64' | 'arm64' | string;
  os?: string;
  labels: Record<string, string>;
  /** cpu cores, memory in Ki, and extended resources (device plugins). */
  cpu: number;
  memoryKi: number;
  extended?: Record<string, string>;
  /** What the kubelet reserves (system-reserved + kube-reserved + eviction threshold). */
  reservedCpuMilli?: number;
  reservedMemoryKi?: number;
  pods?: number;
  ephemeralStorageKi?: number;
  taints?: Taint[];
  kernelVersion: string;
  osImage: string;
  containerRuntimeVersion: string;
  kubeletVersion: string;
  instanceType?: string;
  providerID?: string;
  internalIP: string;
}

function conditions(ready: boolean): NodeCondition[] {
  const ok = (type: string, reason: string, message: string): NodeCondition => ({
    type,
    status: 'False',
    reason,
    message,
    lastHeartbeatTime: HEARTBEAT,
    lastTransitionTime: FIXED_TIME,
  });
  return [
    ok('MemoryPressure', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    ok('DiskPressure', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    ok('PIDPressure', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    ready
      ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: HEARTBEAT, lastTransitionTime: FIXED_TIME }
      : { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: FIXED_TIME, lastTransitionTime: HEARTBEAT },
  ];
}

function buildNode(spec: BaseSpec, options: NodeOptions): NodeInfo {
  const name = options.name ?? spec.name;
  const ready = options.ready ?? true;
  const os = spec.os ?? 'linux';
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': spec.arch,
    'beta.kubernetes.io/os': os,
    'kubernetes.io/arch': spec.arch,
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': os,
    ...(spec.instanceType ? { 'node.kubernetes.io/instance-type': spec.instanceType, 'beta.kubernetes.io/instance-type': spec.instanceType } : {}),
    ...(options.zone ? { 'topology.kubernetes.io/zone': options.zone } : {}),
    ...spec.labels,
    ...options.labels,
  };
  const pods = spec.pods ?? 110;
  const storageKi = spec.ephemeralStorageKi ?? 101_430_960;
  const capacity: Record<string, string> = {
    cpu: String(spec.cpu),
    'ephemeral-storage': `${storageKi}Ki`,
    'hugepages-1Gi': '0',
    'hugepages-2Mi': '0',
    memory: `${spec.memoryKi}Ki`,
    pods: String(pods),
    ...spec.extended,
  };
  const allocatable: Record<string, string> = {
    ...capacity,
    cpu: `${spec.cpu * 1000 - (spec.reservedCpuMilli ?? 0)}m`,
    'ephemeral-storage': String(Math.floor(storageKi * 1024 * 0.9)),
    memory: `${spec.memoryKi - (spec.reservedMemoryKi ?? 102_400)}Ki`,
  };
  const taints = [...(spec.taints ?? []), ...(options.taints ?? [])];
  if (!ready) taints.push({ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: HEARTBEAT });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      uid: `00000000-0000-4000-8000-${hex12(name)}`,
      creationTimestamp: FIXED_TIME,
      labels,
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: {
      ...(spec.providerID ? { providerID: spec.providerID } : {}),
      ...(taints.length ? { taints } : {}),
    },
    status: {
      addresses: [
        { type: 'InternalIP', address: spec.internalIP },
        { type: 'Hostname', address: name },
      ],
      allocatable,
      capacity,
      conditions: conditions(ready),
      nodeInfo: {
        architecture: spec.arch,
        bootID: `b0000000-0000-4000-8000-${hex12(`${name}/boot`)}`,
        containerRuntimeVersion: spec.containerRuntimeVersion,
        kernelVersion: spec.kernelVersion,
        kubeProxyVersion: spec.kubeletVersion,
        kubeletVersion: spec.kubeletVersion,
        machineID: hex12(`${name}/machine`).repeat(3).slice(0, 32),
        operatingSystem: os,
        osImage: spec.osImage,
        systemUUID: `ec200000-0000-4000-8000-${hex12(`${name}/uuid`)}`,
      },
    },
  };
}

/** A stable 12-hex-digit id derived from a string (FNV-1a), so uids are deterministic per node name. */
function hex12(s: string): string {
  let h = 0xcbf29ce484222325n;
  for (const ch of s) h = ((h ^ BigInt(ch.codePointAt(0) ?? 0)) * 0x100000001b3n) & 0xffffffffffffn;
  return h.toString(16).padStart(12, '0');
}

// ---------------------------------------------------------------------------------------------------------------
// NVIDIA discrete GPU
// ---------------------------------------------------------------------------------------------------------------

export interface NvidiaNodeOptions extends NodeOptions {
  /** GFD product label value (spaces become '-' as GFD writes them). Default NVIDIA-A10G. */
  product?: string;
  count?: number;
  /** GFD nvidia.com/gpu.memory, in MiB. */
  memoryMiB?: number;
  driverMajor?: number;
}

/**
 * An EKS g5.2xlarge GPU node with the NVIDIA GPU Operator: device plugin (`nvidia.com/gpu` capacity),
 * GFD labels (`nvidia.com/gpu.*`, `nvidia.com/cuda.*`), the operator's NFD config (vendor-only PCI labels,
 * hence `pci-10de.present`) and the `nvidia.com/gpu=true:NoSchedule` taint of a dedicated GPU node group.
 */
export function nvidiaGpuNode(options: NvidiaNodeOptions = {}): NodeInfo {
  const count = options.count ?? 1;
  const product = options.product ?? 'NVIDIA-A10G';
  return buildNode(
    {
      name: 'ip-10-0-12-34.eu-west-1.compute.internal',
      arch: 'amd64',
      instanceType: 'g5.2xlarge',
      providerID: 'aws:///eu-west-1a/i-0a1b2c3d4e5f60718',
      internalIP: '10.0.12.34',
      cpu: 8,
      memoryKi: 32_210_360,
      reservedCpuMilli: 90,
      reservedMemoryKi: 3_021_760,
      pods: 58,
      extended: { 'nvidia.com/gpu': String(count) },
      kernelVersion: '5.15.0-1061-aws',
      osImage: 'Ubuntu 22.04.4 LTS',
      containerRuntimeVersion: 'containerd://1.7.12',
      kubeletVersion: 'v1.33.1-eks-b9364f6',
      labels: {
        'eks.amazonaws.com/capacityType': 'ON_DEMAND',
        'eks.amazonaws.com/nodegroup': 'gpu-a10g',
        'topology.kubernetes.io/region': 'eu-west-1',
        'topology.kubernetes.io/zone': 'eu-west-1a',
        'feature.node.kubernetes.io/cpu-model.family': '25',
        'feature.node.kubernetes.io/cpu-model.id': '1',
        'feature.node.kubernetes.io/cpu-model.vendor_id': 'AMD',
        'feature.node.kubernetes.io/kernel-version.full': '5.15.0-1061-aws',
        'feature.node.kubernetes.io/kernel-version.major': '5',
        'feature.node.kubernetes.io/kernel-version.minor': '15',
        'feature.node.kubernetes.io/pci-10de.present': 'true',
        'feature.node.kubernetes.io/pci-1d0f.present': 'true',
        'feature.node.kubernetes.io/system-os_release.ID': 'ubuntu',
        'feature.node.kubernetes.io/system-os_release.VERSION_ID': '22.04',
        'nvidia.com/cuda.driver-version.full': `${options.driverMajor ?? 550}.127.05`,
        'nvidia.com/cuda.driver-version.major': String(options.driverMajor ?? 550),
        'nvidia.com/cuda.driver-version.minor': '127',
        'nvidia.com/cuda.driver-version.revision': '05',
        'nvidia.com/cuda.driver.major': String(options.driverMajor ?? 550),
        'nvidia.com/cuda.driver.minor': '127',
        'nvidia.com/cuda.driver.rev': '05',
        'nvidia.com/cuda.runtime-version.full': '12.4',
        'nvidia.com/cuda.runtime-version.major': '12',
        'nvidia.com/cuda.runtime-version.minor': '4',
        'nvidia.com/cuda.runtime.major': '12',
        'nvidia.com/cuda.runtime.minor': '4',
        'nvidia.com/gfd.timestamp': '1767600000',
        'nvidia.com/gpu.compute.major': '8',
        'nvidia.com/gpu.compute.minor': '6',
        'nvidia.com/gpu.count': String(count),
        'nvidia.com/gpu.deploy.container-toolkit': 'true',
        'nvidia.com/gpu.deploy.dcgm-exporter': 'true',
        'nvidia.com/gpu.deploy.device-plugin': 'true',
        'nvidia.com/gpu.deploy.driver': 'pre-installed',
        'nvidia.com/gpu.deploy.gpu-feature-discovery': 'true',
        'nvidia.com/gpu.family': 'ampere',
        'nvidia.com/gpu.machine': 'g5.2xlarge',
        'nvidia.com/gpu.memory': String(options.memoryMiB ?? 23_028),
        'nvidia.com/gpu.mode': 'compute',
        'nvidia.com/gpu.present': 'true',
        'nvidia.com/gpu.product': product,
        'nvidia.com/gpu.replicas': '1',
        'nvidia.com/gpu.sharing-strategy': 'none',
        'nvidia.com/mig.capable': 'false',
        'nvidia.com/mps.capable': 'false',
      },
      taints: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }],
    },
    options,
  );
}

/**
 * A GKE g2-standard-8 node with one L4 and Google's managed driver install: `nvidia.com/gpu` capacity and
 * the `cloud.google.com/gke-accelerator` label, but no GFD or NFD labels, and GKE's automatic
 * `nvidia.com/gpu=present:NoSchedule` taint.
 */
export function gkeGpuNode(options: NodeOptions = {}): NodeInfo {
  return buildNode(
    {
      name: 'gke-edge-gpu-pool-3f2a9c1d-x7k2',
      arch: 'amd64',
      instanceType: 'g2-standard-8',
      providerID: 'gce://slmops-edge/europe-west4-a/gke-edge-gpu-pool-3f2a9c1d-x7k2',
      internalIP: '10.164.0.23',
      cpu: 8,
      memoryKi: 32_863_892,
      reservedCpuMilli: 170,
      reservedMemoryKi: 3_690_644,
      extended: { 'nvidia.com/gpu': '1' },
      kernelVersion: '6.6.56+',
      osImage: 'Container-Optimized OS from Google',
      containerRuntimeVersion: 'containerd://1.7.24',
      kubeletVersion: 'v1.33.2-gke.1240000',
      labels: {
        'cloud.google.com/gke-accelerator': 'nvidia-l4',
        'cloud.google.com/gke-boot-disk': 'pd-balanced',
        'cloud.google.com/gke-gpu-driver-version': 'default',
        'cloud.google.com/gke-nodepool': 'gpu-pool',
        'cloud.google.com/gke-os-distribution': 'cos',
        'cloud.google.com/machine-family': 'g2',
        'topology.kubernetes.io/region': 'europe-west4',
        'topology.kubernetes.io/zone': 'europe-west4-a',
      },
      taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
    },
    options,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// NVIDIA Jetson
// ---------------------------------------------------------------------------------------------------------------

/**
 * A Jetson Orin NX 16GB on JetPack 6 (L4T R36, kernel "*-tegra") running k3s. Relied on: arm64 and the
 * "-tegra" kernel suffix (kubelet nodeInfo; NFD `kernel-version.full`). UNCONFIRMED: `nvidia.com/gpu`
 * capacity from the NVIDIA device plugin's Tegra support and the GFD product value "Orin" on Tegra.
 */
export function jetsonOrinNode(options: NodeOptions & { withDevicePlugin?: boolean } = {}): NodeInfo {
  const devicePlugin = options.withDevicePlugin ?? true;
  return buildNode(
    {
      name: 'jetson-orin-nx-07',
      arch: 'arm64',
      instanceType: 'k3s',
      providerID: 'k3s://jetson-orin-nx-07',
      internalIP: '192.168.40.17',
      cpu: 8,
      memoryKi: 15_950_240,
      extended: devicePlugin ? { 'nvidia.com/gpu': '1' } : {},
      kernelVersion: '5.15.148-tegra',
      osImage: 'Ubuntu 22.04.5 LTS',
      containerRuntimeVersion: 'containerd://2.0.5-k3s1',
      kubeletVersion: 'v1.33.1+k3s1',
      labels: {
        'node.kubernetes.io/instance-type': 'k3s',
        'node-role.kubernetes.io/edge': 'true',
        'feature.node.kubernetes.io/kernel-version.full': '5.15.148-tegra',
        'feature.node.kubernetes.io/kernel-version.major': '5',
        'feature.node.kubernetes.io/kernel-version.minor': '15',
        'feature.node.kubernetes.io/system-os_release.ID': 'ubuntu',
        'feature.node.kubernetes.io/system-os_release.VERSION_ID': '22.04',
        ...(devicePlugin ? { 'nvidia.com/gpu.present': 'true', 'nvidia.com/gpu.product': 'Orin', 'nvidia.com/gpu.count': '1' } : {}),
      },
    },
    options,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Intel
// ---------------------------------------------------------------------------------------------------------------

/**
 * An Intel NUC 13 Pro (Core i7-1360P, Iris Xe iGPU, PCI id 8086:a7a0) on k3s with the Intel GPU device plugin
 * (`gpu.intel.com/i915`, shared by up to 10 containers via -shared-dev-num) and the plugin's NFD rules
 * (`intel.feature.node.kubernetes.io/gpu`, `gpu.intel.com/device-id.0300-a7a0.*`). With `kmd: 'xe'` the
 * resource is `gpu.intel.com/xe` (Xe kernel driver, Lunar Lake and later).
 */
export function intelIgpuNode(options: NodeOptions & { kmd?: 'i915' | 'xe'; shared?: number } = {}): NodeInfo {
  const kmd = options.kmd ?? 'i915';
  const deviceId = kmd === 'xe' ? '64a0' : 'a7a0';
  return buildNode(
    {
      name: kmd === 'xe' ? 'edge-lnl-03' : 'edge-nuc13-12',
      arch: 'amd64',
      instanceType: 'k3s',
      providerID: `k3s://${kmd === 'xe' ? 'edge-lnl-03' : 'edge-nuc13-12'}`,
      internalIP: '192.168.40.32',
      cpu: kmd === 'xe' ? 8 : 16,
      memoryKi: 32_587_036,
      extended: { [`gpu.intel.com/${kmd}`]: String(options.shared ?? 10) },
      kernelVersion: '6.8.0-45-generic',
      osImage: 'Ubuntu 24.04.1 LTS',
      containerRuntimeVersion: 'containerd://2.0.5-k3s1',
      kubeletVersion: 'v1.33.1+k3s1',
      labels: {
        'node.kubernetes.io/instance-type': 'k3s',
        'feature.node.kubernetes.io/cpu-model.family': '6',
        'feature.node.kubernetes.io/cpu-model.id': kmd === 'xe' ? '189' : '186',
        'feature.node.kubernetes.io/cpu-model.vendor_id': 'Intel',
        'feature.node.kubernetes.io/kernel-version.full': '6.8.0-45-generic',
        'feature.node.kubernetes.io/pci-0300_8086.present': 'true',
        'feature.node.kubernetes.io/system-os_release.ID': 'ubuntu',
        'feature.node.kubernetes.io/system-os_release.VERSION_ID': '24.04',
        'intel.feature.node.kubernetes.io/gpu': 'true',
        [`gpu.intel.com/device-id.0300-${deviceId}.count`]: '1',
        [`gpu.intel.com/device-id.0300-${deviceId}.present`]: 'true',
      },
    },
    options,
  );
}

/**
 * A Core Ultra 7 155H (Meteor Lake) box with the Intel NPU device plugin (`npu.intel.com/accel`, confirmed in
 * the plugin's README) next to the GPU plugin. UNCONFIRMED: the NFD rule label `intel.feature.node.kubernetes.io/npu`.
 */
export function intelNpuNode(options: NodeOptions = {}): NodeInfo {
  return buildNode(
    {
      name: 'edge-mtl-05',
      arch: 'amd64',
      instanceType: 'k3s',
      providerID: 'k3s://edge-mtl-05',
      internalIP: '192.168.40.35',
      cpu: 22,
      memoryKi: 65_514_596,
      extended: { 'npu.intel.com/accel': '1', 'gpu.intel.com/i915': '10' },
      kernelVersion: '6.8.0-45-generic',
      osImage: 'Ubuntu 24.04.1 LTS',
      containerRuntimeVersion: 'containerd://2.0.5-k3s1',
      kubeletVersion: 'v1.33.1+k3s1',
      labels: {
        'node.kubernetes.io/instance-type': 'k3s',
        'feature.node.kubernetes.io/cpu-model.family': '6',
        'feature.node.kubernetes.io/cpu-model.id': '170',
        'feature.node.kubernetes.io/cpu-model.vendor_id': 'Intel',
        'feature.node.kubernetes.io/pci-0300_8086.present': 'true',
        'feature.node.kubernetes.io/pci-1200_8086.present': 'true',
        'intel.feature.node.kubernetes.io/gpu': 'true',
        'intel.feature.node.kubernetes.io/npu': 'true',
        'gpu.intel.com/device-id.0300-7d55.count': '1',
        'gpu.intel.com/device-id.0300-7d55.present': 'true',
      },
    },
    options,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// AMD
// ---------------------------------------------------------------------------------------------------------------

/**
 * A workstation-class server with one AMD Instinct MI210 (PCI 1002:740f) running the ROCm device plugin
 * (`amd.com/gpu`) and node labeller (`amd.com/gpu.*`, the older `beta.amd.com/gpu.*` are not set), plus the
 * AMD GPU Operator's NFD rule label `feature.node.kubernetes.io/amd-gpu` and a vendor-only PCI label.
 */
export function amdGpuNode(options: NodeOptions & { count?: number } = {}): NodeInfo {
  const count = options.count ?? 1;
  return buildNode(
    {
      name: 'edge-rocm-01',
      arch: 'amd64',
      internalIP: '10.20.0.41',
      cpu: 32,
      memoryKi: 263_855_104,
      reservedCpuMilli: 500,
      reservedMemoryKi: 1_048_576,
      extended: { 'amd.com/gpu': String(count) },
      kernelVersion: '5.15.0-122-generic',
      osImage: 'Ubuntu 22.04.5 LTS',
      containerRuntimeVersion: 'containerd://1.7.22',
      kubeletVersion: 'v1.33.3',
      labels: {
        'feature.node.kubernetes.io/amd-gpu': 'true',
        'feature.node.kubernetes.io/cpu-model.vendor_id': 'AMD',
        'feature.node.kubernetes.io/kernel-version.full': '5.15.0-122-generic',
        'feature.node.kubernetes.io/pci-1002.present': 'true',
        'amd.com/gpu.cu-count': '104',
        'amd.com/gpu.device-id': '740f',
        'amd.com/gpu.driver-version': '6.8.5',
        'amd.com/gpu.family': 'AI',
        'amd.com/gpu.product-name': 'AMD_Instinct_MI210',
        'amd.com/gpu.simd-count': '416',
        'amd.com/gpu.vram': '64G',
      },
    },
    options,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Qualcomm
// ---------------------------------------------------------------------------------------------------------------

/**
 * An x86 server with Qualcomm Cloud AI 100 cards (PCI vendor 17cb). UNCONFIRMED: the device plugin resource
 * name `qualcomm.com/qaic`; the vendor-only NFD PCI label follows NFD's documented format.
 */
export function qualcommCloudAiNode(options: NodeOptions & { count?: number } = {}): NodeInfo {
  return buildNode(
    {
      name: 'edge-aic100-02',
      arch: 'amd64',
      internalIP: '10.20.0.52',
      cpu: 64,
      memoryKi: 527_958_016,
      reservedCpuMilli: 500,
      extended: { 'qualcomm.com/qaic': String(options.count ?? 4) },
      kernelVersion: '5.15.0-122-generic',
      osImage: 'Ubuntu 22.04.5 LTS',
      containerRuntimeVersion: 'containerd://1.7.22',
      kubeletVersion: 'v1.33.3',
      labels: {
        'feature.node.kubernetes.io/cpu-model.vendor_id': 'AMD',
        'feature.node.kubernetes.io/pci-17cb.present': 'true',
      },
    },
    options,
  );
}

/**
 * A Qualcomm QCS6490 (Hexagon NPU) edge board on k3s. No device plugin or NFD rule for Hexagon is known, so
 * the administrator declares the accelerator with the SLMOps label `slmops.io/accelerator=qualcomm`
 * (see docs/plugins.md). UNCONFIRMED: kernel string of Qualcomm Linux.
 */
export function qualcommEdgeNode(options: NodeOptions = {}): NodeInfo {
  return buildNode(
    {
      name: 'rb3gen2-14',
      arch: 'arm64',
      instanceType: 'k3s',
      providerID: 'k3s://rb3gen2-14',
      internalIP: '192.168.40.64',
      cpu: 8,
      memoryKi: 5_739_680,
      kernelVersion: '6.6.52-qli-1.3-ver.1.1',
      osImage: 'Qualcomm Linux 1.3',
      containerRuntimeVersion: 'containerd://2.0.5-k3s1',
      kubeletVersion: 'v1.33.1+k3s1',
      labels: { 'node.kubernetes.io/instance-type': 'k3s', 'slmops.io/accelerator': 'qualcomm' },
    },
    options,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// CPU-only
// ---------------------------------------------------------------------------------------------------------------

/** A plain amd64 edge server (Debian 12, k3s), NFD installed, no accelerator. */
export function cpuAmd64Node(options: NodeOptions & { cpu?: number } = {}): NodeInfo {
  return buildNode(
    {
      name: 'edge-x86-21',
      arch: 'amd64',
      instanceType: 'k3s',
      providerID: 'k3s://edge-x86-21',
      internalIP: '192.168.40.21',
      cpu: options.cpu ?? 4,
      memoryKi: 16_318_676,
      kernelVersion: '6.1.0-28-amd64',
      osImage: 'Debian GNU/Linux 12 (bookworm)',
      containerRuntimeVersion: 'containerd://2.0.5-k3s1',
      kubeletVersion: 'v1.33.1+k3s1',
      labels: {
        'node.kubernetes.io/instance-type': 'k3s',
        'feature.node.kubernetes.io/cpu-cpuid.AVX2': 'true',
        'feature.node.kubernetes.io/cpu-cpuid.AVX512VNNI': 'true',
        'feature.node.kubernetes.io/cpu-model.family': '6',
        'feature.node.kubernetes.io/cpu-model.vendor_id': 'Intel',
        'feature.node.kubernetes.io/kernel-version.full': '6.1.0-28-amd64',
      },
    },
    options,
  );
}

/** A Raspberry Pi 5 (8 GB, Cortex-A76, BCM2712) on Raspberry Pi OS bookworm with k3s. */
export function raspberryPiNode(options: NodeOptions = {}): NodeInfo {
  return buildNode(
    {
      name: 'rpi5-edge-03',
      arch: 'arm64',
      instanceType: 'k3s',
      providerID: 'k3s://rpi5-edge-03',
      internalIP: '192.168.40.103',
      cpu: 4,
      memoryKi: 8_245_624,
      ephemeralStorageKi: 61_009_784,
      kernelVersion: '6.6.51+rpt-rpi-2712',
      osImage: 'Debian GNU/Linux 12 (bookworm)',
      containerRuntimeVersion: 'containerd://2.0.5-k3s1',
      kubeletVersion: 'v1.33.1+k3s1',
      labels: { 'node.kubernetes.io/instance-type': 'k3s' },
    },
    options,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Contradictory or missing information
// ---------------------------------------------------------------------------------------------------------------

/** GFD labels say a GPU is present but the device plugin advertises none (crashed or not yet registered). */
export function gpuLabelsWithoutCapacityNode(options: NodeOptions = {}): NodeInfo {
  const node = nvidiaGpuNode({ name: 'ip-10-0-12-99.eu-west-1.compute.internal', ...options });
  node.status!.capacity!['nvidia.com/gpu'] = '0';
  node.status!.allocatable!['nvidia.com/gpu'] = '0';
  return node;
}

/** A node that registered a moment ago: name only, no labels, no status. */
export function bareNode(options: NodeOptions = {}): NodeInfo {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name: options.name ?? 'just-joined-01', ...(options.labels ? { labels: { ...options.labels } } : {}) } };
}

/** The arch label says amd64 but the kubelet reports arm64 (a hand-edited label); the label wins for scheduling. */
export function archMismatchNode(options: NodeOptions = {}): NodeInfo {
  const node = raspberryPiNode({ name: 'rpi5-mislabelled-09', ...options });
  node.metadata.labels!['kubernetes.io/arch'] = 'amd64';
  return node;
}

/** NVIDIA PCI and product labels but AMD GPUs advertised: two vendors' evidence on one node. */
export function mixedVendorNode(options: NodeOptions = {}): NodeInfo {
  const node = amdGpuNode({ name: 'edge-mixed-02', ...options });
  Object.assign(node.metadata.labels!, {
    'feature.node.kubernetes.io/pci-10de.present': 'true',
    'nvidia.com/gpu.present': 'true',
    'nvidia.com/gpu.product': 'NVIDIA-T4',
  });
  return node;
}

/** A Windows Server worker: no SLMOps plugin can serve it (the sidecar image is Linux-only). */
export function windowsNode(options: NodeOptions = {}): NodeInfo {
  return buildNode(
    {
      name: 'akswin000002',
      arch: 'amd64',
      os: 'windows',
      instanceType: 'Standard_D4s_v5',
      internalIP: '10.224.0.7',
      cpu: 4,
      memoryKi: 16_776_684,
      kernelVersion: '10.0.20348.2849',
      osImage: 'Windows Server 2022 Datacenter',
      containerRuntimeVersion: 'containerd://1.7.20+azure',
      kubeletVersion: 'v1.33.2',
      labels: { 'kubernetes.azure.com/os-sku': 'Windows2022' },
    },
    options,
  );
}

/** Every kind of simulated node, for building mixed fleets. */
export const nodeFactories = {
  'nvidia-gpu': nvidiaGpuNode,
  'nvidia-gpu-gke': gkeGpuNode,
  jetson: jetsonOrinNode,
  'intel-igpu': intelIgpuNode,
  'intel-xe': (o: NodeOptions = {}) => intelIgpuNode({ ...o, kmd: 'xe' }),
  'intel-npu': intelNpuNode,
  'amd-gpu': amdGpuNode,
  'qualcomm-cloud-ai': qualcommCloudAiNode,
  'qualcomm-edge': qualcommEdgeNode,
  'cpu-amd64': cpuAmd64Node,
  'raspberry-pi': raspberryPiNode,
  'gpu-labels-without-capacity': gpuLabelsWithoutCapacityNode,
  bare: bareNode,
  'arch-mismatch': archMismatchNode,
  'mixed-vendor': mixedVendorNode,
  windows: windowsNode,
} satisfies Record<string, (options?: NodeOptions) => NodeInfo>;

export type SimulatedNodeKind = keyof typeof nodeFactories;

/**
 * A node of the given kind with a unique, DNS-valid name `<prefix>-<kind>-<index>` and an internal IP derived
 * from the index, for fleets of thousands of nodes.
 */
export function fleetNode(kind: SimulatedNodeKind, index: number, options: NodeOptions & { prefix?: string } = {}): NodeInfo {
  const name = options.name ?? `${options.prefix ?? 'node'}-${kind}-${String(index).padStart(5, '0')}`;
  const node = nodeFactories[kind]({ ...options, name });
  const ip = `10.${100 + ((index >> 16) & 0x7f)}.${(index >> 8) & 0xff}.${index & 0xff}`;
  if (node.status?.addresses) node.status.addresses = [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }];
  if (node.spec?.providerID?.startsWith('k3s://')) node.spec.providerID = `k3s://${name}`;
  return node;
}

// Fleet generators seed their node mix with the same PRNG the conformance fuzzing uses; exported here so they
// need not load the vitest-based conformance suite.
export { mulberry32 } from './fuzz.js';
