/**
 * The seam between the operator's pure core (desired/, rollout/, status/, analysis/) and its runtime
 * (reconcile/, queue/, main.ts). The runtime gathers an Observation, asks the core for a Plan and carries it out.
 * Shared by two teams: add fields, never rename.
 */
import type { SLMDeploymentStatus } from '@slmops/api';
import type { KubeObject } from '@slmops/kube';
import type { PluginHost } from '@slmops/plugin-sdk';

/** Operator settings the core needs (from flags/env in main.ts). */
export interface OperatorConfig {
  /** Sidecar image reference, e.g. "ghcr.io/slmops/sidecar:0.1.0". */
  sidecarImage: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Name reported in events (reportingController) and as the operator's identity. */
  controllerName: string;
}

/** One pod's /metrics scrape, taken by the runtime from the endpoints the core asked for. */
export interface ScrapeResult {
  pod: string;
  /** Prometheus text exposition, or undefined when the scrape failed. */
  text?: string;
  error?: string;
  /** When the scrape was taken. */
  time: Date;
}

/** A /metrics endpoint of an updated pod that analysis needs. */
export interface ScrapeTarget {
  pod: string;
  namespace: string;
  /** http://<podIP>:<port>/metrics */
  url: string;
}

/** Everything the core reads for one SLMDeployment; gathered by the runtime from informer caches. */
export interface Observation {
  /** The SLMDeployment as read from the API (spec NOT yet validated/defaulted by anything but the CRD). */
  deployment: KubeObject;
  /** All nodes the operator can see. */
  nodes: readonly KubeObject[];
  /** Pods labelled slmops.io/deployment=<name> in the deployment's namespace. */
  pods: readonly KubeObject[];
  /** Existing children controlled by the deployment (DaemonSets, Deployments, Services, ConfigMaps, …, ControllerRevisions). */
  children: readonly KubeObject[];
  /** Scrapes of the targets returned by `scrapeTargets` for this observation (empty when none were asked). */
  scrapes: readonly ScrapeResult[];
  now: Date;
}

/** A pod (or other object) the runtime must delete, with the precondition that makes it safe. */
export interface Deletion {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  /** Delete only this incarnation. */
  uid?: string;
  /** Why, for logs: "wave 2 of 3", "rollback", "stale child". */
  reason: string;
}

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** What one reconcile must do. Deterministic for a given Observation. */
export interface Plan {
  /** Server-side apply these (full desired objects with owner references), in order. */
  apply: KubeObject[];
  /** Delete these (pods to replace in the current wave, children no longer desired). */
  delete: Deletion[];
  /** The complete desired status; the runtime patches it only when it differs from the observed status. */
  status: SLMDeploymentStatus;
  /** Events for transitions only (the core compares the observed status), so steady state emits none. */
  events: PlannedEvent[];
  /** Reconcile again after this long (pause timers, analysis intervals), if nothing else triggers it. */
  requeueAfterMs?: number;
}

export interface CoreContext {
  host: PluginHost;
  config: OperatorConfig;
}

/** Pure: which pods' metrics the next `planReconcile` needs (updated pods of a wave under analysis). */
export type ScrapeTargetsFn = (observation: Omit<Observation, 'scrapes'>, ctx: CoreContext) => ScrapeTarget[];
/** Pure: the whole reconcile decision. Never throws for a bad spec: it reports InvalidSpec in status instead. */
export type PlanReconcileFn = (observation: Observation, ctx: CoreContext) => Plan;
