import { describeHardwarePluginConformance, jetsonOrinNode, nvidiaGpuNode, raspberryPiNode } from '@slmops/plugin-sdk/testing';
import { jetson } from '../src/index.js';

describeHardwarePluginConformance(() => jetson(), { detects: [jetsonOrinNode(), jetsonOrinNode({ withDevicePlugin: false })], ignores: [nvidiaGpuNode(), raspberryPiNode()] });
describeHardwarePluginConformance(() => jetson({ tensorrt: false, runtimeClassName: null }), { fuzzRuns: 100 });
