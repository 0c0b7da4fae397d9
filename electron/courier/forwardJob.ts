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
import { batchDeduplicationToken, TELEMETRY_INSERT_COLUMNS, TELEMETRY_LOSS_INSERT_COLUMNS } from '../../shared/clickhouseSchema.ts';
import { BatchRowsSchema } from '../../shared/clickhouseSettings.ts';
import type { ForwardResult } from '../../shared/courier.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { JobCancelledError, throwIfCancelled, type JobContext } from '../jobs/jobContext.ts';
import { CLICKHOUSE_PASSWORD_SECRET, loadClickHouseSettings } from '../settings/clickhouseSettingsStore.ts';
import { openStore, type Store } from '../store/openStore.ts';
import { describeClickHouseFailure, openClickHouse, type ClickHouseConnection, type DescribedFailure } from './clickhouseConnection.ts';
import { createCourierStore } from './courierStore.ts';
import { createQuarantineStore, type QuarantineStore } from './quarantineStore.ts';

export const ForwardParamsSchema = z.object({
  dataDir: z.string(),
  batchRows: BatchRowsSchema.optional(),
  retryForMs: z.number().int().nonnegative().default(60_000),
});
export type ForwardParams = z.infer<typeof ForwardParamsSchema>;

const BACKOFF_INITIAL_MS = 500;
const BACKOFF_MAX_MS = 15_000;

/** One row as held, serialized for JSONEachRow, with what marking and quarantine need. */
type Line = { seq: number; to_seq: number; priority: number; line: string };
type Journal = { device_id: string; journal_id: string };

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

