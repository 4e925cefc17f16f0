import { describe, expect, it } from 'vitest';
import { PREFILL_TOKEN_BUDGET, prefillGroupSize } from '../src/scheduler.js';

describe('prefillGroupSize', () => {
  it('groups queued prompts of similar length up to the free slots', () => {
    expect(prefillGroupSize([9, 9, 9, 9, 9], 4, 'left')).toBe(4);
    expect(prefillGroupSize([9, 9, 9], 8, 'left')).toBe(3);
    expect(prefillGroupSize([4, 2, 7, 2], 4, 'left')).toBe(4);
  });

  it('stops before padding would exceed half of the pass', () => {
    // 2 x 40 = 80 padded positions for 45 real ones: fine; a third short prompt makes 120 for 50: too much padding.
    expect(prefillGroupSize([40, 5, 5], 8, 'left')).toBe(2);
    // Three short prompts, then a long one that would pad them to 4 x 100 positions for 115 real ones.
    expect(prefillGroupSize([5, 5, 5, 100], 8, 'left')).toBe(3);
  });

  it('keeps a pass within the token budget, but always admits the head of the queue', () => {
    expect(prefillGroupSize([300, 300], 8, 'left')).toBe(1);
    expect(prefillGroupSize([PREFILL_TOKEN_BUDGET * 2], 8, 'left')).toBe(1);
    expect(prefillGroupSize(Array(64).fill(16), 64, 'left')).toBe(PREFILL_TOKEN_BUDGET / 16);
  });

  it('prefills one at a time for models that derive positions from the mask, and none from an empty queue', () => {
    expect(prefillGroupSize([9, 9, 9], 4, 'right')).toBe(1);
    expect(prefillGroupSize([], 4, 'left')).toBe(0);
  });
});
