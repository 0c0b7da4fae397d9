/**
 * The health thresholds form: text fields checked with the contract's own schema
 * (`HealthThresholdsSchema`), so the window refuses exactly what the service would,
 * plus the one rule across fields: warning below critical.
 */
import { HealthThresholdsSchema, type HealthThresholds } from '../../../shared/fleetHealth.ts';

export type ThresholdField = keyof HealthThresholds;
export type ThresholdsForm = Record<ThresholdField, string>;

export type ThresholdFieldSpec = { field: ThresholdField; label: string; unit: string; description: string };

export const thresholdFields: readonly ThresholdFieldSpec[] = [
  { field: 'tempWarningC', label: 'Temperature warning', unit: '°C', description: 'The SoC at or above this raises a warning (the Pi starts soft-throttling at 80 °C).' },
  { field: 'tempCriticalC', label: 'Temperature critical', unit: '°C', description: 'At or above this the tile turns red (the firmware throttles hard at 85 °C).' },
  { field: 'diskUsedPercent', label: 'Disk used', unit: '%', description: 'A disk this full raises a warning: the journal needs room.' },
  { field: 'emmcPreEol', label: 'eMMC pre-EOL', unit: '1–3', description: 'pre_eol_info at or above this: 2 means 80% of the reserved blocks are used.' },
  { field: 'nvmePercentageUsed', label: 'NVMe wear', unit: '% used', description: "The drive's own estimate of its life used (smart-log percentage_used)." },
  { field: 'backlogGrowingMinutes', label: 'Backlog growing for', unit: 'min', description: 'The journal backlog growing this long raises a warning: forwarding is not keeping up.' },
  { field: 'staleSeconds', label: 'Stale after', unit: 's', description: 'No sample for this long marks a device stale.' },
];

export function formFromThresholds(thresholds: HealthThresholds): ThresholdsForm {
  const form = {} as ThresholdsForm;
  for (const { field } of thresholdFields) form[field] = String(thresholds[field]);
  return form;
}

export type ParsedThresholds = { ok: true; thresholds: HealthThresholds } | { ok: false; errors: Partial<Record<ThresholdField, string>> };

/** The form as thresholds, or what is wrong with each field, worded for the technician. */
export function parseThresholdsForm(form: ThresholdsForm): ParsedThresholds {
  const errors: Partial<Record<ThresholdField, string>> = {};
  const numbers: Partial<Record<ThresholdField, number>> = {};
  for (const { field } of thresholdFields) {
    const text = form[field].trim().replace(',', '.');
    const value = text === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(value)) errors[field] = 'Enter a number.';
    else numbers[field] = value;
  }
  const parsed = HealthThresholdsSchema.safeParse(numbers);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = thresholdFields.find((spec) => spec.field === issue.path[0])?.field;
      if (field !== undefined && errors[field] === undefined) errors[field] = issueText(issue);
    }
  }
  if (parsed.success && parsed.data.tempWarningC >= parsed.data.tempCriticalC) {
    errors.tempCriticalC = `Must be above the warning temperature (${parsed.data.tempWarningC} °C).`;
  }
  if (Object.keys(errors).length > 0 || !parsed.success) return { ok: false, errors };
  return { ok: true, thresholds: parsed.data };
}

type Issue = { code: string; minimum?: unknown; maximum?: unknown; expected?: unknown };

function issueText(issue: Issue): string {
  if (issue.code === 'too_small') return `Must be at least ${String(issue.minimum)}.`;
  if (issue.code === 'too_big') return `Must be at most ${String(issue.maximum)}.`;
  if (issue.code === 'invalid_type' && issue.expected === 'int') return 'Must be a whole number.';
  return 'Not a valid value.';
}

/** True when the form differs from what is saved. */
export function isThresholdsDirty(form: ThresholdsForm, saved: HealthThresholds | null): boolean {
  if (saved === null) return false;
  return thresholdFields.some(({ field }) => Number(form[field].trim().replace(',', '.')) !== saved[field]);
}
