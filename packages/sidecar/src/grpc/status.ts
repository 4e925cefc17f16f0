import { Metadata, type StatusObject, status } from '@grpc/grpc-js';
import { toInferenceError } from '../inference/errors.js';

/** The one place a domain or engine error becomes a gRPC status; INTERNAL details never echo internals. */
export function toGrpcStatus(e: unknown): Partial<StatusObject> & { code: status; details: string } {
  const err = toInferenceError(e);
  const metadata = new Metadata();
  if (err.field) metadata.set('slmops-field', err.field);
  return { code: status[err.code], details: err.message, metadata };
}
