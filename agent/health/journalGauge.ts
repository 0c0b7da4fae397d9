/**
 * The journal as a health sample sees it: size, backlog (records neither forwarded nor
 * pruned) and the ingest rate over the last few seconds. A failed read keeps the last
 * figures (and logs why): the sample goes on without them.
 */
import type { HealthSample } from '../../shared/health.ts';
import type { JournalInfo } from '../../shared/journal.ts';
import type { Journal } from '../journal/journalApi.ts';

const INGEST_RATE_WINDOW_MS = 5_000;

export type JournalGauge = {
  read: (at: number) => HealthSample['journal'];
  /** The journal info of the last successful read, or null before one. */
  lastInfo: () => JournalInfo | null;
};

export function createJournalGauge(journal: Journal, log: (message: string) => void): JournalGauge {
  let lastInfo: JournalInfo | null = null;
  const seqHistory: { at: number; seq: number }[] = [];

  function read(at: number): HealthSample['journal'] {
    try {
      lastInfo = journal.info();
    } catch (error) {
      log(`health: journal info failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    const info = lastInfo;
    if (info === null) return { records: 0, bytes: 0, backlog_records: 0, ingest_per_s: 0 };
    seqHistory.push({ at, seq: info.last_seq });
    while (seqHistory.length > 2 && (seqHistory[1]?.at ?? at) <= at - INGEST_RATE_WINDOW_MS) seqHistory.shift();
    const oldest = seqHistory[0];
    const seconds = oldest === undefined ? 0 : (at - oldest.at) / 1000;
    const ingestPerS = oldest === undefined || seconds <= 0 ? 0 : Math.max(0, (info.last_seq - oldest.seq) / seconds);
    // Records pruned by retention are no longer backlog: they are loss records.
    const forwardedOrGone = Math.max(info.forwarded_seq, info.first_seq > 0 ? info.first_seq - 1 : info.last_seq);
    return {
      records: info.records,
      bytes: info.bytes,
      backlog_records: Math.max(0, info.last_seq - forwardedOrGone),
      ingest_per_s: Math.round(ingestPerS * 10) / 10,
    };
  }

  return { read, lastInfo: () => lastInfo };
}
