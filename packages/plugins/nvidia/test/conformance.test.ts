import { describeHardwarePluginConformance, gkeGpuNode, jetsonOrinNode, nvidiaGpuNode, raspberryPiNode, gpuLabelsWithoutCapacityNode } from '@slmops/plugin-sdk/testing';
import { nvidia } from '../src/index.js';

const ignores = [jetsonOrinNode(), raspberryPiNode(), gpuLabelsWithoutCapacityNode()];
describeHardwarePluginConformance(() => nvidia(), { detects: [nvidiaGpuNode(), gkeGpuNode()], ignores });
describeHardwarePluginConformance(() => nvidia({ tensorrt: true, runtimeClassName: 'nvidia' }), { detects: [nvidiaGpuNode({ count: 8 })], ignores, fuzzRuns: 100 });
