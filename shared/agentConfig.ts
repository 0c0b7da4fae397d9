/**
 * The agent's configuration file (JSON), shared so the laptop can write and check it
 * before it is installed on a Pi. Every field has a safe default except the identity.
 */
import { z } from 'zod';
import { KindSchema, PrioritySchema } from './journal.ts';

const AbsolutePathSchema = z.string().startsWith('/', 'an absolute path');
const HhMmSchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM');

export const AgentConfigSchema = z.strictObject({
  device_id: z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash, underscore'),
  site: z.string().max(128).default(''),
  data_dir: z.string().min(1).default('/var/lib/fieldkit-agent'),
  model_version: z.string().max(128).default(''),
  ingest: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(1).max(65535).default(8787),
      max_event_bytes: z.number().int().positive().default(64 * 1024),
      max_batch_events: z.number().int().positive().default(10_000),
      /** Requests waiting for a commit beyond this get 429 with Retry-After. */
      max_pending_requests: z.number().int().positive().default(64),
    })
    .prefault({}),
  mqtt: z
    .strictObject({
      url: z.string().default('mqtt://127.0.0.1:1883'),
      client_id: z.string().optional(),
      subscriptions: z.array(z.strictObject({ topic: z.string().min(1), kind: KindSchema, priority: PrioritySchema })).min(1),
    })
    .nullable()
    .default(null),
  retention: z
    .strictObject({
      budget_bytes: z.number().int().positive().default(512 * 1024 * 1024),
      max_age_days: z.number().positive().nullable().default(null),
    })
    .prefault({}),
  health: z
    .strictObject({
      proc_root: z.string().default('/proc'),
      sys_root: z.string().default('/sys'),
      /** Path of vcgencmd, or null to skip it (not every board has one). */
      vcgencmd: z.string().nullable().default('/usr/bin/vcgencmd'),
      /** Path of nvme-cli for `nvme smart-log` (read at most once a minute), or null to skip NVMe wear. */
      nvme: z.string().nullable().default('/usr/sbin/nvme'),
      interval_ms: z.number().int().min(100).default(1000),
    })
    .prefault({}),
  uplink: z
    .strictObject({
      url: z.url(),
      database: z.string().default('default'),
      table: z.string().default('telemetry'),
      loss_table: z.string().default('telemetry_loss'),
      username: z.string().default('default'),
      password: z.string().default(''),
      batch_rows: z.number().int().min(1).max(100_000).default(10_000),
      /** Cap on bytes sent per second (metered links); null for no cap. */
      max_bytes_per_s: z.number().int().positive().nullable().default(null),
      /** Local times when forwarding may run; empty means always. */
      windows: z.array(z.strictObject({ from: HhMmSchema, to: HhMmSchema })).default([]),
    })
    .nullable()
    .default(null),
  /** What `fieldkit-agent backup-stream` sends for each class, and the daemon's own state snapshots (agent/backup/README.md). */
  backup: z
    .strictObject({
      /** Files or folders under /etc (or anywhere) the technician adds to the config class. */
      extra_config_paths: z.array(AbsolutePathSchema).default([]),
      /** The user data class: files or folders (walked recursively). */
      data_paths: z.array(AbsolutePathSchema).default([]),
      /** More secrets: TLS client keys, tokens of other services the Pi runs. */
      secret_paths: z.array(AbsolutePathSchema).default([]),
      /** Where the deploy keeps models (`<prefix>/models`, its `active` link names the running version). */
      models_dir: AbsolutePathSchema.default('/opt/fieldkit-agent/models'),
      /** Where /etc is; tests point it elsewhere, as health.proc_root. */
      etc_root: AbsolutePathSchema.default('/etc'),
      /** How often the daemon snapshots its state databases (seconds). */
      snapshot_interval_seconds: z.number().int().positive().default(3600),
      /** Where the snapshots go; null: `<data_dir>/snapshots`. A USB drive's mount point works (it must be writable by the agent). */
      snapshot_folder: AbsolutePathSchema.nullable().default(null),
      /** How many snapshots to keep (the newest). */
      keep_snapshots: z.number().int().min(1).max(10_000).default(24),
    })
    .prefault({}),
});
export type AgentConfig = z.output<typeof AgentConfigSchema>;
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;
