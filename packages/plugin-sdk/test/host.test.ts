import { describe, expect, it } from 'vitest';
import {
  createPluginHost,
  defineHardwarePlugin,
  readNode,
  resourceCount,
  InvalidPluginError,
  InvalidPodPatchError,
  UnknownPluginError,
  type HardwarePlugin,
  type HardwareOverride,
} from '../src/index.js';
import { amdGpuNode, bareNode, cpuAmd64Node, nvidiaGpuNode, raspberryPiNode, windowsNode } from '../src/testing/index.js';

/** Minimal plugins for host tests: each detects by one extended resource; "cpu" detects any linux node. */
const byResource = (name: string, resource: string, variantOf?: (n: number) => string): HardwarePlugin =>
  defineHardwarePlugin({
    name,
    precisions: ['fp16', 'fp32'],
    detect(node) {
      const count = resourceCount(readNode(node), resource);
      if (!count) return null;
      return { plugin: name, device: { kind: 'gpu', vendor: name, count, arch: readNode(node).arch, resourceName: resource, attributes: {} }, evidence: [`allocatable ${resource}=${count}`], ...(variantOf ? { variant: variantOf(count) } : {}) };
    },
    schedule: () => ({ resources: { limits: { [resource]: '1' }, requests: { [resource]: '1' } }, nodeSelector: {}, tolerations: [], env: [{ name: 'A', value: '1' }], threads: 2 }),
    executionProviders: () => [{ name: 'cuda' }, { name: 'cpu' }],
  });
const cpuLike: HardwarePlugin = defineHardwarePlugin({
  name: 'cpu',
  precisions: ['int8', 'fp32'],
  detect: (node) => (readNode(node).os === 'windows' ? null : { plugin: 'cpu', device: { kind: 'cpu', vendor: 'generic', count: 1, arch: readNode(node).arch, attributes: {} }, evidence: ['linux'] }),
  schedule: () => ({ resources: {}, nodeSelector: { 'kubernetes.io/os': 'linux' }, tolerations: [], env: [], threads: 4 }),
  executionProviders: () => [{ name: 'cpu' }],
});

const host = createPluginHost([byResource('nvidia', 'nvidia.com/gpu'), byResource('amd', 'amd.com/gpu'), cpuLike]);

describe('plugin host: registration and lookup', () => {
  it('resolves by name and lists the known plugins in the error', () => {
    expect(host.resolve('amd').name).toBe('amd');
    expect(() => host.resolve('nvidia-gpux')).toThrow(new UnknownPluginError('nvidia-gpux', ['nvidia', 'amd', 'cpu']));
    expect(() => host.resolve('nvidia-gpux')).toThrow('unknown hardware plugin "nvidia-gpux"; known plugins: nvidia, amd, cpu');
    expect(host.names).toEqual(['nvidia', 'amd', 'cpu']);
  });

  it('rejects duplicate names and malformed plugins, naming the plugin', () => {
    expect(() => createPluginHost([cpuLike, cpuLike])).toThrow(new InvalidPluginError('duplicate hardware plugin name "cpu" (plugin #1)'));
    expect(() => createPluginHost([{ ...cpuLike, name: 'Not_A_Label' }])).toThrow('name must be a DNS label');
    expect(() => createPluginHost([{ ...cpuLike, schedule: undefined } as unknown as HardwarePlugin])).toThrow('plugin #0 (cpu): schedule must be a function');
    expect(() => createPluginHost([{ ...cpuLike, precisions: [] }])).toThrow('precisions must be a non-empty array');
  });

  it('appends the cpu fallback to a preference list that lacks it', () => {
    expect(host.preference(['amd']).map((p) => p.name)).toEqual(['amd', 'cpu']);
    expect(host.preference(['cpu', 'amd']).map((p) => p.name)).toEqual(['cpu', 'amd']);
  });
});

