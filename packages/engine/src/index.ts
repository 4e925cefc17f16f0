export { createEngine } from './engine.js';
export { EngineError, type EngineErrorCode } from './errors.js';
export type { Engine, EngineOptions, EngineStats, FinishReason, GenerateRequest, GenerationEvent, Timings } from './types.js';
export { createOrtSession, ortSessionPort, type SessionOptions, type SessionPort, type SessionPortFactory, type Tensor, type TensorType, type ValueInfo } from './session.js';
export { Sampler, Rng, argmax, type SamplingParams } from './sampler.js';
export { StopMatcher } from './stop.js';
export { defaultEvalSet, evaluateVariant, evalPerplexity, type EvalSet, type VariantEvaluation } from './eval.js';
export { type ThreadedEngineOptions, createThreadedEngine } from './thread/host.js';
export { serveEngineThread, type ThreadPort } from './thread/serve.js';
