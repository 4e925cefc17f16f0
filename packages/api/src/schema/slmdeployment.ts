/**
 * The SLMDeployment v1alpha1 schema: the one source for the TypeScript types (z.input / z.output), the CRD's
 * openAPIV3Schema (see crd.ts) and offline validation (see validate.ts).
 */
import { z } from 'zod';
import {
  K8S_LIST_MAP_KEYS,
  K8S_LIST_TYPE,
  celRules,
  dnsLabel,
  duration,
  envVar,
  precision,
  resourceRequirements,
  stringMap,
  toleration,
} from './primitives.js';

/** Wave lists are bounded so that the "strictly increasing" rule can be written in portable CEL. */
export const MAX_WAVES = 10;
const waveIndexes = `[${Array.from({ length: MAX_WAVES - 1 }, (_, i) => i).join(', ')}]`;

const modelSource = z
  .strictObject({
    uri: z
      .string()
      .max(2048)
      .regex(/^(https?|oci|pvc|file):\/\/\S+$/)
      .describe('Where the SLM package is: https://, http://, oci://, pvc://<claim>/<path> or file://<path>.'),
    digest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/)
      .optional()
      .describe('sha256 digest of the package; required unless the uri is file://.'),
  })
  .meta(
    celRules({
      rule: "self.uri.startsWith('file://') || has(self.digest)",
      message: 'digest is required unless uri is a file:// path',
      fieldPath: '.digest',
      reason: 'FieldValueRequired',
    }),
  );

const model = z
  .strictObject({
    name: dnsLabel().describe('Logical model name, e.g. stories260k.'),
    version: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/)
      .describe('Model version; changing it starts a rollout.'),
    source: modelSource,
    precisions: z
      .array(precision())
      .min(1)
      .max(4)
      .default(['int8', 'fp16', 'fp32'])
      .meta({ [K8S_LIST_TYPE]: 'set' })
      .describe('Acceptable variants, best first; the hardware plugin breaks ties.'),
  })
  .describe('The model to serve.');

const placement = z
  .strictObject({
    mode: z
      .enum(['Fleet', 'Replicated'])
      .default('Fleet')
      .describe('Fleet: one pod per matching node. Replicated: N replicas behind one Service.'),
    replicas: z.int().min(0).max(10_000).optional().describe('Replicated mode only.'),
    nodeSelector: stringMap().optional(),
    tolerations: z.array(toleration()).max(32).optional(),
  })
  .meta(
    celRules({
      rule: "self.mode == 'Replicated' || !has(self.replicas)",
      message: 'replicas is only allowed when mode is Replicated',
      fieldPath: '.replicas',
      reason: 'FieldValueForbidden',
    }),
  );

const hardwareOverride = z.strictObject({
  match: z.strictObject({
    labels: stringMap(32).meta({ minProperties: 1 }).describe('Node labels that select this node class.'),
  }),
  resources: resourceRequirements().optional(),
  env: z
    .array(envVar())
    .max(64)
    .optional()
    .meta({ [K8S_LIST_TYPE]: 'map', [K8S_LIST_MAP_KEYS]: ['name'] }),
  threads: z.int().min(1).max(1024).optional(),
  precision: precision().optional(),
});

const hardware = z.strictObject({
  plugins: z
    .array(dnsLabel())
    .min(1)
    .max(16)
    .default(['cpu'])
    .meta({ [K8S_LIST_TYPE]: 'set' })
    .describe('Hardware plugins in preference order; cpu is always the last fallback.'),
  overrides: z.array(hardwareOverride).max(32).optional().describe('Blueprints per node class, first match wins.'),
});

const generationDefaults = z.strictObject({
  temperature: z.number().min(0).max(2).default(0.8),
  topP: z.number().min(0).max(1).default(0.95),
  topK: z.int().min(0).max(100_000).default(0),
  repetitionPenalty: z.number().min(0.5).max(2).default(1),
});

