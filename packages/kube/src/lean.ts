/**
 * `@slmops/kube/lean`: start-up and exit help for short-lived processes that use the Kubernetes client (the
 * `kubectl slm` plugin; bench/cli-startup.ts measures it). Importing this module loads nothing of
 * @kubernetes/client-node. Both functions act on the whole process, so they belong in a binary's entry point,
 * never in a library.
 */
import { register } from 'node:module';
import { setFlagsFromString } from 'node:v8';

/**
 * Makes later imports of @slmops/kube load client-node's KubeConfig without its generated API classes and models
 * (about 2,700 modules; most of a second of start-up), by installing the module hooks of lean-hooks.ts. Nothing
 * else changes: KubeConfig keeps every auth path (client certificates, tokens, exec credential plugins, auth
 * providers, proxies), and `makeApiClient` still works, loading the generated client when its caller imports it.
 *
 * Call it once, before anything imports @slmops/kube or @kubernetes/client-node: modules loaded earlier keep
 * what they loaded.
 */
export function registerLeanClientNode(): void {
  register('./lean-hooks.js', import.meta.url);
}

/**
 * Keeps WebAssembly on V8's baseline compiler (Liftoff) from now on. client-node's undici parses HTTP with a
 * WebAssembly build of llhttp; V8 recompiles its hot functions optimized on background threads, and Node waits
 * for those compiles before the process exits: about 200 ms after a one-request command is done, on a 2-core
 * machine. The baseline code parses a command's few responses just as well. Call it before the first request.
 */
export function skipWasmTierUp(): void {
  setFlagsFromString('--liftoff-only');
}
