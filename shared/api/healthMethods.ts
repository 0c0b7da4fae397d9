/** Live health of the fleet, its history, and the alert thresholds. */
import { z } from 'zod';
import { DeviceRefSchema } from '../devices.ts';
import { DeviceHealthHistorySchema, DeviceHealthViewSchema, HealthThresholdsPatchSchema, HealthThresholdsSchema } from '../fleetHealth.ts';
import { HealthSampleSchema } from '../health.ts';
import type { MethodSpec } from './methodSpec.ts';

export const healthMethods = {
  'health.watch': {
    summary: 'Keep live health coming for these devices (all when absent) for leaseSeconds; renew every few seconds while a screen shows it.',
    request: z.strictObject({
      deviceIds: z.array(DeviceRefSchema).max(1000).optional(),
      /** The lease ends this long after the call unless renewed; links close ~30 s after the last lease ends. */
      leaseSeconds: z.number().int().min(1).max(300).default(15),
    }),
    response: z.object({
      /** Every device watched now (the union of live leases), not only those asked for. */
      watching: z.array(DeviceRefSchema),
      leaseUntilMs: z.number().int(),
    }),
  },
  'health.fleet': {
    summary: 'The health of every device: status, latest sample, alerts with what to do, worst first.',
    request: z.strictObject({}),
    response: z.object({ views: z.array(DeviceHealthViewSchema) }),
  },
  'health.device': {
    summary: "One device's health and its samples of the last 15 minutes (to fill charts before live samples arrive).",
    request: z.strictObject({ deviceId: DeviceRefSchema }),
    response: z.object({ view: DeviceHealthViewSchema, recent: z.array(HealthSampleSchema) }),
  },
  'health.history': {
    summary: "A device's health history carried home by courier pulls: per-minute figures and notable events.",
    request: z.strictObject({
      deviceId: DeviceRefSchema,
      /** Only minutes and events from this time on (device clock); all that was pulled when absent. */
      sinceMs: z.number().int().optional(),
    }),
    response: DeviceHealthHistorySchema,
  },
  'settings.health.get': {
    summary: 'Health alert thresholds: temperatures, disk, storage wear, backlog growth, staleness.',
    request: z.strictObject({}),
    response: z.object({ thresholds: HealthThresholdsSchema }),
  },
  'settings.health.set': {
    summary: 'Change health alert thresholds (the others keep their values; reset returns to the defaults).',
    request: HealthThresholdsPatchSchema,
    response: z.object({ thresholds: HealthThresholdsSchema }),
  },
} as const satisfies Record<string, MethodSpec>;