const serving = z
  .strictObject({
    port: z.int().min(1).max(65_535).default(50_051),
    metricsPort: z.int().min(1).max(65_535).default(9464),
    maxBatchSize: z.int().min(1).max(256).default(8),
    maxQueue: z.int().min(0).max(100_000).default(64),
    maxTokens: z.int().min(1).max(1_048_576).default(256),
    contextLength: z.int().min(1).max(1_048_576).optional().describe('Defaults to the model package.'),
    streamInterval: z
      .string()
      .max(8)
      .regex(/^([0-9]{1,4}ms|[0-9]s)$/)
      .optional()
      .describe(
        "How long the sidecar may hold a request's later tokens so that they travel together (its --stream-interval, such as 5ms or 0ms for every decode step); unset: the sidecar's default, 5ms.",
      ),
    generationDefaults: generationDefaults.prefault({}),
    resources: resourceRequirements().optional(),
  })
  .meta(
    celRules(
      {
        rule: '!has(self.contextLength) || self.maxTokens <= self.contextLength',
        message: 'maxTokens must not exceed contextLength',
        fieldPath: '.maxTokens',
      },
      { rule: 'self.port != self.metricsPort', message: 'port and metricsPort must differ', fieldPath: '.metricsPort' },
    ),
  );

const wave = z.strictObject({
  percent: z.int().min(1).max(100).describe('Share of nodes (or replicas) updated once this wave completes.'),
  pause: duration().optional().describe('How long to hold after the wave is healthy before the next one.'),
});

const rollout = z.strictObject({
  strategy: z.enum(['Waves', 'Recreate']).default('Waves'),
  waves: z
    .array(wave)
    .min(1)
    .max(MAX_WAVES)
    .default([{ percent: 10, pause: '5m' }, { percent: 50, pause: '5m' }, { percent: 100 }])
    .meta(
      celRules(
        { rule: 'self[size(self) - 1].percent == 100', message: 'the last wave must be 100 percent' },
        {
          rule: `${waveIndexes}.all(i, i + 1 >= size(self) || self[i].percent < self[i + 1].percent)`,
          message: 'wave percents must increase strictly',
        },
      ),
    ),
  analysis: z
    .strictObject({
      interval: duration().default('1m'),
      maxErrorRate: z.number().min(0).max(1).default(0.05),
      maxP95LatencyMs: z.int().min(1).max(3_600_000).optional(),
      maxTtftP95Ms: z.int().min(1).max(3_600_000).optional(),
      minSamples: z.int().min(0).max(1_000_000).default(20),
      timeout: duration()
        .optional()
        .describe('How long a wave may stay inconclusive (fewer than minSamples) before analysis fails; default 5 intervals.'),
    })
    .prefault({}),
  offline: z
    .strictObject({
      treatAs: z.enum(['Pending', 'Failed']).default('Pending'),
      maxOfflinePercent: z.int().min(0).max(100).default(20),
    })
    .prefault({}),
  autoRollback: z.boolean().default(true),
  paused: z.boolean().default(false),
  progressDeadline: duration()
    .default('10m')
    .describe('How long updated pods may stay not Ready (crash-looping, failing readiness, digest mismatch) before the wave fails.'),
});

const privacy = z.strictObject({
  egress: z.enum(['Deny', 'Allow']).default('Allow').describe('Deny adds a NetworkPolicy that blocks egress.'),
  requestLogging: z
    .enum(['None', 'Metadata'])
    .default('None')
    .describe('Prompt and completion text are never logged; Metadata logs sizes and timings.'),
});

const autoscaling = z
  .strictObject({
    minReplicas: z.int().min(1).max(10_000).default(1),
    maxReplicas: z.int().min(1).max(10_000),
    targetQueueDepth: z.int().min(1).max(10_000).default(4),
  })
  .meta(
    celRules({
      rule: 'self.minReplicas <= self.maxReplicas',
      message: 'minReplicas must not exceed maxReplicas',
      fieldPath: '.minReplicas',
    }),
  );

export const slmDeploymentSpecSchema = z
  .strictObject({
    model,
    placement: placement.prefault({}),
    hardware: hardware.prefault({}),
    serving: serving.prefault({}),
    rollout: rollout.prefault({}),
    privacy: privacy.prefault({}),
    autoscaling: autoscaling.optional().describe('Replicated mode only; drives the /scale subresource.'),
  })
  .meta(
    celRules({
      rule: "!has(self.autoscaling) || self.placement.mode == 'Replicated'",
      message: 'autoscaling is only allowed when placement.mode is Replicated',
      fieldPath: '.autoscaling',
      reason: 'FieldValueForbidden',
    }),
  );

const condition = z.strictObject({
  type: z
    .string()
    .max(316)
    .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.int().min(0).optional(),
  lastTransitionTime: z.string().meta({ format: 'date-time' }),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
  message: z.string().max(32_768),
});

const revision = z.string().max(256);

