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
export type Precision = z.infer<ReturnType<typeof precision>>;

export const resourceRequirements = () =>
  z.strictObject({
    requests: z.record(z.string().max(253), quantity()).meta({ maxProperties: 32 }).optional(),
    limits: z.record(z.string().max(253), quantity()).meta({ maxProperties: 32 }).optional(),
  });

export const toleration = () =>
  z.strictObject({
    key: z.string().max(317).optional(),
    operator: z.enum(['Exists', 'Equal']).optional(),
    value: z.string().max(1024).optional(),
    effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
    tolerationSeconds: z.int().optional(),
  });

export const envVar = () =>
  z.strictObject({
    name: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/),
    value: z.string().max(4096),
  });
