/** Rendered chart output as objects, and the few queries the chart tests make on it. */
import { parseAllDocuments } from 'yaml';

/** A rendered Kubernetes object (only the fields these tests read are typed). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** Every non-empty YAML document of `text`; throws with the document's position when one does not parse. */
export function parseManifests(text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as Manifest | null;
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || !value.kind || !value.apiVersion || !value.metadata?.name) {
      throw new Error(`rendered document is not a Kubernetes object: ${JSON.stringify(value).slice(0, 200)}`);
    }
    out.push(value);
  }
  return out;
}

/** `Kind/name` of every object, sorted, for readable set assertions. */
export const kindsAndNames = (objects: readonly Manifest[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

export const ofKind = (objects: readonly Manifest[], kind: string): Manifest[] => objects.filter((o) => o.kind === kind);

interface Container {
  name: string;
  image?: string;
  args?: string[];
  securityContext?: Record<string, unknown>;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: Record<string, unknown>;
  [key: string]: unknown;
}

/** The pod template spec of a Deployment or DaemonSet. */
export function podSpecOf(workload: Manifest): PodSpec {
  const spec = (workload['spec'] as { template?: { spec?: PodSpec } } | undefined)?.template?.spec;
  if (!spec) throw new Error(`${workload.kind}/${workload.metadata.name} has no spec.template.spec`);
  return spec;
}

/**
 * Restricted Pod Security Standard checks of one workload: every problem as `Kind/name container: what`.
 * Empty when the pod runs as non-root with a read-only root filesystem, drops ALL, forbids privilege
 * escalation and uses the RuntimeDefault seccomp profile.
 */
export function hardeningProblems(workload: Manifest): string[] {
  const spec = podSpecOf(workload);
  const where = `${workload.kind}/${workload.metadata.name}`;
  const pod = spec.securityContext ?? {};
  const problems: string[] = [];
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    const sc = c.securityContext ?? {};
    const at = `${where} ${c.name}`;
    if (sc['runAsNonRoot'] !== true && pod['runAsNonRoot'] !== true) problems.push(`${at}: runAsNonRoot is not true`);
    if (sc['readOnlyRootFilesystem'] !== true) problems.push(`${at}: readOnlyRootFilesystem is not true`);
    if (sc['allowPrivilegeEscalation'] !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`);
    const drop = (sc['capabilities'] as { drop?: string[] } | undefined)?.drop ?? [];
    if (!drop.includes('ALL')) problems.push(`${at}: capabilities.drop lacks ALL`);
    const add = (sc['capabilities'] as { add?: string[] } | undefined)?.add ?? [];
    if (add.length > 0) problems.push(`${at}: capabilities.add ${add.join(',')}`);
    const seccomp = (sc['seccompProfile'] ?? pod['seccompProfile']) as { type?: string } | undefined;
    if (seccomp?.type !== 'RuntimeDefault') problems.push(`${at}: seccompProfile is not RuntimeDefault`);
    const uid = (sc['runAsUser'] ?? pod['runAsUser']) as number | undefined;
    if (uid === 0) problems.push(`${at}: runAsUser is 0`);
  }
  if (spec['hostNetwork'] === true || spec['hostPID'] === true || spec['hostIPC'] === true) problems.push(`${where}: shares a host namespace`);
  return problems;
}
