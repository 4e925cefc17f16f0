/** `kubectl slm describe <name>`: spec summary, status, rollout, digests, placements and recent events. */
import { Resources, type KubeObject } from '@slmops/kube';
import { UsageError, writeLine } from '../context.js';
import { getSlmd, type Subcommand } from './command.js';
import { age, NONE, type SlmdObject, table, waveText } from './printers.js';

/** A core/v1 Event as the API returns it (events.k8s.io fields are mirrored by the server). */
export interface CoreEvent extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  source?: { component?: string };
  reportingComponent?: string;
  involvedObject?: { uid?: string; name?: string; kind?: string };
}

/** How many of the newest events describe shows. */
export const RECENT_EVENTS = 20;

const eventTime = (e: CoreEvent) => e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp;
const eventMillis = (e: CoreEvent) => {
  const t = Date.parse(eventTime(e) ?? '');
  return Number.isNaN(t) ? 0 : t;
};

/** The object's events, oldest first, keeping only the newest `limit` (events of an older object with the same name are dropped). */
export function recentEvents(events: readonly CoreEvent[], uid: string | undefined, limit = RECENT_EVENTS): CoreEvent[] {
  const mine = events.filter((e) => !uid || !e.involvedObject?.uid || e.involvedObject.uid === uid);
  // Event times have second precision; within a second the resourceVersion (write order on etcd) decides.
  const rv = (e: CoreEvent) => Number(e.metadata.resourceVersion) || 0;
  return [...mine].sort((a, b) => eventMillis(a) - eventMillis(b) || rv(a) - rv(b)).slice(-limit);
}

const indent = (text: string, by: number) =>
  text
    .split('\n')
    .map((l) => ' '.repeat(by) + l)
    .join('\n');

/** `key: value` lines with the values aligned, as kubectl describe prints a section. */
function fields(pairs: readonly (readonly [string, string])[], level = 0): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 2;
  return pairs.map(([k, v]) => `${' '.repeat(level * 2)}${`${k}:`.padEnd(width)}${v}`).join('\n');
}

const mapText = (m: Record<string, string> | undefined) =>
  m && Object.keys(m).length ? Object.entries(m).map(([k, v]) => `${k}=${v}`).join('\n' + ' '.repeat(14)) : NONE;

function eventAge(e: CoreEvent, now: Date): string {
  const last = age(eventTime(e), now);
  if ((e.count ?? 1) > 1 && e.firstTimestamp) return `${last} (x${e.count} over ${age(e.firstTimestamp, now)})`;
  return last;
}

