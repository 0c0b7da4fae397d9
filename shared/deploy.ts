/**
 * Deploying signed bundles (the edge agent, or a model) to devices, one at a time or as a
 * rollout in batches with a canary first. A deploy to one device is a rollout of one.
 * Every command run on a device is transcribed; every rollback carries its reason.
 */
import { z } from 'zod';
import { AgentArchSchema } from './agentBundle.ts';
import { AppErrorSchema } from './errors.ts';
import { DeviceRefSchema } from './devices.ts';

export const RolloutIdSchema = z.string().regex(/^ro_[0-9a-z]{6,40}$/, 'a rollout id looks like ro_ followed by letters and digits');

/**
 * A batch size: a count of devices, or a percentage of all devices ("20%"). Batches run in
 * order; the last size repeats until every device is done. `[1, 5, "20%"]` = a canary, then 5, then 20% at a time.
 */
export const BatchSizeSchema = z.union([
  z.number().int().min(1, 'a batch has at least one device'),
  z
    .string()
    .trim()
    .regex(/^(100|[1-9]\d?)(\.\d+)?%$/, 'a percentage such as "20%" (1–100)'),
]);
export type BatchSize = z.infer<typeof BatchSizeSchema>;

/** One command run on a device (or a step the laptop took), as the technician can audit it later. */
export const TranscriptEntrySchema = z.object({
  at: z.number().int(),
  /** The deploy step it belongs to: preflight, upload, install, switch, restart, gate, rollback… */
  step: z.string(),
  /** The command as sent (secrets never appear here), or a description of a laptop-side step. */
  command: z.string(),
  exitCode: z.number().int().nullable(),
  /** stdout+stderr, truncated to the last few KiB. */
  output: z.string(),
  durationMs: z.number().int().nonnegative(),
});
export type TranscriptEntry = z.infer<typeof TranscriptEntrySchema>;

export const HealthGateNameSchema = z.enum(['hello', 'journal-writable', 'ingest-round-trip', 'service-stable', 'inference-service']);
export type HealthGateName = z.infer<typeof HealthGateNameSchema>;

export const DeviceDeployStatusSchema = z.enum([
  'pending',
  'running',
  /** The new version is installed and passed every health gate. */
  'updated',
  /** The device already ran this version; nothing changed. */
  'unchanged',
  /** The new version failed a gate; the previous release is back and healthy. */
  'rolled-back',
  /** Preflight said no (architecture, free space, no sudo…); nothing was changed. */
  'refused',
  /** Something else went wrong (link lost, rollback itself failed); see the error. */
  'failed',
  /** Not attempted because the rollout stopped before this device's batch. */
  'skipped',
]);
export type DeviceDeployStatus = z.infer<typeof DeviceDeployStatusSchema>;

export const DeviceDeployOutcomeSchema = z.object({
  deviceId: DeviceRefSchema,
  deviceName: z.string(),
  status: DeviceDeployStatusSchema,
  batch: z.number().int().nonnegative(),
  fromVersion: z.string().nullable(),
  toVersion: z.string(),
  /** The gate that failed, when the deploy was rolled back. */
  gateFailed: HealthGateNameSchema.nullable(),
  /** Why it was refused, failed or rolled back, in words a technician can act on. */
  error: AppErrorSchema.nullable(),
  /** The unit's last journal lines at the moment a gate failed. */
  unitLog: z.array(z.string()),
  /** Bytes actually sent (content-addressed: files the device already had are not sent). */
  bytesSent: z.number().int().nonnegative(),
  startedAt: z.number().int().nullable(),
  endedAt: z.number().int().nullable(),
  transcript: z.array(TranscriptEntrySchema),
});
export type DeviceDeployOutcome = z.infer<typeof DeviceDeployOutcomeSchema>;

/** 'os-image': a signed fieldkit OS image rolled out as A/B slot updates (electron/deploy/slots). */
export const BundleKindSchema = z.enum(['agent', 'model', 'os-image']);
export type BundleKind = z.infer<typeof BundleKindSchema>;

/** What the Deploy screen and `fieldkit deploy` show about a bundle before anything is sent. */
export const BundleSummarySchema = z.object({
  path: z.string(),
  kind: BundleKindSchema,
  product: z.string(),
  version: z.string(),
  /** Agent bundles are per architecture; models are not. */
  arch: AgentArchSchema.nullable(),
  /**
   * `unread`: the path could not be read as a bundle (missing, unreadable, not a bundle), so
   * no signature was checked; `invalid`: a trusted signer's signature or files do not match.
   */
  signature: z.object({ status: z.enum(['trusted', 'untrusted', 'revoked', 'invalid', 'unread']), keyId: z.string().nullable(), signer: z.string().nullable() }),
  files: z.array(z.object({ path: z.string(), size: z.number().int().nonnegative(), sha256: z.string() })),
  totalBytes: z.number().int().nonnegative(),
  /** Why it cannot be deployed (untrusted key, bad file hash…); empty when it can. */
  problems: z.array(AppErrorSchema),
});
export type BundleSummary = z.infer<typeof BundleSummarySchema>;

export const RolloutStateSchema = z.enum(['running', 'stopped', 'completed', 'cancelled']);

export const RolloutSchema = z.object({
  id: RolloutIdSchema,
  bundlePath: z.string(),
  bundleKind: BundleKindSchema,
  version: z.string(),
  batches: z.array(BatchSizeSchema),
  maxFailurePercent: z.number().min(0).max(100),
  state: RolloutStateSchema,
  /** Why it stopped (a batch over the failure threshold, cancelled, the app closed). */
  stopReason: z.string().nullable(),
  /** The job now running it, if any. */
  jobId: z.string().nullable(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  devices: z.array(DeviceDeployOutcomeSchema),
});
export type Rollout = z.infer<typeof RolloutSchema>;

export const RolloutStartRequestSchema = z.strictObject({
  bundlePath: z.string().min(1, 'pick a signed bundle (.tar)'),
  deviceIds: z
    .array(DeviceRefSchema)
    .min(1, 'pick at least one device')
    .refine((ids) => new Set(ids).size === ids.length, 'each device may be picked once'),
  /** Absent: all devices in one batch. */
  batches: z.array(BatchSizeSchema).min(1).max(20).optional(),
  /** A batch with more failures than this (percent of its devices) stops the rollout. */
  maxFailurePercent: z.number().min(0).max(100).default(0),
  order: z.enum(['given', 'shuffle']).default('given'),
  /** How long the service must run without restarting before it counts as healthy. */
  stableSeconds: z.number().int().min(1).max(600).default(10),
});
export type RolloutStartRequest = z.output<typeof RolloutStartRequestSchema>;

/** The per-device half of a rollout job's progress: carried in the job's log/progress and in the rollout record. */
export const RolloutJobResultSchema = z.object({ rollout: RolloutSchema });
