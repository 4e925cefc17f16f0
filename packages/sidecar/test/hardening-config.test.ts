/** Issue 17: the flags that bound a request and the sidecar's memory, parsed once and handed to the engine. */
import { describe, expect, it } from 'vitest';
import { parseSidecarArgs } from '../src/config.js';
import { DEFAULT_MAX_PROMPT_BYTES } from '../src/inference/limits.js';
import { createFakeEngine } from './fake-engine.js';
import { baseConfig, startHarness } from './helpers.js';

describe('hardening flags', () => {
  it('hardening item 1: --max-prompt-bytes takes a size, 256Ki by default in the service', async () => {
    expect(parseSidecarArgs(['--model', 'm', '--max-prompt-bytes', '64Ki']).maxPromptBytes).toBe(65536);
    expect(() => parseSidecarArgs(['--model', 'm', '--max-prompt-bytes', 'lots'])).toThrow(/--max-prompt-bytes: expected a size/);
    expect(DEFAULT_MAX_PROMPT_BYTES).toBe(256 * 1024);
    const h = await startHarness(baseConfig(), { createEngine: async () => createFakeEngine() });
    try {
      expect(h.sidecar.service.maxPromptBytes).toBe(DEFAULT_MAX_PROMPT_BYTES);
    } finally {
      await h.close();
    }
  });

  it('hardening item 12: --request-logging accepts none or metadata only', () => {
    expect(parseSidecarArgs(['--model', 'm', '--request-logging', 'metadata']).requestLogging).toBe('metadata');
    expect(parseSidecarArgs(['--model', 'm']).requestLogging).toBeUndefined();
    expect(() => parseSidecarArgs(['--model', 'm', '--request-logging', 'full'])).toThrow('--request-logging: expected none or metadata, got "full"');
  });

  it('hardening item 14: --kv-pool-max-bytes and --cpu-mem-arena reach the engine', async () => {
    const cfg = parseSidecarArgs(['--model', 'm', '--kv-pool-max-bytes', '8Mi', '--cpu-mem-arena', 'off']);
    expect({ kv: cfg.kvPoolMaxBytes, arena: cfg.cpuMemArena }).toEqual({ kv: 8 * 1024 * 1024, arena: false });
    expect(() => parseSidecarArgs(['--model', 'm', '--cpu-mem-arena', 'maybe'])).toThrow('--cpu-mem-arena: expected on or off, got "maybe"');
    const seen: unknown[] = [];
    const h = await startHarness(baseConfig({ kvPoolMaxBytes: cfg.kvPoolMaxBytes!, cpuMemArena: false }), {
      createEngine: async (_model, opts) => {
        seen.push(opts);
        return createFakeEngine();
      },
    });
    try {
      await h.sidecar.ready;
      expect(seen).toEqual([expect.objectContaining({ kvPoolMaxBytes: 8 * 1024 * 1024, cpuMemArena: false })]);
    } finally {
      await h.close();
    }
  });
});
