export * from './port.js';
export { createKubeClient, resourcePath, parseRetryAfter, statusError, type KubeClientOptions, type RequestVerb } from './client.js';
export { loadKubeConfig, loadKubeConfigWithSource, type LoadKubeConfigOptions, type LoadedKubeConfig } from './config.js';
export { createInformer, type InformerOptions } from './informer.js';
export { createLeaderElector, type LeaderElectorOptions } from './leader.js';
export { eventObject } from './events.js';
export { systemClock, type Clock } from './clock.js';
export * from './fake.js';
