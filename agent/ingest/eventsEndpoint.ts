/**
 * POST /v1/events: one event (application/json) or a batch (application/x-ndjson), all or
 * nothing, answered 200 only after the commit that holds it.
 *
 * Refusals in the order they are checked: 429 when max_pending_requests requests are
 * already reading or waiting (before the body is read), 415 for another Content-Type, 413
 * for a body larger than any valid batch (from its Content-Length, unread, or as soon as
 * it grows past that), 400/413 from parsing (line and field named), then 507 when the
 * budget is full of unconfirmed safety records and 503 + Retry-After on storage trouble.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { appError } from '../../shared/errors.ts';
import { isClockSuspect } from '../journal/clockSanity.ts';
import type { Journal } from '../journal/journalApi.ts';
import { JournalCorruptError, JournalFullError, JournalStorageError } from '../journal/journalErrors.ts';
import type { Logger } from '../jsonLog.ts';
import type { GroupCommitter } from './groupCommit.ts';
import { sendError, sendJson, type ErrorBody } from './httpReplies.ts';
import type { IngestMetrics, IngestRejectReason } from './ingestMetrics.ts';
import { parseEvents, type BodyFormat, type IngestLimits } from './parseEvents.ts';

/** Seconds a producer should wait after 429 (queue full) or 503 (storage trouble). */
const retryAfterBusy = 1;
const retryAfterStorage = 5;

export type EventsEndpointDeps = {
  journal: Journal;
  committer: GroupCommitter;
  metrics: IngestMetrics;
  limits: IngestLimits & { maxPendingRequests: number };
  log: Logger;
};

function bodyFormat(contentType: string | undefined): BodyFormat | null {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonl') return 'ndjson';
  return null;
}

/** The body, or null as soon as it grows past `limit` (the rest is left unread). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', reject);
  });
}

/** Returns the handler of POST /v1/events; it counts the requests in flight for back-pressure. */
export function createEventsEndpoint(deps: EventsEndpointDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { journal, committer, metrics, limits, log } = deps;
  const maxBody = { json: limits.maxEventBytes, ndjson: limits.maxBatchEvents * (limits.maxEventBytes + 1) };
  let active = 0;

  function refuse(res: ServerResponse, reason: IngestRejectReason, status: number, error: ErrorBody, headers: Record<string, string> = {}): void {
    metrics.rejected.inc({ reason });
    sendError(res, status, error, headers);
  }

  /** Refuses before the body is read: the connection closes so the rest is never read. */
  function refuseUnread(req: IncomingMessage, res: ServerResponse, reason: IngestRejectReason, status: number, error: ErrorBody, headers: Record<string, string> = {}): void {
    refuse(res, reason, status, error, { Connection: 'close', ...headers });
    res.on('finish', () => req.destroy());
  }

  async function commit(res: ServerResponse, events: Parameters<GroupCommitter['submit']>[0]): Promise<void> {
    try {
      const result = await committer.submit(events);
      metrics.events.inc({ source: 'http' }, result.count);
      sendJson(res, 200, { accepted: result.count, first_seq: result.first_seq, last_seq: result.last_seq, journal_id: journal.journalId });
    } catch (error) {
      if (error instanceof JournalFullError) {
        refuse(res, 'journal_full', 507, error.appError);
      } else if (error instanceof JournalStorageError || error instanceof JournalCorruptError) {
        log('error', 'journal write failed', { error: error.message });
        refuse(res, 'storage_error', 503, error.appError, { 'Retry-After': String(retryAfterStorage) });
      } else {
        throw error;
      }
    }
  }

  return async function postEvents(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (active >= limits.maxPendingRequests) {
      refuseUnread(req, res, 'backpressure', 429, appError('UNAVAILABLE', `The agent already has ${active} requests waiting for the journal.`, `Retry after ${retryAfterBusy} s, or send fewer, larger batches.`), { 'Retry-After': String(retryAfterBusy) });
      return;
    }
    active++;
    res.on('close', () => active--);
    const format = bodyFormat(req.headers['content-type']);
    if (format === null) {
      refuseUnread(req, res, 'unsupported_media_type', 415, appError('BAD_REQUEST', `Content-Type '${req.headers['content-type'] ?? ''}' is not accepted.`, 'Send application/json (one event) or application/x-ndjson (one event per line).', 'content-type'));
      return;
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > maxBody[format]) {
      refuseUnread(req, res, 'too_large', 413, appError('BAD_REQUEST', `The body is ${declared} bytes, over the ${maxBody[format]} any valid ${format === 'json' ? 'event' : 'batch'} can take.`, 'Split it into smaller batches (see ingest.max_event_bytes and ingest.max_batch_events).'));
      return;
    }
    const body = await readBody(req, maxBody[format]);
    if (body === null) {
      refuseUnread(req, res, 'too_large', 413, appError('BAD_REQUEST', `The body is over the ${maxBody[format]} bytes any valid batch can take.`, 'Split it into smaller batches (see ingest.max_event_bytes and ingest.max_batch_events).'));
      return;
    }
    const parsed = parseEvents(body, format, limits);
    if (!parsed.ok) {
      const { rejection } = parsed;
      refuse(res, rejection.reason, rejection.status, {
        ...appError('BAD_REQUEST', rejection.message, rejection.hint, rejection.field),
        line: rejection.line,
      });
      return;
    }
    const recvMs = Date.now();
    let suspect = 0;
    for (const event of parsed.events) if (isClockSuspect(event.ts_ms ?? recvMs)) suspect++;
    if (suspect > 0) metrics.clockSuspect.inc({}, suspect);
    await commit(res, parsed.events);
  };
}