async function forward(db: Store, connection: ClickHouseConnection, params: ForwardParams & { batchRows: number }, ctx: JobContext): Promise<ForwardResult> {
  const courier = createCourierStore(db);
  const quarantine = createQuarantineStore(db);
  const lossVia = `courier:${courier.courierId()}`;
  const stats = { forwarded: 0, lossesForwarded: 0, batches: 0, quarantined: 0, retries: 0 };
  const started = performance.now();
  let phase = 'connecting';
  let done = 0;
  let total: number | null = null;
  const report = (): void => {
    ctx.progress({ phase, bytesDone: done, bytesTotal: total, unit: 'items' });
  };
  report();

  /** Runs `call` until it succeeds, fails for a reason a retry cannot fix, or the retry budget is spent. */
  async function withRetry<T>(call: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + params.retryForMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (error instanceof JobCancelledError || error instanceof FieldkitError) throw error;
        const failure = describeClickHouseFailure(error, connection.url);
        if (failure.kind !== 'transient') throw new FailureError(failure, error);
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
        if (Date.now() + delay > deadline) {
          throw new FieldkitError(
            appError(
              'UNAVAILABLE',
              `${failure.error.message} Gave up after ${attempt} attempts over ${Math.round(params.retryForMs / 1000)} s.`,
              'Forward again when the server is reachable: it resumes where this one stopped, and nothing is lost or sent twice.',
            ),
            { cause: error },
          );
        }
        stats.retries += 1;
        const previous = phase;
        phase = `waiting for ClickHouse (attempt ${attempt + 1} in ${Math.round(delay / 100) / 10} s)`;
        report();
        ctx.log('warn', `${failure.error.message} Retrying in ${Math.round(delay / 100) / 10} s.`);
        await sleep(delay, ctx.signal);
        phase = previous;
      }
    }
  }

  const version = await withRetry(() => connection.serverVersion());
  const dedupTokens = await connection.dedupTokens();
  ctx.log('info', `ClickHouse ${version} at ${connection.url}${dedupTokens ? ', with insert_deduplication_token' : '; deduplication by the table key'}.`);
  if (!(await withRetry(() => connection.tablesExist()))) {
    phase = 'creating tables';
    report();
    await withRetry(() => connection.ensureSchema());
    ctx.log('info', `Created ${connection.table} and ${connection.lossTable}.`);
  }

  total = pendingCount(db);
  phase = 'forwarding';
  report();

  const journals = db
    .prepare(
      `SELECT device_id, journal_id FROM courier_records WHERE forwarded_ms IS NULL AND quarantine_state IS NULL GROUP BY device_id, journal_id
       UNION SELECT device_id, journal_id FROM courier_losses WHERE forwarded_ms IS NULL AND quarantine_state IS NULL GROUP BY device_id, journal_id
       ORDER BY device_id, journal_id`,
    )
    .all() as Journal[];

  const nextLosses = db.prepare(
    `SELECT device_id, journal_id, from_seq, to_seq, count, priority, reason, at_ms, site FROM courier_losses
     WHERE device_id = ? AND journal_id = ? AND forwarded_ms IS NULL AND quarantine_state IS NULL ORDER BY from_seq, to_seq, priority LIMIT ?`,
  );
  const nextRecords = db.prepare(
    `SELECT device_id, journal_id, seq, ts_ms, recv_ms, priority, kind, model_version, payload, site, via, clock_offset_ms FROM courier_records
     WHERE device_id = ? AND journal_id = ? AND seq > ? AND forwarded_ms IS NULL AND quarantine_state IS NULL ORDER BY seq LIMIT ?`,
  );
  const markRecords = db.prepare(`UPDATE courier_records SET forwarded_ms = ? WHERE device_id = ? AND journal_id = ? AND seq BETWEEN ? AND ? AND forwarded_ms IS NULL`);
  const markLoss = db.prepare(`UPDATE courier_losses SET forwarded_ms = ? WHERE device_id = ? AND journal_id = ? AND from_seq = ? AND to_seq = ? AND priority = ?`);
  const markJournal = db.prepare(`UPDATE courier_journals SET last_forward_ms = ? WHERE device_id = ? AND journal_id = ?`);

  for (const journal of journals) {
    const deliverer = createDeliverer({ connection, quarantine, journal, dedupTokens, withRetry, ctx, stats, onPhase: (p) => { phase = p; report(); } });
    // Loss records first: they explain the gaps in the records that follow.
    for (;;) {
      throwIfCancelled(ctx.signal);
      const losses = (nextLosses.all(journal.device_id, journal.journal_id, params.batchRows) as LossRow[]).map((l): Line => ({
        seq: l.from_seq,
        to_seq: l.to_seq,
        priority: l.priority,
        line: JSON.stringify({ ...l, via: lossVia }) + '\n',
      }));
      if (losses.length === 0) break;
      await deliverer.deliver('loss', losses, (landed) => {
        const now = Date.now();
        db.transaction(() => {
          for (const l of landed) markLoss.run(now, journal.device_id, journal.journal_id, l.seq, l.to_seq, l.priority);
          quarantine.forgetRequeued('loss', journal.device_id, journal.journal_id, landed[0]?.seq ?? 0, landed.at(-1)?.seq ?? 0);
        })();
        stats.lossesForwarded += landed.length;
      });
    }

    let after = 0;
    for (;;) {
      throwIfCancelled(ctx.signal);
      const rows = nextRecords.all(journal.device_id, journal.journal_id, after, params.batchRows) as RecordRow[];
      const last = rows.at(-1);
      if (last === undefined) break;
      after = last.seq;
      const lines = rows.map((r): Line => ({ seq: r.seq, to_seq: r.seq, priority: r.priority, line: JSON.stringify(r) + '\n' }));
      await deliverer.deliver('record', lines, (landed) => {
        const now = Date.now();
        db.transaction(() => {
          for (const [from, to] of seqRuns(landed)) markRecords.run(now, journal.device_id, journal.journal_id, from, to);
          markJournal.run(now, journal.device_id, journal.journal_id);
          quarantine.forgetRequeued('record', journal.device_id, journal.journal_id, landed[0]?.seq ?? 0, landed.at(-1)?.seq ?? 0);
        })();
        stats.forwarded += landed.length;
        stats.batches += 1;
        done += landed.length;
        report();
      }, () => {
        done += 1;
      });
    }
  }

  phase = 'done';
  report();
  const seconds = (performance.now() - started) / 1000;
  return {
    serverVersion: version,
    dedupTokens,
    forwarded: stats.forwarded,
    lossesForwarded: stats.lossesForwarded,
    batches: stats.batches,
    quarantined: stats.quarantined,
    pending: pendingCount(db),
    retries: stats.retries,
    rowsPerSec: seconds > 0 ? Math.round(stats.forwarded / seconds) : 0,
  };
}

