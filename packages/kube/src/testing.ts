/** `@slmops/kube/fake`: the in-memory client alone, without loading @kubernetes/client-node. */
export * from './port.js';
export * from './fake.js';
export { systemClock, type Clock } from './clock.js';
