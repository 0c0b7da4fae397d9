/**
 * `journal.read` through the agent RPC over a pipe (the server in a child process, as a
 * laptop reaches a local agent; each batch verified by count and SHA-256 as the courier
 * does) against a raw node:sqlite SELECT of the same rows, in the same run on the same
 * journal. Prints records/s for both and the ratio. Target: at least 50,000 records/s.
 */
import { DatabaseSync } from 'node:sqlite';
import { journalPath } from '../agent/journal/openJournal.ts';
import { createAgentRpcClient } from '../electron/kernel/link/agentRpcClient.ts';
import { verifyJournalBatch } from '../electron/kernel/link/verifyJournalBatch.ts';
import { formatRate } from '../shared/format.ts';
import { createAgentRpcRig } from '../test/support/agentRpcFixture.ts';

const records = 200_000;
const payloadBytes = 200;
const rounds = 3;

function perSecond(n: number, seconds: number): string {
  return `${Math.round(n / seconds).toLocaleString('en-US')} records/s`;
}

/** The baseline: every row, every column the RPC sends, materialised as objects. */
function rawSelect(path: string): { seconds: number; rows: number; payloadBytes: number } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const start = performance.now();
    let rows = 0;
    let bytes = 0;
    const statement = db.prepare('SELECT seq, ts_ms, recv_ms, priority, kind, model_version, payload FROM records WHERE seq > ? ORDER BY seq');
    for (const row of statement.iterate(0) as Iterable<{ payload: string }>) {
      rows++;
      bytes += row.payload.length;
    }
    return { seconds: (performance.now() - start) / 1000, rows, payloadBytes: bytes };
  } finally {
    db.close();
  }
}

async function rpcRead(rig: ReturnType<typeof createAgentRpcRig>, journalId: string): Promise<{ seconds: number; rows: number; batches: number; bytesIn: number }> {
  const agent = rig.start();
  const client = createAgentRpcClient(agent, { timeoutMs: 60_000 });
  try {
    const hello = await client.call('hello', {});
    if (!hello.ok) throw new Error(`hello: ${hello.error.message}`);
    const start = performance.now();
    const stream = client.stream('journal.read', { journal_id: journalId, after_seq: 0 }, { window: 4 });
    let rows = 0;
    let batches = 0;
    for await (const batch of stream) {
      const verified = verifyJournalBatch(batch);
      if (!verified.ok) throw new Error(verified.error.message);
      rows += batch.count;
      batches++;
    }
    const end = await stream.result;
    const seconds = (performance.now() - start) / 1000;
    if (!end.ok) throw new Error(`journal.read: ${end.error.message}`);
    return { seconds, rows, batches, bytesIn: client.diagnostics().bytesIn };
  } finally {
    client.close();
    await agent.exited;
  }
}

export async function benchAgentRpcRead(): Promise<void> {
  const rig = createAgentRpcRig({ retention: { budget_bytes: 4 * 1024 * 1024 * 1024 } });
  try {
    rig.fill(records, { payloadBytes });
    const journalId = rig.journal().journalId;
    const raw = Array.from({ length: rounds }, () => rawSelect(journalPath(rig.config.data_dir)));
    const rpc: Awaited<ReturnType<typeof rpcRead>>[] = [];
    for (let i = 0; i < rounds; i++) rpc.push(await rpcRead(rig, journalId));
    const bestRaw = raw.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const bestRpc = rpc.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    if (bestRaw.rows !== records || bestRpc.rows !== records) throw new Error(`read ${bestRaw.rows} raw / ${bestRpc.rows} over RPC, expected ${records}`);
    const rpcRate = bestRpc.rows / bestRpc.seconds;
    console.log(`agent journal.read, ${records.toLocaleString('en-US')} records of ${payloadBytes}-byte payloads, best of ${rounds}:`);
    console.log(`  node:sqlite SELECT         ${perSecond(bestRaw.rows, bestRaw.seconds).padStart(20)}  (baseline: same rows, same process)`);
    console.log(
      `  RPC over a pipe, verified  ${perSecond(bestRpc.rows, bestRpc.seconds).padStart(20)}  = ${(bestRaw.seconds / bestRpc.seconds).toFixed(2)}x raw SELECT, ` +
        `${bestRpc.batches} batches, ${formatRate(bestRpc.bytesIn / bestRpc.seconds)} of frames; target 50,000 records/s: ${rpcRate >= 50_000 ? 'met' : 'NOT met'}`,
    );
  } finally {
    rig.remove();
  }
}

if (import.meta.main) await benchAgentRpcRead();
