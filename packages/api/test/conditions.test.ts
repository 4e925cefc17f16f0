import { describe, expect, it } from 'vitest';
import { ConditionType, findCondition, isConditionTrue, Reason, setCondition } from '../src/index.js';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const t1 = new Date('2026-01-01T00:05:00.000Z');

describe('setCondition', () => {
  it('adds a condition with observedGeneration and a second-precision timestamp', () => {
    const out = setCondition(undefined, { type: ConditionType.Ready, status: 'False', reason: Reason.Reconciling, message: 'starting' }, 3, t0);
    expect(out).toEqual([
      { type: 'Ready', status: 'False', observedGeneration: 3, lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'Reconciling', message: 'starting' },
    ]);
  });

  it('keeps lastTransitionTime while the status is unchanged, but updates reason, message and generation', () => {
    const first = setCondition([], { type: 'Ready', status: 'False', reason: 'Reconciling', message: 'a' }, 1, t0);
    const second = setCondition(first, { type: 'Ready', status: 'False', reason: 'WaveInProgress', message: 'b' }, 2, t1);
    expect(second[0]).toMatchObject({ lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'WaveInProgress', message: 'b', observedGeneration: 2 });
  });

  it('moves lastTransitionTime when the status changes', () => {
    const first = setCondition([], { type: 'Ready', status: 'False', reason: 'Reconciling', message: '' }, 1, t0);
    const second = setCondition(first, { type: 'Ready', status: 'True', reason: 'AllReplicasReady', message: '' }, 1, t1);
    expect(second[0]!.lastTransitionTime).toBe('2026-01-01T00:05:00Z');
  });

  it('leaves other conditions and their order alone and does not mutate the input', () => {
    const base = setCondition(
      setCondition([], { type: 'Ready', status: 'True', reason: 'AllReplicasReady', message: '' }, 1, t0),
      { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '' },
      1,
      t0,
    );
    const frozen = structuredClone(base);
    const out = setCondition(base, { type: 'Degraded', status: 'True', reason: 'AnalysisFailed', message: 'x' }, 2, t1);
    expect(base).toEqual(frozen);
    expect(out.map((c) => c.type)).toEqual(['Ready', 'Degraded']);
    expect(out[0]).toEqual(base[0]);
    expect(findCondition(out, 'Degraded')!.status).toBe('True');
  });

  it('isConditionTrue checks the generation when asked', () => {
    const out = setCondition([], { type: 'Ready', status: 'True', reason: 'AllReplicasReady', message: '' }, 4, t0);
    expect(isConditionTrue(out, 'Ready')).toBe(true);
    expect(isConditionTrue(out, 'Ready', 4)).toBe(true);
    expect(isConditionTrue(out, 'Ready', 5)).toBe(false);
    expect(isConditionTrue(out, 'Progressing')).toBe(false);
  });
});
