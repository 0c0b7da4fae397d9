/**
 * The forward job: send what this laptop holds to ClickHouse, exactly once in effect.
 *
 * - Per journal, loss records first (a gap never arrives unexplained), then records in
 *   seq order, in batches of `batchRows`. A batch is the next pending rows in key order,
 *   so after a crash the same rows form the same batch again, with the same
 *   insert_deduplication_token on servers that take one (22.2+); on older servers the
 *   ReplacingMergeTree key (device_id, journal_id, seq) collapses a batch sent twice.
 * - A batch is marked forwarded only after the server acknowledged it, in one
 *   transaction, by its exact seqs (a pull running beside us may add rows in between).
 * - An unreachable server is retried with exponential backoff for `retryForMs`; then
 *   the job fails with UNAVAILABLE and the next forward resumes (nothing is lost).
 * - A batch the server refuses is split in halves until the refused rows stand alone;
 *   those go to the quarantine with the server's reason, the rest are forwarded.
 * - Cancel is honoured between batches: a batch in flight lands and is marked, or is
 *   sent again next time.
 */
import { z } from 'zod';
import { BatchRowsSchema } from '../../shared/clickhouseSettings.ts';
import type { ForwardResult } from '../../shared/courier.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { JobCancelledError, throwIfCancelled, type JobContext } from '../kernel/jobs/jobContext.ts';
import { CLICKHOUSE_PASSWORD_SECRET, loadClickHouseSettings } from './clickhouseSettingsStore.ts';
import { openStore, type Store } from '../kernel/store/openStore.ts';
import { describeClickHouseFailure, openClickHouse, type ClickHouseConnection } from './clickhouseConnection.ts';
import { createCourierStore, createForwardQueue, type CourierStore, type ForwardLine, type ForwardQueue, type PendingRecordsQuery } from './courierStore.ts';
import { batchOfLines, createDeliverer, FailureError, seqRuns, type Batch, type Deliverer, type Journal, type Retry } from './forwardDelivery.ts';
import { forwardHealthHistory } from './forwardHealth.ts';
import { createHealthHistoryStore } from './healthHistoryStore.ts';
import { createQuarantineStore, type QuarantineStore } from './quarantineStore.ts';
import { createResendQueue } from './resendQueue.ts';

export const ForwardParamsSchema = z.object({
  dataDir: z.string(),
  batchRows: BatchRowsSchema.optional(),
  retryForMs: z.number().int().nonnegative().default(60_000),
});
export type ForwardParams = z.infer<typeof ForwardParamsSchema>;

const BACKOFF_INITIAL_MS = 500;
const BACKOFF_MAX_MS = 15_000;

type Line = ForwardLine;

export async function runForward(params: ForwardParams, ctx: JobContext): Promise<ForwardResult> {
  const db = openStore(params.dataDir);
  try {
    const settings = loadClickHouseSettings(db);
    if (settings === null) {
      throw new FieldkitError(appError('NOT_FOUND', 'No ClickHouse server is set up yet.', 'Set one in Settings → ClickHouse, or: fieldkit settings clickhouse --url https://… --user … --password-stdin'));
    }
    const connection = openClickHouse({ settings, password: ctx.secrets[CLICKHOUSE_PASSWORD_SECRET] ?? '' });
    try {
      return await forward(db, connection, { ...params, batchRows: params.batchRows ?? settings.batchRows }, ctx);
    } finally {
      await connection.close();
    }
  } finally {
    db.close();
  }
}

/** The job's progress line: a phase, and rows forwarded out of those pending when forwarding began. */
type ForwardProgress = { phase: string; done: number; total: number | null; report: () => void };

function createProgress(ctx: JobContext): ForwardProgress {
  const progress: ForwardProgress = {
    phase: 'connecting',
    done: 0,
    total: null,
    report: () => {
      ctx.progress({ phase: progress.phase, bytesDone: progress.done, bytesTotal: progress.total, unit: 'items' });
    },
  };
  return progress;
}

type ForwardStats = { forwarded: number; lossesForwarded: number; batches: number; quarantined: number; retries: number };

/** What every step of one forward shares. */
type ForwardRun = {
  db: Store;
  connection: ClickHouseConnection;
  params: ForwardParams & { batchRows: number };
  ctx: JobContext;
  queue: ForwardQueue;
  quarantine: QuarantineStore;
  stats: ForwardStats;
  progress: ForwardProgress;
  withRetry: Retry;
  /** The `via` of loss records and health rows: this laptop's courier. */
  lossVia: string;
  dedupTokens: boolean;
};

/**
 * Retries a ClickHouse call with exponential backoff for `retryForMs`, showing the wait in
 * the progress line; a refusal of the data goes back to the batch's sender to split, and
 * anything else no retry fixes ends the job.
 */
