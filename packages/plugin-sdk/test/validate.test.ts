import { describe, expect, it } from 'vitest';
import { validatePodPatch, type PodPatch } from '../src/index.js';

const ok: PodPatch = {
  resources: { requests: { cpu: '500m', 'nvidia.com/gpu': '1' }, limits: { memory: '4Gi', 'nvidia.com/gpu': '1' } },
  nodeSelector: { 'kubernetes.io/arch': 'amd64' },
  tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }, { operator: 'Exists' }],
  runtimeClassName: 'nvidia',
  env: [{ name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'compute,utility' }],
  threads: 4,
};

describe('validatePodPatch', () => {
  it('accepts a valid GPU patch', () => {
    expect(validatePodPatch(ok)).toEqual([]);
  });

  it.each([
    ['bad quantity', { resources: { limits: { cpu: 'two' } } }, 'resources.limits[cpu]'],
    ['bad resource name', { resources: { limits: { 'nvidia.com/gpu/x': '1' } } }, 'resources.limits[nvidia.com/gpu/x]'],
    ['fractional device', { resources: { limits: { 'amd.com/gpu': '0.5' } } }, 'resources.limits[amd.com/gpu]'],
    ['device request differs from limit', { resources: { requests: { 'amd.com/gpu': '1' }, limits: { 'amd.com/gpu': '2' } } }, 'resources.requests[amd.com/gpu]'],
    ['request above limit', { resources: { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } } }, 'resources.requests[memory]'],
    ['bad selector value', { nodeSelector: { 'kubernetes.io/arch': 'amd 64' } }, 'nodeSelector[kubernetes.io/arch]'],
    ['Exists with value', { tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] }, 'tolerations[0].value'],
    ['empty key needs Exists', { tolerations: [{ operator: 'Equal', value: 'v' }] }, 'tolerations[0].operator'],
    ['seconds without NoExecute', { tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 5 }] }, 'tolerations[0].tolerationSeconds'],
    ['bad effect', { tolerations: [{ key: 'k', operator: 'Exists', effect: 'Sometimes' }] }, 'tolerations[0].effect'],
    ['bad runtime class', { runtimeClassName: 'Nvidia_Runtime' }, 'runtimeClassName'],
    ['bad env name', { env: [{ name: '1 BAD', value: 'x' }] }, 'env[0].name'],
    ['duplicate env', { env: [{ name: 'A', value: 'x' }, { name: 'A', value: 'y' }] }, 'env[1].name'],
    ['threads zero', { threads: 0 }, 'threads'],
    ['threads fractional', { threads: 1.5 }, 'threads'],
  ])('rejects %s', (_, change, path) => {
    const errors = validatePodPatch({ ...ok, ...change } as PodPatch);
    expect(errors.map((e) => e.path)).toContain(path);
  });
});
