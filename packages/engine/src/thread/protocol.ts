/** Messages between a threaded engine's host (main thread) and its worker thread. Every value is structured-clonable. */
import type { SlmManifest } from '@slmops/model';
import { EngineError, type EngineErrorCode } from '../errors.js';
import type { EngineOptions, GenerateRequest, GenerationEvent } from '../types.js';

/** What the worker is started with: the package (already loaded and verified by the host) and the engine options. */
export interface ThreadData {
  dir: string;
  manifest: SlmManifest;
  options: Omit<EngineOptions, 'session' | 'onIdle'>;
  /** How long a request's later tokens may wait to travel with the next ones (RelayClock); 0 sends every step. */
  relayIntervalMs: number;
  /** Float64Array[STATS_SLOTS] the worker keeps current: running, waiting, kvCacheUsage, kvPoolBytes. */
  stats: SharedArrayBuffer;
}

export type HostMessage =
  | { op: 'generate'; id: number; req: GenerateRequest }
  /** `deadline`: the caller's signal fired with a TimeoutError, so the request ends DEADLINE_EXCEEDED. */
  | { op: 'cancel'; id: number; deadline: boolean }
  | { op: 'score'; id: number; ids: number[] }
  | { op: 'tokenize'; id: number; text: string }
  | { op: 'close' };

export interface WireError {
  code: EngineErrorCode;
  message: string;
  field?: string;
}

/** One request's news, in order: an event, its normal end, or its failure. */
export type Update = [kind: 'event', id: number, event: GenerationEvent] | [kind: 'end', id: number] | [kind: 'error', id: number, error: WireError];

export type WorkerMessage =
  | { op: 'ready'; precision: string; executionProvider: string; contextLength: number }
  | { op: 'failed'; error: WireError }
  /** Everything that happened in one turn of the worker's event loop (one decode step). */
  | { op: 'updates'; updates: Update[] }
  | { op: 'scored'; id: number; result?: { nll: number[]; argmax: number[] }; error?: WireError }
  | { op: 'tokenized'; id: number; ids?: number[]; error?: WireError }
  | { op: 'closed' };

export const STATS_SLOTS = 4;

export function toWireError(e: unknown): WireError {
  if (e instanceof EngineError) return { code: e.code, message: e.message, ...(e.field !== undefined ? { field: e.field } : {}) };
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

export const fromWireError = (w: WireError): EngineError => new EngineError(w.code, w.message, w.field !== undefined ? { field: w.field } : {});