describe('plugin host: classification by preference order', () => {
  const fleet = [nvidiaGpuNode({ name: 'gpu-b' }), nvidiaGpuNode({ name: 'gpu-a', count: 4 }), amdGpuNode({ name: 'rocm-1' }), raspberryPiNode({ name: 'pi-1' }), cpuAmd64Node({ name: 'x86-1' }), windowsNode({ name: 'win-1' }), bareNode({ name: 'new-1' })];

  it('groups nodes under the first plugin that detects them, cpu last', () => {
    const c = host.classify(fleet, { plugins: ['nvidia', 'amd', 'cpu'] });
    expect(c.classes.map((k) => [k.key, k.nodes])).toEqual([
      ['amd', ['rocm-1']],
      ['cpu', ['new-1', 'pi-1', 'x86-1']],
      ['nvidia', ['gpu-a', 'gpu-b']],
    ]);
    // The representative device is the first node's by name, whatever the input order.
    expect(c.classes.find((k) => k.key === 'nvidia')!.device.count).toBe(4);
    expect(c.unplaced).toEqual([{ node: 'win-1', reason: 'no plugin of [nvidia, amd, cpu] serves this node (os "windows", arch "amd64")' }]);
  });

  it('a plugin left out of the preference list does not serve its nodes; they fall back to cpu', () => {
    const c = host.classify(fleet, { plugins: ['nvidia'] });
    expect(c.classes.find((k) => k.key === 'cpu')!.nodes).toContain('rocm-1');
  });

  it('honours overrides by labels, first match wins, as separate node classes', () => {
    const overrides: HardwareOverride[] = [
      { match: { labels: { 'node.kubernetes.io/instance-type': 'k3s', 'kubernetes.io/arch': 'arm64' } }, threads: 2, precision: 'int4' },
      { match: { labels: { 'node.kubernetes.io/instance-type': 'k3s' } }, env: [{ name: 'A', value: 'override' }] },
    ];
    const c = host.classify(fleet, { plugins: ['nvidia', 'amd'], overrides });
    expect(c.classes.map((k) => [k.key, k.nodes])).toEqual([
      ['amd', ['rocm-1']],
      ['cpu', ['new-1']],
      ['cpu-o0', ['pi-1']],
      ['cpu-o1', ['x86-1']],
      ['nvidia', ['gpu-a', 'gpu-b']],
    ]);
    const pi = host.planClass(c.classes.find((k) => k.key === 'cpu-o0')!, { precisions: ['int8', 'int4', 'fp32'] });
    expect(pi.patch.threads).toBe(2);
    expect(pi.precision).toEqual({ precision: 'int4', reason: 'override: hardware.overrides sets int4' });
  });

  it('splits a plugin by variant', () => {
    const variantHost = createPluginHost([byResource('nvidia', 'nvidia.com/gpu', (n) => (n > 1 ? 'multi' : 'single')), cpuLike]);
    const c = variantHost.classify([nvidiaGpuNode({ name: 'a' }), nvidiaGpuNode({ name: 'b', count: 8 })], { plugins: ['nvidia'] });
    expect(c.classes.map((k) => k.key)).toEqual(['nvidia-multi', 'nvidia-single']);
  });

  it('without a cpu plugin, undetected nodes are unplaced and say so', () => {
    const gpuOnly = createPluginHost([byResource('nvidia', 'nvidia.com/gpu')]);
    const c = gpuOnly.classify([raspberryPiNode({ name: 'pi' })], { plugins: ['nvidia'] });
    expect(c.unplaced[0]!.reason).toContain('the fallback plugin cpu is not registered');
  });

  it('throws for an unknown plugin in spec.hardware.plugins', () => {
    expect(() => host.classify(fleet, { plugins: ['nvidia', 'tpu'] })).toThrow(UnknownPluginError);
  });

  it('a plugin that throws from detect is skipped with a warning, not a crash', () => {
    const broken = { ...cpuLike, name: 'broken', detect: () => { throw new Error('bad labels'); } };
    const c = createPluginHost([broken, cpuLike]).classify([raspberryPiNode({ name: 'pi' })], { plugins: ['broken'] });
    expect(c.classes.map((k) => k.key)).toEqual(['cpu']);
    expect(c.warnings).toEqual(['plugin broken threw from detect on node pi: bad labels']);
  });

  it('is deterministic whatever the input order, and skips duplicate and nameless nodes', () => {
    const a = host.classify(fleet, { plugins: ['nvidia', 'amd'] });
    const b = host.classify([...fleet].reverse().concat([fleet[0]!, { metadata: {} } as never]), { plugins: ['nvidia', 'amd'] });
    expect(b.classes).toEqual(a.classes);
    expect(b.unplaced).toEqual([{ node: '', reason: 'node has no metadata.name' }, ...a.unplaced]);
  });
});

describe('plugin host: planning a node class', () => {
  it('applies the override to the plugin patch and validates the result', () => {
    const overrides: HardwareOverride[] = [{ match: { labels: { 'eks.amazonaws.com/nodegroup': 'gpu-a10g' } }, resources: { limits: { cpu: '3', memory: '8Gi' } }, env: [{ name: 'B', value: '2' }] }];
    const [gpu] = host.classify([nvidiaGpuNode()], { plugins: ['nvidia'], overrides }).classes;
    const plan = host.planClass(gpu!, { precisions: ['int8', 'fp16', 'fp32'] });
    expect(plan).toEqual({
      plugin: 'nvidia',
      precision: { precision: 'fp16', reason: 'plugin preference [fp16, fp32] within spec.model.precisions' },
      patch: {
        resources: { requests: { 'nvidia.com/gpu': '1' }, limits: { cpu: '3', memory: '8Gi', 'nvidia.com/gpu': '1' } },
        nodeSelector: {},
        tolerations: [],
        env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }],
        threads: 3,
      },
      executionProviders: [{ name: 'cuda' }, { name: 'cpu' }],
    });
  });

  it('rejects an override that makes the patch invalid, naming the class and field', () => {
    const overrides: HardwareOverride[] = [{ match: { labels: { 'kubernetes.io/arch': 'amd64' } }, resources: { limits: { 'nvidia.com/gpu': '2' } } }];
    const [gpu] = host.classify([nvidiaGpuNode()], { plugins: ['nvidia'], overrides }).classes;
    expect(() => host.planClass(gpu!, { precisions: ['fp16'] })).toThrow(InvalidPodPatchError);
    expect(() => host.planClass(gpu!, { precisions: ['fp16'] })).toThrow('pod patch for node class nvidia-o0 is invalid: resources.requests[nvidia.com/gpu]: extended resources cannot be overcommitted');
  });
});
