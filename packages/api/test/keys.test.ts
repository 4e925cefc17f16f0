/** labelValue: the one definition of the `slmops.io/deployment` label value the operator writes and selectors use. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Labels, deploymentSelector, labelValue } from '../src/index.js';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describe('labelValue', () => {
  it('keeps names that are already valid label values', () => {
    expect(labelValue('stories-cpu')).toBe('stories-cpu');
    expect(labelValue('a'.repeat(63))).toBe('a'.repeat(63));
    expect(deploymentSelector('stories-cpu')).toBe(`${Labels.deployment}=stories-cpu`);
  });

  it('cuts a 70-character name to 54 characters plus an 8-hex hash of the whole name', () => {
    const name = `edge-${'x'.repeat(60)}-tail`;
    expect(name).toHaveLength(70);
    const v = labelValue(name);
    expect(v).toHaveLength(63);
    expect(v).toMatch(LABEL_VALUE);
    // The hash the operator has always written (stableHash of the JSON string), so live pods keep matching.
    expect(v).toBe(`${name.slice(0, 54)}-${createHash('sha256').update(JSON.stringify(name)).digest('hex').slice(0, 8)}`);
    expect(labelValue(`${name.slice(0, 69)}y`)).not.toBe(v);
    expect(deploymentSelector(name)).toBe(`${Labels.deployment}=${v}`);
  });

  it('turns invalid characters into dashes and trims non-alphanumeric ends', () => {
    expect(labelValue('-a/b-')).toMatch(/^a-b-[0-9a-f]{8}$/);
    expect(labelValue('///')).toMatch(/^[0-9a-f]{8}$/);
  });
});
