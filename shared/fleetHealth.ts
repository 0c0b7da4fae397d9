/**
 * Live health of many devices as the laptop shows it: the thresholds a technician can
 * edit, the alerts they raise (each with what it means and what to do), and one view per
 * device that the fleet grid tiles and the device page draw from. Samples come from each
 * agent's `health.watch` over the device's link.
 */
import { z } from 'zod';
import { DeviceRefSchema } from './devices.ts';
import { HealthEventSchema, HealthMinuteSchema, HealthSampleSchema } from './health.ts';

export const HealthThresholdsSchema = z.strictObject({
  tempWarningC: z.number().min(30).max(120).default(80),
  tempCriticalC: z.number().min(30).max(120).default(85),
  diskUsedPercent: z.number().min(1).max(100).default(90),
  /** eMMC pre_eol_info at or above this (2 = 80% of reserved blocks used). */
  emmcPreEol: z.number().int().min(1).max(3).default(2),
  nvmePercentageUsed: z.number().int().min(1).max(255).default(80),
  /** The journal backlog growing for this long raises an alert. */
  backlogGrowingMinutes: z.number().min(1).max(120).default(5),
  /** No sample for this long marks a device stale. */
  staleSeconds: z.number().min(2).max(600).default(10),
});
export type HealthThresholds = z.output<typeof HealthThresholdsSchema>;
export const defaultHealthThresholds: HealthThresholds = HealthThresholdsSchema.parse({});

export const AlertSeveritySchema = z.enum(['warning', 'critical']);
export type AlertSeverity = z.infer<typeof AlertSeveritySchema>;

export const AlertCodeSchema = z.enum([
  'temp-warning',
  'temp-critical',
  'under-voltage-now',
  'under-voltage-since-boot',
  'throttled-now',
  'throttled-since-boot',
  'disk-full',
  'emmc-wear',
  'nvme-wear',
  'nvme-critical-warning',
  'backlog-growing',
  'stale',
  'agent-stopped',
  'agent-crash-loop',
  'agent-wedged',
  'agent-service-unknown',
  'journal-not-writable',
  /** No good backup of a class within its window (the backup domain's freshness). */
  'backup-stale',
  /** The agent's own state snapshots on the device fail, or the newest is overdue. */
  'device-snapshots-failing',
  /** No passed restore drill within its window (the recovery domain's drill freshness). */
  'drill-stale',
]);
export type AlertCode = z.infer<typeof AlertCodeSchema>;

export const HealthAlertSchema = z.object({
  code: AlertCodeSchema,
  severity: AlertSeveritySchema,
  /** Short, for a tile: "86 °C — critical". */
  title: z.string(),
  /** What it means on this device, with the numbers. */
  explanation: z.string(),
  /** What the technician should do about it. */
  action: z.string(),
  /** When this alert was first raised (kept while it stays raised). */
  sinceMs: z.number().int(),
});
export type HealthAlert = z.infer<typeof HealthAlertSchema>;

export const DeviceHealthStatusSchema = z.enum(['ok', 'warning', 'critical', 'stale', 'connecting', 'unreachable']);
export type DeviceHealthStatus = z.infer<typeof DeviceHealthStatusSchema>;

export const DeviceHealthViewSchema = z.object({
  deviceId: DeviceRefSchema,
  deviceName: z.string(),
  site: z.string(),
  status: DeviceHealthStatusSchema,
  /** The latest sample, or null before the first one arrives. */
  sample: HealthSampleSchema.nullable(),
  lastSampleMs: z.number().int().nullable(),
  alerts: z.array(HealthAlertSchema),
  /** Why the link is down, while status is unreachable / connecting after a failure. */
  linkError: z.string().nullable(),
});
export type DeviceHealthView = z.infer<typeof DeviceHealthViewSchema>;

/** Health history carried home with the journal by courier pulls (per minute, plus notable events). */
export const DeviceHealthHistorySchema = z.object({
  deviceId: DeviceRefSchema,
  minutes: z.array(HealthMinuteSchema),
  events: z.array(HealthEventSchema),
  /** When the history was last pulled; null if never. */
  pulledAtMs: z.number().int().nullable(),
});
export type DeviceHealthHistory = z.infer<typeof DeviceHealthHistorySchema>;

/**
 * A change to some thresholds (the others keep their saved values). The merged result is
 * validated by HealthThresholdsSchema, and the warning temperature must stay below the
 * critical one.
 */
export const HealthThresholdsPatchSchema = z.strictObject({
  tempWarningC: z.number().optional(),
  tempCriticalC: z.number().optional(),
  diskUsedPercent: z.number().optional(),
  emmcPreEol: z.number().optional(),
  nvmePercentageUsed: z.number().optional(),
  backlogGrowingMinutes: z.number().optional(),
  staleSeconds: z.number().optional(),
  /** Back to the defaults (applied before the fields given alongside). */
  reset: z.boolean().optional(),
});
export type HealthThresholdsPatch = z.input<typeof HealthThresholdsPatchSchema>;

/** One sample as it arrived for one device, for charts that draw every second. */
export const DeviceSampleSchema = z.object({ deviceId: DeviceRefSchema, sample: HealthSampleSchema });
export type DeviceSample = z.infer<typeof DeviceSampleSchema>;
