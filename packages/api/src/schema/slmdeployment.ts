/**
 * The SLMDeployment v1alpha1 schema: the one source for the TypeScript types (z.input / z.output), the CRD's
 * openAPIV3Schema (see crd.ts) and offline validation (see validate.ts).
 */
import { z } from 'zod';
import {
  K8S_LIST_MAP_KEYS,
  K8S_LIST_TYPE,
  PLUGIN_NAMES,
  celRules,
  dnsLabel,
  duration,
  envVar,
  pluginName,
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
    source: modelSource.describe('Where the package comes from and its digest.'),
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
    replicas: z.int().min(0).max(10_000).optional().describe('Replicated mode only: how many replicas (autoscaling, when set, drives it).'),
    nodeSelector: stringMap()
      .optional()
      .describe('Only nodes with all these labels, e.g. {kubernetes.io/os: linux}; the plugin adds its own (e.g. kubernetes.io/arch).'),
    tolerations: z.array(toleration()).max(32).optional().describe('Taints the pods tolerate besides those the plugin adds (e.g. nvidia.com/gpu).'),
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
  match: z
    .strictObject({
      labels: stringMap(32).meta({ minProperties: 1 }).describe('Node labels that select this node class.'),
    })
    .describe('Which nodes the override applies to.'),
  resources: resourceRequirements().optional().describe("The sidecar's resources on these nodes, instead of the plugin's."),
  env: z
    .array(envVar())
    .max(64)
    .optional()
    .meta({ [K8S_LIST_TYPE]: 'map', [K8S_LIST_MAP_KEYS]: ['name'] })
    .describe('Extra environment variables of the sidecar on these nodes.'),
  threads: z.int().min(1).max(1024).optional().describe('ONNX Runtime intra-op threads on these nodes.'),
  precision: precision().optional().describe('The variant to serve on these nodes (must be in model.precisions).'),
});

const hardware = z.strictObject({
  plugins: z
    .array(pluginName())
    .min(1)
    .max(16)
    .default(['cpu'])
    .meta({ [K8S_LIST_TYPE]: 'set' })
    .describe(`Hardware plugins in preference order, from ${PLUGIN_NAMES.join(', ')}; cpu is always the last fallback.`),
  overrides: z.array(hardwareOverride).max(32).optional().describe('Blueprints per node class, first match wins.'),
});

const generationDefaults = z.strictObject({
  temperature: z.number().min(0).max(2).default(0.8).describe('Sampling temperature; 0 is greedy.'),
  topP: z.number().min(0).max(1).default(0.95).describe('Nucleus sampling: the smallest set of tokens whose probability reaches topP; 1 is off.'),
  topK: z.int().min(0).max(100_000).default(0).describe('Sample from the topK most likely tokens; 0 is off.'),
  repetitionPenalty: z.number().min(0.5).max(2).default(1).describe('Divides the logits of tokens already generated; 1 is off.'),
});

