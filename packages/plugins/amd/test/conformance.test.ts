import { describeHardwarePluginConformance, amdGpuNode, nvidiaGpuNode } from '@slmops/plugin-sdk/testing';
import { amd } from '../src/index.js';

describeHardwarePluginConformance(() => amd(), { detects: [amdGpuNode(), amdGpuNode({ count: 8 })], ignores: [nvidiaGpuNode()] });
describeHardwarePluginConformance(() => amd({ rocm: false, tolerations: [] }), { fuzzRuns: 100 });
