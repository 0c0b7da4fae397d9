/**
 * The app API: one contract, carried by Electron IPC, the web host's WebSocket and the
 * CLI. Every method has a zod request and response schema; every event a payload schema.
 * Carriers validate requests here and answer `Result`s, never thrown errors. The methods are
 * declared per domain in shared/api/ and composed here into the one map.
 */
import { z } from 'zod';
import { appMethods } from './api/appMethods.ts';
import { backupMethods } from './api/backupMethods.ts';
import { courierMethods } from './api/courierMethods.ts';
import { deployMethods } from './api/deployMethods.ts';
import { devicesMethods } from './api/devicesMethods.ts';
import { drivesMethods } from './api/drivesMethods.ts';
import { flashMethods } from './api/flashMethods.ts';
import { healthMethods } from './api/healthMethods.ts';
import { jobsMethods } from './api/jobsMethods.ts';
import { recoveryMethods } from './api/recoveryMethods.ts';
import type { MethodSpec } from './api/methodSpec.ts';
import { DeviceHealthViewSchema, DeviceSampleSchema } from './fleetHealth.ts';
import { DeviceSchema } from './devices.ts';
import { DriveSchema, type Drive } from './drives.ts';
import { JobEventSchema } from './jobs.ts';
import { badRequestFromZod, appError, type AppError, type Result } from './errors.ts';

export type { MethodSpec } from './api/methodSpec.ts';
export { AppInfoSchema, type AppInfo } from './api/appMethods.ts';

/** Every method, in the order help and errors list them. */
export const methods = {
  ...appMethods,
  ...drivesMethods,
  ...jobsMethods,
  ...devicesMethods,
  ...courierMethods,
  ...flashMethods,
  ...deployMethods,
  ...healthMethods,
  ...backupMethods,
  ...recoveryMethods,
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
