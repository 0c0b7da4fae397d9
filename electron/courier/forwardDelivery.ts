/**
 * One insert of the forward job (forwardJob.ts) and what happens when the server refuses
 * it: a batch of JSONEachRow lines, its deduplication token, halving a refused batch until
 * the refused rows stand alone, and setting those aside in the quarantine.
 */
import { batchDeduplicationToken, TELEMETRY_INSERT_COLUMNS, TELEMETRY_LOSS_INSERT_COLUMNS } from '../../shared/clickhouseSchema.ts';
import { FieldkitError } from '../../shared/errors.ts';
import type { JobContext } from '../kernel/jobs/jobContext.ts';
import type { ClickHouseConnection, DescribedFailure } from './clickhouseConnection.ts';
import type { ForwardLine } from './courierStore.ts';
import type { QuarantineStore } from './quarantineStore.ts';

type Line = ForwardLine;
export type Journal = { device_id: string; journal_id: string };

/** Runs a ClickHouse call until it succeeds or no retry can help (forwardJob.ts). */
export type Retry = <T>(call: () => Promise<T>) => Promise<T>;

/** What the retry loop throws for data the server refused: the deliverer splits the batch. */
export class FailureError extends Error {
  readonly failure: DescribedFailure;
  constructor(failure: DescribedFailure, cause: unknown) {
    super(failure.error.message, { cause });
    this.failure = failure;
  }
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
 * What one insert carries: the first and last seq (or loss range start), how many rows,
 * the JSONEachRow text, and the rows one by one when they are needed (marking a batch
 * with holes, or splitting one the server refused).
 */
export type Batch = { first: number; last: number; count: number; body: string; lines: () => readonly Line[] };

export function batchOfLines(lines: readonly Line[]): Batch {
  return { first: lines[0]?.seq ?? 0, last: lines.at(-1)?.seq ?? 0, count: lines.length, body: lines.map((l) => l.line).join(''), lines: () => lines };
}

/**
 * The token of one insert: the shared per-journal form for a contiguous range (the same
 * the agent's uplink makes), with the row count added when the range has holes, so a
 * batch with a row set aside never shares a token with the whole range.
 */
export function forwardToken(kind: 'record' | 'loss', journal: Journal, batch: Pick<Batch, 'first' | 'last' | 'count'>): string {
  const base = batchDeduplicationToken(journal.device_id, journal.journal_id, batch.first, batch.last);
  if (kind === 'loss') return `${base}:loss:n${batch.count}`;
  return batch.count === batch.last - batch.first + 1 ? base : `${base}:n${batch.count}`;
}

export function createDeliverer(deps: {
  connection: ClickHouseConnection;
  quarantine: QuarantineStore;
  journal: Journal;
  dedupTokens: boolean;
  /** False for records ClickHouse confirmed once and lost since (resendQueue.ts): the server's deduplication off. */
  deduplicate?: boolean;
  withRetry: Retry;
  ctx: JobContext;
  stats: { quarantined: number };
  onPhase: (phase: string) => void;
}) {
  const { connection, journal } = deps;
  return {
    /**
     * Inserts `batch`; on a refusal, halves until the refused rows stand alone and
     * quarantines those. `landed` runs once per acknowledged insert, in seq order.
     */
    async deliver(kind: 'record' | 'loss', batch: Batch, landed: (batch: Batch) => void, setAside?: () => void, bodySent?: () => void): Promise<void> {
      const table = kind === 'record' ? connection.table : connection.lossTable;
      const columns = kind === 'record' ? TELEMETRY_INSERT_COLUMNS : TELEMETRY_LOSS_INSERT_COLUMNS;
      const send = async (part: Batch): Promise<void> => {
        const deduplicate = deps.deduplicate ?? true;
        const token = deps.dedupTokens && deduplicate ? forwardToken(kind, journal, part) : null;
        try {
          await deps.withRetry(() => connection.insertJsonLines(table, columns, part.body, token, bodySent, deduplicate));
        } catch (error) {
          if (!(error instanceof FailureError) || error.failure.kind !== 'rejected') {
            throw error instanceof FailureError ? new FieldkitError(error.failure.error, { cause: error }) : error;
          }
          const lines = part.lines();
          const only = lines[0];
          if (lines.length === 1 && only !== undefined) {
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
          const half = Math.ceil(lines.length / 2);
          await send(batchOfLines(lines.slice(0, half)));
          await send(batchOfLines(lines.slice(half)));
          deps.onPhase('forwarding');
          return;
        }
        landed(part);
      };
      if (batch.count > 0) await send(batch);
    },
  };
}

export type Deliverer = ReturnType<typeof createDeliverer>;
