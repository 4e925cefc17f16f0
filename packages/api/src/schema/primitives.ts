/**
 * Schema building blocks shared by the SLMDeployment spec and status. Every string, list and map is bounded
 * so that the CRD's CEL rules stay within the API server's cost budget.
 */
import { z } from 'zod';

export const K8S_INT_OR_STRING = 'x-kubernetes-int-or-string';
export const K8S_LIST_TYPE = 'x-kubernetes-list-type';
export const K8S_LIST_MAP_KEYS = 'x-kubernetes-list-map-keys';
export const K8S_MAP_TYPE = 'x-kubernetes-map-type';
export const K8S_VALIDATIONS = 'x-kubernetes-validations';
export const K8S_PRESERVE_UNKNOWN = 'x-kubernetes-preserve-unknown-fields';

/** A CEL rule as the API server evaluates it: `self` is the value at the node that carries the rule. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export const celRules = (...rules: CelRule[]) => ({ [K8S_VALIDATIONS]: rules });

/** RFC 1123 label: lower-case alphanumerics and '-', at most 63 characters. */
export const dnsLabel = () =>
  z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);

/** A Kubernetes quantity ("500m", "2Gi", 4), as resource requests and limits accept it. */
const QUANTITY = /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;

export const quantity = () =>
  z.union([z.int().min(0), z.string().max(64).regex(QUANTITY)]).meta({ [K8S_INT_OR_STRING]: true });

/** A Go-style duration such as "90s", "10m" or "1h30m". */
export const duration = () =>
  z
    .string()
    .max(32)
    .regex(/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/);

/** A string-to-string map such as labels or a node selector. */
export const stringMap = (maxProperties = 64) =>
  z.record(z.string().max(317), z.string().max(1024)).meta({ maxProperties });

export const precision = () => z.enum(['fp32', 'fp16', 'int8', 'int4']);

/** Every hardware plugin SLMOps ships, by name: the one list the CRD, the operator and the exporter accept. */
export const PLUGIN_NAMES = ['nvidia', 'jetson', 'intel', 'amd', 'qualcomm', 'cpu'] as const;
export type PluginName = (typeof PLUGIN_NAMES)[number];
export const pluginName = () => z.enum(PLUGIN_NAMES);
export type Precision = z.infer<ReturnType<typeof precision>>;

export const resourceRequirements = () =>
  z.strictObject({
    requests: z
      .record(z.string().max(253), quantity())
      .meta({ maxProperties: 32 })
      .optional()
      .describe('Resources the scheduler reserves, e.g. {cpu: "500m", memory: 512Mi}.'),
    limits: z
      .record(z.string().max(253), quantity())
      .meta({ maxProperties: 32 })
      .optional()
      .describe('Most the container may use, e.g. {memory: 1Gi, nvidia.com/gpu: 1}.'),
  });

export const toleration = () =>
  z.strictObject({
    key: z.string().max(317).optional().describe('Taint key to tolerate; empty with operator Exists tolerates every taint.'),
    operator: z.enum(['Exists', 'Equal']).optional().describe('Exists matches any value; Equal (the default) matches value.'),
    value: z.string().max(1024).optional().describe('Taint value to match with operator Equal.'),
    effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional().describe('Taint effect to match; empty matches every effect.'),
    tolerationSeconds: z.int().optional().describe('NoExecute only: how long the pod stays bound after the taint appears.'),
  });

export const envVar = () =>
  z.strictObject({
    name: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/)
      .describe('Environment variable name.'),
    value: z.string().max(4096).describe('Its value.'),
  });
