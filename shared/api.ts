/**
 * The app API: one contract, carried by Electron IPC, the web host's WebSocket and the
 * CLI. Every method has a zod request and response schema; every event a payload schema.
 * Carriers validate requests here and answer `Result`s, never thrown errors.
 */
import { z } from 'zod';
import { ClickHouseSettingsPatchSchema, ClickHouseSettingsViewSchema, ClickHouseTestResultSchema, BatchRowsSchema } from './clickhouseSettings.ts';
import { CourierJournalSchema, QuarantineEntrySchema, QuarantineIdSchema, ReconcileResultSchema } from './courier.ts';
import { DeviceRefSchema, DeviceSchema, LinkSpecSchema } from './devices.ts';
import { DriveSchema, type Drive } from './drives.ts';
import { JobEventSchema, JobIdSchema, JobRecordSchema, JobStateSchema } from './jobs.ts';
import { FlashSettingsSchema, KeyIdSchema, TrustedKeySchema } from './trust.ts';
import { FlashStartRequestSchema, ImageSummarySchema } from './flash.ts';
import { ProvisionRequestSchema } from './provision.ts';
import { BundleSummarySchema, RolloutIdSchema, RolloutSchema, RolloutStartRequestSchema } from './deploy.ts';
import { DeviceHealthHistorySchema, DeviceHealthViewSchema, DeviceSampleSchema, HealthThresholdsPatchSchema, HealthThresholdsSchema } from './fleetHealth.ts';
import { HealthSampleSchema } from './health.ts';
import { SlotUpdateRequestSchema } from './slots.ts';
import { badRequestFromZod, appError, type AppError, type Result } from './errors.ts';

export type MethodSpec = {
  request: z.ZodType;
  response: z.ZodType;
  /** One line for CLI help and API docs. */
  summary: string;
};

export const AppInfoSchema = z.object({
  name: z.literal('fieldkit'),
  version: z.string(),
  dataDir: z.string(),
  platform: z.string(),
  arch: z.string(),
  runtime: z.string(),
  /** Present while the demo site runs: whether it has a ClickHouse of its own, or how to get one. */
  demo: z
    .object({
      clickhouse: z.union([
        z.object({ url: z.string(), settings: z.enum(['prefilled', 'kept']) }),
        z.object({ unavailable: z.string(), hint: z.string() }),
      ]),
    })
    .optional(),
});
export type AppInfo = z.infer<typeof AppInfoSchema>;

