/** Choosing the model variant a node class serves. */
import type { Precision } from '@slmops/api';

export interface PrecisionChoice {
  precision: Precision;
  /** Why, in one sentence, for status and logs. */
  reason: string;
}

/**
 * Pure. `spec.model.precisions` is the set of acceptable variants (best first); among them the plugin's
 * preference order decides, the user's order breaks ties between variants the plugin does not rank, and an
 * override of the node class wins outright. Throws when specPrecisions is empty.
 */
export function selectPrecision(
  specPrecisions: readonly Precision[],
  pluginPrecisions: readonly Precision[],
  override?: Precision,
): PrecisionChoice {
  if (override !== undefined) {
    const listed = specPrecisions.includes(override);
    return {
      precision: override,
      reason: listed
        ? `override: hardware.overrides sets ${override}`
        : `override: hardware.overrides sets ${override}, which spec.model.precisions [${specPrecisions.join(', ')}] does not list`,
    };
  }
  if (specPrecisions.length === 0) throw new Error('spec.model.precisions is empty: list at least one acceptable precision');
  const preferred = pluginPrecisions.find((p) => specPrecisions.includes(p));
  if (preferred !== undefined) {
    return { precision: preferred, reason: `plugin preference [${pluginPrecisions.join(', ')}] within spec.model.precisions` };
  }
  const first = specPrecisions[0]!;
  return {
    precision: first,
    reason: `none of the plugin's precisions [${pluginPrecisions.join(', ')}] is acceptable; using the first of spec.model.precisions`,
  };
}