const serving = z
  .strictObject({
    port: z.int().min(1).max(65_535).default(50_051).describe("The sidecar's gRPC port (slmops.inference.v1, KServe v2, health)."),
    metricsPort: z.int().min(1).max(65_535).default(9464).describe("The sidecar's HTTP port: /metrics and the OpenAI-compatible API."),
    maxBatchSize: z.int().min(1).max(256).default(8).describe('Requests decoded together (continuous batching).'),
    maxQueue: z.int().min(0).max(100_000).default(64).describe('Requests waiting for a batch slot; more are refused with RESOURCE_EXHAUSTED.'),
    maxTokens: z.int().min(1).max(1_048_576).default(256).describe('Most tokens one request may generate.'),
    contextLength: z.int().min(1).max(1_048_576).optional().describe('Prompt plus generated tokens per request; defaults to the model package.'),
    streamInterval: z
      .string()
      .max(8)
      .regex(/^([0-9]{1,4}ms|[0-9]s)$/)
      .optional()
      .describe(
        "How long the sidecar may hold a request's later tokens so that they travel together (its --stream-interval, such as 5ms or 0ms for every decode step); unset: the sidecar's default, 5ms.",
      ),
    generationDefaults: generationDefaults.prefault({}).describe('Sampling settings for requests that do not set their own.'),
    resources: resourceRequirements().optional().describe("The sidecar container's resources; defaults to the hardware plugin's."),
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
  strategy: z
    .enum(['Waves', 'Recreate'])
    .default('Waves')
    .describe('Waves: update a growing share of pods, gated by analysis. Recreate: replace every pod at once.'),
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
    )
    .describe('Rollout steps (Waves strategy), percents strictly increasing, the last one 100.'),
  analysis: z
    .strictObject({
      interval: duration().default('1m').describe("How often the updated pods' /metrics are read and judged."),
      maxErrorRate: z.number().min(0).max(1).default(0.05).describe('Highest share of failed requests a healthy wave may have.'),
      maxP95LatencyMs: z.int().min(1).max(3_600_000).optional().describe('Highest p95 request latency, in ms; unset: not checked.'),
      maxTtftP95Ms: z.int().min(1).max(3_600_000).optional().describe('Highest p95 time to first token, in ms; unset: not checked.'),
      minSamples: z.int().min(0).max(1_000_000).default(20).describe('Requests needed before a wave can pass or fail.'),
      timeout: duration()
        .optional()
        .describe('How long a wave may stay inconclusive (fewer than minSamples) before analysis fails; default 5 intervals.'),
    })
    .prefault({})
    .describe('Metric gate of each wave: the updated pods must stay within these limits.'),
  offline: z
    .strictObject({
      treatAs: z
        .enum(['Pending', 'Failed'])
        .default('Pending')
        .describe('Pending: offline nodes wait for the wave; Failed: they count as failed pods.'),
      maxOfflinePercent: z.int().min(0).max(100).default(20).describe('Share of nodes that may be offline before the rollout stops.'),
    })
    .prefault({})
    .describe('Edge nodes that stop reporting (Ready=Unknown) during a rollout.'),
  autoRollback: z.boolean().default(true).describe('Roll back to the current revision when a wave fails.'),
  paused: z.boolean().default(false).describe('No further wave starts while true (kubectl slm rollout pause/resume).'),
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
    minReplicas: z.int().min(1).max(10_000).default(1).describe('Fewest replicas.'),
    maxReplicas: z.int().min(1).max(10_000).describe('Most replicas.'),
    targetQueueDepth: z.int().min(1).max(10_000).default(4).describe('Queued requests per replica the autoscaler aims for.'),
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
    placement: placement.prefault({}).describe('Which nodes serve the model: one pod per matching node (Fleet) or N replicas (Replicated).'),
    hardware: hardware.prefault({}).describe('Hardware plugins and per-node-class overrides.'),
    serving: serving.prefault({}).describe("The inference sidecar's ports, batching, limits and sampling defaults."),
    rollout: rollout.prefault({}).describe('How a new model version or spec reaches the nodes: waves, analysis, rollback.'),
    privacy: privacy.prefault({}).describe('Egress and request logging of the serving pods.'),
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
    .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/)
    .describe('Ready, ModelVerified, Progressing, Degraded or RolledBack.'),
  status: z.enum(['True', 'False', 'Unknown']).describe('Whether the condition holds.'),
  observedGeneration: z.int().min(0).optional().describe('The metadata.generation the condition was computed from.'),
  lastTransitionTime: z.string().meta({ format: 'date-time' }).describe('When status last changed.'),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
    .describe('Why, in one CamelCase word.'),
  message: z.string().max(32_768).describe('Why, for people.'),
});

const revision = z.string().max(256);