function retryFor(retryForMs: number, connection: ClickHouseConnection, ctx: JobContext, stats: ForwardStats, progress: ForwardProgress): Retry {
  async function withRetry<T>(call: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + retryForMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (error instanceof JobCancelledError || error instanceof FieldkitError) throw error;
        const failure = describeClickHouseFailure(error, connection.url);
        if (failure.kind === 'rejected') throw new FailureError(failure, error);
        if (failure.kind === 'fatal') throw new FieldkitError(failure.error, { cause: error });
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
        if (Date.now() + delay > deadline) {
          throw new FieldkitError(
            appError(
              'UNAVAILABLE',
              `${failure.error.message} Gave up after ${attempt} attempts over ${Math.round(retryForMs / 1000)} s.`,
              'Forward again when the server is reachable: it resumes where this one stopped, and nothing is lost or sent twice.',
            ),
            { cause: error },
          );
        }
        stats.retries += 1;
        const previous = progress.phase;
        progress.phase = `waiting for ClickHouse (attempt ${attempt + 1} in ${Math.round(delay / 100) / 10} s)`;
        progress.report();
        ctx.log('warn', `${failure.error.message} Retrying in ${Math.round(delay / 100) / 10} s.`);
        await sleep(delay, ctx.signal);
        progress.phase = previous;
      }
    }
  }
  return withRetry;
}

/** The server's version and whether it takes dedup tokens; creates the tables it lacks. */
async function prepareServer(connection: ClickHouseConnection, withRetry: Retry, ctx: JobContext, progress: ForwardProgress): Promise<{ version: string; dedupTokens: boolean }> {
  const version = await withRetry(() => connection.serverVersion());
  const dedupTokens = await connection.dedupTokens();
  ctx.log('info', `ClickHouse ${version} at ${connection.url}${dedupTokens ? ', with insert_deduplication_token' : '; deduplication by the table key'}.`);
  // A server set up before health history was forwarded has the journal tables only: complete it.
  if (!(await withRetry(() => connection.tablesExist())) || !(await withRetry(() => connection.healthTablesExist()))) {
    progress.phase = 'creating tables';
    progress.report();
    await withRetry(() => connection.ensureSchema());
    ctx.log('info', `Created ${connection.table}, ${connection.lossTable}, ${connection.healthMinutesTable} and ${connection.healthEventsTable} (where missing).`);
  }
  return { version, dedupTokens };
}

/** A journal's loss records, first: they explain the gaps in the records that follow. */
async function forwardLosses(run: ForwardRun, journal: Journal, deliverer: Deliverer): Promise<void> {
  const { db, queue, quarantine, stats } = run;
  for (;;) {
    throwIfCancelled(run.ctx.signal);
    const losses = queue.pendingLosses(journal.device_id, journal.journal_id, run.params.batchRows).map((l): Line => ({
      seq: l.from_seq,
      to_seq: l.to_seq,
      priority: l.priority,
      line: JSON.stringify({ ...l, via: run.lossVia }) + '\n',
    }));
    if (losses.length === 0) break;
    await deliverer.deliver('loss', batchOfLines(losses), (landed) => {
      const now = Date.now();
      const lines = landed.lines();
      db.transaction(() => {
        queue.markLossesForwarded(journal.device_id, journal.journal_id, lines, now);
        quarantine.forgetRequeued('loss', journal.device_id, journal.journal_id, landed.first, landed.last);
      })();
      stats.lossesForwarded += landed.count;
    });
  }
}

/** The next batch of a journal's pending records after seq `after`; null when none is left. */
function readRecordBatch(run: ForwardRun, journal: Journal, after: number): Batch | null {
  const { queue } = run;
  const query: PendingRecordsQuery = { device_id: journal.device_id, journal_id: journal.journal_id, after, through: Number.MAX_SAFE_INTEGER, limit: run.params.batchRows };
  // The whole batch as one string, written by SQLite: no row objects, no JSON.stringify per row in JS.
  const head = queue.recordBatch(query);
  if (head === null) return null;
  if (head.count !== head.last - head.first + 1) {
    // Holes (rows quarantined, or not pulled yet between safety events): a pull beside us
    // may fill them, so the rows are fixed now, in one read, and marked by their seqs.
    return batchOfLines(queue.recordLines(query));
  }
  // Hole-free: every seq from first to last is in the batch, and no new row can appear
  // among them, so the rows can be listed later if the batch has to be split.
  const { last } = head;
  let lines: Line[] | null = null;
  return { ...head, lines: () => (lines ??= queue.recordLines({ ...query, through: last })) };
}

/** Marks a batch the server acknowledged as forwarded, by its exact seqs, in one transaction. */
function markRecordsLanded(run: ForwardRun, journal: Journal, landed: Batch): void {
  const { stats, progress } = run;
  const now = Date.now();
  // A batch without holes covers every seq from first to last: one range marks it exactly.
  const runs: [number, number][] = landed.count === landed.last - landed.first + 1 ? [[landed.first, landed.last]] : seqRuns(landed.lines());
  run.db.transaction(() => {
    run.queue.markRecordsForwarded(journal.device_id, journal.journal_id, runs, now);
    run.quarantine.forgetRequeued('record', journal.device_id, journal.journal_id, landed.first, landed.last);
  })();
  stats.forwarded += landed.count;
  stats.batches += 1;
  progress.done += landed.count;
  progress.report();
}

