/**
 * Agent ingest: events/s sustained over HTTP (NDJSON batches from several producer
 * connections in another process, 200-byte payloads, each batch acknowledged only after
 * its synchronous=FULL commit) against raw node:sqlite inserts of the same rows with the
 * same durability (WAL, synchronous=FULL, same table and index), in the same run on the
 * same disk. Target: at least 20,000 events/s.
 *
 * Two baselines: raw at the producers' batch size per transaction (100 rows), and raw at
 * the transaction size our group commit actually reached (requests arriving while a
 * commit runs share the next one), which is the like-for-like cost of the storage alone.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createGroupCommitter } from '../agent/ingest/groupCommit.ts';
import { startHttpIngest } from '../agent/ingest/httpIngest.ts';
import { createIngestMetrics } from '../agent/ingest/ingestMetrics.ts';
import { journalMigrations } from '../agent/journal/journalMigrations.ts';
import { openJournal, rowBytes } from '../agent/journal/openJournal.ts';
import { silentLogger } from '../agent/jsonLog.ts';
import { makeTempDir } from '../test/support/tempDir.ts';

const connections = 8;
const seconds = 5;
const perBatch = 100;
const payloadBytes = 200;

function perSecond(n: number): string {
  return `${Math.round(n).toLocaleString('en-US')} events/s`;
}

async function httpIngest(dir: string): Promise<{ rate: number; events: number; commits: number; statuses: Record<string, number> }> {
  const journal = openJournal({ path: join(dir, 'journal.db'), deviceId: 'bench', budgetBytes: 8 * 1024 ** 3 });
  const metrics = createIngestMetrics();
  const committer = createGroupCommitter(journal, { onCommit: () => { metrics.commits.inc(); } });
  const ingest = await startHttpIngest({
    host: '127.0.0.1',
    port: 0,
    journal,
    committer,
    metrics,
    limits: { maxEventBytes: 64 * 1024, maxBatchEvents: 10_000, maxPendingRequests: 64 },
    agentVersion: 'bench',
    log: silentLogger(),
  });
  try {
    const child = spawn(process.execPath, ['bench/agentIngestClient.ts', `${ingest.url}/v1/events`, String(connections), String(seconds), String(perBatch), String(payloadBytes)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    if (code !== 0) throw new Error(`the bench producers exited with ${String(code)}`);
    const result = JSON.parse(out) as { events: number; seconds: number; statuses: Record<string, number> };
    if (journal.info().records !== result.events) throw new Error(`acknowledged ${result.events} events but the journal holds ${journal.info().records}`);
    return { rate: result.events / result.seconds, events: result.events, commits: metrics.commits.get(), statuses: result.statuses };
  } finally {
    await ingest.close();
    journal.close();
  }
}

/** The same rows, the same schema and durability, inserted directly: `rowsPerTransaction` per commit. */
function rawInserts(dir: string, name: string, rows: number, rowsPerTransaction: number): number {
  const db = new DatabaseSync(join(dir, name));
  try {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    db.exec(journalMigrations[0] ?? '');
    const insert = db.prepare('INSERT INTO records (seq, ts_ms, recv_ms, priority, kind, model_version, payload, size) VALUES (?, ?, ?, 3, ?, ?, ?, ?)');
    const pad = 'x'.repeat(payloadBytes - JSON.stringify({ sensor: 'bench', n: 0, pad: '' }).length);
    const start = performance.now();
    let seq = 0;
    while (seq < rows) {
      db.exec('BEGIN IMMEDIATE');
      const now = Date.now();
      for (let i = 0; i < rowsPerTransaction && seq < rows; i++) {
        seq++;
        const payload = JSON.stringify({ sensor: 'bench', n: seq, pad });
        insert.run(seq, now, now, 'bench', '', payload, rowBytes(payload, 'bench', ''));
      }
      db.exec('COMMIT');
    }
    return rows / ((performance.now() - start) / 1000);
  } finally {
    db.close();
  }
}

/** Prints the agent's HTTP ingest rate beside raw node:sqlite inserts of the same rows. */
export async function benchAgentIngest(): Promise<void> {
  const dir = makeTempDir('fieldkit-bench-ingest-');
  try {
    const ours = await httpIngest(dir.path);
    const groupSize = Math.max(1, Math.round(ours.events / Math.max(1, ours.commits)));
    const rawRows = Math.min(ours.events, 500_000);
    const rawBatch = rawInserts(dir.path, 'raw-batch.db', rawRows, perBatch);
    const rawGroup = rawInserts(dir.path, 'raw-group.db', rawRows, groupSize);
    console.log(`agent ingest over HTTP, ${payloadBytes}-byte payloads, NDJSON batches of ${perBatch}, ${connections} producer connections, ${seconds} s, durable acks (WAL, synchronous=FULL):`);
    const line = (label: string, rate: number, note: string) => `  ${label.padEnd(36)} ${perSecond(rate).padStart(18)}  ${note}`;
    console.log(line(`raw node:sqlite, ${perBatch} rows/commit`, rawBatch, '(baseline)'));
    console.log(line(`raw node:sqlite, ${groupSize} rows/commit`, rawGroup, '(baseline at our group-commit size)'));
    console.log(
      line(
        'fieldkit-agent POST /v1/events',
        ours.rate,
        `= ${(ours.rate / rawBatch).toFixed(2)}x raw at ${perBatch}/commit, ${(ours.rate / rawGroup).toFixed(2)}x raw at ${groupSize}/commit; ${ours.commits} commits; target 20,000 events/s ${ours.rate >= 20_000 ? 'met' : 'NOT met'}`,
      ),
    );
    const refused = Object.entries(ours.statuses).filter(([status]) => status !== '200');
    if (refused.length > 0) console.log(`  (responses other than 200: ${refused.map(([s, n]) => `${s}×${n}`).join(', ')})`);
  } finally {
    dir.remove();
  }
}

if (import.meta.main) await benchAgentIngest();
