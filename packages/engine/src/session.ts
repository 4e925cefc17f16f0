/** The small port the engine runs graphs through, and its onnxruntime-node adapter. */
import * as ort from 'onnxruntime-node';

export type TensorType = 'float32' | 'float16' | 'int32' | 'int64';
export type TensorData = Float32Array | Uint16Array | Int32Array | BigInt64Array;

/** A dense tensor; float16 data is raw IEEE half bits in a Uint16Array. */
export interface Tensor {
  type: TensorType;
  data: TensorData;
  dims: readonly number[];
}

/** One graph input or output as the session reports it (symbolic dims are strings). */
export interface ValueInfo {
  name: string;
  type: string;
  shape: ReadonlyArray<number | string>;
}

export interface SessionPort {
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /** The execution provider the session was really created with, e.g. 'cpu'. */
  readonly executionProvider: string;
  /** True when run() returns to the event loop before computing (onnxruntime-node does), so callers that
   *  await it need no turn of their own to let I/O in between runs. */
  readonly yieldsBeforeRun?: boolean;
  /** Runs the graph; with `outputs`, only those are fetched (a port may return more). */
  run(feeds: Record<string, Tensor>, outputs?: readonly string[]): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

export interface SessionOptions {
  /** Providers in preference order; the first one that creates a session wins. */
  executionProviders: string[];
  intraOpThreads?: number;
  /** false turns ONNX Runtime's CPU memory arena off; default on. */
  cpuMemArena?: boolean;
}

export type SessionPortFactory = (modelPath: string, opts: SessionOptions) => Promise<SessionPort>;

const toValueInfo = (m: ort.InferenceSession.ValueMetadata): ValueInfo =>
  m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: 'non-tensor', shape: [] };

/** Opens a model with onnxruntime-node, falling down the provider chain until one creates a session. */
export const createOrtSession: SessionPortFactory = async (modelPath, opts) => {
  const providers = opts.executionProviders.length > 0 ? opts.executionProviders : ['cpu'];
  const failures: string[] = [];
  for (const ep of providers) {
    try {
      const session = await ort.InferenceSession.create(modelPath, {
        executionProviders: [ep],
        graphOptimizationLevel: 'all',
        ...(opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {}),
        ...(opts.cpuMemArena === false ? { enableCpuMemArena: false } : {}),
      });
      return ortSessionPort(session, ep);
    } catch (e) {
      failures.push(`${ep}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`${modelPath}: no execution provider could open the model (${failures.join('; ')})`);
};

/** The port over an onnxruntime-node session the caller opened; release() releases that session. */
export function ortSessionPort(session: ort.InferenceSession, executionProvider: string): SessionPort {
  return {
    inputs: session.inputMetadata.map(toValueInfo),
    outputs: session.outputMetadata.map(toValueInfo),
    executionProvider,
    // onnxruntime-node's run() computes inside a setImmediate callback.
    yieldsBeforeRun: true,
    async run(feeds, outputs) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const out = await (outputs ? session.run(ortFeeds, [...outputs]) : session.run(ortFeeds));
      const result: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(out)) result[name] = { type: t.type as TensorType, data: t.data as TensorData, dims: t.dims };
      return result;
    },
    release: () => session.release(),
  };
}
