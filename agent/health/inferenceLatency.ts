/**
 * Inference latency p50/p95 over the last minute, from journaled events of kind
 * `inference` (payload field `latency_ms`).
 *
 * Kept cheap by reading the journal incrementally: each sample reads only the records
 * that arrived since the previous one, and at most SCAN_LIMIT of them. Under a flood of
 * other events it reads the newest SCAN_LIMIT and skips the rest, so the percentiles
 * become a sample of the minute rather than a cost that grows with the ingest rate.
 */
import type { HealthSample } from '../../shared/health.ts';
import type { Journal } from '../journal/journalApi.ts';
import { percentile } from './procSysParsers.ts';

export const INFERENCE_KIND = 'inference';
const WINDOW_MS = 60_000;
const SCAN_LIMIT = 500;
const SCAN_MAX_BYTES = 256 * 1024;
/** A ceiling on memory whatever the event rate: ~100 inferences/s for a minute. */
const WINDOW_MAX = 6_000;

export type InferenceLatency = {
  /** Reads what arrived up to `lastSeq` and returns the figures for the minute before `atMs`. */
  update(journal: Journal, lastSeq: number, atMs: number): HealthSample['inference'];
};

function latencyOf(payload: string): number | null {
  // Cheap test before parsing: most records are not inferences, but some may mention it.
  if (!payload.includes('latency_ms')) return null;
  try {
    const parsed: unknown = JSON.parse(payload);
    if (typeof parsed !== 'object' || parsed === null || !('latency_ms' in parsed)) return null;
    const value = parsed.latency_ms;
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
  } catch {
    return null;
  }
}

export function createInferenceLatency(): InferenceLatency {
  let scannedSeq: number | null = null;
  const window: { at: number; ms: number }[] = [];

  return {
    update(journal, lastSeq, atMs) {
      // Start from "now" on first use: older events are outside the minute anyway, and a
      // long journal must not be scanned at startup.
      scannedSeq ??= Math.max(0, lastSeq - SCAN_LIMIT);
      if (lastSeq < scannedSeq) scannedSeq = lastSeq;
      if (lastSeq > scannedSeq) {
        const after = Math.max(scannedSeq, lastSeq - SCAN_LIMIT);
        try {
          const records = journal.read({ after_seq: after, limit: SCAN_LIMIT, max_bytes: SCAN_MAX_BYTES });
          for (const r of records) {
            if (r.kind !== INFERENCE_KIND) continue;
            const ms = latencyOf(r.payload);
            if (ms !== null) window.push({ at: r.recv_ms, ms });
          }
          const last = records.at(-1);
          scannedSeq = last === undefined ? lastSeq : Math.max(last.seq, after);
        } catch {
          // The journal is busy or closing: try again next second.
        }
      }
      const since = atMs - WINDOW_MS;
      let drop = 0;
      while (drop < window.length && (window[drop]?.at ?? atMs) < since) drop += 1;
      if (window.length - drop > WINDOW_MAX) drop = window.length - WINDOW_MAX;
      if (drop > 0) window.splice(0, drop);
      if (window.length === 0) return null;
      const sorted = window.map((w) => w.ms).sort((a, b) => a - b);
      return { count: sorted.length, p50_ms: percentile(sorted, 50) ?? 0, p95_ms: percentile(sorted, 95) ?? 0 };
    },
  };
}
