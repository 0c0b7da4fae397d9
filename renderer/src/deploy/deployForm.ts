/**
 * The Deploy screen's form, checked in the window before anything is sent: the same rules
 * the service applies (batch sizes via BatchSizeSchema, 0–100%), worded for the field.
 */
import type { BatchSize, BundleSummary, RolloutStartRequest } from '../../../shared/deploy.ts';
import { batchCounts, parseBatchSizes } from '../../../shared/rolloutBatches.ts';

export type DeployFormValues = {
  bundle: BundleSummary | null;
  deviceIds: readonly string[];
  batchesText: string;
  maxFailureText: string;
  shuffle: boolean;
  stableText: string;
};

export type DeployFormErrors = Partial<Record<'bundle' | 'devices' | 'batches' | 'maxFailure' | 'stable', string>>;

export type CheckedForm = { ok: true; request: RolloutStartRequest } | { ok: false; errors: DeployFormErrors };

/** Empty batches text means one batch of every device picked. */
export function readBatches(text: string): { sizes: BatchSize[] | null; error: string | null } {
  if (text.trim() === '') return { sizes: null, error: null };
  const parsed = parseBatchSizes(text);
  return parsed.ok ? { sizes: parsed.value, error: null } : { sizes: null, error: `${parsed.error.message} ${parsed.error.hint}` };
}

/** "1 + 3 + 1 devices": what the batches come to for the devices picked. */
export function batchPreview(text: string, deviceCount: number): string | null {
  if (deviceCount === 0) return null;
  const { sizes, error } = readBatches(text);
  if (error !== null) return null;
  const counts = batchCounts(sizes ?? [deviceCount], deviceCount);
  const batches = `${counts.length} batch${counts.length === 1 ? '' : 'es'}`;
  return `${batches}: ${counts.join(' + ')} device${deviceCount === 1 ? '' : 's'}${counts.length > 1 ? ` (canary ${counts[0] ?? 1} first)` : ''}`;
}

export function checkDeployForm(values: DeployFormValues): CheckedForm {
  const errors: DeployFormErrors = {};
  if (values.bundle === null) errors.bundle = 'Read a bundle first: type its path and press Read.';
  else if (values.bundle.problems.length > 0) errors.bundle = 'This bundle cannot be deployed (see why above).';
  if (values.deviceIds.length === 0) errors.devices = 'Pick at least one device.';
  const batches = readBatches(values.batchesText);
  if (batches.error !== null) errors.batches = batches.error;
  const maxFailure = Number(values.maxFailureText.trim().replace(/%$/, ''));
  if (values.maxFailureText.trim() === '' || !Number.isFinite(maxFailure) || maxFailure < 0 || maxFailure > 100) {
    errors.maxFailure = 'A percentage from 0 to 100 (0: any failure stops the rollout).';
  }
  const stable = Number(values.stableText.trim());
  if (!Number.isInteger(stable) || stable < 1 || stable > 600) errors.stable = 'Whole seconds from 1 to 600.';
  if (Object.keys(errors).length > 0 || values.bundle === null) return { ok: false, errors };
  return {
    ok: true,
    request: {
      bundlePath: values.bundle.path,
      deviceIds: [...values.deviceIds],
      ...(batches.sizes === null ? {} : { batches: batches.sizes }),
      maxFailurePercent: maxFailure,
      order: values.shuffle ? 'shuffle' : 'given',
      stableSeconds: stable,
    },
  };
}
