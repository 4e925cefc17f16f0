/** `kubectl slm rollout status|promote|pause|resume|abort|undo <name>`. */
import { randomUUID } from 'node:crypto';
import { Annotations, CRD_NAME, Labels } from '@slmops/api/keys';
import { isGone, type KubeClient, type KubeObject, Resources, type Watch } from '@slmops/kube';
import { UsageError, writeLine } from '../context.js';
import { FIELD_MANAGER, getSlmd, notFound, type Subcommand } from './command.js';
import { parseDurationFlag, type Session } from './options.js';
import { NONE, type SlmdObject, table, waveText } from './printers.js';

export type RolloutVerdict = { done: true; ok: boolean; message: string } | { done: false; message: string };

/**
 * Where a rollout stands (pure): Complete is success, RolledBack/Failed are failure, but only once the operator
 * has observed the current generation; anything else is a progress line to print.
 */
export function rolloutVerdict(o: SlmdObject): RolloutVerdict {
  const name = o.metadata.name;
  const st = o.status;
  const generation = o.metadata.generation ?? 0;
  if (st?.observedGeneration === undefined || st.observedGeneration < generation) {
    return { done: false, message: `Waiting for slmdeployment "${name}" spec update to be observed...` };
  }
  const r = st.rollout;
  const phase = r?.phase;
  if (phase === 'Complete') {
    const desired = st.nodes?.desired ?? st.replicas;
    if (desired === 0) return { done: true, ok: false, message: `slmdeployment "${name}" has nothing to roll out: ${noTargetsReason(o)}` };
    return { done: true, ok: true, message: `slmdeployment "${name}" successfully rolled out` };
  }
  if (phase === 'RolledBack' || phase === 'Failed') {
    return { done: true, ok: false, message: `slmdeployment "${name}" rollout ${phase}${r?.message ? `: ${r.message}` : ''}` };
  }
  const n = st.nodes;
  const pods = n ? ` (${n.updated} of ${n.desired} pods updated, ${n.ready} ready${n.offline ? `, ${n.offline} offline` : ''})` : '';
  const pct = r?.updatedPercent !== undefined ? `, ${r.updatedPercent}% updated` : '';
  return { done: false, message: `Waiting for slmdeployment "${name}" rollout: wave ${waveText(o)}, phase ${phase ?? NONE}${pct}${pods}...` };
}

