import { describeHardwarePluginConformance, intelIgpuNode, intelNpuNode, cpuAmd64Node } from '@slmops/plugin-sdk/testing';
import { intel } from '../src/index.js';

describeHardwarePluginConformance(() => intel(), { detects: [intelIgpuNode(), intelIgpuNode({ kmd: 'xe' }), intelNpuNode()], ignores: [cpuAmd64Node()] });
describeHardwarePluginConformance(() => intel({ prefer: 'npu', webgpu: true }), { fuzzRuns: 100 });
