import type * as grpc from '@grpc/grpc-js';
import type { ServingState } from '../inference/service.js';

export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

interface Watcher {
  send(): void;
  end(): void;
}

/**
 * grpc.health.v1.Health driven by the domain: every registered service (and "" for the whole server) is
 * SERVING only while the model is loaded and verified and the server is not draining.
 */
export class HealthService {
  #status: 'SERVING' | 'NOT_SERVING' = 'NOT_SERVING';
  #watchers = new Set<Watcher>();
  readonly #services: Set<string>;

  constructor(services: string[]) {
    this.#services = new Set(['', ...services]);
  }

  /** Follows the service's state: SERVING only in 'serving'. */
  follow(state: ServingState): void {
    this.set(state === 'serving' ? 'SERVING' : 'NOT_SERVING');
  }

  set(s: 'SERVING' | 'NOT_SERVING'): void {
    if (s === this.#status) return;
    this.#status = s;
    for (const w of this.#watchers) w.send();
  }

  statusOf(service: string): ServingStatus {
    return this.#services.has(service) ? this.#status : 'SERVICE_UNKNOWN';
  }

  /** Ends every Watch stream so a shutting-down server is not held open by watchers. */
  closeWatches(): void {
    for (const w of [...this.#watchers]) w.end();
  }

  handlers(codes: typeof grpc.status): grpc.UntypedServiceImplementation {
    return {
      Check: (call: grpc.ServerUnaryCall<{ service?: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const s = this.statusOf(call.request.service ?? '');
        if (s === 'SERVICE_UNKNOWN') cb({ code: codes.NOT_FOUND, details: `unknown service "${call.request.service}"` });
        else cb(null, { status: s });
      },
      Watch: (call: grpc.ServerWritableStream<{ service?: string }, unknown>) => {
        const service = call.request.service ?? '';
        let last: ServingStatus | undefined;
        const w: Watcher = {
          send: () => {
            const s = this.statusOf(service);
            if (s !== last && !call.cancelled) {
              last = s;
              call.write({ status: s });
            }
          },
          end: () => {
            this.#watchers.delete(w);
            if (!call.cancelled) call.end();
          },
        };
        const stop = () => this.#watchers.delete(w);
        call.on('cancelled', stop);
        call.on('error', stop);
        w.send();
        this.#watchers.add(w);
      },
    };
  }
}
