/**
 * The agent's RPC methods, spoken by `fieldkit-agent rpc` on stdin/stdout and carried by
 * any link (SSH exec channel, serial console, local pipe). The framing lives in
 * rpcFrame.ts; this file is what the frames mean. Streaming methods answer with items
 * and then an end, under flow control.
 */
import { z } from 'zod';
import { AgentConfigSchema } from './agentConfig.ts';
import { AppErrorSchema } from './errors.ts';
import { HealthEventSchema, HealthMinuteSchema, HealthSampleSchema } from './health.ts';
import { JournalBatchSchema, JournalInfoSchema, JournalLinesBatchSchema, LossRecordSchema, PrioritySchema } from './journal.ts';

export const agentProtocolVersion = 1;

const JournalIdSchema = z.string().min(1).max(64);
const CourierIdSchema = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/);

/**
 * What an agent can do beyond protocol 1, listed in its hello. A laptop offers a feature
 * only to an agent that lists it: older agents refuse unknown request fields (strict
 * schemas), and older laptops ignore the list (it is an extra response field).
 */
export const agentCapabilities = {
  /** journal.read takes `compression: ['zstd']` and may send its items as zstd frames (rpcFrame type 3). */
  journalReadZstd: 'journal.read.zstd',
  /** journal.read takes `encoding: 'lines'` and then sends each batch as its canonical lines (JournalLinesBatchSchema). */
  journalReadLines: 'journal.read.lines',
} as const;

export type AgentMethodSpec = { request: z.ZodType; response: z.ZodType; stream?: z.ZodType };

export const agentMethods = {
  hello: {
    request: z.strictObject({ client: z.string().max(128).optional() }),
    response: z.object({
      protocol_version: z.number().int(),
      agent_version: z.string(),
      device_id: z.string(),
      journal_id: z.string(),
      site: z.string(),
      model_version: z.string(),
      hostname: z.string(),
      arch: z.string(),
      /** Device wall clock when it answered: with the round trip, gives the clock offset. */
      clock_ms: z.number().int(),
      uptime_s: z.number().nonnegative(),
      boot_id: z.string().nullable(),
      /** Absent from agents before any capability (see agentCapabilities). */
      capabilities: z.array(z.string()).optional(),
    }),
  },
  'journal.info': {
    request: z.strictObject({}),
    response: z.object({ journals: z.array(JournalInfoSchema) }),
  },
  'journal.read': {
    request: z.strictObject({
      journal_id: JournalIdSchema,
      /** Records with seq greater than this. */
      after_seq: z.number().int().nonnegative(),
      /** Stop after this many records in all (the stream ends with more=true). */
      limit: z.number().int().positive().max(10_000_000).optional(),
      batch_records: z.number().int().positive().max(50_000).default(5_000),
      batch_bytes: z.number().int().positive().max(64 * 1024 * 1024).default(4 * 1024 * 1024),
      /** Only these priorities (a courier pulls safety events first). */
      priorities: z.array(PrioritySchema).min(1).optional(),
      /**
       * Encodings the laptop can take (only to an agent whose hello lists journal.read.zstd).
       * The agent compresses an item only when the link gains by it: it weighs its own
       * compress rate against the link rate it has seen, item by item.
       */
      compression: z.array(z.enum(['zstd'])).max(4).optional(),
      /**
       * 'lines' (only to an agent whose hello lists journal.read.lines): each batch travels as
       * the canonical lines its SHA-256 is over, not as record objects. Absent: records.
       */
      encoding: z.enum(['records', 'lines']).optional(),
    }),
    stream: z.union([JournalBatchSchema, JournalLinesBatchSchema]),
    response: z.object({
      /** Highest seq sent (after_seq when nothing was). */
      through_seq: z.number().int().nonnegative(),
      records: z.number().int().nonnegative(),
      more: z.boolean(),
      /** How many of the items travelled compressed (absent from older agents). */
      compressed_items: z.number().int().nonnegative().optional(),
    }),
  },
  'custody.ack': {
    request: z.strictObject({ courier_id: CourierIdSchema, journal_id: JournalIdSchema, through_seq: z.number().int().nonnegative() }),
    response: z.object({ through_seq: z.number().int().nonnegative() }),
  },
  'forwarded.ack': {
    request: z.strictObject({ by: CourierIdSchema, journal_id: JournalIdSchema, through_seq: z.number().int().nonnegative() }),
    response: z.object({ forwarded_seq: z.number().int().nonnegative() }),
  },
  'loss.list': {
    request: z.strictObject({ journal_id: JournalIdSchema.optional(), after_seq: z.number().int().nonnegative().default(0) }),
    response: z.object({ losses: z.array(LossRecordSchema) }),
  },
  'health.get': {
    request: z.strictObject({}),
    response: HealthSampleSchema,
  },
  'health.watch': {
    request: z.strictObject({ interval_ms: z.number().int().min(100).max(60_000).default(1000) }),
    stream: HealthSampleSchema,
    response: z.object({ samples: z.number().int().nonnegative() }),
  },
  'health.history': {
    request: z.strictObject({ since_ms: z.number().int().default(0) }),
    response: z.object({ minutes: z.array(HealthMinuteSchema), events: z.array(HealthEventSchema) }),
  },
  'config.get': {
    request: z.strictObject({}),
    /** Secrets (the uplink password) come back as "***". */
    response: z.object({ config: AgentConfigSchema }),
  },
  'config.set': {
    request: z.strictObject({ config: AgentConfigSchema }),
    response: z.object({ config: AgentConfigSchema, restart_required: z.boolean() }),
  },
} as const satisfies Record<string, AgentMethodSpec>;

