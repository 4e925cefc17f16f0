export { ALL_PLUGINS, ConfigError, EXPORTER_USAGE, type ExporterConfig, parseBindAddress, parseExporterArgs } from './config.js';
export { type CacheScan, type CachedPackage, scanModelCache } from './cache.js';
export { type NodeCollectors, type RecordedFamily, detectNodeCollectors, registerFamilies } from './collectors.js';
export { type DerivedFigures, type WindowSample, counterIncrease, deriveFigures, energyBetween, pushSample } from './derived.js';
export { type Exporter, type ExporterDeps, createExporter } from './exporter.js';
export { createNodeHostContext } from './host.js';
export { fetchMetricsText, readSidecarTokens, sumSamples } from './tokens.js';
export { type ExporterIo, knownPlugins, runExporterMain } from './main.js';