export const methods = {
  'app.info': {
    summary: 'Version, platform and data folder of this fieldkit.',
    request: z.strictObject({}),
    response: AppInfoSchema,
  },
  'drives.list': {
    summary: 'Drives attached to this computer, each with whether it may be flashed and why not.',
    request: z.strictObject({
      /** When given, drives smaller than this are refused as TOO_SMALL. */
      imageSizeBytes: z.number().int().positive().optional(),
    }),
    response: z.object({ drives: z.array(DriveSchema) }),
  },
  'drives.readCheck': {
    summary: 'Read a whole drive once to measure its speed and find unreadable regions (a job).',
    request: z.strictObject({
      device: z.string().min(1, 'name a device such as /dev/sdb'),
      /** Stop after this many bytes (a quick check); the whole drive when absent. */
      maxBytes: z.number().int().positive().optional(),
    }),
    response: z.object({ jobId: JobIdSchema }),
  },
  'jobs.list': {
    summary: 'Jobs, newest first, including those from earlier runs of the app.',
    request: z.strictObject({
      limit: z.number().int().min(1).max(500).optional(),
      state: JobStateSchema.optional(),
    }),
    response: z.object({ jobs: z.array(JobRecordSchema) }),
  },
  'jobs.get': {
    summary: 'One job with its progress, result or error and last log lines.',
    request: z.strictObject({ jobId: JobIdSchema }),
    response: z.object({ job: JobRecordSchema }),
  },
  'jobs.cancel': {
    summary: 'Cancel a running job; it stops cleanly and leaves nothing half-done.',
    request: z.strictObject({ jobId: JobIdSchema }),
    response: z.object({ job: JobRecordSchema }),
  },
  'devices.list': {
    summary: 'Devices this laptop knows, with how to reach each and what its agent last said.',
    request: z.strictObject({}),
    response: z.object({ devices: z.array(DeviceSchema) }),
  },
  'devices.add': {
    summary: 'Register a device by its SSH address, serial port, or (demo) local agent command.',
    request: z.strictObject({ name: z.string().min(1).max(64).optional(), site: z.string().max(64).optional(), link: LinkSpecSchema }),
    response: z.object({ device: DeviceSchema }),
  },
  'devices.update': {
    summary: "Rename a device or change its site.",
    request: z.strictObject({ id: DeviceRefSchema, name: z.string().min(1).max(64).optional(), site: z.string().max(64).optional() }),
    response: z.object({ device: DeviceSchema }),
  },
  'devices.remove': {
    summary: 'Forget a device (its pulled journals stay on this laptop).',
    request: z.strictObject({ id: DeviceRefSchema }),
    response: z.object({ removed: DeviceRefSchema }),
  },
  'devices.scanHostKey': {
    summary: "Read an SSH device's host key fingerprint, to compare with the one on the Pi before trusting it.",
    request: z.strictObject({ id: DeviceRefSchema }),
    response: z.object({ fingerprint: z.string(), pinned: z.string().nullable() }),
  },
  'devices.trustHostKey': {
    summary: 'Pin the host key the technician compared; refused if the device now shows another.',
    request: z.strictObject({ id: DeviceRefSchema, fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'an OpenSSH SHA256 fingerprint') }),
    response: z.object({ device: DeviceSchema }),
  },
  'devices.forgetHostKey': {
    summary: "Unpin a device's host key (after a reinstall), so a new one can be checked and accepted.",
    request: z.strictObject({ id: DeviceRefSchema }),
    response: z.object({ device: DeviceSchema }),
  },
  'devices.connect': {
    summary: 'Connect to a device and greet its agent; a password (first contact) installs fieldkit\'s key.',
    request: z.strictObject({ id: DeviceRefSchema, password: z.string().max(256).optional() }),
    response: z.object({ device: DeviceSchema, roundTripMs: z.number().nonnegative().nullable() }),
  },
  'devices.discover': {
    summary: 'Look for devices: serial ports, mDNS (_ssh._tcp) and, when given, a probe of one subnet for SSH (a job).',
    request: z.strictObject({
      subnet: z
        .string()
        .regex(/^\d{1,3}(\.\d{1,3}){3}\/(2[2-9]|3[0-2])$/, 'an IPv4 subnet no larger than /22, such as 192.168.1.0/24')
        .optional(),
      port: z.number().int().min(1).max(65535).default(22),
      mdns: z.boolean().default(true),
      serial: z.boolean().default(true),
    }),
    response: z.object({ jobId: JobIdSchema }),
  },
  'devices.provision': {
    summary: 'Provision a fresh Pi over its serial console: hostname, identity, fieldkit\'s SSH key, sshd, network; then register it over SSH with the host key read over the cable (a job).',
    request: ProvisionRequestSchema,
    response: z.object({ jobId: JobIdSchema }),
  },
  'courier.pull': {
    summary: "Pull a device's journals to this laptop, safety events first, with custody (a job).",
    request: z.strictObject({ id: DeviceRefSchema }),
    response: z.object({ jobId: JobIdSchema }),
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
  'trust.list': {
    summary: 'Image signing keys this laptop trusts, revoked ones included (with when and why).',
    request: z.strictObject({}),
    response: z.object({ keys: z.array(TrustedKeySchema) }),
  },
  'trust.import': {
    summary: 'Trust a minisign public key (the text of its .pub file) for verifying images.',
    request: z.strictObject({
      publicKey: z.string().min(1, 'paste the text of the .pub file').max(4096),
      label: z.string().trim().min(1, 'say whose key this is').max(200),
    }),
    response: z.object({ key: TrustedKeySchema }),
  },
  'trust.revoke': {
    summary: 'Stop trusting a key for good: images it signed are refused, and it cannot be imported again.',
    request: z.strictObject({
      keyId: KeyIdSchema,
      reason: z.string().trim().min(3, 'say why this key is revoked (kept with it)').max(500),
    }),
    response: z.object({ key: TrustedKeySchema }),
  },
  'settings.flash.get': {
    summary: 'The flashing policy: whether unsigned images may be flashed (with a warning).',
    request: z.strictObject({}),
    response: z.object({ settings: FlashSettingsSchema }),
  },
  'settings.flash.set': {
    summary: 'Allow or refuse flashing unsigned images.',
    request: z.strictObject({ allowUnsigned: z.boolean() }),
    response: z.object({ settings: FlashSettingsSchema }),
  },
  'flash.browse': {
    summary: 'Folders and image files in a folder of this computer, to pick an image to flash.',
    request: z.strictObject({
      /** Absolute folder; the user's Downloads (or home) folder when absent. */
      dir: z.string().min(1).optional(),
    }),
    response: z.object({
      dir: z.string(),
      parent: z.string().nullable(),
      entries: z.array(
        z.object({ name: z.string(), path: z.string(), kind: z.enum(['dir', 'signed', 'plain']), bytes: z.number().int().nonnegative().nullable(), modifiedMs: z.number() }),
      ),
      /** Images flashed or inspected before, newest first, that still exist. */
      recent: z.array(z.string()),
    }),
  },
  'flash.inspect': {
    summary: 'What an image is before it is written: signer, version, boards, layout, sizes, and why it may not be flashed.',
    request: z.strictObject({ imagePath: z.string().min(1, 'name an image file (.fkimg, or .img/.img.xz/.img.gz/.img.zst)') }),
    response: z.object({ image: ImageSummarySchema }),
  },
  'flash.start': {
    summary: 'Flash one image to one or more drives at once, each verified and given its first-boot identity (a job).',
    request: FlashStartRequestSchema,
    response: z.object({ jobId: JobIdSchema }),
  },
  'deploy.inspect': {
    summary: 'What a signed agent or model bundle is before it is sent: signer, version, architecture, files, and why it may not be deployed.',
    request: z.strictObject({ bundlePath: z.string().min(1, 'name a signed bundle (.tar)') }),
    response: z.object({ bundle: BundleSummarySchema }),
  },
  'deploy.start': {
    summary: 'Deploy a signed bundle to devices in batches (a canary first), stopping when a batch fails too often (a job).',
    request: RolloutStartRequestSchema,
    response: z.object({ rolloutId: RolloutIdSchema, jobId: JobIdSchema }),
  },
  'deploy.list': {
    summary: 'Rollouts, newest first, with each device\'s outcome (transcripts left out; deploy.get has them).',
    request: z.strictObject({ limit: z.number().int().min(1).max(500).default(50) }),
    response: z.object({ rollouts: z.array(RolloutSchema) }),
  },
  'deploy.get': {
    summary: 'One rollout in full: every device\'s outcome, rollback reason, unit log and transcript.',
    request: z.strictObject({ rolloutId: RolloutIdSchema }),
    response: z.object({ rollout: RolloutSchema }),
  },
  'deploy.resume': {
    summary: 'Carry on a stopped rollout with the same plan: every device not yet updated is deployed again (a job).',
    request: z.strictObject({ rolloutId: RolloutIdSchema }),
    response: z.object({ jobId: JobIdSchema }),
  },
  'slots.update': {
    summary: 'OS update of one A/B Pi over SSH: write the inactive slot from a signed image, boot it on trial, commit only when healthy; or rehearse the rollback (a job).',
    request: SlotUpdateRequestSchema,
    response: z.object({ jobId: JobIdSchema }),
  },
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

/** The devices.discover job's result (it lives in devices.ts, with the job's other types). */
export { DiscoveryResultSchema } from './devices.ts';

export const events = {
  /** Sent within 2 s of a drive appearing, going, or changing (mounts, size). */
  'drives.changed': z.object({ drives: z.array(DriveSchema) }),
  /** Sent when a device is added, removed, or changes (host key, contact, errors). */
  'devices.changed': z.object({ devices: z.array(DeviceSchema) }),
  /** Every job's events, throttled so progress arrives at most 10 times a second per job. */
  'job.event': JobEventSchema,
  /**
   * Devices whose health changed (a sample, a new or cleared alert, stale, link up or
   * down), at most 4 times a second in all. `samples` holds every sample that arrived
   * since the previous event, in order: chart from these, since a view holds only the latest.
   */
  'health.changed': z.object({ views: z.array(DeviceHealthViewSchema), samples: z.array(DeviceSampleSchema) }),
} as const satisfies Record<string, z.ZodType>;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type EventName = keyof typeof events;
/** What a caller sends (defaults not yet applied). */
export type RequestOf<M extends MethodName> = z.input<Methods[M]['request']>;
/** What a handler receives (after validation). */
export type ParsedRequestOf<M extends MethodName> = z.output<Methods[M]['request']>;
export type ResponseOf<M extends MethodName> = z.output<Methods[M]['response']>;
export type EventPayloadOf<E extends EventName> = z.output<(typeof events)[E]>;

export const methodNames = Object.keys(methods) as MethodName[];
export const eventNames = Object.keys(events) as EventName[];

/** True when `name` is a method of the contract. */
export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.hasOwn(methods, name);
}