export const slmDeploymentStatusSchema = z.strictObject({
  observedGeneration: z.int().min(0).optional(),
  conditions: z
    .array(condition)
    .max(16)
    .optional()
    .meta({ [K8S_LIST_TYPE]: 'map', [K8S_LIST_MAP_KEYS]: ['type'] }),
  currentRevision: revision.optional().describe('Package digest and spec hash that the fleet serves.'),
  updateRevision: revision.optional().describe('Package digest and spec hash being rolled out.'),
  rollout: z
    .strictObject({
      wave: z.int().min(0).max(1000).optional(),
      phase: z
        .enum(['Pending', 'Progressing', 'Analyzing', 'Paused', 'Promoting', 'Complete', 'RollingBack', 'RolledBack', 'Failed'])
        .optional(),
      updatedPercent: z.int().min(0).max(100).optional(),
      message: z.string().max(4096).optional(),
      /** Why the rollout is in its phase (a Reason), e.g. OfflineNodesExceeded. */
      reason: z.string().max(1024).optional(),
      /** When the current wave started (its pods were first deleted), RFC 3339. */
      waveStartTime: z.string().meta({ format: 'date-time' }).optional(),
      /** When every online pod of the current wave was updated and Ready: analysis and pause count from here. */
      waveReadyTime: z.string().meta({ format: 'date-time' }).optional(),
      /** When the current wave passed analysis (or was promoted); the wave's pause then runs out. */
      wavePassedTime: z.string().meta({ format: 'date-time' }).optional(),
      /** The revision rolled back or failed; the operator keeps serving currentRevision while updateRevision equals it. */
      failedRevision: z.string().max(256).optional(),
      /** Values of the slmops.io/promote and slmops.io/abort annotations already acted on, so they apply once. */
      handledPromote: z.string().max(256).optional(),
      handledAbort: z.string().max(256).optional(),
      /** Replicated mode: canary replicas of the current wave. */
      canaryReplicas: z.int().min(0).optional(),
      lastAnalysis: z
        .strictObject({
          time: z.string().meta({ format: 'date-time' }),
          passed: z.boolean(),
          reason: z.string().max(1024),
          samples: z.int().min(0).optional(),
          errorRate: z.number().min(0).optional(),
          p95LatencyMs: z.number().min(0).optional(),
          ttftP95Ms: z.number().min(0).optional(),
        })
        .optional(),
    })
    .optional(),
  nodes: z
    .strictObject({
      desired: z.int().min(0),
      updated: z.int().min(0),
      ready: z.int().min(0),
      offline: z.int().min(0),
    })
    .optional()
    .describe('Pod counts: one per node in Fleet mode, replicas in Replicated mode.'),
  replicas: z.int().min(0).optional().describe('Ready replicas, for the /scale subresource.'),
  selector: z.string().max(4096).optional().describe('Label selector of the pods, for the /scale subresource.'),
  servedDigests: z
    .array(z.strictObject({ digest: z.string().max(256), count: z.int().min(0) }))
    .max(64)
    .optional(),
  placements: z
    .array(
      z.strictObject({
        plugin: dnsLabel(),
        executionProvider: z.string().max(64),
        precision: precision(),
        nodes: z.int().min(0),
      }),
    )
    .max(64)
    .optional(),
});

const objectMeta = z.object({}).meta({ 'x-kubernetes-object-meta': true });

/** The whole custom resource as it travels on the wire. */
export const slmDeploymentSchema = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta.optional(),
  spec: slmDeploymentSpecSchema,
  status: slmDeploymentStatusSchema.optional(),
});

/** What a user writes (defaults not yet applied). */
export type SLMDeploymentInput = z.input<typeof slmDeploymentSchema>;
/** The spec with every default applied, as the operator reads it. */
export type SLMDeploymentSpec = z.output<typeof slmDeploymentSpecSchema>;
export type SLMDeploymentStatus = z.output<typeof slmDeploymentStatusSchema>;
export type Condition = z.output<typeof condition>;
export type RolloutPhase = NonNullable<NonNullable<SLMDeploymentStatus['rollout']>['phase']>;
export type Wave = z.output<typeof wave>;

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }>;
  [key: string]: unknown;
}

/** A defaulted SLMDeployment as the operator works with it. */
export interface SLMDeployment {
  apiVersion: 'slmops.io/v1alpha1';
  kind: 'SLMDeployment';
  metadata: ObjectMeta;
  spec: SLMDeploymentSpec;
  status?: SLMDeploymentStatus;
}