export const slmDeploymentStatusSchema = z.strictObject({
  observedGeneration: z.int().min(0).optional().describe('The metadata.generation this status describes.'),
  conditions: z
    .array(condition)
    .max(16)
    .optional()
    .meta({ [K8S_LIST_TYPE]: 'map', [K8S_LIST_MAP_KEYS]: ['type'] })
    .describe('Ready, ModelVerified, Progressing, Degraded and RolledBack.'),
  currentRevision: revision.optional().describe('Package digest and spec hash that the fleet serves.'),
  updateRevision: revision.optional().describe('Package digest and spec hash being rolled out.'),
  rollout: z
    .strictObject({
      wave: z.int().min(0).max(1000).optional().describe('Index of the current wave in spec.rollout.waves.'),
      phase: z
        .enum(['Pending', 'Progressing', 'Analyzing', 'Paused', 'Promoting', 'Complete', 'RollingBack', 'RolledBack', 'Failed'])
        .optional()
        .describe('Where the rollout stands.'),
      updatedPercent: z.int().min(0).max(100).optional().describe('Share of pods that serve updateRevision.'),
      message: z.string().max(4096).optional().describe('What the rollout is doing or why it stopped.'),
      reason: z.string().max(1024).optional().describe('Why the rollout is in its phase (a Reason), e.g. OfflineNodesExceeded.'),
      waveStartTime: z.string().meta({ format: 'date-time' }).optional().describe('When the current wave started (its pods were first deleted).'),
      waveReadyTime: z
        .string()
        .meta({ format: 'date-time' })
        .optional()
        .describe('When every online pod of the current wave was updated and Ready: analysis and pause count from here.'),
      wavePassedTime: z
        .string()
        .meta({ format: 'date-time' })
        .optional()
        .describe("When the current wave passed analysis (or was promoted); the wave's pause then runs out."),
      failedRevision: z
        .string()
        .max(256)
        .optional()
        .describe('The revision rolled back or failed; the operator keeps serving currentRevision while updateRevision equals it.'),
      handledPromote: z.string().max(256).optional().describe('The slmops.io/promote annotation value already acted on, so it applies once.'),
      handledAbort: z.string().max(256).optional().describe('The slmops.io/abort annotation value already acted on, so it applies once.'),
      canaryReplicas: z.int().min(0).optional().describe('Replicated mode: canary replicas of the current wave.'),
      lastAnalysis: z
        .strictObject({
          time: z.string().meta({ format: 'date-time' }).describe('When the metrics were judged.'),
          passed: z.boolean().describe('Whether the wave was within the limits of spec.rollout.analysis.'),
          reason: z.string().max(1024).describe('The verdict, e.g. which limit was exceeded.'),
          samples: z.int().min(0).optional().describe('Requests the verdict is based on.'),
          errorRate: z.number().min(0).optional().describe('Share of failed requests.'),
          p95LatencyMs: z.number().min(0).optional().describe('p95 request latency, in ms.'),
          ttftP95Ms: z.number().min(0).optional().describe('p95 time to first token, in ms.'),
        })
        .optional()
        .describe('The latest analysis of the current wave.'),
    })
    .optional()
    .describe('Progress of the current rollout.'),
  nodes: z
    .strictObject({
      desired: z.int().min(0).describe('Pods there should be.'),
      updated: z.int().min(0).describe('Pods of updateRevision.'),
      ready: z.int().min(0).describe('Ready pods.'),
      offline: z.int().min(0).describe('Pods on nodes that stopped reporting.'),
    })
    .optional()
    .describe('Pod counts: one per node in Fleet mode, replicas in Replicated mode.'),
  replicas: z.int().min(0).optional().describe('Ready replicas, for the /scale subresource.'),
  selector: z.string().max(4096).optional().describe('Label selector of the pods, for the /scale subresource.'),
  servedDigests: z
    .array(
      z.strictObject({
        digest: z.string().max(256).describe('sha256 digest of a package (or "unknown" for file:// models).'),
        count: z.int().min(0).describe('Ready pods that verified and serve it.'),
      }),
    )
    .max(64)
    .optional()
    .describe('Which package digests the Ready pods serve.'),
  placements: z
    .array(
      z.strictObject({
        plugin: dnsLabel().describe('The hardware plugin of the node class.'),
        executionProvider: z.string().max(64).describe('The ONNX Runtime execution provider it serves with first.'),
        precision: precision().describe('The model variant served.'),
        nodes: z.int().min(0).describe('Pods of this class.'),
      }),
    )
    .max(64)
    .optional()
    .describe('How the fleet is served, per node class.'),
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
