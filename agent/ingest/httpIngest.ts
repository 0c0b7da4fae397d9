/**
 * Local producers' door into the journal: HTTP on 127.0.0.1.
 *
 *   POST /v1/events   application/json (one event) or application/x-ndjson (a batch);
 *                     200 {accepted, first_seq, last_seq, journal_id} only after commit
 *   GET  /health      JSON liveness with the journal's identity and last seq
 *   GET  /metrics     Prometheus text format 0.0.4
 *
 * Back-pressure instead of unbounded memory: at most max_pending_requests requests are
 * read or waiting for a commit; the next gets 429 with Retry-After before its body is
 * read. A body larger than any valid batch is refused with 413 from its Content-Length.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appError, type AppError } from '../../shared/errors.ts';
import type { Journal } from '../journal/journalApi.ts';
import { isClockSuspect } from '../journal/clockSanity.ts';
import { JournalCorruptError, JournalFullError, JournalStorageError } from '../journal/journalErrors.ts';
import type { Logger } from '../jsonLog.ts';
import type { GroupCommitter } from './groupCommit.ts';
import { renderMetrics, type HealthProvider, type IngestMetrics, type IngestRejectReason } from './ingestMetrics.ts';
import { parseEvents, type BodyFormat, type IngestLimits } from './parseEvents.ts';
import { exposition } from './prometheusText.ts';

export type HttpIngestOptions = {
  host: string;
  port: number;
  journal: Journal;
  committer: GroupCommitter;
  metrics: IngestMetrics;
  limits: IngestLimits & { maxPendingRequests: number };
  agentVersion: string;
  log: Logger;
  health?: HealthProvider | undefined;
  startedMs?: number;
};

export type HttpIngest = {
  readonly port: number;
  readonly url: string;
  /** Stops accepting, lets requests in flight finish (and their commits land), then resolves. */
  close(): Promise<void>;
};

type ErrorBody = AppError & { line?: number };

/** Seconds a producer should wait after 429 (queue full) or 503 (storage trouble). */
const retryAfterBusy = 1;
const retryAfterStorage = 5;

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, error: ErrorBody, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error }, headers);
}

function bodyFormat(contentType: string | undefined): BodyFormat | null {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonl') return 'ndjson';
  return null;
}

function route(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0] ?? '/';
  return path === '/v1/events' || path === '/health' || path === '/metrics' ? path : 'other';
}

/** Starts the HTTP ingest server; resolves once it listens. */
export async function startHttpIngest(options: HttpIngestOptions): Promise<HttpIngest> {
  const { journal, committer, metrics, limits, log } = options;
  const startedMs = options.startedMs ?? Date.now();
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

  async function postEvents(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
    try {
      const result = await committer.submit(parsed.events);
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

  function health(res: ServerResponse): void {
    try {
      const info = journal.info();
      sendJson(res, 200, {
        ok: true,
        device_id: info.device_id,
        journal_id: info.journal_id,
        last_seq: info.last_seq,
        uptime_s: Math.round((Date.now() - startedMs) / 1000),
        agent_version: options.agentVersion,
      });
    } catch (error) {
      sendJson(res, 503, { ok: false, error: appError('IO_ERROR', `The journal cannot be read: ${error instanceof Error ? error.message : String(error)}`, 'See the agent log (journalctl -u fieldkit-agent).') });
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = route(req.url);
    const allowed = path === '/v1/events' ? 'POST' : 'GET';
    if (path === 'other') {
      sendError(res, 404, appError('NOT_FOUND', `No such endpoint: ${req.method ?? ''} ${req.url ?? ''}`, 'The agent serves POST /v1/events, GET /health and GET /metrics.'));
    } else if (req.method !== allowed) {
      sendError(res, 405, appError('BAD_REQUEST', `${path} takes ${allowed}, not ${req.method ?? ''}.`, `Use ${allowed} ${path}.`), { Allow: allowed });
    } else if (path === '/v1/events') {
      await postEvents(req, res);
    } else if (path === '/health') {
      health(res);
    } else {
      const text = await renderMetrics({ metrics, journal, agentVersion: options.agentVersion, startedMs, health: options.health });
      res.writeHead(200, { 'Content-Type': exposition, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    }
  }

  let closing = false;
  const server: Server = createServer((req, res) => {
    const started = performance.now();
    const path = route(req.url);
    res.on('finish', () => {
      metrics.httpDuration.observe({ route: path }, (performance.now() - started) / 1000);
      // A keep-alive connection would hold close() open until it times out.
      if (closing) setImmediate(() => { server.closeIdleConnections(); });
    });
    if (closing) res.shouldKeepAlive = false;
    handle(req, res).catch((error: unknown) => {
      log('error', 'ingest request failed', { error: error instanceof Error ? error.stack ?? error.message : String(error) });
      if (!res.headersSent) sendError(res, 500, appError('INTERNAL', 'The agent failed on this request.', 'See the agent log (journalctl -u fieldkit-agent) and report it.'));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log('info', 'http ingest listening', { host: options.host, port });
  return {
    port,
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      server.closeIdleConnections();
      await closed;
      await committer.drain();
    },
  };
}
