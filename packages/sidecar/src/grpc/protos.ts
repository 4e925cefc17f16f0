import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** protos/ at the repository root; src/grpc and dist/grpc sit at the same depth. */
export const DEFAULT_PROTOS_ROOT = join(import.meta.dirname, '../../../../protos');

export const PROTO_FILES = ['slmops/inference/v1/inference.proto', 'inference/open_inference.proto', 'grpc/health/v1/health.proto'] as const;

export const SERVICE_NAMES = {
  inference: 'slmops.inference.v1.Inference',
  oip: 'inference.GRPCInferenceService',
  health: 'grpc.health.v1.Health',
} as const;

/** Wire decoding options shared by server and client: snake_case fields, 64-bit ints as numbers, enums as names. */
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

export interface LoadedProtos {
  packageDefinition: protoLoader.PackageDefinition;
  inference: grpc.ServiceClientConstructor;
  oip: grpc.ServiceClientConstructor;
  health: grpc.ServiceClientConstructor;
}

/** Loads our three services from the .proto files (no generated code to drift from them). */
export function loadProtos(root: string = DEFAULT_PROTOS_ROOT): LoadedProtos {
  const packageDefinition = protoLoader.loadSync(
    PROTO_FILES.map((f) => join(root, f)),
    { ...LOADER_OPTIONS, includeDirs: [root] },
  );
  const pkg = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    slmops: { inference: { v1: { Inference: grpc.ServiceClientConstructor } } };
    inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  return {
    packageDefinition,
    inference: pkg.slmops.inference.v1.Inference,
    oip: pkg.inference.GRPCInferenceService,
    health: pkg.grpc.health.v1.Health,
  };
}
