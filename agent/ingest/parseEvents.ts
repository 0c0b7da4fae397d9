/**
 * Turns a POST body into validated events, all or nothing: the first bad line rejects the
 * whole batch, naming its 1-based line and the field at fault, so a producer can fix and
 * resend the batch without wondering which part was kept.
 */
import type { z } from 'zod';
import { fieldPath } from '../../shared/errors.ts';
import { IngestEventSchema, type IngestEvent } from '../../shared/journal.ts';
import { maxJsonNesting, nestingRefusal, nestsDeeperThan } from './jsonDepth.ts';

export type BodyFormat = 'json' | 'ndjson';
export type IngestLimits = { maxEventBytes: number; maxBatchEvents: number };
export type RejectReason = 'invalid_json' | 'invalid_event' | 'too_large';

export type EventRejection = {
  status: 400 | 413;
  reason: RejectReason;
  message: string;
  hint: string;
  line: number;
  field?: string;
};

export type ParsedEvents = { ok: true; events: IngestEvent[] } | { ok: false; rejection: EventRejection };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const newline = 0x0a;

function reject(rejection: EventRejection): ParsedEvents {
  return { ok: false, rejection };
}

function issueField(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return fieldPath([...issue.path, issue.keys[0] ?? '']);
  return fieldPath(issue.path);
}

/** Validates one event's JSON text; `line` is for the error message. */
export function parseEventLine(bytes: Uint8Array, line: number, limits: IngestLimits): { ok: true; event: IngestEvent } | { ok: false; rejection: EventRejection } {
  if (bytes.byteLength > limits.maxEventBytes) {
    return {
      ok: false,
      rejection: {
        status: 413,
        reason: 'too_large',
        message: `line ${line}: the event is ${bytes.byteLength} bytes, over the limit of ${limits.maxEventBytes}`,
        hint: 'Send smaller events (large blobs belong in files, referenced from the event), or raise ingest.max_event_bytes in the agent config.',
        line,
      },
    };
  }
  if (nestsDeeperThan(bytes, maxJsonNesting)) {
    return {
      ok: false,
      rejection: {
        status: 400,
        reason: 'invalid_event',
        message: `line ${line}: ${nestingRefusal()}`,
        hint: `Flatten the payload to at most ${maxJsonNesting} levels; nothing of this batch was stored.`,
        line,
      },
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(bytes));
  } catch (error) {
    return {
      ok: false,
      rejection: {
        status: 400,
        reason: 'invalid_json',
        message: `line ${line}: not valid JSON (${error instanceof Error ? error.message : String(error)})`,
        hint: 'Send one JSON object per line, UTF-8 encoded; nothing of this batch was stored.',
        line,
      },
    };
  }
  const parsed = IngestEventSchema.safeParse(value);
  if (parsed.success) return { ok: true, event: parsed.data };
  const issue = parsed.error.issues[0];
  const field = issue === undefined ? '' : issueField(issue);
  return {
    ok: false,
    rejection: {
      status: 400,
      reason: 'invalid_event',
      message: `line ${line}: ${field === '' ? '' : `field '${field}': `}${issue?.message ?? 'invalid event'}`,
      hint: 'Each event is {"priority": 1|2|3, "kind": "…", "payload": …} with optional ts_ms and model_version; fix the line and resend the whole batch (nothing of it was stored).',
      line,
      ...(field === '' ? {} : { field }),
    },
  };
}

function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

/** Parses a whole body: one event (json) or one event per line (ndjson, blank lines ignored). */
export function parseEvents(body: Buffer, format: BodyFormat, limits: IngestLimits): ParsedEvents {
  if (format === 'json') {
    const one = parseEventLine(body, 1, limits);
    return one.ok ? { ok: true, events: [one.event] } : reject(one.rejection);
  }
  const events: IngestEvent[] = [];
  let start = 0;
  let line = 0;
  while (start < body.length) {
    line++;
    let end = body.indexOf(newline, start);
    if (end === -1) end = body.length;
    const bytes = body.subarray(start, end);
    start = end + 1;
    if (isBlank(bytes)) continue;
    if (events.length === limits.maxBatchEvents) {
      return reject({
        status: 413,
        reason: 'too_large',
        message: `line ${line}: the batch has more than ${limits.maxBatchEvents} events`,
        hint: 'Split the batch, or raise ingest.max_batch_events in the agent config.',
        line,
      });
    }
    const one = parseEventLine(bytes, line, limits);
    if (!one.ok) return reject(one.rejection);
    events.push(one.event);
  }
  if (events.length === 0) {
    return reject({ status: 400, reason: 'invalid_event', message: 'the body holds no events', hint: 'Send at least one event.', line: 1 });
  }
  return { ok: true, events };
}
