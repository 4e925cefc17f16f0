/** The part of the @slmops/engine API the sidecar consumes. */
import type { Engine as FullEngine } from '@slmops/engine';

export type { EngineStats, FinishReason, GenerateRequest, GenerationEvent, Timings as GenerationTimings } from '@slmops/engine';

/** The part of an Engine that serving uses (no evaluation entry points), so tests can pass an honest fake. */
export type Engine = Pick<FullEngine, 'model' | 'precision' | 'executionProvider' | 'contextLength' | 'stats' | 'generate' | 'tokenizeAsync' | 'close'>;
