/** Health of one Pi, sampled by its agent each second and summarised per minute. */
import { z } from 'zod';
import { DeviceSnapshotStatusSchema } from './backupStream.ts';

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

/**
 * Whether the agent *service* runs, as the sampler found it. A sample is taken by whichever
 * agent process the laptop talks to (an `rpc` started per connection), which runs whether
 * or not the daemon does: this says what the daemon is doing, so a stopped, crashed or
 * wedged daemon is never shown as healthy. Absent in samples of agents older than this field.
 */
export const AgentServiceSchema = z.object({
  /** Where `state` comes from: systemd's fieldkit-agent.service, or (no such unit: the demo, a plain process) the daemon's pid file. */
  manager: z.enum(['systemd', 'process']),
  /** `restarting`: it exited with an error and systemd starts it again shortly; `failed`: it died and nothing restarts it. */
  state: z.enum(['running', 'starting', 'restarting', 'stopping', 'stopped', 'failed', 'unknown']),
  /** The manager's own words: "active/running", "failed/failed (exit-code)", "pid 4711 is gone without a clean stop". */
  detail: z.string(),
  pid: z.number().int().positive().nullable(),
  /** The daemon's process is stopped by a signal (SIGSTOP, a debugger): alive, doing nothing. */
  process_stopped: z.boolean(),
  /** When the current (or last) daemon process started, device clock; null when unknown. */
  started_ms: z.number().int().nullable(),
  /** systemd's NRestarts (automatic restarts since the unit was last started by hand); null without systemd. */
  restarts: z.number().int().nonnegative().nullable(),
  /** Times in the last 10 minutes the daemon died (crash, kill, exit with an error) and was started again. */
  recent_crashes: z.number().int().nonnegative(),
  /** When the daemon last answered on its ingest port (GET /health), device clock; null if not since this sampler started asking. */
  answered_ms: z.number().int().nullable(),
  /** Seconds without an answer (since the last one, or since the sampler started asking); 0 while it answers. */
  silent_s: z.number().nonnegative(),
  /** When the journal last took a record (device clock); null when it holds none. */
  last_commit_ms: z.number().int().nullable(),
  /** Whether the journal file and its folder can be written (a read-only remount, wrong owner); null when unknown. */
  journal_writable: z.boolean().nullable(),
  journal_error: z.string().nullable(),
});
export type AgentService = z.infer<typeof AgentServiceSchema>;

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
  /** The agent service's state; absent from agents older than this field (judged "unknown", never "running"). */
  service: AgentServiceSchema.optional(),
  /** The daemon's own state snapshots (issue 14); absent from agents older than this field and from samples not taken by the daemon. */
  backup_snapshots: DeviceSnapshotStatusSchema.optional(),
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
