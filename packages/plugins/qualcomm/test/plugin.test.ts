import { describe, expect, it } from 'vitest';
import { createHostContext, type HostContext } from '@slmops/plugin-sdk';
import { emptyHostContext, nodeFactories, qualcommCloudAiNode, qualcommEdgeNode, type SimulatedNodeKind } from '@slmops/plugin-sdk/testing';
import { qualcomm } from '../src/index.js';

describe('qualcomm plugin: detection across every realistic node', () => {
  const expected: Partial<Record<SimulatedNodeKind, string>> = { 'qualcomm-cloud-ai': 'qaic', 'qualcomm-edge': 'hexagon' };
  it.each(Object.keys(nodeFactories) as SimulatedNodeKind[])('%s', (kind) => {
    expect(qualcomm().detect(nodeFactories[kind]())?.variant ?? null).toBe(expected[kind] ?? null);
  });

  it('a PCI label alone is not enough (no resource to request)', () => {
    const node = qualcommCloudAiNode();
    delete node.status!.allocatable!['qualcomm.com/qaic'];
    delete node.status!.capacity!['qualcomm.com/qaic'];
    expect(qualcomm().detect(node)).toBeNull();
  });
});

describe('qualcomm plugin: schedule and providers', () => {
  it('Cloud AI 100: requests the cards', () => {
    const device = qualcomm().detect(qualcommCloudAiNode())!.device;
    expect(qualcomm().schedule({ device, precision: 'int8', devicesPerPod: 2 }).resources).toEqual({
      requests: { 'qualcomm.com/qaic': '2' },
      limits: { 'qualcomm.com/qaic': '2' },
    });
  });

  it('Hexagon edge board: no resource, pinned by the admin label', () => {
    const device = qualcomm().detect(qualcommEdgeNode())!.device;
    expect(qualcomm().schedule({ device, precision: 'int8' })).toEqual({
      resources: {},
      nodeSelector: { 'kubernetes.io/arch': 'arm64', 'kubernetes.io/os': 'linux', 'slmops.io/accelerator': 'qualcomm' },
      tolerations: [],
      env: [],
      threads: 8,
    });
  });

  it('QNN with the HTP backend, then cpu; int8 first', () => {
    const device = qualcomm().detect(qualcommEdgeNode())!.device;
    expect(qualcomm().executionProviders(device)).toEqual([{ name: 'qnn', options: { backend_path: 'libQnnHtp.so' } }, { name: 'cpu' }]);
    expect(qualcomm({ backendPath: 'libQnnCpu.so' }).executionProviders(device)[0]?.options).toEqual({ backend_path: 'libQnnCpu.so' });
    expect(qualcomm().precisions[0]).toBe('int8');
  });
});

describe('qualcomm plugin: probe', () => {
  it('QNN is honest about this runtime build, and needs a fastrpc or accel device', async () => {
    const none = await qualcomm().probe!({ ...createHostContext(), availableProviders: ['cpu', 'cuda', 'tensorrt', 'webgpu'] });
    expect(none.providers[0]).toEqual({ name: 'qnn', available: false, reason: 'QNN is not available in this runtime build' });
    const ctx: HostContext = { ...emptyHostContext(), readDir: async (p) => (p === '/dev' ? ['fastrpc-cdsp', 'fastrpc-adsp'] : []) };
    const ok = await qualcomm().probe!({ ...ctx, availableProviders: ['cpu', 'qnn'] });
    expect(ok.providers[0]).toEqual({ name: 'qnn', available: true, reason: 'QNN is in this runtime build and /dev/fastrpc-cdsp present' });
  });
});