/** A journal's records in seq order: one batch on the wire while the next is read. */
async function forwardRecords(run: ForwardRun, journal: Journal, deliverer: Deliverer): Promise<void> {
  const start = run.queue.firstPendingSeq(journal.device_id, journal.journal_id);
  for (let batch = start === null ? null : readRecordBatch(run, journal, start - 1); batch !== null; ) {
    throwIfCancelled(run.ctx.signal);
    // Each batch is marked the moment the server confirms it.
    let bodySent: () => void = () => undefined;
    const sent = new Promise<void>((resolve) => (bodySent = resolve));
    const sending = deliverer.deliver('record', batch, (landed) => { markRecordsLanded(run, journal, landed); }, () => {
      run.progress.done += 1;
    }, bodySent);
    // Read the next batch once this one has left (or failed): reading blocks this thread.
    await Promise.race([sent, sending.catch(() => undefined)]);
    const next = readRecordBatch(run, journal, batch.last);
    await sending;
    batch = next;
  }
}

/**
 * Health history, after the journals: records matter more when time on the network is
 * short. Refused health rows stay here, pending, and are offered again next time; they
 * never hold back the journals.
 */
async function forwardHealth(run: ForwardRun, courier: CourierStore): Promise<{ minutes: number; events: number }> {
  const { connection, ctx, withRetry } = run;
  run.progress.phase = 'forwarding health history';
  run.progress.report();
  const health = { minutes: 0, events: 0 };
  try {
    Object.assign(
      health,
      await forwardHealthHistory({
        history: createHealthHistoryStore(run.db),
        siteOf: (deviceId) => courier.latestSite(deviceId),
        minutesTable: connection.healthMinutesTable,
        eventsTable: connection.healthEventsTable,
        via: run.lossVia,
        batchRows: run.params.batchRows,
        dedupTokens: run.dedupTokens,
        signal: ctx.signal,
        insert: (table, columns, body, token) => withRetry(() => connection.insertJsonLines(table, columns, body, token)),
      }),
    );
  } catch (error) {
    if (!(error instanceof FailureError)) throw error;
    ctx.log('warn', `ClickHouse refused health history (${error.failure.error.message}); it stays on this laptop and is sent again on the next forward.`);
  }
  if (health.minutes + health.events > 0) ctx.log('info', `Health history: ${health.minutes} minutes and ${health.events} events forwarded.`);
  return health;
}

async function forward(db: Store, connection: ClickHouseConnection, params: ForwardParams & { batchRows: number }, ctx: JobContext): Promise<ForwardResult> {
  const courier = createCourierStore(db);
  const queue = createForwardQueue(db);
  const quarantine = createQuarantineStore(db);
  const lossVia = `courier:${courier.courierId()}`;
  const stats: ForwardStats = { forwarded: 0, lossesForwarded: 0, batches: 0, quarantined: 0, retries: 0 };
  const started = performance.now();
  const progress = createProgress(ctx);
  progress.report();
  const withRetry = retryFor(params.retryForMs, connection, ctx, stats, progress);
  const { version, dedupTokens } = await prepareServer(connection, withRetry, ctx, progress);
  const run: ForwardRun = { db, connection, params, ctx, queue, quarantine, stats, progress, withRetry, lossVia, dedupTokens };

  // Rows held but not yet in ClickHouse, quarantined ones aside.
  const total = Math.max(0, queue.unforwardedRecords() - quarantine.setAsideRecords());
  progress.total = total;
  progress.phase = 'forwarding';
  progress.report();
  const resend = createResendQueue(db);
  for (const journal of queue.journals()) {
    // Records reconcile found gone from ClickHouse go again with its deduplication off (resendQueue.ts).
    const deduplicate = !resend.mustResend(journal);
    if (!deduplicate) ctx.log('info', `${journal.device_id}: sending again the records ClickHouse confirmed once and no longer holds, with its insert deduplication off.`);
    const deliverer = createDeliverer({ connection, quarantine, journal, dedupTokens, deduplicate, withRetry, ctx, stats, onPhase: (p) => { progress.phase = p; progress.report(); } });
    await forwardLosses(run, journal, deliverer);
    await forwardRecords(run, journal, deliverer);
    if (!deduplicate) resend.resent(journal);
  }
  const health = await forwardHealth(run, courier);

  progress.phase = 'done';
  progress.report();
  const seconds = (performance.now() - started) / 1000;
  return {
    serverVersion: version,
    dedupTokens,
    forwarded: stats.forwarded,
    lossesForwarded: stats.lossesForwarded,
    batches: stats.batches,
    quarantined: stats.quarantined,
    pending: Math.max(0, total - progress.done),
    retries: stats.retries,
    healthMinutesForwarded: health.minutes,
    healthEventsForwarded: health.events,
    rowsPerSec: seconds > 0 ? Math.round(stats.forwarded / seconds) : 0,
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      const reason: unknown = signal.reason;
      reject(new JobCancelledError(typeof reason === 'string' ? reason : 'cancelled'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
