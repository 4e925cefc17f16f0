import { describeHardwarePluginConformance, qualcommCloudAiNode, qualcommEdgeNode, raspberryPiNode } from '@slmops/plugin-sdk/testing';
import { qualcomm } from '../src/index.js';

describeHardwarePluginConformance(() => qualcomm(), { detects: [qualcommCloudAiNode(), qualcommEdgeNode()], ignores: [raspberryPiNode()] });