/** The whole describe text of one SLMDeployment and its events (pure). */
export function describeText(o: SlmdObject, events: readonly CoreEvent[], now: Date): string {
  const s = o.spec;
  const st = o.status;
  const out: string[] = [];
  out.push(
    fields([
      ['Name', o.metadata.name],
      ['Namespace', o.metadata.namespace ?? NONE],
      ['Labels', mapText(o.metadata.labels)],
      ['Annotations', mapText(o.metadata.annotations)],
      ['API Version', o.apiVersion],
      ['Created', `${o.metadata.creationTimestamp ?? NONE} (${age(o.metadata.creationTimestamp, now)} ago)`],
      ['Generation', String(o.metadata.generation ?? NONE)],
    ]),
  );
  out.push('Spec:');
  const waves = s.rollout?.waves?.map((w) => `${w.percent}%${w.pause ? ` (pause ${w.pause})` : ''}`).join(', ');
  out.push(
    fields(
      [
        ['Model', `${s.model?.name ?? NONE} ${s.model?.version ?? ''}`.trimEnd()],
        ['Source', s.model?.source?.uri ?? NONE],
        ['Digest', s.model?.source?.digest ?? NONE],
        ['Precisions', s.model?.precisions?.join(', ') ?? NONE],
        ['Placement', `${s.placement?.mode ?? NONE}${s.placement?.replicas !== undefined ? ` (${s.placement.replicas} replicas)` : ''}`],
        ['Node Selector', mapText(s.placement?.nodeSelector).replaceAll('\n' + ' '.repeat(14), ', ')],
        ['Hardware Plugins', s.hardware?.plugins?.join(', ') ?? NONE],
        ['Serving', s.serving ? `grpc port ${s.serving.port}, metrics port ${s.serving.metricsPort}, max batch ${s.serving.maxBatchSize}, max tokens ${s.serving.maxTokens}` : NONE],
        ['Strategy', `${s.rollout?.strategy ?? NONE}${waves ? `: ${waves}` : ''}`],
        ['Paused', String(s.rollout?.paused ?? false)],
        ['Auto Rollback', String(s.rollout?.autoRollback ?? NONE)],
        ['Privacy', s.privacy ? `egress ${s.privacy.egress}, request logging ${s.privacy.requestLogging}` : NONE],
      ],
      1,
    ),
  );
  out.push('Status:');
  if (!st) out.push('  <none> (the operator has not reported yet)');
  else {
    const r = st.rollout;
    const a = r?.lastAnalysis;
    const analysis = a
      ? [
          `${a.passed ? 'passed' : 'failed'} (${a.reason}) ${age(a.time, now)} ago`,
          a.samples !== undefined ? `samples ${a.samples}` : '',
          a.errorRate !== undefined ? `error rate ${a.errorRate}` : '',
          a.p95LatencyMs !== undefined ? `p95 latency ${a.p95LatencyMs}ms` : '',
          a.ttftP95Ms !== undefined ? `TTFT p95 ${a.ttftP95Ms}ms` : '',
        ]
          .filter(Boolean)
          .join(', ')
      : NONE;
    const n = st.nodes;
    out.push(
      fields(
        [
          ['Observed Generation', String(st.observedGeneration ?? NONE)],
          ['Current Revision', st.currentRevision ?? NONE],
          ['Update Revision', st.updateRevision ?? NONE],
          ['Nodes', n ? `${n.desired} desired, ${n.updated} updated, ${n.ready} ready, ${n.offline} offline` : NONE],
        ],
        1,
      ),
    );
    out.push('  Rollout:');
    out.push(
      fields(
        [
          ['Wave', waveText(o)],
          ['Phase', r?.phase ?? NONE],
          ['Updated', r?.updatedPercent !== undefined ? `${r.updatedPercent}%` : NONE],
          ['Message', r?.message ?? NONE],
          ['Last Analysis', analysis],
        ],
        2,
      ),
    );
  }
  const conditions = st?.conditions ?? [];
  out.push('Conditions:');
  out.push(
    conditions.length
      ? indent(table(['Type', 'Status', 'Reason', 'Age', 'Message'], conditions.map((c) => [c.type, c.status, c.reason, age(c.lastTransitionTime, now), c.message])), 2)
      : `  ${NONE}`,
  );
  const digests = st?.servedDigests ?? [];
  out.push('Served Digests:');
  out.push(digests.length ? indent(table(['Digest', 'Pods'], digests.map((d) => [d.digest, String(d.count)])), 2) : `  ${NONE}`);
  const placements = st?.placements ?? [];
  out.push('Placements:');
  out.push(
    placements.length
      ? indent(table(['Plugin', 'Execution Provider', 'Precision', 'Nodes'], placements.map((p) => [p.plugin, p.executionProvider, p.precision, String(p.nodes)])), 2)
      : `  ${NONE}`,
  );
  if (events.length === 0) out.push(`Events:  ${NONE}`);
  else {
    out.push('Events:');
    out.push(
      indent(
        table(
          ['Type', 'Reason', 'Age', 'From', 'Message'],
          events.map((e) => [e.type ?? '', e.reason ?? '', eventAge(e, now), e.source?.component || e.reportingComponent || '', (e.message ?? '').replace(/\s+/g, ' ')]),
        ),
        2,
      ),
    );
  }
  return out.join('\n');
}

export const describeCommand: Subcommand = {
  summary: 'Show one SLMDeployment in detail: status, rollout wave and analysis, served digests, placements, events',
  usage: 'kubectl slm describe NAME [-n NS]',
  options: {},
  async run(session, positionals) {
    if (positionals.length !== 1) throw new UsageError('describe needs exactly one SLMDeployment name');
    if (session.output !== 'table') throw new UsageError('describe does not take -o; use `kubectl slm get NAME -o yaml`');
    const name = positionals[0]!;
    const client = await session.client();
    const namespace = await session.namespace();
    const o = await getSlmd(client, namespace, name);
    const list = await client.list<CoreEvent>(Resources.Event, {
      namespace,
      fieldSelector: `involvedObject.name=${name},involvedObject.kind=${o.kind}`,
    });
    writeLine(session.ctx.stdout, describeText(o, recentEvents(list.items, o.metadata.uid), session.deps.now()));
    return 0;
  },
};
