/**
 * One uplink batch: the loss records in its range, then its records, then the forwarded
 * watermark — which moves only after ClickHouse acknowledged both inserts, and only
 * through the batch's last seq. A failed batch is retried with the same boundaries (and
 * deduplication token), so one that landed but whose answer was lost collapses by key.
 */
import type { AgentConfig } from '../../shared/agentConfig.ts';
import { batchDeduplicationToken, type TelemetryLossRow, type TelemetryRow } from '../../shared/clickhouseSchema.ts';
import type { JournalRecord } from '../../shared/journal.ts';
import type { Journal } from '../journal/journalApi.ts';
import type { ClickHouseWriter, UplinkConfig } from './clickhouseWriter.ts';
import type { Pacer } from './uplinkPacer.ts';
import type { UplinkStatus } from './uplinkStatus.ts';

export const UPLINK_COURIER_ID = 'uplink';

export type ForwardSummary = { records: number; losses: number; through_seq: number };

/** The parts of the uplink's status a batch updates. */
export type BatchStatus = Pick<UplinkStatus, 'state' | 'last_forward_ms' | 'last_error'> & {
  forwarded_seq: number;
  bytes_sent: number;
  batches: number;
  server_version: string | null;
};

export type BatchDeps = {
  config: AgentConfig;
  uplink: UplinkConfig;
  journal: Journal;
  writer: ClickHouseWriter;
  pacer: Pacer;
  status: BatchStatus;
  now: () => number;
  signal: AbortSignal;
  isStopped: () => boolean;
};

/** Returns `forwardBatch()`: one batch forwarded, or null when caught up. Throws on failure (the batch is kept for retry). */
export function createBatchForwarder(deps: BatchDeps): () => Promise<ForwardSummary | null> {
  const { config, uplink, journal, writer, pacer, status, signal } = deps;
  /** The batch that failed, retried with the same boundaries. */
  let retry: { after: number; through: number } | null = null;

  function toRow(r: JournalRecord): TelemetryRow {
    return {
      device_id: r.device_id, journal_id: r.journal_id, seq: r.seq, ts_ms: r.ts_ms, recv_ms: r.recv_ms,
      priority: r.priority, kind: r.kind, model_version: r.model_version, payload: r.payload,
      site: config.site, via: UPLINK_COURIER_ID, clock_offset_ms: 0,
    };
  }

  return async function forwardBatch(): Promise<ForwardSummary | null> {
    const info = journal.info();
    const forwarded = info.forwarded_seq;
    if (retry !== null && retry.after !== forwarded) retry = null;
    if (info.last_seq <= forwarded) return null;
    const after = retry?.after ?? forwarded;
    let records = journal.read({ after_seq: after, limit: uplink.batch_rows, max_bytes: pacer.batchPayloadBytes() });
    if (retry !== null) {
      const through = retry.through;
      records = records.filter((r) => r.seq <= through);
    }
    const lastRecord = records.at(-1);
    const lossesAfter = journal.losses(after);
    // Nothing held after the watermark but losses: the tail was dropped; forwarding the
    // loss records explains it, and the watermark may then cover it.
    const lossesThrough = Math.min(info.last_seq, lossesAfter.reduce((max, l) => Math.max(max, l.to_seq), 0));
    const through = retry?.through ?? (lastRecord?.seq ?? lossesThrough);
    if (through <= after) return null;
    const pendingLosses = lossesAfter.filter((l) => l.from_seq <= through);
    retry = { after, through };

    status.state = 'forwarding';
    await pacer.wait();
    if (deps.isStopped()) throw new Error('uplink stopped');
    const token = batchDeduplicationToken(journal.deviceId, journal.journalId, after + 1, through);
    const bytesBefore = writer.wireBytes();
    const sendStart = Date.now();
    status.server_version ??= await writer.serverVersion(signal);
    const lossRows: TelemetryLossRow[] = pendingLosses.map((l) => ({ ...l, site: config.site, via: UPLINK_COURIER_ID }));
    await writer.insertLosses(lossRows, token, signal);
    await writer.insertRows(records.map(toRow), token, signal);

    // Acknowledged by the server: only now may the watermark move.
    const at = deps.now();
    status.forwarded_seq = journal.ackForwarded(UPLINK_COURIER_ID, through, at);
    retry = null;
    const sent = writer.wireBytes() - bytesBefore;
    status.bytes_sent += sent;
    status.batches += 1;
    status.last_forward_ms = at;
    status.last_error = null;
    pacer.sent(sendStart, sent, records.reduce((sum, r) => sum + r.payload.length, 0));
    return { records: records.length, losses: lossRows.length, through_seq: through };
  };
}
