/**
 * A journal.read item checked for its shape without zod: a pull receives hundreds of
 * thousands of records, and zod's per-field parse of each was a large share of the
 * laptop's time (about 2 µs a record). Same rules as JournalBatchSchema; anything this
 * does not accept goes through the schema, which then names what is wrong.
 */
import type { JournalBatch, JournalLinesBatch } from '../../../shared/journal.ts';

const sha256Hex = /^[0-9a-f]{64}$/;

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

function isRecord(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.device_id === 'string' &&
    typeof r.journal_id === 'string' &&
    isInt(r.seq) &&
    r.seq > 0 &&
    isInt(r.ts_ms) &&
    isInt(r.recv_ms) &&
    (r.priority === 1 || r.priority === 2 || r.priority === 3) &&
    typeof r.kind === 'string' &&
    typeof r.model_version === 'string' &&
    typeof r.payload === 'string'
  );
}

/** The item as a JournalBatch (or JournalLinesBatch) when it has exactly the schema's shape; null to let the schema judge it. */
export function journalBatchShape(value: unknown): JournalBatch | JournalLinesBatch | null {
  if (typeof value !== 'object' || value === null) return null;
  const b = value as Record<string, unknown>;
  if (typeof b.journal_id !== 'string' || !isInt(b.count) || b.count < 0 || typeof b.sha256 !== 'string' || !sha256Hex.test(b.sha256)) return null;
  // Its lines are checked by verifyJournalBatch, against the hash, before anything is stored.
  if (typeof b.lines === 'string' && !('records' in b)) return value as JournalLinesBatch;
  if (!Array.isArray(b.records)) return null;
  for (const record of b.records as unknown[]) if (!isRecord(record)) return null;
  return value as JournalBatch;
}
