import { describe, expect, it } from 'vitest';
import { ConfigError, SIDECAR_FLAGS, SIDECAR_USAGE, parseSidecarArgs } from '../src/config.js';

describe('sidecar durations', () => {
  const parse = (...flags: string[]) => parseSidecarArgs(['--model', 'm', ...flags], {});

  it('--stream-interval: 5 ms unless given; 0 sends every step', () => {
    expect(parse().streamIntervalMs).toBe(5);
    expect(parse('--stream-interval', '0').streamIntervalMs).toBe(0);
    expect(parse('--stream-interval', '2.5ms').streamIntervalMs).toBe(3);
    expect(parse('--stream-interval', '1s').streamIntervalMs).toBe(1000);
  });

  it('names the flag whose duration is malformed', () => {
    expect(() => parse('--stream-interval', 'soon')).toThrow(ConfigError);
    expect(() => parse('--stream-interval=-1ms')).toThrow('--stream-interval: expected a duration like 30s, 500ms or 2m, got "-1ms"');
    expect(() => parse('--grace-period', '5 minutes')).toThrow('--grace-period: expected a duration');
    expect(parse('--grace-period', '2m').graceMs).toBe(120_000);
  });
});

describe('sidecar usage', () => {
  it('names every flag the parser accepts, and no other (slmops serve --help prints it)', () => {
    const named = [...SIDECAR_USAGE.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]);
    expect(new Set(named)).toEqual(new Set(Object.keys(SIDECAR_FLAGS)));
  });
});
