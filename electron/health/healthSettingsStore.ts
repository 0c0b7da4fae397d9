/**
 * Health alert thresholds, kept in the store's meta table. A change is a patch over what
 * is saved, checked whole (bounds, and warning below critical).
 */
import { appError, badRequestFromZod, FieldkitError } from '../../shared/errors.ts';
import { defaultHealthThresholds, HealthThresholdsSchema, type HealthThresholds, type HealthThresholdsPatch } from '../../shared/fleetHealth.ts';
import { readMetaValue, writeMetaValue } from '../kernel/store/metaValues.ts';
import type { Store } from '../kernel/store/openStore.ts';

const META_KEY = 'settings.health';

/** The saved thresholds, or the defaults when none were saved (or the saved ones no longer parse). */
export function loadHealthThresholds(db: Store): HealthThresholds {
  const saved = readMetaValue(db, META_KEY);
  if (saved === null) return defaultHealthThresholds;
  const parsed = HealthThresholdsSchema.safeParse(JSON.parse(saved));
  return parsed.success ? parsed.data : defaultHealthThresholds;
}

export function saveHealthThresholds(db: Store, thresholds: HealthThresholds): void {
  writeMetaValue(db, META_KEY, JSON.stringify(thresholds));
}

/** `current` with `patch` applied, validated as a whole; throws BAD_REQUEST naming the field. */
export function applyHealthThresholdsPatch(current: HealthThresholds, patch: HealthThresholdsPatch): HealthThresholds {
  const { reset, ...fields } = patch;
  const base = reset === true ? defaultHealthThresholds : current;
  const given: Record<string, number> = fields;
  const parsed = HealthThresholdsSchema.safeParse({ ...base, ...given });
  if (!parsed.success) throw new FieldkitError(badRequestFromZod('Invalid health thresholds', parsed.error));
  const next = parsed.data;
  if (next.tempWarningC >= next.tempCriticalC) {
    throw new FieldkitError(
      appError(
        'BAD_REQUEST',
        `The warning temperature (${String(next.tempWarningC)} °C) must be below the critical one (${String(next.tempCriticalC)} °C).`,
        'Lower the warning temperature or raise the critical one.',
        'tempWarningC' in given ? 'tempWarningC' : 'tempCriticalC',
      ),
    );
  }
  return next;
}