/** Why a deployment has 0 desired pods, in the user's terms (pure). */
export function noTargetsReason(o: SlmdObject): string {
  const p = o.spec.placement;
  if (p?.mode === 'Replicated') return 'spec.placement.replicas is 0';
  const selector = Object.entries(p?.nodeSelector ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  const plugins = o.spec.hardware?.plugins?.join(',');
  return (
    `0 nodes are desired: no node both matches ${selector ? `spec.placement.nodeSelector ${selector}` : 'spec.placement'}` +
    ` and can be served by ${plugins ? `the plugins ${plugins}` : 'a hardware plugin'} (check \`kubectl get nodes --show-labels\`)`
  );
}

/** Lists then watches one object, calling `onObject` for every version until it returns true or `signal` aborts. */
async function followObject(client: KubeClient, namespace: string, name: string, onObject: (o: SlmdObject) => boolean, signal: AbortSignal): Promise<void> {
  const fieldSelector = `metadata.name=${name}`;
  while (!signal.aborted) {
    const list = await client.list<SlmdObject>(Resources.SLMDeployment, { namespace, fieldSelector });
    const first = list.items[0];
    if (!first) throw notFound(name);
    if (onObject(first)) return;
    let watch: Watch | undefined;
    const finished = await new Promise<'stop' | 'restart'>((resolve, reject) => {
      let settled = false;
      const onAbort = () => settle('stop');
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (v: 'stop' | 'restart' | Error) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      client
        .watch<SlmdObject>(Resources.SLMDeployment, { namespace, fieldSelector, resourceVersion: list.resourceVersion, allowWatchBookmarks: true }, (ev) => {
          // Events still queued after the verdict must not overwrite it.
          if (settled) return;
          if (ev.type === 'DELETED') settle(new Error(`slmdeployment "${name}" was deleted while waiting for its rollout`));
          else if (ev.type !== 'BOOKMARK' && onObject(ev.object)) settle('stop');
        })
        .then((w) => {
          watch = w;
          if (signal.aborted) w.stop();
          // The server ends watches now and then (timeouts, 410 Gone): list again and resume.
          w.done.then(
            () => settle('restart'),
            (e: unknown) => settle(isGone(e) ? 'restart' : (e as Error)),
          );
        }, settle);
    }).finally(() => watch?.stop());
    if (finished === 'stop') return;
  }
}

const statusCommand: Subcommand = {
  summary: 'Follow a rollout wave by wave until it completes (exit 0) or is rolled back / fails (exit 1)',
  usage: 'kubectl slm rollout status NAME [-n NS] [--timeout 0s]',
  options: { timeout: { type: 'string', default: '0s', value: '<duration>', help: 'give up after this long (0s: wait until the rollout ends)' } },
  async run(session, positionals, values) {
    const name = oneName('rollout status', positionals);
    const timeoutMs = parseDurationFlag('timeout', values['timeout'] as string);
    const client = await session.client();
    const namespace = await session.namespace();
    const abort = new AbortController();
    const timer = timeoutMs > 0 ? setTimeout(() => abort.abort(), timeoutMs) : undefined;
    let last = '';
    let verdict: RolloutVerdict | undefined;
    try {
      await followObject(
        client,
        namespace,
        name,
        (o) => {
          verdict = rolloutVerdict(o);
          if (verdict.done) return true;
          if (verdict.message !== last) writeLine(session.ctx.stdout, (last = verdict.message));
          return false;
        },
        abort.signal,
      );
    } finally {
      clearTimeout(timer);
    }
    if (!verdict?.done) throw new Error(`timed out waiting for slmdeployment "${name}" to finish its rollout (--timeout ${values['timeout'] as string})`);
    if (verdict.ok) {
      writeLine(session.ctx.stdout, verdict.message);
      return 0;
    }
    writeLine(session.ctx.stderr, `error: ${verdict.message}`);
    return 1;
  },
};

function oneName(command: string, positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError(`${command} needs exactly one SLMDeployment name`);
  return positionals[0]!;
}

/** Merge-patches one SLMDeployment as `kubectl-slm`; a missing object is the NotFound error naming it. */
async function mergePatch(session: Session, name: string, patch: unknown): Promise<SlmdObject> {
  const client = await session.client();
  const namespace = await session.namespace();
  await getSlmd(client, namespace, name);
  return client.patch<SlmdObject>(Resources.SLMDeployment, name, namespace, patch, 'merge', { fieldManager: FIELD_MANAGER });
}

/** A value no earlier request used, so the operator sees every request as new (time first, for humans). */
export const requestToken = (now: Date) => `${now.toISOString()}-${randomUUID().slice(0, 8)}`;

function annotationCommand(verb: 'promote' | 'abort', key: string, summary: string): Subcommand {
  return {
    summary,
    usage: `kubectl slm rollout ${verb} NAME [-n NS]`,
    options: {},
    async run(session, positionals) {
      const name = oneName(`rollout ${verb}`, positionals);
      if (verb === 'promote') {
        // The operator would only warn: spec.rollout.paused outranks the annotation.
        const o = await getSlmd(await session.client(), await session.namespace(), name);
        if (o.spec.rollout?.paused) throw new Error(`${CRD_NAME} "${name}" is paused (spec.rollout.paused=true): resume it first with kubectl slm rollout resume ${name}`);
      }
      await mergePatch(session, name, { metadata: { annotations: { [key]: requestToken(session.deps.now()) } } });
      writeLine(session.ctx.stdout, `slmdeployment.slmops.io/${name} ${verb === 'promote' ? 'promoted' : 'aborted'}`);
      return 0;
    },
  };
}

function pauseCommand(paused: boolean): Subcommand {
  const verb = paused ? 'pause' : 'resume';
  return {
    summary: paused ? 'Pause the rollout: no further wave starts until resumed (spec.rollout.paused=true)' : 'Resume a paused rollout (spec.rollout.paused=false)',
    usage: `kubectl slm rollout ${verb} NAME [-n NS]`,
    options: {},
    async run(session, positionals) {
      const name = oneName(`rollout ${verb}`, positionals);
      const client = await session.client();
      const o = await getSlmd(client, await session.namespace(), name);
      if ((o.spec.rollout?.paused ?? false) === paused) throw new Error(`${CRD_NAME} "${name}" is ${paused ? 'already paused' : 'not paused'}`);
      await mergePatch(session, name, { spec: { rollout: { paused } } });
      writeLine(session.ctx.stdout, `slmdeployment.slmops.io/${name} ${paused ? 'paused' : 'resumed'}`);
      return 0;
    },
  };
}

/** A ControllerRevision the operator keeps per revision of an SLMDeployment (data: model, hardware, serving, privacy, image). */
export interface RevisionObject extends KubeObject {
  revision?: number;
  data?: { model?: SlmdObject['spec']['model']; hardware?: unknown; serving?: unknown; privacy?: unknown };
}

/** The SLMDeployment's revisions, oldest first: ControllerRevisions it controls, labelled with their revision. */
async function revisionHistory(client: KubeClient, o: SlmdObject): Promise<RevisionObject[]> {
  const list = await client.list<RevisionObject>(Resources.ControllerRevision, { namespace: o.metadata.namespace!, labelSelector: Labels.revision });
  return list.items
    .filter((r) => r.metadata.ownerReferences?.some((ref) => ref.controller && ref.uid === o.metadata.uid))
    .sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
}

/**
 * The revision `undo` goes back to (pure): `toRevision` when given, else the newest revision other than the one
 * the spec asks for now (status.updateRevision). Throws an Error saying why there is none.
 */
export function undoTarget(o: SlmdObject, history: readonly RevisionObject[], toRevision?: number): RevisionObject {
  const name = o.metadata.name;
  if (toRevision !== undefined) {
    const r = history.find((h) => h.revision === toRevision);
    if (!r) throw new Error(`unable to find revision ${toRevision} of slmdeployment "${name}" (known: ${history.map((h) => h.revision).join(', ') || 'none'})`);
    return r;
  }
  const current = o.status?.updateRevision;
  if (!current) throw new Error(`slmdeployment "${name}" has no status.updateRevision yet: the operator has not recorded a revision to undo`);
  const previous = history.filter((h) => h.metadata.labels?.[Labels.revision] !== current).at(-1);
  if (!previous) throw new Error(`no rollout history found for slmdeployment "${name}": only revision ${current} is recorded`);
  return previous;
}

const undoCommand: Subcommand = {
  summary: 'Roll back to the previous revision (or --to-revision N): restores its model, hardware and serving spec',
  usage: 'kubectl slm rollout undo NAME [--to-revision N] [-n NS]',
  options: { 'to-revision': { type: 'string', value: '<n>', shownDefault: 'the previous revision', help: 'the revision to go back to (see rollout history)' } },
  async run(session, positionals, values) {
    const name = oneName('rollout undo', positionals);
    const raw = values['to-revision'] as string | undefined;
    const toRevision = raw === undefined ? undefined : Number(raw);
    if (toRevision !== undefined && !(Number.isSafeInteger(toRevision) && toRevision > 0)) throw new UsageError(`--to-revision must be a positive integer, got "${raw}"`);
    const client = await session.client();
    const o = await getSlmd(client, await session.namespace(), name);
    const target = undoTarget(o, await revisionHistory(client, o), toRevision);
    const data = target.data ?? {};
    // Security settings (privacy) are not part of a revision (ADR 0011): a revision recorded before that still
    // carries them, and an undo must no more restore them than an automatic rollback does.
    const parts = (['model', 'hardware', 'serving'] as const).filter((k) => data[k] !== undefined);
    if (!parts.includes('model')) throw new Error(`revision ${target.revision} of slmdeployment "${name}" (${target.metadata.name}) records no model`);
    // JSON patch replaces each part whole (a merge patch would keep fields the old revision did not have); the
    // uid test makes sure a re-created object of the same name is not rolled back by mistake.
    const patch = [{ op: 'test', path: '/metadata/uid', value: o.metadata.uid }, ...parts.map((k) => ({ op: 'replace', path: `/spec/${k}`, value: data[k] }))];
    await client.patch(Resources.SLMDeployment, name, o.metadata.namespace, patch, 'json', { fieldManager: FIELD_MANAGER });
    const m = data.model;
    writeLine(session.ctx.stdout, `slmdeployment.slmops.io/${name} rolled back to revision ${target.revision ?? NONE} (${m?.name ?? NONE} ${m?.version ?? NONE})`);
    return 0;
  },
};

const historyCommand: Subcommand = {
  summary: 'List the revisions the operator keeps (what undo can go back to)',
  usage: 'kubectl slm rollout history NAME [-n NS]',
  options: {},
  async run(session, positionals) {
    const name = oneName('rollout history', positionals);
    const client = await session.client();
    const o = await getSlmd(client, await session.namespace(), name);
    const history = await revisionHistory(client, o);
    const mark = (rev: string | undefined) =>
      [rev === o.status?.currentRevision ? 'current' : '', rev === o.status?.updateRevision && rev !== o.status?.currentRevision ? 'update' : ''].filter(Boolean).join(',');
    writeLine(
      session.ctx.stdout,
      table(
        ['REVISION', 'MODEL', 'VERSION', 'DIGEST', 'REVISION-HASH', 'STATE'],
        history.map((h) => {
          const rev = h.metadata.labels?.[Labels.revision];
          return [String(h.revision ?? NONE), h.data?.model?.name ?? NONE, h.data?.model?.version ?? NONE, h.data?.model?.source?.digest ?? NONE, rev ?? NONE, mark(rev) || NONE];
        }),
      ),
    );
    return 0;
  },
};

export const rolloutCommands: Record<string, Subcommand> = {
  status: statusCommand,
  promote: annotationCommand('promote', Annotations.promote, 'Skip the pause or analysis of the current wave and start the next one'),
  pause: pauseCommand(true),
  resume: pauseCommand(false),
  abort: annotationCommand('abort', Annotations.abort, 'Stop the rollout and roll back to the current revision'),
  undo: undoCommand,
  history: historyCommand,
};
