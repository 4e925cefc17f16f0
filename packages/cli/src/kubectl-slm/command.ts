/** The shape of a `kubectl slm` subcommand and the helpers they share to read SLMDeployments. */
import { CRD_NAME } from '@slmops/api/keys';
import { KubeApiError, type KubeClient, Resources } from '@slmops/kube';
import type { FlagTable } from '../context.js';
import type { Session } from './options.js';
import type { SlmdObject } from './printers.js';

export interface Subcommand {
  summary: string;
  usage: string;
  /** Flags of this subcommand besides the global ones. */
  options: FlagTable;
  /** Runs with parsed flags; resolves to the exit code. Throws UsageError for misuse, anything else for failure. */
  run(session: Session, positionals: string[], values: Record<string, unknown>): Promise<number>;
}

/** The 404 kubectl prints as `Error from server (NotFound): slmdeployments.slmops.io "x" not found`. */
export const notFound = (name: string) => new KubeApiError(404, 'NotFound', `${CRD_NAME} "${name}" not found`);

/** Reads one SLMDeployment, throwing the NotFound error naming it. */
export async function getSlmd(client: KubeClient, namespace: string, name: string): Promise<SlmdObject> {
  const o = await client.get<SlmdObject>(Resources.SLMDeployment, name, namespace);
  if (!o) throw notFound(name);
  return o;
}

/** The field manager of every write this plugin makes (visible in managedFields). */
export const FIELD_MANAGER = 'kubectl-slm';
