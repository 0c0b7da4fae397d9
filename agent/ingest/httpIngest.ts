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
import { appError } from '../../shared/errors.ts';
import type { Journal } from '../journal/journalApi.ts';
import type { Logger } from '../jsonLog.ts';
import { createEventsEndpoint } from './eventsEndpoint.ts';
import type { GroupCommitter } from './groupCommit.ts';
import { sendError, sendJson } from './httpReplies.ts';
import { renderMetrics, type HealthProvider, type IngestMetrics } from './ingestMetrics.ts';
import type { IngestLimits } from './parseEvents.ts';
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

function route(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0] ?? '/';
  return path === '/v1/events' || path === '/health' || path === '/metrics' ? path : 'other';
}

/** Starts the HTTP ingest server; resolves once it listens. */
export async function startHttpIngest(options: HttpIngestOptions): Promise<HttpIngest> {
  const { journal, committer, metrics, limits, log } = options;
  const startedMs = options.startedMs ?? Date.now();
  const postEvents = createEventsEndpoint({ journal, committer, metrics, limits, log });

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
