/** The worker-thread side of a threaded engine: runs an in-thread engine and relays requests and events. */
import { reopenModel } from '@slmops/model';
import { createEngine } from '../engine.js';
import type { Engine } from '../types.js';
import { RelayClock } from './relay.js';
import { type HostMessage, STATS_SLOTS, type ThreadData, type Update, type WorkerMessage, toWireError } from './protocol.js';

export interface ThreadPort {
  postMessage(m: WorkerMessage): void;
  on(event: 'message', listener: (m: HostMessage) => void): void;
}

const deadlineReason = () => Object.assign(new Error('the request deadline passed'), { name: 'TimeoutError' });

/**
 * Serves one engine over `port` until the host sends close. Updates are gathered per microtask checkpoint, so one
 * decode step's tokens of every sequence travel in one message, before the next step computes; RelayClock decides
 * whether that message goes now or waits for the next steps' tokens.
 */
export async function serveEngineThread(port: ThreadPort, data: ThreadData): Promise<void> {
  let engine: Engine;
  try {
    engine = await createEngine(reopenModel(data.dir, data.manifest), data.options);
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
  };
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
