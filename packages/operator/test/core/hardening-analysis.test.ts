/**
 * Hardening item 6 (analysis): slowness shows as DEADLINE_EXCEEDED and CANCELLED in the sidecar's
 * slmops_request_failure_total; both count against a wave, client errors do not.
 */
import { describe, expect, it } from 'vitest';
import { analyze, type AnalysisSettings } from '../../src/analysis/index.js';
import { T0 } from './fixtures.js';

const settings: AnalysisSettings = { interval: '1m', maxErrorRate: 0.05, minSamples: 20 };

/** A sidecar /metrics page (names and labels from the metric catalogue) with successes and failures by code. */
function page(ok: number, failures: Record<string, number>): string {
  const l = 'model_name="stories260k",model_version="2.0.0"';
  return [
    '# TYPE slmops_request_success_total counter',
    `slmops_request_success_total{${l},finished_reason="stop"} ${ok}`,
    '# TYPE slmops_request_failure_total counter',
    ...Object.entries(failures).map(([code, n]) => `slmops_request_failure_total{${l},code="${code}"} ${n}`),
    '',
  ].join('\n');
}

describe('hardening item 6: analysis counts deadline expiries', () => {
  it.each([
    // code, failures of that code next to 90 successes, counted?
    { code: 'DEADLINE_EXCEEDED', counted: true },
    { code: 'CANCELLED', counted: true },
    { code: 'RESOURCE_EXHAUSTED', counted: true },
    { code: 'INTERNAL', counted: true },
    { code: 'UNAVAILABLE', counted: true },
    { code: 'INVALID_ARGUMENT', counted: false },
    { code: 'OUT_OF_RANGE', counted: false },
    { code: 'NOT_FOUND', counted: false },
    { code: 'UNAUTHENTICATED', counted: false },
    { code: 'PERMISSION_DENIED', counted: false },
  ])('$code counts against the wave: $counted', ({ code, counted }) => {
    const a = analyze([{ pod: 'p-0', text: page(90, { [code]: 10 }), time: T0 }], settings);
    if (counted) {
      expect(a).toMatchObject({ decision: 'fail', samples: 100, errorRate: 0.1 });
      expect(a.reason).toMatch(/error rate 0\.1 \(10 of 100 requests\) exceeds maxErrorRate 0\.05/);
    } else {
      expect(a).toMatchObject({ decision: 'pass', samples: 90, errorRate: 0 });
    }
  });

  it('sums counted failures across pods: slowness on each pod adds up, client errors on none', () => {
    const a = analyze(
      [
        { pod: 'p-0', text: page(45, { CANCELLED: 3, INVALID_ARGUMENT: 30 }), time: T0 },
        { pod: 'p-1', text: page(48, { DEADLINE_EXCEEDED: 4, UNAUTHENTICATED: 9, PERMISSION_DENIED: 1 }), time: T0 },
      ],
      settings,
    );
    expect(a).toMatchObject({ decision: 'fail', samples: 100, errorRate: 0.07, pods: 2 });
  });
});
