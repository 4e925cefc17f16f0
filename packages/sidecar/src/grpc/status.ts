import { Metadata, type StatusObject, status } from '@grpc/grpc-js';
import { toInferenceError } from '../inference/errors.js';

const MAX_DETAILS = 2048;

/** The one place a domain or engine error becomes a gRPC status; INTERNAL details never echo internals. */
export function toGrpcStatus(e: unknown): Partial<StatusObject> & { code: status; details: string } {
  const err = toInferenceError(e);
  const metadata = new Metadata();
  if (err.field) metadata.set('slmops-field', err.field);
  // A status travels in HTTP/2 trailers: an oversized message would cost the client its status altogether.
  const details = err.message.length > MAX_DETAILS ? `${err.message.slice(0, MAX_DETAILS)}…` : err.message;
  return { code: status[err.code], details, metadata };
}
