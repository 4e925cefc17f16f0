import { describeHardwarePluginConformance, bareNode, cpuAmd64Node, raspberryPiNode, windowsNode } from '@slmops/plugin-sdk/testing';
import { cpu } from '../src/index.js';

describeHardwarePluginConformance(() => cpu(), { detects: [cpuAmd64Node(), raspberryPiNode(), bareNode()], ignores: [windowsNode()] });
describeHardwarePluginConformance(() => cpu({ xnnpackOnArm64: true, precisions: ['fp32'] }), { fuzzRuns: 100 });
