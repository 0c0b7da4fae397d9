/**
 * What an MQTT message means to the journal: the topic names the kind and priority (from
 * config.mqtt.subscriptions), the body is JSON: either an envelope
 * {payload, ts_ms?, model_version?} or any other JSON value, taken whole as the payload.
 */
import type { IngestEvent, Priority } from '../../shared/journal.ts';
import { IngestEventSchema } from '../../shared/journal.ts';
import { fieldPath } from '../../shared/errors.ts';
import { maxJsonNesting, nestingRefusal, nestsDeeperThan } from './jsonDepth.ts';

export type MqttSubscription = { topic: string; kind: string; priority: Priority };

/** MQTT topic filter matching: `+` one level, `#` the rest (and the parent); `$` topics only match literally at the first level. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The first subscription whose filter matches `topic`. */
export function subscriptionFor(subscriptions: readonly MqttSubscription[], topic: string): MqttSubscription | undefined {
  return subscriptions.find((s) => topicMatches(s.topic, topic));
}

const envelopeKeys = new Set(['payload', 'ts_ms', 'model_version']);

function isEnvelope(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.includes('payload') && keys.every((k) => envelopeKeys.has(k));
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export type MessageOutcome = { ok: true; event: IngestEvent } | { ok: false; reason: 'invalid_json' | 'invalid_event' | 'too_large'; message: string };

/** Turns one message body into an event, or says why it cannot be one. */
export function messageToEvent(body: Uint8Array, subscription: MqttSubscription, maxEventBytes: number): MessageOutcome {
  if (body.byteLength > maxEventBytes) return { ok: false, reason: 'too_large', message: `${body.byteLength} bytes, over the limit of ${maxEventBytes}` };
  if (nestsDeeperThan(body, maxJsonNesting)) return { ok: false, reason: 'invalid_event', message: nestingRefusal() };
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(body));
  } catch (error) {
    return { ok: false, reason: 'invalid_json', message: `not valid JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  const candidate = isEnvelope(value) ? { ...value, kind: subscription.kind, priority: subscription.priority } : { payload: value, kind: subscription.kind, priority: subscription.priority };
  const parsed = IngestEventSchema.safeParse(candidate);
  if (parsed.success) return { ok: true, event: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, reason: 'invalid_event', message: `field '${issue === undefined ? '' : fieldPath(issue.path)}': ${issue?.message ?? 'invalid'}` };
}