type RecordRow = { device_id: string; journal_id: string; seq: number; priority: number } & Record<string, unknown>;
type LossRow = { device_id: string; journal_id: string; from_seq: number; to_seq: number; count: number; priority: number; reason: string; at_ms: number; site: string };

class FailureError extends Error {
  readonly failure: DescribedFailure;
  constructor(failure: DescribedFailure, cause: unknown) {
    super(failure.error.message, { cause });
    this.failure = failure;
  }
}

/** Rows held but not yet in ClickHouse, quarantined ones aside. */
function pendingCount(db: Store): number {
  const records = db.prepare(`SELECT count(*) AS n FROM courier_records WHERE forwarded_ms IS NULL AND quarantine_state IS NULL`).get() as { n: number };
  return records.n;
}

/** Consecutive runs of seqs in sorted lines: [from, to] pairs. */
export function seqRuns(lines: readonly { seq: number }[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const { seq } of lines) {
    const run = runs.at(-1);
    if (run !== undefined && seq === run[1] + 1) run[1] = seq;
    else runs.push([seq, seq]);
  }
  return runs;
}

/**
 * The token of one insert: the shared per-journal form for a contiguous range (the same
 * the agent's uplink makes), with the row count added when the range has holes, so a
 * batch with a row set aside never shares a token with the whole range.
 */
export function forwardToken(kind: 'record' | 'loss', journal: Journal, lines: readonly Line[]): string {
  const first = lines[0]?.seq ?? 0;
  const last = lines.at(-1)?.seq ?? 0;
  const base = batchDeduplicationToken(journal.device_id, journal.journal_id, first, last);
  const holes = kind === 'record' && lines.length !== last - first + 1 ? `:n${lines.length}` : '';
  return kind === 'loss' ? `${base}:loss:n${lines.length}` : `${base}${holes}`;
}

function createDeliverer(deps: {
  connection: ClickHouseConnection;
  quarantine: QuarantineStore;
  journal: Journal;
  dedupTokens: boolean;
  withRetry: <T>(call: () => Promise<T>) => Promise<T>;
  ctx: JobContext;
  stats: { quarantined: number };
  onPhase: (phase: string) => void;
}) {
  const { connection, journal } = deps;
  return {
    /**
     * Inserts `lines`; on a refusal, halves until the refused rows stand alone and
     * quarantines those. `landed` runs once per acknowledged insert, in seq order.
     */
    async deliver(kind: 'record' | 'loss', lines: readonly Line[], landed: (lines: readonly Line[]) => void, setAside?: () => void): Promise<void> {
      if (lines.length === 0) return;
      const table = kind === 'record' ? connection.table : connection.lossTable;
      const columns = kind === 'record' ? TELEMETRY_INSERT_COLUMNS : TELEMETRY_LOSS_INSERT_COLUMNS;
      const send = async (part: readonly Line[]): Promise<void> => {
        const token = deps.dedupTokens ? forwardToken(kind, journal, part) : null;
        try {
          await deps.withRetry(() => connection.insertLines(table, columns, part.map((l) => l.line), token));
        } catch (error) {
          if (!(error instanceof FailureError) || error.failure.kind !== 'rejected') {
            throw error instanceof FailureError ? new FieldkitError(error.failure.error, { cause: error }) : error;
          }
          const only = part[0];
          if (part.length === 1 && only !== undefined) {
            deps.quarantine.quarantine(
              { kind, device_id: journal.device_id, journal_id: journal.journal_id, seq: only.seq, to_seq: only.to_seq, priority: only.priority },
              { reason: error.failure.error.message, serverCode: error.failure.serverCode, row: only.line, now: Date.now() },
            );
            deps.stats.quarantined += 1;
            setAside?.();
            deps.ctx.log('warn', `ClickHouse refused ${kind === 'record' ? `record ${journal.device_id} seq ${only.seq}` : `loss record ${journal.device_id} seq ${only.seq}-${only.to_seq}`}; set aside in the quarantine: ${error.failure.error.message}`);
            return;
          }
          deps.onPhase('isolating refused rows');
          const half = Math.ceil(part.length / 2);
          await send(part.slice(0, half));
          await send(part.slice(half));
          deps.onPhase('forwarding');
          return;
        }
        landed(part);
      };
      await send(lines);
    },
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
