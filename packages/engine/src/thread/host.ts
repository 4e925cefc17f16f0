/**
 * createThreadedEngine: the same Engine, with the model's session and the batching scheduler on a worker thread,
 * so the caller's thread (gRPC, HTTP, metrics) works while a step computes instead of between steps.
 */
import { Worker } from 'node:worker_threads';
import type { LoadedModel, Precision } from '@slmops/model';
import { Channel } from '../channel.js';
import { EngineError, invalidArgument, isTimeout } from '../errors.js';
import type { Engine, EngineOptions, GenerateRequest, GenerationEvent } from '../types.js';
import { type HostMessage, STATS_SLOTS, type ThreadData, type WorkerMessage, fromWireError } from './protocol.js';

/** The worker entry, at the same place relative to src/thread and dist/thread. */
const ENTRY = new URL('../../worker/thread.mjs', import.meta.url);

/** The workspace's source condition (TypeScript entry points); the worker runs the built package instead. */
const SOURCE_CONDITION = '@slmops/source';

/**
 * The parent's Node flags a worker can take: without the source condition a test runner or tsx may set (the worker
 * entry is plain JavaScript and would resolve workspace packages to TypeScript it cannot run), and without
 * --input-type (for string input only; a worker started from a file refuses it).
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (a === '--input-type' || ((a === '--conditions' || a === '-C') && execArgv[i + 1] === SOURCE_CONDITION)) i++;
    else if (a !== `--conditions=${SOURCE_CONDITION}` && a !== `-C=${SOURCE_CONDITION}` && !a.startsWith('--input-type=')) out.push(a);
  }
  return out;
}

type Ready = Extract<WorkerMessage, { op: 'ready' }>;

/**
 * Texts up to this many UTF-16 units are encoded on the caller's thread by tokenizeAsync: microseconds, less than
 * the wait for a worker that may be mid-step. Longer ones are encoded on the worker, between decode steps.
 */
export const INLINE_TOKENIZE_CHARS = 1024;

/** Resolves with the worker's ready message; rejects with its open error, or when it dies first. */
function opened(worker: Worker, dir: string): Promise<Ready> {
  return new Promise((resolve, reject) => {
    const settle = (f: () => void) => {
      worker.off('error', onError).off('exit', onExit).off('message', onMessage);
      f();
    };
    const onError = (e: Error) => settle(() => reject(e));
    const onExit = (code: number) => settle(() => reject(new EngineError('INTERNAL', `the engine thread exited with code ${code} while opening ${dir}`)));
    const onMessage = (m: WorkerMessage) =>
      settle(() => (m.op === 'ready' ? resolve(m) : reject(m.op === 'failed' ? fromWireError(m.error) : new EngineError('INTERNAL', `the engine thread sent ${m.op} before ready`))));
    worker.on('error', onError).on('exit', onExit).on('message', onMessage);
  });
}

export interface ThreadedEngineOptions extends Omit<EngineOptions, 'session' | 'onIdle'> {
  /**
   * How long (ms) a request's tokens after its first may wait in the worker to travel with later ones: fewer
   * wake-ups of this thread, at most this much later delivery. Default 0: every decode step's tokens at once.
   */
  relayIntervalMs?: number;
}

/**
 * Opens `model` (already loaded and verified on this thread) in a worker thread. Behaves as createEngine does,
 * except that `opts.session` cannot cross threads. If the worker dies, every request in flight fails INTERNAL.
 * `thread.entry` replaces the worker script (tests use one that dies on purpose).
 */
