/** The worker-thread side of a threaded engine: runs an in-thread engine and relays requests and events. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { reopenModel } from '@slmops/model';
import { createEngine } from '../engine.js';
import type { Engine } from '../types.js';
import { RelayClock } from './relay.js';
import { type HostMessage, STATS_SLOTS, type ThreadData, type Update, type WorkerMessage, toWireError } from './protocol.js';

export interface ThreadPort {
  postMessage(m: WorkerMessage): void;
  on(event: 'message', listener: (m: HostMessage) => void): void;
}

/** How long a worker waits without work before its one full garbage collection. */
const IDLE_GC_MS = 1000;

/** V8's full collection for this thread, or undefined where the runtime refuses to expose it. */
function fullGc(): (() => void) | undefined {
  try {
    // Process-wide, but it only puts `gc` into contexts created afterwards: this one.
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

const deadlineReason = () => Object.assign(new Error('the request deadline passed'), { name: 'TimeoutError' });

/**
 * Serves one engine over `port` until the host sends close. Updates are gathered per microtask checkpoint, so one
 * decode step's tokens of every sequence travel in one message, before the next step computes; RelayClock decides
 * whether that message goes now or waits for the next steps' tokens.
 */
export async function serveEngineThread(port: ThreadPort, data: ThreadData): Promise<void> {
  let engine: Engine;
  // An idle worker allocates nothing, so V8 would not collect the cache buffers a load peak left (the engine drops
  // its pool when idle): one full collection after IDLE_GC_MS without work returns them.
  const gc = fullGc();
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  let publishIdle = () => {};
  const onIdle = () => {
    // The last step's stats may have gone out before the pool was emptied.
    publishIdle();
    clearTimeout(idleTimer);
    if (gc) idleTimer = setTimeout(() => collect(gc), IDLE_GC_MS).unref();
  };
  // Two collections a turn apart: the first finalizes ONNX Runtime's output tensors, the second frees what they held.
  const collect = (gc: () => void) => {
    gc();
    idleTimer = setTimeout(gc, 100).unref();
  };
  const busy = () => clearTimeout(idleTimer);
  try {
    engine = await createEngine(reopenModel(data.dir, data.manifest), { ...data.options, onIdle });
  } catch (e) {
    port.postMessage({ op: 'failed', error: toWireError(e) });
    return;
  }
  const stats = new Float64Array(data.stats, 0, STATS_SLOTS);
  const publishStats = () => {
    const s = engine.stats();
    stats[0] = s.running;
    stats[1] = s.waiting;
    stats[2] = s.kvCacheUsage;
    stats[3] = s.kvPoolBytes ?? 0;
  };
  publishIdle = publishStats;
  const relay = new RelayClock(data.relayIntervalMs);
  let pending: Update[] = [];
  let urgent = false;
  let turnQueued = false;
  let backstop: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    clearTimeout(backstop);
    backstop = undefined;
    relay.sent();
    urgent = false;
    const updates = pending;
    pending = [];
    port.postMessage({ op: 'updates', updates });
  };
  // Once per turn of the event loop (one decode step): send, or hold with a timer in case the next step is late.
  const endTurn = () => {
    turnQueued = false;
    publishStats();
    const now = performance.now();
    if (relay.due(now, urgent)) flush();
    else backstop ??= setTimeout(flush, relay.deadline! - now);
  };
  const send = (u: Update) => {
    pending.push(u);
    // A request's first token (its time to first token) and every end travel at once; later tokens may wait.
    if (u[0] !== 'event' || u[2].type !== 'token' || u[2].index === 0) urgent = true;
    if (!turnQueued) {
      turnQueued = true;
      queueMicrotask(endTurn);
    }
  };
  const controllers = new Map<number, AbortController>();

  const generate = async (id: number, req: Extract<HostMessage, { op: 'generate' }>['req']) => {
    const ac = new AbortController();
    controllers.set(id, ac);
    try {
      let ended = false;
      for await (const ev of engine.generate(req, ac.signal)) {
        send(['event', id, ev]);
        // done is a request's last event: its end rides in the same message instead of waking the host again.
        if (ev.type === 'done') {
          send(['end', id]);
          ended = true;
        }
      }
      if (!ended) send(['end', id]);
    } catch (e) {
      send(['error', id, toWireError(e)]);
    } finally {
      controllers.delete(id);
    }
  };

  port.on('message', (m) => {
    if (m.op !== 'cancel') busy();
    switch (m.op) {
      case 'generate':
        void generate(m.id, m.req);
        // Admission (and the waiting count) is decided on the generator's first pull, a microtask from here.
        queueMicrotask(publishStats);
        return;
      case 'cancel':
        controllers.get(m.id)?.abort(m.deadline ? deadlineReason() : undefined);
        return;
      case 'score':
        engine.score(m.ids).then(
          (result) => port.postMessage({ op: 'scored', id: m.id, result }),
          (e: unknown) => port.postMessage({ op: 'scored', id: m.id, error: toWireError(e) }),
        );
        return;
      case 'tokenize':
        try {
          port.postMessage({ op: 'tokenized', id: m.id, ids: engine.tokenize(m.text) });
        } catch (e) {
          port.postMessage({ op: 'tokenized', id: m.id, error: toWireError(e) });
        }
        return;
      case 'close':
        void engine.close().then(() => {
          if (pending.length > 0) flush();
          port.postMessage({ op: 'closed' });
        });
        return;
    }
  });
  port.postMessage({ op: 'ready', precision: engine.precision, executionProvider: engine.executionProvider, contextLength: engine.contextLength });
}
