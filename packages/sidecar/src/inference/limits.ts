/** Request bounds checked before any work, shared by every transport (gRPC, OIP, OpenAI). */
import { invalidArgument } from './errors.js';

/** `--max-prompt-bytes` default: the longest prompt text accepted, in UTF-8 bytes, checked before tokenizing. */
export const DEFAULT_MAX_PROMPT_BYTES = 256 * 1024;

/**
 * Longest request field that may be echoed back (model name and version, request id, input and output names):
 * an error quoting a 100k-character name would not fit a gRPC status trailer and the client would get no status.
 */
export const MAX_ECHOED_CHARS = 256;

/** Throws INVALID_ARGUMENT naming `field` and the flag when a prompt of `bytes` UTF-8 bytes is over `limit`. */
export function checkPromptBytes(field: string, bytes: number, limit: number): void {
  if (bytes > limit) throw invalidArgument(field, `${bytes} bytes is longer than the limit of ${limit} bytes (--max-prompt-bytes)`);
}

/** Throws INVALID_ARGUMENT naming `field` when a string that may be echoed is longer than MAX_ECHOED_CHARS. */
export function checkEchoed(field: string, value: unknown): void {
  if (typeof value === 'string' && value.length > MAX_ECHOED_CHARS) throw invalidArgument(field, `longer than ${MAX_ECHOED_CHARS} characters`);
}