export async function createThreadedEngine(model: LoadedModel, opts: ThreadedEngineOptions = {}, thread: { entry?: URL } = {}): Promise<Engine> {
  const { relayIntervalMs = 0, ...options } = opts;
  if (!Number.isFinite(relayIntervalMs) || relayIntervalMs < 0) throw invalidArgument('relayIntervalMs', `must be a number of milliseconds >= 0, got ${relayIntervalMs}`);
  const stats = new SharedArrayBuffer(STATS_SLOTS * Float64Array.BYTES_PER_ELEMENT);
  const data: ThreadData = { dir: model.dir, manifest: model.manifest, options, relayIntervalMs, stats };
  const worker = new Worker(thread.entry ?? ENTRY, { workerData: data, execArgv: workerExecArgv(process.execArgv) });
  const statsView = new Float64Array(stats);
  const streams = new Map<number, Channel<GenerationEvent>>();
  // Requests with one answer (score, tokenize), by id.
  const calls = new Map<number, { resolve: (r: never) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let dead: EngineError | undefined;
  let closing: Promise<void> | undefined;
  let onClosed: (() => void) | undefined;
  const post = (m: HostMessage) => {
    if (!dead) worker.postMessage(m);
  };
  // Like an in-thread engine, an idle one does not keep the process alive; work in flight does.
  const holdWhileBusy = () => (streams.size + calls.size > 0 || onClosed ? worker.ref() : worker.unref());

  const ready = await opened(worker, model.dir).catch(async (e: unknown) => {
    await worker.terminate();
    throw e;
  });
  holdWhileBusy();

  const die = (why: string) => {
    dead ??= new EngineError('INTERNAL', why);
    for (const ch of streams.values()) ch.close(dead);
    streams.clear();
    for (const c of calls.values()) c.reject(dead);
    calls.clear();
    statsView.fill(0);
    onClosed?.();
  };
  const onError = (e: Error) => die(`the engine thread failed: ${e.message}`);
  const onExit = (code: number) => die(`the engine thread exited (code ${code})`);
  const onMessage = (m: WorkerMessage) => {
    if (m.op === 'updates') {
      for (const u of m.updates) {
        const ch = streams.get(u[1]);
        if (!ch) continue; // the caller stopped listening; its cancel is on the way
        if (u[0] === 'event') ch.push(u[2]);
        else {
          ch.close(u[0] === 'error' ? fromWireError(u[2]) : undefined);
          streams.delete(u[1]);
        }
      }
      holdWhileBusy();
    } else if (m.op === 'scored' || m.op === 'tokenized') {
      const c = calls.get(m.id);
      calls.delete(m.id);
      holdWhileBusy();
      const result = m.op === 'scored' ? m.result : m.ids;
      if (result) c?.resolve(result as never);
      else c?.reject(fromWireError(m.error ?? { code: 'INTERNAL', message: `${m.op === 'scored' ? 'score' : 'tokenize'} failed` }));
    } else if (m.op === 'closed') onClosed?.();
  };
  worker.on('error', onError).on('exit', onExit).on('message', onMessage);

  const refuseWhenClosed = () => {
    if (closing) throw new EngineError('FAILED_PRECONDITION', 'the engine is closed');
    if (dead) throw dead;
  };
  /** Sends a request that has one answer and resolves with it. */
  const call = <T>(message: (id: number) => HostMessage): Promise<T> => {
    refuseWhenClosed();
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      calls.set(id, { resolve: resolve as (r: never) => void, reject });
      holdWhileBusy();
      post(message(id));
    });
  };

  async function* generate(req: GenerateRequest, signal?: AbortSignal): AsyncGenerator<GenerationEvent> {
    refuseWhenClosed();
    const id = nextId++;
    const ch = new Channel<GenerationEvent>();
    streams.set(id, ch);
    holdWhileBusy();
    post({ op: 'generate', id, req });
    const cancel = () => post({ op: 'cancel', id, deadline: isTimeout(signal?.reason) });
    if (signal?.aborted) cancel();
    else signal?.addEventListener('abort', cancel, { once: true });
    let ended = false;
    try {
      for (;;) {
        const r = await ch.next();
        if (r.done) {
          ended = true;
          return;
        }
        yield r.value;
      }
    } catch (e) {
      ended = true;
      throw e;
    } finally {
      signal?.removeEventListener('abort', cancel);
      if (!ended) {
        // The consumer stopped early: free the slot at the worker's next step.
        streams.delete(id);
        holdWhileBusy();
        post({ op: 'cancel', id, deadline: false });
      }
    }
  }

  return {
    model,
    precision: ready.precision as Precision,
    executionProvider: ready.executionProvider,
    contextLength: ready.contextLength,
    stats: () => ({ running: statsView[0]!, waiting: statsView[1]!, kvCacheUsage: statsView[2]!, kvPoolBytes: statsView[3]! }),
    generate,
    tokenize: (text) => model.tokenizer.encode(text),
    tokenizeAsync: async (text) => (text.length <= INLINE_TOKENIZE_CHARS ? model.tokenizer.encode(text) : call<number[]>((id) => ({ op: 'tokenize', id, text }))),
    score: (ids) => call((id) => ({ op: 'score', id, ids: [...ids] })),
    close() {
      closing ??= (async () => {
        if (!dead) {
          await new Promise<void>((resolve) => {
            onClosed = resolve;
            holdWhileBusy();
            post({ op: 'close' });
          });
        }
        worker.off('error', onError).off('exit', onExit).off('message', onMessage);
        await worker.terminate();
      })();
      return closing;
    },
  };
}
