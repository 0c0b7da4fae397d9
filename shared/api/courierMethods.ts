/** The courier: pulling journals, forwarding to ClickHouse (and where to), reconcile, quarantine. */
import { z } from 'zod';
import { ClickHouseSettingsPatchSchema, ClickHouseSettingsViewSchema, ClickHouseTestResultSchema, BatchRowsSchema } from '../clickhouseSettings.ts';
import { CourierJournalSchema, ForwardResultSchema, PullResultSchema, QuarantineEntrySchema, QuarantineIdSchema, ReconcileResultSchema } from '../courier.ts';
import { DeviceRefSchema } from '../devices.ts';
import { JobIdSchema, type JobKindContract } from '../jobId.ts';
import { SiteVisitResultSchema, VisitRequestSchema } from '../siteVisit.ts';
import type { MethodSpec } from './methodSpec.ts';

export const courierMethods = {
  'courier.pull': {
    summary: "Pull a device's journals to this laptop, safety events first, with custody (a job).",
    request: z.strictObject({ id: DeviceRefSchema }),
    response: z.object({ jobId: JobIdSchema }),
  },
  'courier.visit': {
    summary: 'Pull every device of a site (or some, or all) in one job, a few at a time: safety events of every device first, failures retried then reported.',
    request: VisitRequestSchema,
    response: z.object({ jobId: JobIdSchema, devices: z.number().int().positive() }),
  },
  'courier.status': {
    summary: 'What this laptop holds per device and journal: records, pending forward, watermarks, losses.',
    request: z.strictObject({}),
    response: z.object({ journals: z.array(CourierJournalSchema) }),
  },
  'courier.forward': {
    summary: 'Forward what this laptop holds to ClickHouse, exactly once, in compressed batches (a job).',
    request: z.strictObject({
      /** Rows per insert for this run; the saved setting when absent. */
      batchRows: BatchRowsSchema.optional(),
      /** How long to keep retrying while ClickHouse is unreachable before the job gives up (it resumes next time). */
      retryForSeconds: z.number().int().min(0).max(3600).default(60),
    }),
    response: z.object({ jobId: JobIdSchema }),
  },
  'courier.reconcile': {
    summary: 'Compare ClickHouse with what each device journaled: counts, missing ranges and why, duplicates awaiting merge.',
    request: z.strictObject({
      /** Only this device (its agent device id); every journal this laptop knows when absent. */
      deviceId: z.string().min(1).max(128).optional(),
      /** Missing ranges listed per journal (the total is always counted). */
      maxRanges: z.number().int().min(1).max(10_000).default(100),
    }),
    response: ReconcileResultSchema,
  },
  'courier.quarantine.list': {
    summary: 'Rows ClickHouse refused, set aside with the server\'s reason (discarded ones too when asked).',
    request: z.strictObject({
      includeDiscarded: z.boolean().default(false),
      limit: z.number().int().min(1).max(10_000).default(500),
    }),
    response: z.object({ entries: z.array(QuarantineEntrySchema), quarantined: z.number().int().nonnegative(), discarded: z.number().int().nonnegative() }),
  },
  'courier.quarantine.retry': {
    summary: 'Put quarantined rows back in the forward queue (all when no ids are given) and start a forward.',
    request: z.strictObject({ ids: z.array(QuarantineIdSchema).min(1).max(10_000).optional() }),
    response: z.object({ requeued: z.number().int().nonnegative(), jobId: JobIdSchema.nullable() }),
  },
  'courier.quarantine.discard': {
    summary: 'Give up on quarantined rows for good; the reason is recorded and reconcile shows them as discarded.',
    request: z.strictObject({
      ids: z.array(QuarantineIdSchema).min(1).max(10_000),
      reason: z.string().trim().min(3, 'say why these rows are discarded (kept with them)').max(500),
    }),
    response: z.object({ discarded: z.number().int().nonnegative() }),
  },
  'settings.clickhouse.get': {
    summary: 'Where the courier forwards to (the password is never shown; only whether one is set).',
    request: z.strictObject({}),
    response: z.object({ settings: ClickHouseSettingsViewSchema.nullable() }),
  },
  'settings.clickhouse.set': {
    summary: 'Change the ClickHouse connection: URL, user, password, database, table, cluster, TLS and batch size.',
    request: ClickHouseSettingsPatchSchema,
    response: z.object({ settings: ClickHouseSettingsViewSchema }),
  },
  'settings.clickhouse.test': {
    summary:
      'Connect to ClickHouse, ask its version and whether it takes deduplication tokens: with the saved settings, or with the changes given (password included) laid over them — nothing is saved.',
    request: ClickHouseSettingsPatchSchema,
    response: ClickHouseTestResultSchema,
  },
} as const satisfies Record<string, MethodSpec>;

/** The courier's job kinds and what each returns. */
export const courierJobs = {
  'courier.pull': { result: PullResultSchema },
  'courier.forward': { result: ForwardResultSchema },
  'courier.visit': { result: SiteVisitResultSchema },
} as const satisfies Record<string, JobKindContract>;
