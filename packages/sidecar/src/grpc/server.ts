import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { InferenceError } from '../inference/errors.js';
import { checkEchoed } from '../inference/limits.js';
import type { InferenceService, ModelInfo } from '../inference/service.js';
import type { Logger } from '../log.js';
import { HealthService } from './health.js';
import type { GenerationEvent } from '../inference/engine-port.js';
import { type TokenEvent, type WireGenerateRequest, fromWireGenerate, toWireCoalescedResponse, toWireGenerateResponse, toWireModelInfo } from './inference-mapping.js';
import { type ParsedInfer, type WireInferRequest, buildInferResponse, modelMetadata, parseInferRequest } from './oip-mapping.js';
import { type LoadedProtos, SERVICE_NAMES, loadProtos } from './protos.js';
import { toGrpcStatus } from './status.js';

export interface GrpcServerDeps {
  service: InferenceService;
  logger: Logger;
  /** Reported by OIP ServerMetadata. */
  serverVersion?: string;
  protos?: LoadedProtos;
  serverOptions?: grpc.ServerOptions;
}

export interface SidecarGrpcServer {
  server: grpc.Server;
  health: HealthService;
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/** An AbortSignal that fires with CANCELLED when the client goes away and DEADLINE_EXCEEDED at the deadline. */
function callSignal(call: AnyCall): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? deadline : Infinity;
  const expired = () => ac.abort(new InferenceError('DEADLINE_EXCEEDED', 'deadline exceeded'));
  // The client's deadline started before ours (grpc-timeout is relative, sent with the request), so its own expiry
  // can cancel the call a little before our timer fires: a cancel in the last fifth of the window (at least 50 ms)
  // is the deadline, not the client going away.
  const slack = Number.isFinite(at) ? Math.max(50, (at - Date.now()) / 5) : 0;
  const onCancel = () => (Date.now() >= at - slack ? expired() : ac.abort(new InferenceError('CANCELLED', 'cancelled by the client')));
  call.on('cancelled', onCancel);
  const timer = Number.isFinite(at) ? setTimeout(expired, Math.max(0, at - Date.now())) : undefined;
  return {
    signal: ac.signal,
    dispose() {
      clearTimeout(timer);
      call.off('cancelled', onCancel);
    },
  };
}

/**
 * coalesce_tokens: the tokens that reach the handler in one event-loop turn (the engine relays several at once)
 * go out as one message, written when the turn's microtasks are done; the end goes at once, with what is pending.
 */
function coalescingWriter(write: (msg: unknown) => void): { add(ev: GenerationEvent): void; flush(): void } {
  let pending: TokenEvent[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const tokens = pending;
    pending = [];
    write(toWireCoalescedResponse(tokens));
  };
  return {
    add(ev) {
      if (ev.type === 'done') {
        const tokens = pending;
        pending = [];
        write(toWireCoalescedResponse(tokens, ev));
        return;
      }
      pending.push(ev);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}

/** Wraps an async unary handler: exactly one callback, errors through toGrpcStatus. */
function unary<Req>(fn: (req: Req, signal: AbortSignal) => Promise<unknown> | unknown): grpc.handleUnaryCall<Req, unknown> {
  return (call, callback) => {
    const { signal, dispose } = callSignal(call as AnyCall);
    Promise.resolve()
      .then(() => fn(call.request, signal))
      .then(
        (res) => callback(null, res),
        (e: unknown) => callback(toGrpcStatus(signal.aborted ? (signal.reason ?? e) : e)),
      )
      .finally(dispose);
  };
}

/**
 * Builds (does not bind) the gRPC server: slmops.inference.v1.Inference, inference.GRPCInferenceService,
 * grpc.health.v1.Health following the domain's state, and server reflection over all three.
 */
export function createGrpcServer(deps: GrpcServerDeps): SidecarGrpcServer {
  const { service, logger } = deps;
  const protos = deps.protos ?? loadProtos();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024, ...deps.serverOptions });
  const health = new HealthService([SERVICE_NAMES.inference, SERVICE_NAMES.oip]);
  health.follow(service.state);
  service.onStateChange((s) => health.follow(s));

  const generate: grpc.handleServerStreamingCall<WireGenerateRequest, unknown> = (call) => {
    const { signal, dispose } = callSignal(call as AnyCall);
    const write = (msg: unknown) => {
      if (!call.cancelled) call.write(msg);
    };
    const out = call.request?.coalesce_tokens === true ? coalescingWriter(write) : { add: (ev: GenerationEvent) => write(toWireGenerateResponse(ev)), flush() {} };
    void (async () => {
      try {
        for await (const ev of service.generate(fromWireGenerate(call.request), signal, { protocol: 'grpc', method: 'Generate' })) {
          if (call.cancelled) break;
          out.add(ev);
        }
        if (!call.cancelled) call.end();
      } catch (e) {
        // Tokens generated before the failure reach the client before its status, as they do one per message.
        out.flush();
        if (!call.cancelled) call.emit('error', toGrpcStatus(e));
      } finally {
        dispose();
      }
    })();
  };

  server.addService(protos.inference.service, {
    Generate: generate,
    Tokenize: unary<{ text?: string }>(async (req) => {
      const ids = await service.tokenize(req.text ?? '', { protocol: 'grpc', method: 'Tokenize' });
      return { token_ids: ids, count: ids.length };
    }),
    GetModelInfo: unary(() => toWireModelInfo(service.info())),
  });

  const checkModel = (name: string | undefined, version: string | undefined) => {
    checkEchoed('name', name);
    checkEchoed('version', version);
    const info = service.info();
    if (name !== info.name) throw new InferenceError('NOT_FOUND', `name: unknown model "${name ?? ''}"; this server serves "${info.name}"`, { field: 'name' });
    if (version && version !== info.version) throw new InferenceError('NOT_FOUND', `version: "${version}" is not loaded; loaded version is "${info.version}"`, { field: 'version' });
    return info;
  };

  server.addService(protos.oip.service, {
    ServerLive: unary(() => ({ live: true })),
    ServerReady: unary(() => ({ ready: service.state === 'serving' })),
    ModelReady: unary<{ name?: string; version?: string }>((req) => {
      checkModel(req.name, req.version);
      return { ready: service.state === 'serving' };
    }),
    ServerMetadata: unary(() => ({ name: 'slmops-sidecar', version: deps.serverVersion ?? '0.1.0', extensions: [] })),
    ModelMetadata: unary<{ name?: string; version?: string }>((req) => modelMetadata(checkModel(req.name, req.version))),
    ModelInfer: unary<WireInferRequest>(async (req, signal) => {
      const ctx = { protocol: 'oip', method: 'ModelInfer' } as const;
      let info: ModelInfo;
      let parsed: ParsedInfer;
      try {
        info = service.info();
        parsed = parseInferRequest(req, info, service.maxPromptBytes);
      } catch (e) {
        throw service.refused(e, ctx);
      }
      const results = await service.generateAll(
        parsed.prompts.map((prompt) => ({ ...parsed.params, prompt })),
        signal,
        ctx,
      );
      return buildInferResponse(parsed, info, results);
    }),
  });

  server.addService(protos.health.service, health.handlers(grpc.status));
  new ReflectionService(protos.packageDefinition).addToServer(server);
  logger.info('grpc services registered', { services: Object.values(SERVICE_NAMES) });
  return { server, health };
}

/** Binds a server made by createGrpcServer; resolves to the real port (port 0 picks a free one). */
export function bindGrpc(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
}
