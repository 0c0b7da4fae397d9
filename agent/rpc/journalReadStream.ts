/**
 * `journal.read`: streams the journal after a seq as batches, each with its count and the
 * SHA-256 of `batchHashInput`, so the courier can prove it stored exactly what was sent.
 * One batch per credit; the final result says how far it got and whether more is waiting.
 * When the laptop offered zstd, each batch goes compressed or plain as compressionChoice.ts
 * decides; the count and hash are over the records either way (custody proves the records).
 * When the laptop asked for `encoding: 'lines'` (journal.read.lines), a batch travels as the
 * canonical lines its hash is over: each line is built once, and hashed as sent.
 */
import { createHash } from 'node:crypto';
import type { AgentParsedRequestOf, AgentResponseOf } from '../../shared/agentRpc.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { batchHashInput, type JournalBatch, type JournalLinesBatch, type JournalRecord } from '../../shared/journal.ts';
import { FrameTooLargeError } from '../../shared/rpcFrame.ts';
import type { Journal } from '../journal/journalApi.ts';
import type { CompressionChoice } from './compressionChoice.ts';
import type { StreamControl } from './streamControl.ts';

/** The batch as it travels: count and hash over exactly these records. */
export function journalBatch(journalId: string, records: JournalRecord[]): JournalBatch {
  const sha256 = createHash('sha256').update(batchHashInput(records)).digest('hex');
  return { journal_id: journalId, count: records.length, sha256, records };
}

/** The batch as its canonical lines: the hash is over exactly the text that travels. */
export function journalLinesBatch(journalId: string, records: JournalRecord[]): JournalLinesBatch {
  const lines = batchHashInput(records);
  return { journal_id: journalId, count: records.length, sha256: createHash('sha256').update(lines).digest('hex'), lines };
}

type Encoding = 'records' | 'lines';

function encodeBatch(journalId: string, records: JournalRecord[], encoding: Encoding): JournalBatch | JournalLinesBatch {
  return encoding === 'lines' ? journalLinesBatch(journalId, records) : journalBatch(journalId, records);
}

export function checkJournalId(journal: Journal, journalId: string): void {
  if (journalId !== journal.journalId) {
    throw new FieldkitError(
      appError(
        'NOT_FOUND',
        `This device's journal is ${journal.journalId}, not ${journalId}.`,
        'The journal was replaced (a new SD card or a reset): ask journal.info and pull the current journal from seq 0; the old one is complete up to what was pulled.',
        'params.journal_id',
      ),
    );
  }
}

/**
 * Sends as much of `records` as fits one frame, halving when it does not; returns how many
 * were sent. A single record that cannot fit is an error (raise the frame bound or lower
 * ingest.max_event_bytes).
 */
function sendFitting(control: StreamControl, journalId: string, records: JournalRecord[], compression: CompressionChoice | null, encoding: Encoding): { sent: number; compressed: boolean } {
  let count = records.length;
  for (;;) {
    const part = count === records.length ? records : records.slice(0, count);
    try {
      const level = compression?.next(control.linkBytesPerSecond) ?? null;
      if (level === null) {
        control.send(encodeBatch(journalId, part, encoding));
        return { sent: count, compressed: false };
      }
      const outcome = control.sendCompressed(encodeBatch(journalId, part, encoding), level);
      if (outcome !== null) compression?.note(outcome);
      return { sent: count, compressed: true };
    } catch (error) {
      if (!(error instanceof FrameTooLargeError)) throw error;
      if (count === 1) {
        const seq = records[0]?.seq ?? 0;
        throw new FieldkitError(
          appError('INTERNAL', `Record seq ${seq} is too large for one RPC frame (${error.maxPayloadBytes} bytes).`, 'Lower ingest.max_event_bytes in the agent config so events fit a frame; pull this journal over a newer agent.'),
          { cause: error },
        );
      }
      count = Math.ceil(count / 2);
    }
  }
}

export async function streamJournalRead(
  journal: Journal,
  params: AgentParsedRequestOf<'journal.read'>,
  control: StreamControl,
  compression: CompressionChoice | null = null,
): Promise<AgentResponseOf<'journal.read'>> {
  checkJournalId(journal, params.journal_id);
  let compressedItems = 0;
  const limit = params.limit ?? Number.POSITIVE_INFINITY;
  const priorities = params.priorities;
  let through = params.after_seq;
  let records = 0;
  let exhausted = false;
  while (records < limit) {
    if (!(await control.slot())) break;
    const batch = journal.read({ after_seq: through, limit: Math.min(params.batch_records, limit - records), max_bytes: params.batch_bytes, priorities });
    if (batch.length === 0) {
      exhausted = true;
      break;
    }
    const { sent, compressed } = sendFitting(control, params.journal_id, batch, compression, params.encoding ?? 'records');
    if (compressed) compressedItems++;
    through = batch[sent - 1]?.seq ?? through;
    records += sent;
  }
  const more = !exhausted && journal.read({ after_seq: through, limit: 1, max_bytes: 1, priorities }).length > 0;
  return compression === null ? { through_seq: through, records, more } : { through_seq: through, records, more, compressed_items: compressedItems };
}
