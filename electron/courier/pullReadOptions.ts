/**
 * How a pull asks for a journal: batch sizes per link, the short opening read, and the
 * encodings an agent's hello says it can send.
 */
import { agentCapabilities } from '../../shared/agentRpc.ts';
import type { AgentSession } from '../devices/index.ts';

export type BatchSize = { records: number; bytes: number; window: number; idleTimeoutMs: number };

/**
 * Big batches for networks; small ones for a serial console, where a kernel message can
 * land inside any frame and a lost frame costs a re-read of only a few kilobytes.
 */
export function batchSizeFor(kind: 'ssh' | 'serial' | 'local'): BatchSize {
  return kind === 'serial'
    ? { records: 50, bytes: 16 * 1024, window: 2, idleTimeoutMs: 5000 }
    : { records: 20_000, bytes: 8 * 1024 * 1024, window: 4, idleTimeoutMs: 30_000 };
}

/**
 * The first read of a journal is short: its first records are stored and counted within a
 * second even over a slow link, instead of after a whole batch (up to 20,000 records or
 * 8 MiB). The rest follows in full batches.
 */
export const openingRead = { records: 500, bytes: 256 * 1024 };

/** True when this agent can send journal.read items zstd-compressed (its hello says so). */
export function offersZstd(session: Pick<AgentSession, 'hello'>): boolean {
  return session.hello.capabilities?.includes(agentCapabilities.journalReadZstd) === true;
}

/** True when this agent can send journal.read batches as their canonical lines (its hello says so). */
export function offersLines(session: Pick<AgentSession, 'hello'>): boolean {
  return session.hello.capabilities?.includes(agentCapabilities.journalReadLines) === true;
}