export type AgentMethods = typeof agentMethods;
export type AgentMethodName = keyof AgentMethods;
export type AgentRequestOf<M extends AgentMethodName> = z.input<AgentMethods[M]['request']>;
export type AgentParsedRequestOf<M extends AgentMethodName> = z.output<AgentMethods[M]['request']>;
export type AgentResponseOf<M extends AgentMethodName> = z.output<AgentMethods[M]['response']>;
export type AgentStreamItemOf<M extends AgentMethodName> = AgentMethods[M] extends { stream: infer S extends z.ZodType } ? z.output<S> : never;

/** Methods that answer with items before their response (journal.read, health.watch). */
export type AgentStreamingMethodName = { [M in AgentMethodName]: AgentMethods[M] extends { stream: z.ZodType } ? M : never }[AgentMethodName];
/** Methods that answer with one response. */
export type AgentUnaryMethodName = Exclude<AgentMethodName, AgentStreamingMethodName>;

export const agentMethodNames = Object.keys(agentMethods) as AgentMethodName[];

/** True when `name` is an agent RPC method. */
export function isAgentMethodName(name: unknown): name is AgentMethodName {
  return typeof name === 'string' && Object.hasOwn(agentMethods, name);
}

/** True when the method answers with a stream of items before its response. */
export function isStreamingMethod(name: AgentMethodName): boolean {
  return 'stream' in agentMethods[name];
}

/**
 * The messages inside RPC frames (JSON). The client sends `request`, `credit` (how many
 * more stream items it can take: flow control) and `cancel`; the agent sends `item`s,
 * then exactly one `result` per request.
 */
export const RpcMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('request'), id: z.number().int().nonnegative(), method: z.string(), params: z.unknown(), credit: z.number().int().nonnegative().default(0) }),
  z.object({ type: z.literal('credit'), id: z.number().int().nonnegative(), n: z.number().int().positive() }),
  z.object({ type: z.literal('cancel'), id: z.number().int().nonnegative() }),
  /**
   * The laptop is done: the agent finishes what is in flight and exits. A serial console
   * has no end-of-file to send, so this is how the line is handed back to the shell.
   */
  z.object({ type: z.literal('bye') }),
  z.object({
    type: z.literal('item'),
    id: z.number().int().nonnegative(),
    /** The item's place in its stream (0, 1, 2, …): a frame lost on a noisy link shows as a gap, never as silently missing data. */
    n: z.number().int().nonnegative().optional(),
    item: z.unknown(),
  }),
  z.object({
    type: z.literal('result'),
    id: z.number().int().nonnegative().nullable(),
    /** For a stream: how many items were sent before this result, so a lost last item is noticed too. */
    items: z.number().int().nonnegative().optional(),
    result: z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), value: z.unknown() }), z.object({ ok: z.literal(false), error: AppErrorSchema })]),
  }),
]);
export type RpcMessage = z.infer<typeof RpcMessageSchema>;