/** True when `name` is an event of the contract. */
export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.hasOwn(events, name);
}

/** Validates a request for `method`; a bad one becomes BAD_REQUEST naming the field. */
export function parseRequest(method: unknown, params: unknown): Result<{ method: MethodName; params: unknown }> {
  if (!isMethodName(method)) {
    return { ok: false, error: unknownMethod(method) };
  }
  const parsed = methods[method].request.safeParse(params ?? {});
  if (!parsed.success) {
    return { ok: false, error: badRequestFromZod(`Invalid request for ${method}`, parsed.error) };
  }
  return { ok: true, value: { method, params: parsed.data } };
}

/** The error for a method name that is not in the contract. */
export function unknownMethod(method: unknown): AppError {
  const shown = typeof method === 'string' ? `'${method}'` : `a ${typeof method}`;
  return appError(
    'METHOD_NOT_FOUND',
    `There is no API method ${shown}.`,
    `Use one of: ${methodNames.join(', ')}.`,
    'method',
  );
}

/** Messages on the web host's WebSocket. */
export const ClientMessageSchema = z.strictObject({
  id: z.number().int().nonnegative(),
  method: z.string(),
  params: z.unknown().optional(),
});
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

export type ServerMessage =
  | { type: 'result'; id: number | null; result: Result<unknown> }
  | { type: 'event'; name: EventName; payload: unknown };

/** Drives are often compared for change; this key changes whenever anything shown changes. */
export function drivesFingerprint(drives: readonly Drive[]): string {
  return JSON.stringify(drives);
}

/**
 * What Electron's preload exposes as `window.fieldkit`, and what the renderer's
 * WebSocket client implements for the web host: the same shape, so screens never know
 * which carrier they run on.
 */
export type FieldkitBridge = {
  readonly carrier: 'electron' | 'web';
  invoke<M extends MethodName>(method: M, params: RequestOf<M>): Promise<Result<ResponseOf<M>>>;
  subscribe<E extends EventName>(event: E, listener: (payload: EventPayloadOf<E>) => void): () => void;
};

/** The IPC channel names the Electron carrier uses; one for requests, one per event. */
export const ipcChannels = {
  invoke: 'fieldkit:invoke',
  event: (name: EventName) => `fieldkit:event:${name}`,
} as const;

/** Path of the web host's WebSocket; the token travels as `?token=`. */
export const webSocketPath = '/api';
