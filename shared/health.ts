/** Health of one Pi, sampled by its agent each second and summarised per minute. */
import { z } from 'zod';

/** `vcgencmd get_throttled` decoded: bits 0-3 now, bits 16-19 since boot. */
export const ThrottleFlagsSchema = z.object({
  under_voltage: z.boolean(),
  arm_freq_capped: z.boolean(),
  throttled: z.boolean(),
  soft_temp_limit: z.boolean(),
});
export type ThrottleFlags = z.infer<typeof ThrottleFlagsSchema>;

export const ThrottlingSchema = z.object({
  raw: z.number().int().nonnegative(),
  now: ThrottleFlagsSchema,
  since_boot: ThrottleFlagsSchema,
});
export type Throttling = z.infer<typeof ThrottlingSchema>;

export const DiskUsageSchema = z.object({
  path: z.string(),
  total_bytes: z.number().nonnegative(),
  free_bytes: z.number().nonnegative(),
});

export const EmmcHealthSchema = z.object({
  device: z.string(),
  /** JEDEC DEVICE_LIFE_TIME_EST_TYP_A/B: 1 = 0-10% used … 11 = exceeded. */
  life_time_a: z.number().int().nullable(),
  life_time_b: z.number().int().nullable(),
  /** 1 normal, 2 warning (80% of reserved blocks used), 3 urgent. */
  pre_eol_info: z.number().int().nullable(),
});

export const NvmeHealthSchema = z.object({
  device: z.string(),
  critical_warning: z.number().int().nonnegative(),
  percentage_used: z.number().int().nonnegative(),
  temperature_c: z.number().nullable(),
  media_errors: z.number().nonnegative(),
});

export const HealthSampleSchema = z.object({
  at_ms: z.number().int(),
  device_id: z.string(),
  uptime_s: z.number().nonnegative(),
  cpu_pct: z.number().min(0).max(100).nullable(),
  load: z.tuple([z.number(), z.number(), z.number()]),
  mem_total_bytes: z.number().nonnegative(),
  mem_available_bytes: z.number().nonnegative(),
  disks: z.array(DiskUsageSchema),
  temp_c: z.number().nullable(),
  throttling: ThrottlingSchema.nullable(),
  /** hwmon rpi_volt in0_lcrit_alarm: under-voltage seen by the PMIC. */
  volt_alarm: z.boolean().nullable(),
  emmc: EmmcHealthSchema.nullable(),
  nvme: NvmeHealthSchema.nullable(),
  journal: z.object({
    records: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
    /** Records not yet confirmed forwarded to ClickHouse. */
    backlog_records: z.number().int().nonnegative(),
    ingest_per_s: z.number().nonnegative(),
  }),
  uplink: z.object({
    state: z.enum(['off', 'idle', 'forwarding', 'backoff', 'outside_window']),
    last_forward_ms: z.number().int().nullable(),
    last_error: z.string().nullable(),
  }),
  agent_version: z.string(),
  model_version: z.string().nullable(),
  inference: z
    .object({ count: z.number().int().nonnegative(), p50_ms: z.number().nonnegative(), p95_ms: z.number().nonnegative() })
    .nullable(),
});
export type HealthSample = z.infer<typeof HealthSampleSchema>;

/** One minute of history: kept compact on the device for later pulls. */
export const HealthMinuteSchema = z.object({
  minute_ms: z.number().int(),
  cpu_pct_avg: z.number().nullable(),
  temp_c_max: z.number().nullable(),
  mem_available_min_bytes: z.number().nullable(),
  disk_free_min_bytes: z.number().nullable(),
  throttled_raw_or: z.number().int().nonnegative().nullable(),
  backlog_records_max: z.number().int().nonnegative(),
  inference_p95_ms: z.number().nullable(),
});
export type HealthMinute = z.infer<typeof HealthMinuteSchema>;

/** Notable moments worth a line in a timeline ("under-voltage occurred at 02:14"). */
export const HealthEventSchema = z.object({
  at_ms: z.number().int(),
  kind: z.enum(['under_voltage', 'throttled', 'freq_capped', 'soft_temp_limit', 'temp_high', 'disk_low', 'emmc_wear', 'nvme_warning', 'agent_start']),
  detail: z.string(),
});
export type HealthEvent = z.infer<typeof HealthEventSchema>;
